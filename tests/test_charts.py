"""Figures show the data they are given: traces per scenario, shares, bands, paired differences."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from simulator import charts, load_scenario, run_batch
from simulator.analysis import headline, mean_ci, paired_comparison

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pair():
    annual = load_scenario(ROOT / "scenarios" / "annual.toml")
    three = load_scenario(ROOT / "scenarios" / "three_year.toml")
    return (run_batch(annual, runs=60, seed=5, workers=1),
            run_batch(three, runs=60, seed=5, workers=1))


def test_distribution_histograms_are_shares_of_runs_with_shared_colours(pair):
    a, b = pair
    fig = charts.distribution_figure({"annual": a.runs, "three_year": b.runs}, "lapsed_funds_m")
    assert [t.name for t in fig.data] == ["annual", "three_year"]
    for trace in fig.data:
        assert sum(trace.y) == pytest.approx(1.0)
    assert fig.data[0].marker.line.color == charts.PALETTE[0]
    assert fig.data[1].marker.line.color == charts.PALETTE[1]
    assert fig.layout.xaxis.title.text == "Lapsed funds (£m)"
    # shared bins: both histograms have the same bar centres
    assert np.array_equal(fig.data[0].x, fig.data[1].x)


def test_ecdf_ends_at_one_and_is_sorted(pair):
    a, _ = pair
    fig = charts.distribution_figure({"annual": a.runs}, "disruptions_total", ecdf=True)
    trace = fig.data[0]
    assert isinstance(trace, go.Scatter)
    assert np.all(np.diff(trace.x) >= 0)
    assert trace.y[-1] == 1.0
    assert np.array_equal(np.sort(a.runs["disruptions_total"].to_numpy(float)), trace.x)


def test_fan_chart_median_is_the_bands_median(pair):
    a, b = pair
    fig = charts.fan_figure({"annual": a.bands, "three_year": b.bands}, "fte")
    medians = [t for t in fig.data if t.name and t.name.endswith("(median)")]
    assert [t.name for t in medians] == ["annual (median)", "three_year (median)"]
    expected = a.bands[a.bands["metric"] == "fte"].sort_values("month")["p50"].to_numpy()
    assert np.array_equal(medians[0].y, expected)
    assert fig.layout.yaxis.title.text == "Permanent staff (FTE)"


def test_difference_figure_shows_paired_differences_and_their_ci(pair):
    a, b = pair
    fig = charts.difference_figure("annual", a.runs, "three_year", b.runs, "disruptions_total")
    diff = (b.runs["disruptions_total"] - a.runs["disruptions_total"]).to_numpy(float)
    assert np.array_equal(np.sort(fig.data[0].x), np.sort(diff))
    _, lo, hi = mean_ci(diff)
    ci = next(s for s in fig.layout.shapes if s.type == "rect")
    assert (ci.x0, ci.x1) == pytest.approx((lo, hi))


def test_better_share_follows_which_way_is_better():
    diff = np.array([-2.0, -1.0, 0.0, 3.0])
    assert charts.better_share(diff, "disruptions_total") == 0.25  # more is better
    assert charts.better_share(diff, "lapsed_funds_m") == 0.5  # less is better


def test_charts_html_is_self_contained():
    page = charts.figures_html([go.Figure(), go.Figure()], "a <b> test")
    assert page.count("window.PlotlyConfig") == 1  # plotly.js embedded once
    assert page.count("Plotly.newPlot") == 2  # one call per figure
    assert not re.search(r"<script[^>]*\bsrc=", page)  # nothing loaded from a network
    assert "a &lt;b&gt; test" in page


def test_headline_in_plain_words(pair):
    a, b = pair
    comparison = paired_comparison(a.runs, b.runs, "disruptions_total")
    sentence = headline("annual", "three_year", comparison, 6)
    d = comparison["paired_difference"]
    verb = "adds" if d["mean"] >= 0 else "loses"
    assert sentence.startswith(f"three_year {verb} {abs(d['mean']):,.0f} disruptions over 6 years "
                               "against annual (95% CI ")
    assert sentence.endswith(f"gives more in {comparison['prob_b_greater']:.0%} of paired runs.")

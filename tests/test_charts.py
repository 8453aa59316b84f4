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


# ------------------------------------------------------------------ telling six scenarios apart

# Machado, Oliveira and Fernandes (2009), full severity, applied to linear RGB.
_CVD = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def _lab(hex_colour: str, vision: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB colour as seen with `vision`."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    seen = np.clip(vision @ linear, 0.0, 1.0)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ seen / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("vision", list(_CVD))
def test_the_first_six_colours_stay_apart_for_colour_blind_readers(vision):
    """Issue 12: two fan-chart colours could not be told apart. Every pair of the six colours
    differs by at least 15 CIE76 units (a clearly visible difference; 2.3 is just noticeable)
    as seen with normal vision and each simulated dichromacy."""
    labs = [_lab(c, _CVD[vision]) for c in charts.PALETTE[:6]]
    closest = min(np.linalg.norm(labs[i] - labs[j]) for i in range(6) for j in range(i + 1, 6))
    assert closest >= 15, closest
    # and the check can fail: the classic red and green, far apart for normal vision, merge
    # without green cones
    red, green = (_lab(c, _CVD[vision]) for c in ("#FF0000", "#00AA00"))
    assert (np.linalg.norm(red - green) < 15) == (vision == "deuteranopia")


def _six(pair) -> tuple[dict, dict]:
    a, b = pair
    runs = {f"s{i}": (a if i % 2 == 0 else b).runs for i in range(6)}
    bands = {f"s{i}": (a if i % 2 == 0 else b).bands for i in range(6)}
    return runs, bands


def test_six_scenarios_differ_in_colour_and_a_second_cue_on_every_chart(pair):
    runs, bands = _six(pair)
    histogram = charts.distribution_figure(runs, "disruptions_total")
    cues = {(t.marker.line.color, t.marker.pattern.shape) for t in histogram.data}
    assert len(cues) == 6 and len({shape for _, shape in cues}) == 6
    ecdf = charts.distribution_figure(runs, "disruptions_total", ecdf=True)
    assert len({(t.line.color, t.line.dash) for t in ecdf.data}) == 6
    assert len({t.line.dash for t in ecdf.data}) == 6
    fan = charts.fan_figure(bands, "fte")
    medians = [t for t in fan.data if t.name and t.name.endswith("(median)")]
    assert len({(t.line.color, t.line.dash) for t in medians}) == 6
    assert len({t.line.dash for t in medians}) == 6

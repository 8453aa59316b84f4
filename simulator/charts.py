"""Plotly figures for readers of results: the dashboard and the offline report draw the same ones.

Every figure takes plain tables (a batch's per-run frame or monthly bands) keyed by scenario label,
in display order, so a scenario keeps its colour on every chart: the first is always blue, the
second orange. The six colours are Okabe and Ito's, chosen and ordered so that any two of the
first six stay apart (CIE76 colour difference of at least 17) for normal vision and for simulated
protanopia, deuteranopia and tritanopia (Machado et al. 2009), which `tests/test_charts.py`
checks. Colour is never the only cue: each scenario also has its own line dash (medians, ECDFs)
and bar pattern (histograms), so six scenarios stay apart in print and in pale fan bands too.
Axis titles carry units.
No Streamlit here: the figures are plain `plotly.graph_objects.Figure`s.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .analysis import BETTER_WHEN, mean_ci

PALETTE = ("#0072B2", "#E69F00", "#000000", "#CC79A7", "#56B4E9", "#D55E00")
"""Blue, orange, black, reddish purple, sky blue, vermillion (Okabe-Ito)."""
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
PATTERNS = ("", "/", "\\", "x", ".", "+")

METRIC_LABELS: dict[str, tuple[str, str]] = {
    "disruptions_total": ("Disruptions over the horizon", "disruptions"),
    "priority_disruptions": ("Priority disruptions over the horizon", "disruptions"),
    "non_priority_disruptions": ("Other disruptions over the horizon", "disruptions"),
    "lapsed_funds_m": ("Lapsed funds", "£m"),
    "overrun_cost_m": ("Overrun cost", "£m"),
    "capability_spend_m": ("Capability spend", "£m"),
    "projects_delivered": ("Capability projects delivered", "projects"),
    "project_pauses": ("Project pauses", "pauses"),
    "mean_fte": ("Mean permanent staff", "FTE"),
    "mean_temporary_fte": ("Mean temporary capacity", "FTE"),
    "temporary_spend_m": ("Temporary capacity spend", "£m"),
    "cost_per_disruption_k": ("Cost per disruption", "£k"),
    "final_productivity": ("Final productivity", "index, start = 1"),
    "overhead_m": ("Bidding overhead", "£m"),
    "emergency_cover_m": ("Emergency cover", "£m"),
    "received_m": ("Money received", "£m"),
    "spent_m": ("Money spent", "£m"),
    "interim_months": ("Months under interim allocations", "months"),
    # monthly outputs (fan charts)
    "fte": ("Permanent staff", "FTE"),
    "temporary_fte": ("Temporary capacity", "FTE"),
    "productivity": ("Productivity", "index, start = 1"),
    "cash_m": ("Cash held", "£m"),
    "disruptions": ("Disruptions in the month", "disruptions"),
    "cumulative_disruptions": ("Cumulative disruptions", "disruptions"),
}

DISTRIBUTION_METRICS = ("disruptions_total", "priority_disruptions", "lapsed_funds_m",
                        "overrun_cost_m")
FAN_METRICS = ("fte", "productivity", "cumulative_disruptions")

_LAYOUT = {"template": "plotly_white", "height": 400, "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
           "legend": {"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0},
           "font": {"size": 13}}


def label(metric: str) -> str:
    """'Lapsed funds (£m)': a metric's axis title with its unit."""
    text, unit = METRIC_LABELS.get(metric, (metric.replace("_", " ").capitalize(), ""))
    return f"{text} ({unit})" if unit else text


def colour(index: int) -> str:
    """The scenario's colour by its position in the display order."""
    return PALETTE[index % len(PALETTE)]


def dash(index: int) -> str:
    """The scenario's line dash: the second cue beside colour."""
    return DASHES[index % len(DASHES)]


def pattern(index: int) -> str:
    """The scenario's bar pattern: the second cue beside colour on histograms."""
    return PATTERNS[index % len(PATTERNS)]


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def distribution_figure(runs: Mapping[str, pd.DataFrame], metric: str,
                        ecdf: bool = False) -> go.Figure:
    """Overlaid histograms (shared bins) or ECDFs of one per-run output, one trace per scenario."""
    fig = go.Figure()
    values = {name: frame[metric].to_numpy(dtype=float) for name, frame in runs.items()}
    values = {name: v[~np.isnan(v)] for name, v in values.items()}
    pooled = np.concatenate([v for v in values.values() if v.size] or [np.zeros(1)])
    edges = np.histogram_bin_edges(pooled, bins=min(60, max(10, int(np.sqrt(pooled.size)))))
    for i, (name, v) in enumerate(values.items()):
        if ecdf:
            x = np.sort(v)
            y = np.arange(1, x.size + 1) / max(1, x.size)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line_shape="hv", name=name,
                                     line={"color": colour(i), "width": 2, "dash": dash(i)}))
        else:
            counts, _ = np.histogram(v, bins=edges)
            share = counts / max(1, v.size)
            fig.add_trace(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=share, width=np.diff(edges),
                                 name=name, marker={"color": _rgba(colour(i), 0.55),
                                                    "line": {"color": colour(i), "width": 1},
                                                    "pattern": {"shape": pattern(i),
                                                                "fgcolor": colour(i),
                                                                "size": 6}}))
    fig.update_layout(title=METRIC_LABELS.get(metric, (metric, ""))[0], barmode="overlay",
                      xaxis_title=label(metric),
                      yaxis_title="Share of runs at or below" if ecdf else "Share of runs",
                      yaxis_tickformat=".0%", **_LAYOUT)
    return fig


def fan_figure(bands: Mapping[str, pd.DataFrame], metric: str) -> go.Figure:
    """Median line with p25-p75 and p5-p95 bands over the months, every scenario on one chart."""
    fig = go.Figure()
    for i, (name, frame) in enumerate(bands.items()):
        f = frame[frame["metric"] == metric].sort_values("month")
        x = f["month"].to_numpy() + 1  # the end of month m
        c = colour(i)
        for lo, hi, alpha, what in (("p5", "p95", 0.15, "5th-95th percentile"),
                                    ("p25", "p75", 0.30, "25th-75th percentile")):
            # the outer band's edges are drawn thinly in the scenario's colour and dash, so
            # overlapping pale bands still show whose they are
            edge = ({"width": 0.8, "color": _rgba(c, 0.7), "dash": dash(i)} if lo == "p5"
                    else {"width": 0})
            fig.add_trace(go.Scatter(x=x, y=f[hi], mode="lines", line=edge,
                                     showlegend=False, hoverinfo="skip", legendgroup=name))
            fig.add_trace(go.Scatter(x=x, y=f[lo], mode="lines", line=edge,
                                     fill="tonexty", fillcolor=_rgba(c, alpha), legendgroup=name,
                                     name=f"{name}: {what}", showlegend=False,
                                     hovertemplate=f"{what}: %{{y:,.3~f}}<extra>{name}</extra>"))
        fig.add_trace(go.Scatter(x=x, y=f["p50"], mode="lines", name=f"{name} (median)",
                                 legendgroup=name, line={"color": c, "width": 2.5, "dash": dash(i)}))
    fig.update_layout(title=METRIC_LABELS.get(metric, (metric, ""))[0] + " over time",
                      xaxis_title="Months from the start of year 1", yaxis_title=label(metric),
                      **_LAYOUT)
    fig.update_xaxes(dtick=12)
    return fig


def paired_differences(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> np.ndarray:
    """B - A for the same run (common random numbers), NaN pairs dropped."""
    joined = a[["run", metric]].merge(b[["run", metric]], on="run", suffixes=("_a", "_b"))
    diff = joined[f"{metric}_b"].to_numpy(dtype=float) - joined[f"{metric}_a"].to_numpy(dtype=float)
    return diff[~np.isnan(diff)]


def difference_figure(a_name: str, a: pd.DataFrame, b_name: str, b: pd.DataFrame, metric: str,
                      index: int = 1) -> go.Figure:
    """The run-by-run difference B - A: its histogram, mean, 95% CI and where zero lies."""
    diff = paired_differences(a, b, metric)
    mean, lo, hi = mean_ci(diff)
    c = colour(index)
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=diff, histnorm="probability", name=f"{b_name} − {a_name}",
                               marker={"color": _rgba(c, 0.6), "line": {"color": c, "width": 1}},
                               nbinsx=min(60, max(10, int(np.sqrt(max(1, diff.size)))))))
    if np.isfinite(lo):
        fig.add_vrect(x0=lo, x1=hi, fillcolor="black", opacity=0.15, line_width=0,
                      annotation_text="95% CI of the mean", annotation_position="top left")
    if np.isfinite(mean):
        fig.add_vline(x=mean, line={"color": "black", "width": 2})
    fig.add_vline(x=0, line={"color": "grey", "dash": "dash"})
    unit = METRIC_LABELS.get(metric, ("", ""))[1]
    fig.update_layout(title=f"Run-by-run difference: {b_name} − {a_name}",
                      xaxis_title=f"Difference in {label(metric).lower()}" if unit else metric,
                      yaxis_title="Share of runs", yaxis_tickformat=".0%", showlegend=False,
                      **_LAYOUT)
    return fig


def better_share(diff: np.ndarray, metric: str) -> float:
    """Share of paired runs where B is better than A (more output, or less money lost); NaN for
    an output that is neither better higher nor lower (capability spend)."""
    if diff.size == 0 or metric not in BETTER_WHEN:
        return float("nan")
    better = diff > 0 if BETTER_WHEN[metric] == "higher" else diff < 0
    return float(np.mean(better))


def figures_html(figures: list[go.Figure], title: str) -> str:
    """One self-contained HTML page of figures (plotly.js embedded once: opens offline)."""
    parts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures)]
    body = "\n".join(f'<div style="max-width:1100px;margin:auto">{p}</div>' for p in parts)
    title = html.escape(title)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body style='font-family:sans-serif'><h1>{title}</h1>{body}</body></html>")

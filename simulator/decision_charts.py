"""Figures for "What drives this?": the tornado of one-at-a-time effects and Sobol (or Morris) bars,
drawn the same in the dashboard and the offline report. Plain Plotly figures from the rows
`sensitivity.indices` gives; colours from `charts.PALETTE` (the low end blue, the high end orange,
each with its own bar pattern so the two stay apart without colour)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from .charts import PALETTE, PATTERNS


def tornado_figure(rows: Sequence[dict[str, Any]], title: str, unit: str = "") -> go.Figure:
    """One row a factor, widest swing at the top: the change from the base at the factor's low
    end and at its high end, each with its paired 95% interval."""
    shown = list(rows)[::-1]  # Plotly draws the first category at the bottom
    labels = [r["factor"] for r in shown]
    fig = go.Figure()
    for i, (end, word) in enumerate((("low", "low end"), ("high", "high end"))):
        effects = [r[f"{end}_effect"] for r in shown]
        fig.add_bar(
            y=labels, x=effects, orientation="h", name=f"factor at its {word}",
            marker={"color": PALETTE[i], "pattern": {"shape": PATTERNS[i + 1]}},
            error_x={"type": "data", "symmetric": False,
                     "array": [r[f"{end}_ci_high"] - r[f"{end}_effect"] for r in shown],
                     "arrayminus": [r[f"{end}_effect"] - r[f"{end}_ci_low"] for r in shown]},
            customdata=[[r[f"{end}_value"]] for r in shown],
            hovertemplate="%{y} = %{customdata[0]:.4g}: %{x:+,.1f}<extra></extra>")
    fig.update_layout(barmode="overlay", title=title, height=120 + 40 * len(shown),
                      xaxis_title=f"change from the base{f' ({unit})' if unit else ''}",
                      legend={"orientation": "h", "y": -0.2}, margin={"l": 10})
    fig.add_vline(x=0, line_color="#444", line_width=1)
    return fig


def sobol_figure(rows: Sequence[dict[str, Any]], title: str) -> go.Figure:
    """First-order (alone) and total-order (with interactions) indices with bootstrap intervals."""
    shown = list(rows)[::-1]
    labels = [r["factor"] for r in shown]
    fig = go.Figure()
    for i, (key, word) in enumerate((("S1", "alone (first order)"),
                                     ("ST", "with interactions (total order)"))):
        fig.add_bar(y=labels, x=[r[key] for r in shown], orientation="h", name=word,
                    marker={"color": PALETTE[i], "pattern": {"shape": PATTERNS[i + 1]}},
                    error_x={"type": "data", "array": [r[f"{key}_conf"] for r in shown]})
    fig.update_layout(barmode="group", title=title, height=120 + 50 * len(shown),
                      xaxis_title="share of the variance explained", xaxis_range=[0, 1.05],
                      legend={"orientation": "h", "y": -0.2}, margin={"l": 10})
    return fig


def morris_figure(rows: Sequence[dict[str, Any]], title: str) -> go.Figure:
    """mu* (how much a factor moves the metric) against sigma (how much that depends on the
    others): factors far right matter; factors high up act through interactions or curvature."""
    fig = go.Figure()
    fig.add_scatter(x=[r["mu_star"] for r in rows], y=[r["sigma"] for r in rows], mode="markers+text",
                    text=[r["factor"].split(".")[-1] for r in rows], textposition="top center",
                    marker={"color": PALETTE[0], "size": 10},
                    error_x={"type": "data", "array": [r["mu_star_conf"] for r in rows]})
    fig.update_layout(title=title, xaxis_title="mu* (mean absolute effect over the whole range)",
                      yaxis_title="sigma (spread of the effects)", height=420)
    return fig


def figure_for(method: str, rows: Sequence[dict[str, Any]], title: str, unit: str = "") -> go.Figure:
    if method == "oat":
        return tornado_figure(rows, title, unit)
    if method == "sobol":
        return sobol_figure(rows, title)
    return morris_figure(rows, title)

"""Why a headline is what it is: the paired differences of the quantities disruptions are made
of (money lapsed or spent, staff, months under a freeze, capabilities delivered, productivity and
the priority share at the horizon), as a table and as a few sentences a reader can check.

Disruptions are staff × productivity × the disruption rate, split by the priority share (see
docs/model.md); so a change in output is explained by more or fewer staff (paid from money that
would otherwise lapse, or lost to a freeze), by capabilities delivered (productivity, priority
share), and by what was spent on what. This is a reading of the same paired runs, not a formal
decomposition: each line has its own 95% interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .analysis import mean_ci, paired_comparison
from .results import BatchResults


@dataclass(frozen=True)
class Driver:
    metric: str
    label: str
    unit: str  # "£m", "FTE", "months", "", "%", "x"
    decimals: int


DRIVERS = (
    Driver("lapsed_funds_m", "money lapsed", "£m", 1),
    Driver("temporary_spend_m", "spent on temporary capacity", "£m", 1),
    Driver("capability_spend_m", "spent on capability projects", "£m", 1),
    Driver("overrun_cost_m", "overrun and re-profiling cost", "£m", 1),
    Driver("emergency_cover_m", "emergency cover", "£m", 1),
    Driver("mean_fte", "permanent staff (mean FTE)", "FTE", 0),
    Driver("mean_temporary_fte", "temporary staff (mean FTE)", "FTE", 0),
    Driver("interim_months", "months under a planning freeze", "months", 1),
    Driver("projects_delivered", "projects delivered by the horizon", "", 2),
    Driver("project_pauses", "project pauses", "", 2),
    Driver("final_productivity", "productivity at the horizon", "x", 3),
    Driver("final_priority_share", "share of disruptions against priority groups, final year", "%", 1),
)


def _final_priority_share(res: BatchResults) -> pd.DataFrame:
    """Per run: priority disruptions over all disruptions in the final fiscal year."""
    years = res.years
    last = years[years["fiscal_year"] == years["fiscal_year"].max()]
    total = last["disruptions_total"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, last["priority_disruptions"].to_numpy(dtype=float) / total,
                         np.nan)
    return pd.DataFrame({"run": last["run"].to_numpy(), "final_priority_share": 100.0 * share})


def _values(res: BatchResults, metric: str) -> pd.DataFrame | None:
    if metric == "final_priority_share":
        return _final_priority_share(res) if not res.years.empty else None
    if metric not in res.runs.columns:
        return None
    return res.runs[["run", metric]]


def attribution_frame(a: BatchResults, b: BatchResults) -> pd.DataFrame:
    """One row per driver: mean of A, mean of B, the paired mean difference and its 95% CI.
    Drivers that are zero in every run of both (e.g. emergency cover) are left out."""
    rows = []
    for d in DRIVERS:
        va, vb = _values(a, d.metric), _values(b, d.metric)
        if va is None or vb is None:
            continue
        joined = va.merge(vb, on="run", suffixes=("_a", "_b"))
        xa = joined[f"{d.metric}_a"].to_numpy(dtype=float)
        xb = joined[f"{d.metric}_b"].to_numpy(dtype=float)
        if not (np.nan_to_num(xa).any() or np.nan_to_num(xb).any()):
            continue
        mean, lo, hi = mean_ci(xb - xa)
        rows.append({"driver": d.label, "metric": d.metric, "unit": d.unit,
                     "A mean": float(np.nanmean(xa)), "B mean": float(np.nanmean(xb)),
                     "difference": mean, "95% CI low": lo, "95% CI high": hi})
    return pd.DataFrame(rows, columns=["driver", "metric", "unit", "A mean", "B mean",
                                       "difference", "95% CI low", "95% CI high"])


def _amount(value: float, d: Driver, signed: bool = True) -> str:
    if not math.isfinite(value):
        return "n/a"
    sign = ("+" if value >= 0 else "−") if signed else ("−" if value < 0 else "")
    body = f"{abs(value):,.{d.decimals}f}"
    if d.unit == "£m":
        return f"{sign}£{body}m"
    if d.unit == "%":
        return f"{sign}{body} points" if signed else f"{body}%"
    if d.unit in ("FTE", "months"):
        return f"{sign}{body} {d.unit}"
    return f"{sign}{body}"


def _clear(row: pd.Series) -> bool:
    """The 95% interval excludes zero: a difference worth naming in the sentences."""
    return bool(row["95% CI low"] > 0 or row["95% CI high"] < 0)


def explanation(a_name: str, a: BatchResults, b_name: str, b: BatchResults) -> list[str]:
    """A few plain sentences: where the money went, what happened to staff and capabilities, and
    so why total and priority disruptions moved as they did. Only differences whose 95% interval
    excludes zero are named; the table (`attribution_frame`) has them all."""
    frame = attribution_frame(a, b).set_index("metric")
    by = {d.metric: d for d in DRIVERS}
    years = a.scenario.horizon.years

    def clear(metric: str) -> float | None:
        """The paired mean difference, if its 95% interval excludes zero."""
        if metric in frame.index and _clear(frame.loc[metric]):
            return float(frame.loc[metric]["difference"])
        return None

    def size(metric: str, value: float) -> str:
        return _amount(abs(value), by[metric], signed=False)

    lines = []
    money = []
    lapsed = clear("lapsed_funds_m")
    if lapsed is not None:
        money.append(f"lapses {size('lapsed_funds_m', lapsed)} {'more' if lapsed > 0 else 'less'}")
    spends = []
    for metric, what in (("capability_spend_m", "on capability projects"),
                         ("temporary_spend_m", "on temporary capacity"),
                         ("overrun_cost_m", "on overruns and re-profiling"),
                         ("emergency_cover_m", "in emergency cover")):
        value = clear(metric)
        if value is not None:
            spends.append(f"{size(metric, value)} {'more' if value > 0 else 'less'} {what}")
    if spends:
        money.append("spends " + _join(spends))
    if money:
        lines.append(f"Against {a_name}, {b_name} {' and '.join(money)} over {years} years.")
    people = []
    for metric, what in (("mean_fte", "permanent"), ("mean_temporary_fte", "temporary")):
        value = clear(metric)
        if value is not None:
            people.append(f"{abs(value):,.0f} {'more' if value > 0 else 'fewer'} {what} FTE")
    freeze = clear("interim_months")
    sentence = f"It keeps {_join(people)} on average" if people else ""
    if freeze is not None:
        part = (f"spends {abs(freeze):,.1f} {'more' if freeze > 0 else 'fewer'} months "
                "under a planning freeze (no new posts or contracts)")
        sentence = f"{sentence}, and {part}" if sentence else f"It {part}"
    if sentence:
        lines.append(sentence + ".")
    caps = []
    for metric, what in (("projects_delivered", "projects delivered by the horizon"),
                         ("final_productivity", "productivity at the horizon"),
                         ("final_priority_share", "the final year's share of disruptions "
                                                  "against priority groups")):
        if clear(metric) is not None:
            row, d = frame.loc[metric], by[metric]
            caps.append(f"{what} {_amount(row['B mean'], d, signed=False)} against "
                        f"{_amount(row['A mean'], d, signed=False)}")
    if caps:
        lines.append("Capabilities: " + "; ".join(caps) + ". Which capabilities are delivered "
                     "matters: productivity rises with each one's uplift and when legacy IT is "
                     "replaced, and the priority share only with those that carry a priority "
                     "uplift." + _opposite(a, b))
    return lines


def _opposite(a: BatchResults, b: BatchResults) -> str:
    """A note when total and priority disruptions clearly move in opposite directions."""
    moves = []
    for metric in ("disruptions_total", "priority_disruptions"):
        d = paired_comparison(a.runs, b.runs, metric)["paired_difference"]
        moves.append(1 if d["ci_low"] > 0 else -1 if d["ci_high"] < 0 else 0)
    if moves[0] * moves[1] < 0:
        return (" That is why priority disruptions " + ("fall" if moves[1] < 0 else "rise")
                + " while total disruptions " + ("rise." if moves[0] > 0 else "fall."))
    return ""


def _join(parts: list[str]) -> str:
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]

"""Statistics for readers: summaries with quantiles, and paired run-by-run comparisons.

Paired, because every scenario's run i uses the same keyed random numbers (common random numbers):
the difference B - A for the same run removes the noise both share, so its confidence interval is
far narrower than comparing two independent samples. The 95% interval is Student's t on the mean
paired difference (scipy.stats), valid here because runs are independent of one another.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # imported where used: `fundsim run` starts without them (issue 10)
    import pandas as pd

MAIN_METRICS = ("disruptions_total", "priority_disruptions", "lapsed_funds_m", "overrun_cost_m",
                "capability_spend_m", "projects_delivered", "mean_fte", "cost_per_disruption_k")

BETTER_WHEN: dict[str, str] = {
    "disruptions_total": "higher", "priority_disruptions": "higher",
    "non_priority_disruptions": "higher", "projects_delivered": "higher", "mean_fte": "higher",
    "final_productivity": "higher", "lapsed_funds_m": "lower", "overrun_cost_m": "lower",
    "cost_per_disruption_k": "lower", "project_pauses": "lower", "emergency_cover_m": "lower",
    "overhead_m": "lower",
}
"""Which way is better for a reader, where it is clear (capability spend, for one, is neither)."""


def describe(values: np.ndarray) -> dict[str, float]:
    """Mean and the 5th, 50th and 95th percentiles (NaN-aware)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return {"mean": math.nan, "p5": math.nan, "p50": math.nan, "p95": math.nan}
    p5, p50, p95 = np.quantile(values, (0.05, 0.5, 0.95))
    return {"mean": float(values.mean()), "p5": float(p5), "p50": float(p50), "p95": float(p95)}


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and its two-sided t confidence interval."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    n = values.size
    if n == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(values.mean())
    if n < 2:
        return (mean, math.nan, math.nan)
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return (mean, mean - half, mean + half)


def summary_table(runs: pd.DataFrame, metrics: tuple[str, ...] = MAIN_METRICS) -> pd.DataFrame:
    rows = []
    for metric in metrics:
        d = describe(runs[metric].to_numpy())
        _, lo, hi = mean_ci(runs[metric].to_numpy())
        rows.append({"metric": metric, **d, "ci_low": lo, "ci_high": hi})
    import pandas as pd

    return pd.DataFrame(rows)


def paired_comparison(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> dict[str, Any]:
    """B against A for one metric, matched by `run`."""
    joined = a[["run", metric]].merge(b[["run", metric]], on="run", suffixes=("_a", "_b"))
    va = joined[f"{metric}_a"].to_numpy(dtype=float)
    vb = joined[f"{metric}_b"].to_numpy(dtype=float)
    diff = vb - va
    mean, lo, hi = mean_ci(diff)
    valid = ~np.isnan(diff)
    prob = float(np.mean(diff[valid] > 0)) if valid.any() else math.nan
    return {
        "metric": metric,
        "a": describe(va),
        "b": describe(vb),
        "paired_difference": {"mean": mean, "ci_low": lo, "ci_high": hi},
        "prob_b_greater": prob,
    }


def compare_runs(a_name: str, a: pd.DataFrame, b_name: str, b: pd.DataFrame,
                 metrics: tuple[str, ...]) -> dict[str, Any]:
    """The `fundsim compare --json` object for B against A."""
    runs = int(a[["run"]].merge(b[["run"]], on="run").shape[0])
    return {"a": a_name, "b": b_name, "runs": runs,
            "metrics": [paired_comparison(a, b, m) for m in metrics]}


def headline(a_name: str, b_name: str, comparison: dict[str, Any], years: int) -> str:
    """One plain sentence for a non-statistician, from a `paired_comparison` of disruptions:
    e.g. "three_year adds 567 disruptions over 6 years against annual (95% CI +531 to +604) and
    gives more in 83% of paired runs"."""
    d = comparison["paired_difference"]
    if not math.isfinite(d["mean"]):
        return f"{b_name} and {a_name} cannot be compared: no runs had a value for both."
    verb = "adds" if d["mean"] >= 0 else "loses"
    sentence = (f"{b_name} {verb} {abs(d['mean']):,.0f} disruptions over {years} years against "
                f"{a_name}")
    if math.isfinite(d["ci_low"]):
        sentence += f" (95% CI {d['ci_low']:+,.0f} to {d['ci_high']:+,.0f})"
    return sentence + f" and gives more in {share_text(comparison['prob_b_greater'])} of paired runs."


def possessive(name: str) -> str:
    """A scenario's name as an owner: "annual's", but "... three-year settlements'" (a name that
    ends in an s takes the apostrophe alone)."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def share_text(share: float) -> str:
    """A share of runs as a percentage that never rounds a near-certainty to a certainty: 0.9998
    is "99.98%", not "100%" (and 0.0002 is "0.02%", not "0%")."""
    if not math.isfinite(share):
        return "n/a"
    for digits in (0, 1, 2):
        text = f"{share:.{digits}%}"
        if share in (0.0, 1.0) or text not in (f"{0:.{digits}%}", f"{1:.{digits}%}"):
            return text
    return ">99.99%" if share > 0.5 else "<0.01%"

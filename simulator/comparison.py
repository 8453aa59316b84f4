"""Comparing finished batches for readers: a plain-words headline, a money sentence, summary and
paired-difference tables. Pure pandas, shared by the dashboard's pages and the offline report, so
both say exactly the same thing about the same results.

Results are given as a mapping from display label to `BatchResults`, in display order: the first is
the reference every other scenario is compared with, run by run (common random numbers).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import attribution, charts, levers
from .analysis import MAIN_METRICS, describe, headline, mean_ci, paired_comparison, share_text
from .results import BatchResults


def unique_labels(names: list[str]) -> list[str]:
    """Scenario names made unique for legends ('annual', 'annual #2')."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return labels


def headline_text(results: Mapping[str, BatchResults]) -> str | None:
    """The plain-words sentence for the last scenario against the first, or None for one."""
    found = headline_texts(results)
    return found[-1] if found else None


def headline_texts(results: Mapping[str, BatchResults]) -> list[str]:
    """The plain-words sentence for every scenario against the first (the reference)."""
    if len(results) < 2:
        return []
    return [headline(a_name, b_name, paired_comparison(a.runs, b.runs, "disruptions_total"),
                     a.scenario.horizon.years) for a_name, a, b_name, b in _pairs(results)]


def change_headline(change: str, plural: bool, results: Mapping[str, BatchResults]) -> str:
    """The headline as what a change does: "Three-year core settlements instead of one-year add
    318 disruptions over 6 years (95% CI +296 to +339) and give more in 84% of paired runs." The
    first result is the scenario before the change, the last after it."""
    (_, a), *_, (_, b) = results.items()
    d = paired_comparison(a.runs, b.runs, "disruptions_total")
    diff = d["paired_difference"]
    years = a.scenario.horizon.years
    subject = change[:1].upper() + change[1:]
    if not np.isfinite(diff["mean"]):
        return f"{subject}: no paired runs had a value to compare."
    add, lose, give = ("add", "lose", "give") if plural else ("adds", "loses", "gives")
    verb = add if diff["mean"] >= 0 else lose
    sentence = f"{subject} {verb} {abs(diff['mean']):,.0f} disruptions over {years} years"
    if np.isfinite(diff["ci_low"]):
        sentence += f" (95% CI {diff['ci_low']:+,.0f} to {diff['ci_high']:+,.0f})"
    return sentence + f" and {give} more in {share_text(d['prob_b_greater'])} of paired runs."


def what_differs(results: Mapping[str, BatchResults]) -> list[str]:
    """For every scenario against the first: the parameters that differ, in one sentence each."""
    (a_name, a), *others = results.items()
    return [levers.describe_differences(a_name, a.scenario, b_name, b.scenario)
            for b_name, b in others]


def mixed_warnings(results: Mapping[str, BatchResults]) -> list[str]:
    """A warning for every scenario that differs from the first in more than one group of levers."""
    return levers.mixed_warnings({name: r.scenario for name, r in results.items()})


def _pairs(results: Mapping[str, BatchResults]) -> list[tuple[str, BatchResults, str, BatchResults]]:
    """(first name, first, name, results) for every scenario after the first: the pairs the
    headlines compare, run by run."""
    (a_name, a), *others = results.items()
    return [(a_name, a, b_name, b) for b_name, b in others]


def explanation(results: Mapping[str, BatchResults]) -> list[str]:
    """Why each headline (every scenario against the first) is what it is, in a few sentences;
    with more than one pair, each pair's under a line naming it."""
    if len(results) < 2:
        return []
    pairs = _pairs(results)
    if len(pairs) == 1:
        return attribution.explanation(*pairs[0])
    lines = []
    for a_name, a, b_name, b in pairs:
        lines += [f"{b_name} against {a_name}:", *attribution.explanation(a_name, a, b_name, b)]
    return lines


def attribution_frame(results: Mapping[str, BatchResults]) -> pd.DataFrame:
    """The drivers of each headline (every scenario against the first), with paired intervals;
    with more than one pair, a first column names the scenario each row compares."""
    pairs = _pairs(results)
    if len(pairs) == 1:
        a_name, a, b_name, b = pairs[0]
        frame = attribution.attribution_frame(a, b)
        return frame.rename(columns={"A mean": f"{a_name} mean", "B mean": f"{b_name} mean"})
    frames = []
    for a_name, a, b_name, b in pairs:
        frame = attribution.attribution_frame(a, b).rename(
            columns={"A mean": f"{a_name} mean", "B mean": "scenario's mean"})
        frame.insert(0, "scenario", b_name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def money_sentence(results: Mapping[str, BatchResults]) -> str | None:
    """What every scenario changes in money and priority disruptions against the first."""
    if len(results) < 2:
        return None
    sentences = []
    for a_name, a, b_name, b in _pairs(results):
        parts = []
        for metric, what in (("lapsed_funds_m", "lapsed funds"), ("overrun_cost_m", "overrun cost"),
                             ("priority_disruptions", "priority disruptions")):
            mean, lo, hi = mean_ci(charts.paired_differences(a.runs, b.runs, metric))
            unit = "£" if metric.endswith("_m") else ""
            suffix = "m" if unit else ""
            parts.append(f"{what} {_signed(mean, unit, suffix)} (95% CI "
                         f"{_signed(lo, unit, suffix)} to {_signed(hi, unit, suffix)})")
        sentences.append(f"Against {a_name}, {b_name} changes " + "; ".join(parts) + ".")
    return " ".join(sentences)


def _signed(value: float, unit: str, suffix: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    sign = "−" if value < 0 else "+"
    digits = ",.1f" if suffix else ",.0f"
    return f"{sign}{unit}{abs(value):{digits}}{suffix}"


MEAN = "mean"
CI_LOW, CI_HIGH = "95% CI of mean: low", "95% CI of mean: high"
P5, P95 = "runs' 5th percentile", "runs' 95th percentile"
SUMMARY_NUMBERS = (MEAN, CI_LOW, CI_HIGH, P5, P95)
"""The summary's numeric columns: every interval is two numbers, never a piece of text, so a
table can format them and a spreadsheet can compute with them."""


def summary_frame(results: Mapping[str, BatchResults]) -> pd.DataFrame:
    """Main outputs per scenario, one row per (output, scenario): the mean, the 95% CI of the mean
    (Monte Carlo precision) and the runs' 5th-95th percentile spread (what could happen), all as
    numbers; `metric` is the output's code name."""
    rows = []
    for metric in MAIN_METRICS:
        for name, res in results.items():
            values = res.runs[metric].to_numpy(dtype=float)
            d = describe(values)
            _, lo, hi = mean_ci(values)
            rows.append({"output": charts.label(metric), "scenario": name, MEAN: d["mean"],
                         CI_LOW: lo, CI_HIGH: hi, P5: d["p5"], P95: d["p95"], "metric": metric})
    return pd.DataFrame(rows)


def differences_frame(results: Mapping[str, BatchResults]) -> pd.DataFrame:
    """Paired differences of every scenario against the first, with CIs and who is better."""
    (a_name, a), *others = results.items()
    rows = []
    for b_name, b in others:
        for metric in MAIN_METRICS:
            diff = charts.paired_differences(a.runs, b.runs, metric)
            mean, lo, hi = mean_ci(diff)
            rows.append({"scenario": b_name, "against": a_name, "output": charts.label(metric),
                         "mean difference": mean, "95% CI low": lo, "95% CI high": hi,
                         "share of runs better": charts.better_share(diff, metric),
                         "metric": metric})
    return pd.DataFrame(rows)


def runs_table(results: Mapping[str, BatchResults]) -> pd.DataFrame:
    """Every run of every scenario in one long table (a `scenario` column first)."""
    return pd.concat([r.runs.assign(scenario=name)[["scenario", *r.runs.columns]]
                      for name, r in results.items()], ignore_index=True)


def distribution_figures(results: Mapping[str, BatchResults], ecdf: bool = False) -> dict:
    """The overlaid distributions of the main outputs, keyed `dist_<metric>`."""
    runs = {name: r.runs for name, r in results.items()}
    return {f"dist_{m}": charts.distribution_figure(runs, m, ecdf=ecdf)
            for m in charts.DISTRIBUTION_METRICS}


def fan_figures(results: Mapping[str, BatchResults]) -> dict:
    """Fan charts over the months, keyed `fan_<metric>`."""
    bands = {name: r.bands for name, r in results.items()}
    return {f"fan_{m}": charts.fan_figure(bands, m) for m in charts.FAN_METRICS}


def difference_figures(results: Mapping[str, BatchResults], metric: str) -> dict:
    """Run-by-run differences of every scenario against the first, keyed `diff_<i>`."""
    (a_name, a), *others = results.items()
    return {f"diff_{i}": charts.difference_figure(a_name, a.runs, b_name, b.runs, metric, index=i)
            for i, (b_name, b) in enumerate(others, start=1)}


def figures(results: Mapping[str, BatchResults], ecdf: bool = False,
            diff_metric: str = "disruptions_total", paired: bool = True) -> dict:
    """Every chart of a comparison (for reports and downloads); no differences unless paired."""
    found = {**distribution_figures(results, ecdf), **fan_figures(results)}
    if paired:
        found.update(difference_figures(results, diff_metric))
    return found

"""The report's decision sections: "What drives this?" (sensitivity folders), "What is certainty
worth?" (the sentence `fundsim value --json` wrote) and the Green Book appraisal.

The appraisal needs no new runs: a results folder keeps every run's yearly outputs
(`years.parquet`), and two folders written with the same seed and runs are paired run by run, so
`appraisal.appraise_years` computes each scenario against the first from them. Sensitivity and
value cost thousands of runs, so the report reads what those commands wrote rather than running
them again.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ResultsError, UsageError
from .results import BatchResults


def years_arrays(result: BatchResults, names: Sequence[str]) -> dict[str, np.ndarray]:
    """(runs, years) arrays of yearly outputs, runs in run order."""
    frame = result.years.sort_values(["run", "fiscal_year"], kind="stable")
    runs = frame["run"].nunique()
    return {name: frame[name].to_numpy(dtype=float).reshape(runs, -1) for name in names}


def appraisal_of(a: BatchResults, b: BatchResults):
    """B against A from their stored yearly outputs (the same seed and runs, so paired)."""
    from .appraisal import FLOWS, appraise_years, capex_weighted_uplift, shared_settings

    if a.seed != b.seed or len(a.runs) != len(b.runs):
        raise UsageError(f"{b.scenario.name} and {a.scenario.name} were run with different seeds "
                         "or run counts, so their runs are not paired")
    settings, period = shared_settings(a.scenario, b.scenario)
    names = ((a.scenario.name, b.scenario.name) if a.scenario.name != b.scenario.name
             else (f"{a.scenario.name} (A)", f"{b.scenario.name} (B)"))
    return appraise_years(years_arrays(a, FLOWS), years_arrays(b, FLOWS), settings, period,
                          capex_weighted_uplift(a.scenario), capex_weighted_uplift(b.scenario),
                          names, (len(a.runs), a.seed))


def appraisal_html(results: Mapping[str, BatchResults]) -> str:
    """The appraisal of every scenario against the first: a sentence and a table each."""
    from .appraisal import horizon_table

    items = list(results.values())
    if len(items) < 2:
        return ""
    parts = ["<h2>Green Book appraisal</h2>",
             "<p class='note'>Present values at the scenarios' [appraisal] discount rate (Green "
             "Book: 3.5% a year, year 0 undiscounted), cost with optimism bias on capability "
             "spend; lapsed money returns to the Treasury and is shown, not counted as a cost. "
             "Each difference is paired run by run with its 95% interval. docs/appraisal.md "
             "explains every convention, and how output after the horizon is treated.</p>"]
    for other in items[1:]:
        try:
            found = appraisal_of(items[0], other)
        except UsageError as exc:
            parts.append(f"<p class='warn'>No appraisal of {html.escape(other.scenario.name)}: "
                         f"{html.escape(str(exc))}</p>")
            continue
        parts.append(f"<p class='headline'>{html.escape(found.sentence())}</p>")
        parts.append(_rows_table(found.rows(), found.a, found.b))
        parts.append("<p class='note'>By appraisal period (B minus A, present values):</p>")
        parts.append(_horizon_table(horizon_table(found)))
    return "\n".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return "" if not np.isfinite(value) else f"{value:,.1f}"
    return html.escape(str(value))


def _ci(pair: Any) -> str:
    if not isinstance(pair, tuple | list) or not all(np.isfinite(v) for v in pair):
        return ""
    return f"{pair[0]:,.1f} to {pair[1]:,.1f}"


def _rows_table(rows: list[dict[str, Any]], a: str, b: str) -> str:
    head = ("<table><tr><th>present value</th>"
            f"<th class='num'>{html.escape(a)}</th><th class='num'>{html.escape(b)}</th>"
            "<th class='num'>B minus A</th><th class='num'>95% interval</th></tr>")
    body = "".join(
        f"<tr><td>{html.escape(r['label'])}</td><td class='num'>{_fmt(r[a])}</td>"
        f"<td class='num'>{_fmt(r[b])}</td><td class='num'>{_fmt(r['difference'])}</td>"
        f"<td class='num'>{_ci(r['difference_ci'])}</td></tr>" for r in rows)
    return head + body + "</table>"


def _horizon_table(rows: list[dict[str, Any]]) -> str:
    keys = [k for k in ("disruptions_total", "cost_m", "lapsed_funds_m", "npsv_m") if k in rows[0]]
    names = {"disruptions_total": "disruptions", "cost_m": "cost £m", "lapsed_funds_m": "lapsed £m",
             "npsv_m": "NPSV £m"}
    head = "<table><tr><th>years</th>" + "".join(
        f"<th class='num'>{names[k]}</th>" for k in keys) + \
        "<th class='num'>switching value £k a disruption</th><th>verdict</th></tr>"
    body = "".join(
        f"<tr><td>{r['years']}</td>" + "".join(
            f"<td class='num'>{_fmt(r[k])} ({_ci(r[f'{k}_ci'])})</td>" for k in keys)
        + f"<td class='num'>{_fmt(r['switching_value_k'])}</td>"
        + f"<td>{html.escape(r['verdict_words'])}</td></tr>"
        for r in rows)
    return head + body + "</table>"


def read_study(folder: str | Path) -> dict[str, Any]:
    """A finished sensitivity folder for `--sensitivity`, or a usage error naming the option."""
    from .sensitivity_folder import load_study

    try:
        return load_study(Path(folder))
    except ResultsError as exc:
        raise UsageError(f"--sensitivity {folder}: {exc}") from None


def sensitivity_html(studies: Sequence[tuple[str | Path, dict[str, Any]]],
                     include_plotlyjs: bool) -> str:
    """"What drives this?": each (folder, `read_study`) chart, sentence and table."""
    if not studies:
        return ""
    from .decision_charts import figure_for
    from .sensitivity_command import summary_of_folder

    parts = ["<h2>What drives this?</h2>",
             "<p class='note'>Each assumption moved over its range with every point run on the "
             "same runs and seed (docs/sensitivity.md): a tornado bar is the change from the base "
             "at the factor's low and high end, with its paired 95% interval; Sobol indices are "
             "the share of the variance each factor explains, alone and with interactions, with "
             "bootstrap intervals.</p>"]
    for i, (folder, study) in enumerate(studies):
        manifest = study["manifest"]
        rows = study["indices"].to_dict(orient="records")
        sentence = summary_of_folder(manifest, rows)
        title = chart_title(manifest["method"], manifest["metric"], manifest["scenario_name"],
                            manifest.get("other_name"))
        fig = figure_for(manifest["method"], rows, title)
        parts.append(f"<p>{html.escape(sentence)}</p>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs and i == 0))
        parts.append(f"<p class='note'>{manifest['points']:,} points x {manifest['runs']:,} runs, "
                     f"seed {manifest['seed']}; folder {html.escape(str(folder))}.</p>")
    return "\n".join(parts)


METHOD_NAMES = {"oat": "Tornado", "morris": "Morris screening", "sobol": "Sobol indices"}


def chart_title(method: str, metric: str, scenario: str, other: str | None) -> str:
    """What a sensitivity chart shows, e.g. "Tornado: gain in disruptions_total of three_year over
    annual" (plain text: Plotly titles are not HTML-escaped by us, so names are escaped here)."""
    from .sensitivity_command import what_is_measured

    measured = what_is_measured(metric, scenario, other).removeprefix("the ")
    return html.escape(f"{METHOD_NAMES[method]}: {measured}")


def read_value(file: str | Path) -> dict[str, Any]:
    """What `fundsim value --save` (or `--json`) wrote, checked to be that (plain JSON: nothing is
    executed)."""
    path = Path(file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--value {path}: cannot read it as JSON ({exc}); write it with "
                         "`fundsim value A B --save FILE`") from None
    if not isinstance(data, dict) or data.get("command") != "value" or \
            not isinstance(data.get("sentence"), str):
        raise UsageError(f"--value {path}: not the JSON `fundsim value --json` prints (no "
                         "\"command\": \"value\" with a \"sentence\")")
    return data


def check_value_pair(file: str | Path, data: dict[str, Any],
                     results: Mapping[str, BatchResults]) -> None:
    """A value answer belongs in a report only if it is about the report's first scenario (A)
    against one of the others (B), as they are now: matched by the scenarios' sha256, so an answer
    about other scenarios, or about a scenario since edited, is refused rather than shown."""
    items = list(results.values())
    first = items[0].scenario.sha256()
    others = {r.scenario.sha256() for r in items[1:]}
    if data.get("a_sha256") != first or data.get("b_sha256") not in others:
        raise UsageError(
            f"--value {file}: it answers {data.get('a')!r} against {data.get('b')!r}, which is not "
            f"this report's first scenario ({items[0].scenario.name}) against another one as run "
            "here (their sha256 differ); run `fundsim value A B --save FILE` on these scenarios")


def value_html(answers: Sequence[dict[str, Any]]) -> str:
    """"What is certainty worth?": each value sentence (`read_value`), with how it was found."""
    if not answers:
        return ""
    parts = ["<h2>What is certainty worth?</h2>"]
    for data in answers:
        parts.append(f"<p class='headline'>{html.escape(data['sentence'])}</p>")
        facts = {k: data[k] for k in ("runs", "seed", "metric") if k in data}
        if facts:
            shown = ", ".join(f"{k} {v}" for k, v in facts.items())
            parts.append(f"<p class='note'>Found by root-finding on paired runs ({html.escape(shown)}); "
                         "docs/value.md explains the method and its interval.</p>")
    return "\n".join(parts)

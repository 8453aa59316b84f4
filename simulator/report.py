"""`fundsim report`: one self-contained HTML file a reviewer can attach to a business case, and the
same tables as an Excel workbook for finance teams.

The report says what the dashboard says about the same results (it uses the same comparison tables,
sentences and figures), plus where every number came from: seed, runs, versions, hashes and dates
from each folder's manifest. Plotly's JavaScript is embedded once, so the file opens offline and
will still open in years. Both files are built in memory and written atomically
(`files.write_atomic`), so a failed report never leaves a half-written file that looks finished.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__, assumptions, calibration, comparison, export, listing, uncertain
from .errors import UsageError
from .export import GENERATOR, check_targets
from .model import YEAR_OUTPUTS
from .planner import differing_values, parameter_differences
from .results import BatchResults, load_results
from .verify import Verification, describe_record, read_record, verify_results

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1180px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.7em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
p.headline { font-size: 1.3em; font-weight: 600; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td { max-width: 26em; overflow-wrap: anywhere; }
th.num, td.num { text-align: right; white-space: nowrap; }
td.nowrap { white-space: nowrap; overflow-wrap: normal; }
abbr.hash { text-decoration: underline dotted; cursor: help; font-family: monospace; }
.note { color: #555; font-size: 0.92em; } .warn { background: #fff4d6; padding: 0.6em 1em; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0.5em; }
td.verdict-meets { background: #e3f4e1; } td.verdict-within { background: #fff4d6; }
td.verdict-misses { background: #fde2e1; font-weight: 600; }
table.calibration td:nth-child(n+4) { text-align: left; }
.box { border: 1px solid #bbb; background: #f8f8f8; padding: 0.2em 1.2em 0.6em; margin: 2em 0; }
.box h2 { margin-top: 0.6em; border: none; }
"""


def load_for_report(folders: Sequence[str | Path]) -> dict[str, BatchResults]:
    """Results folders in the order given, each checked against its manifest, with unique labels.
    A sweep's folder is refused with what it is and where its points are."""
    for folder in folders:
        if listing.is_sweep(Path(folder)):
            raise UsageError(listing.sweep_message(Path(folder)))
    loaded = [load_results(folder) for folder in folders]
    labels = comparison.unique_labels([r.name for r in loaded])
    return dict(zip(labels, loaded, strict=True))


def facts_frame(results: Mapping[str, BatchResults], folders: Sequence[str | Path],
                verified: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Where each result came from, as its manifest records it, and whether it was verified by
    re-simulation (`fundsim verify`, or `--verify` now)."""
    rows = []
    for (label, res), folder in zip(results.items(), folders, strict=True):
        m = res.manifest
        versions = m.get("versions", {})
        rows.append({"scenario": label, "folder": str(folder), "seed": res.seed,
                     "runs": len(res.runs), "written (UTC)": m.get("created_utc", ""),
                     "fundsim": versions.get("fundsim", ""), "python": versions.get("python", ""),
                     "numpy": versions.get("numpy", ""), "simpy": versions.get("simpy", ""),
                     "scenario sha256": m.get("scenario_sha256", ""),
                     "runs.parquet sha256": m.get("files", {}).get("runs.parquet", ""),
                     "verified by re-simulation": (verified or {}).get(
                         label, describe_record(read_record(folder)))})
    return pd.DataFrame(rows)


HASH_COLUMNS = ("scenario sha256", "runs.parquet sha256")
SHORT_HASH = 12
"""Hex digits of a sha256 shown in the provenance table; the full value is in the cell's
tooltip and in the workbook's Sources sheet."""


def _number(value: object, digits: str) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(value.dtype)):
        return f"{int(value):,}"
    number = float(value)
    return f"{number:{digits}}" if math.isfinite(number) else "n/a"


def _table(frame: pd.DataFrame, digits: Mapping[str, str] | None = None,
           text: Mapping[str, Callable[[object], str]] | None = None, nowrap: Sequence[str] = (),
           hide: Sequence[str] = ("metric",)) -> str:
    """An HTML table: numbers right-aligned in one format per column (`digits`, else ",.2f"),
    text left-aligned, sha256 columns shortened with the full value on hover. `text` formats a
    column's values as text (shares); `hide` leaves columns out (code names)."""
    digits, text = dict(digits or {}), dict(text or {})
    columns = [c for c in frame.columns if c not in hide]
    numeric = {c for c in columns if c not in text and pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])}
    num = " class='num'"
    head = "".join(f"<th{num if c in numeric or c in text else ''}>{html.escape(str(c))}</th>"
                   for c in columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for c in columns:
            value = row[c]
            if c in text:
                cells.append(f"<td class='num'>{html.escape(text[c](value))}</td>")
            elif c in numeric:
                cells.append(f"<td class='num'>{_number(value, digits.get(c, ',.2f'))}</td>")
            elif c in HASH_COLUMNS and isinstance(value, str) and len(value) > SHORT_HASH:
                cells.append(f"<td class='nowrap'><abbr class='hash' title='{html.escape(value)}'>"
                             f"{html.escape(value[:SHORT_HASH])}…</abbr></td>")
            else:
                shown = "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) \
                    else str(value)
                cls = " class='nowrap'" if c in nowrap else ""
                cells.append(f"<td{cls}>{html.escape(shown)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table><thead><tr>{head}</tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


_SUMMARY_DIGITS = dict.fromkeys(comparison.SUMMARY_NUMBERS, ",.1f")
_DIFFERENCE_DIGITS = {"mean difference": "+,.1f", "95% CI low": "+,.1f", "95% CI high": "+,.1f"}
_SHARE = {"share of runs better": comparison.share_text}
_BETTER_NOTE = ("'share of runs better' counts the runs where it has more output or loses less "
                "money; it is blank for an output with no better direction (such as capability spend: more "
                "is neither better nor worse).")


# --------------------------------------------------------------------------- calibration

CALIBRATION_TITLE = "Does the baseline match the published figures?"
_VERDICT_CLASS = {"meets": "verdict-meets", "within tolerance": "verdict-within",
                  "misses": "verdict-misses"}


@dataclass(frozen=True)
class CalibrationCheck:
    """The calibration targets checked on one scenario of a report: which one, its verdicts
    (empty when they cannot be computed), and the sentences that say so."""

    label: str
    results: list[calibration.Result]
    notes: list[str]


def calibration_check(results: Mapping[str, BatchResults],
                      targets: calibration.Targets | None = None) -> CalibrationCheck:
    """The targets on the runs of the scenario named "baseline" if the report has one, else of
    the first (reference) scenario. A folder written before the per-year outputs the measures
    read existed gets a sentence saying to re-run it, not an error."""
    label = next((name for name, r in results.items() if r.name == "baseline"), next(iter(results)))
    res = results[label]
    which = f"Computed on the {len(res.runs):,} runs of {label} (seed {res.seed})"
    if res.name == "baseline":
        notes = [f"{which}. The targets describe the shipped baseline (scenarios/baseline.toml), so "
                 "a baseline edited since may legitimately differ from them."]
    else:
        notes = [f"{which}, the report's first scenario, since none is named baseline. The targets "
                 f"describe the shipped baseline (scenarios/baseline.toml), so a variant such as "
                 f"{label} may legitimately differ from them."]
    drawn = uncertain.describe(res.scenario)
    if drawn:
        notes.append(drawn)
    missing = [c for c in YEAR_OUTPUTS if c not in res.years.columns]
    if missing:
        return CalibrationCheck(label, [], [
            f"The results folder of {label} was written by an earlier fundsim version without the "
            f"per-year outputs the targets need ({', '.join(missing)}): re-run it with this "
            "version to see this check."])
    try:
        checked = calibration.check(targets or calibration.load_targets(), res.runs, res.years)
    except calibration.TargetsError as exc:
        return CalibrationCheck(label, [], [f"The calibration targets cannot be read: {exc}"])
    return CalibrationCheck(label, checked, notes)


def calibration_html(check: CalibrationCheck) -> str:
    """The reader's table with each verdict cell marked by a class (green, amber, red)."""
    parts = [f"<h2>{html.escape(CALIBRATION_TITLE)}</h2>"]
    parts += [f"<p class='note'>{html.escape(note)}</p>" for note in check.notes]
    if not check.results:
        return "\n".join(parts)
    frame = assumptions.label_intervals(calibration.table(check.results))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column, value in row.items():
            cls = f" class='{_VERDICT_CLASS.get(value, '')}'" if column == "verdict" else ""
            cells.append(f"<td{cls}>{html.escape(str(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    parts.append(f"<table class='calibration'><thead><tr>{head}</tr></thead><tbody>"
                 + "".join(rows) + "</tbody></table>")
    return "\n".join(parts)


def _why_sheet(results: Mapping[str, BatchResults]) -> export.Sheet:
    """The drivers of each headline, with shares as fractions formatted as percentages, as every
    other share in the workbook is (the table's "%" rows hold percentages for the page)."""
    frame = comparison.attribution_frame(results).copy()
    shares = (frame["unit"] == "%").to_numpy()
    numeric = [c for c in frame.columns if frame[c].dtype.kind == "f"]
    frame.loc[shares, numeric] = frame.loc[shares, numeric] / 100.0
    frame.loc[shares, "unit"] = "share"
    return export.Sheet("Why", frame, row_format="metric",
                        row_formats={int(i): export.SHARE for i in np.flatnonzero(shares)})


_TREND = "+0.00%;-0.00%;0.00%"
"""A rate a year, as `fundsim calibrate` prints it ("+1.73% a year")."""


def _calibration_format(measure: str) -> str:
    """A calibration row's number format, as `calibration.fmt` shows the measure: shares and the
    output trend as percentages, counts with thousands separators."""
    if calibration.is_share(measure):
        return export.SHARE
    return _TREND if measure == "output_trend" else export.COUNT


def calibration_frame(check: CalibrationCheck) -> pd.DataFrame:
    """The calibration table for a workbook: model and published values as numbers (shares as
    fractions), verdict, published band and source as text."""
    rows = []
    for r in check.results:
        t = r.target
        rows.append({"target": t.title, "model (mean)": r.mean,
                     f"{assumptions.PRECISION_LABEL}: low": r.ci_low,
                     f"{assumptions.PRECISION_LABEL}: high": r.ci_high,
                     f"{assumptions.SPREAD_LABEL}: low": r.p5,
                     f"{assumptions.SPREAD_LABEL}: high": r.p95,
                     "published": calibration.band(t), "published low": t.low,
                     "published high": t.high, "tolerance": t.tolerance, "verdict": r.verdict,
                     "source": f"{t.source} ({t.date})", "measure": t.measure})
    return pd.DataFrame(rows)


def assumptions_html() -> str:
    """The key-assumptions box, linking to the documents that argue each one."""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in assumptions.KEY_ASSUMPTIONS)
    more = "; ".join(f"<a href='{html.escape(path)}'>{html.escape(path)}</a> ({html.escape(what)})"
                     for path, what in assumptions.READ_MORE)
    return (f"<div class='box'><h2>{html.escape(assumptions.KEY_ASSUMPTIONS_TITLE)}</h2>"
            f"<ul>{items}</ul><p class='note'>Read more in the fundsim repository: {more}.</p></div>")


def _uncertain_notes(results: Mapping[str, BatchResults]) -> list[str]:
    return [line for line in (uncertain.describe(r.scenario) for r in results.values()) if line]


def render_html(results: Mapping[str, BatchResults], folders: Sequence[str | Path],
                verified: Mapping[str, str] | None = None,
                sensitivity: Sequence[tuple[str | Path, dict[str, Any]]] = (),
                value: Sequence[dict[str, Any]] = ()) -> str:
    """The whole report as one HTML string (Plotly embedded once). `sensitivity`: (folder, study)
    pairs from `decision_report.read_study` to show under "What drives this?"; `value`: answers
    from `decision_report.read_value` to show under "What is certainty worth?"."""
    from . import decision_report

    seeds = {r.seed for r in results.values()}
    paired = len(seeds) == 1 and len(results) > 1
    title = _title(results)
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='note'>Written {datetime.now(UTC).isoformat(timespec='seconds')} by "
             f"fundsim {html.escape(__version__)} from {len(results)} results folder(s). Every "
             "scenario is compared with the first, run by run: run <i>i</i> of each scenario "
             "uses the same random numbers (common random numbers), so differences come from the "
             "scenarios, not from chance.</p>"]
    if len(results) > 1:
        parts += [f"<p class='note'>{html.escape(line)}</p>"
                  for line in comparison.what_differs(results)]
        parts += [f"<p class='warn'>{html.escape(w)}</p>" for w in comparison.mixed_warnings(results)]
    if paired:
        parts += [f"<p class='headline'>{html.escape(line)}</p>"
                  for line in comparison.headline_texts(results)]
        parts.append(f"<p>{html.escape(comparison.money_sentence(results))} Intervals are the "
                     f"{assumptions.PRECISION_LABEL}; single runs spread much wider (see the "
                     "runs' spread in the summary, and the distributions).</p>")
        why = comparison.explanation(results)
        if why:
            parts.append("<h2>Why</h2>" + "".join(f"<p>{html.escape(line)}</p>" for line in why))
            parts.append("<p class='note'>The quantities disruptions are made of, each a paired "
                         "mean difference with its 95% interval:</p>")
            parts.append(_table(comparison.attribution_frame(results)))
    elif len(results) > 1:
        parts.append("<p class='warn'>These results use different seeds, so their runs do not "
                     "share random numbers: run-by-run differences would be noise and are left "
                     "out. Re-run them with one seed to compare them run by run.</p>")
    parts += ["<h2>Where the results came from</h2>",
              "<p class='note'>The sha256 values show the files are the ones the manifest lists; "
              "they cannot show the numbers came from the model, since anyone can recompute them. "
              "'Verified by re-simulation' says whether runs were re-run from the folder's own "
              "scenario and seed and matched the stored rows bit for bit.</p>",
              "<p class='note'>Hashes are shortened to their first 12 digits; hover over one for "
              "the whole value (the workbook's Sources sheet has them in full).</p>",
              _table(facts_frame(results, folders, verified),
                     nowrap=("written (UTC)", "fundsim", "python", "numpy", "simpy"))]
    diffs = parameter_differences({name: r.scenario for name, r in results.items()})
    parts.append("<h2>How the scenarios differ</h2>")
    parts.append(_table(diffs) if not diffs.empty else "<p>The scenarios have the same parameters.</p>")
    parts += ["<h2>Summary</h2>", "<p class='note'>Mean over runs, and two intervals. "
              f"{html.escape(assumptions.INTERVALS_NOTE)}</p>",
              _table(comparison.summary_frame(results), _SUMMARY_DIGITS)]
    parts += [f"<p class='note'>{html.escape(line)}</p>" for line in _uncertain_notes(results)]
    if paired:
        parts += ["<h2>Paired differences</h2>", "<p class='note'>Each scenario minus the first, "
                  f"run by run; {_BETTER_NOTE}</p>", _table(comparison.differences_frame(results),
                                                  _DIFFERENCE_DIGITS, _SHARE)]
    parts.append(decision_report.value_html(value))
    if paired:
        parts.append(decision_report.appraisal_html(results))
    parts += [calibration_html(calibration_check(results)), assumptions_html()]
    figures = comparison.figures(results, ecdf=False, diff_metric="disruptions_total",
                                 paired=paired)
    parts.append("<h2>Charts</h2><div class='grid'>")
    for i, fig in enumerate(figures.values()):
        parts.append("<div>" + fig.to_html(full_html=False, include_plotlyjs=(i == 0)) + "</div>")
    parts.append("</div>")
    parts.append(decision_report.sensitivity_html(sensitivity, include_plotlyjs=not figures))
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name=\"generator\" content=\"{GENERATOR} {html.escape(__version__)}\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


def overview(results: Mapping[str, BatchResults], title: str) -> export.Front:
    """The workbook's first sheet: the headline and what it compares, the paired money sentence,
    why, which interval is which, uncertain parameters, and the key assumptions."""
    paired = len({r.seed for r in results.values()}) == 1 and len(results) > 1
    sections: list[tuple[str, list[str]]] = []
    if paired:
        sections.append(("Headline (each scenario against the first, run by run)",
                         [*comparison.headline_texts(results),
                          comparison.money_sentence(results) or ""]))
        sections.append(("Why", comparison.explanation(results)))
    elif len(results) > 1:
        sections.append(("Headline", ["These results use different seeds, so their runs do not "
                                      "share random numbers: paired differences are left out."]))
    if len(results) > 1:
        sections.append(("What is compared", [*comparison.what_differs(results),
                                              *comparison.mixed_warnings(results)]))
    sections.append(("Reading the numbers", [assumptions.INTERVALS_NOTE, *_uncertain_notes(results)]))
    sections.append((assumptions.KEY_ASSUMPTIONS_TITLE,
                     [*assumptions.KEY_ASSUMPTIONS, *assumptions.read_more_lines()]))
    return export.Front(title, sections)


def parameters_frame(results: Mapping[str, BatchResults]) -> pd.DataFrame:
    """The parameters that differ, one row each, with numbers kept as numbers (the HTML table
    shows them as text, `parameter_differences`)."""
    rows = [{"parameter": path, **dict(zip(results, values, strict=True))}
            for path, values in differing_values([r.scenario for r in results.values()])]
    return pd.DataFrame(rows, columns=["parameter", *results], dtype=object)


def _title(results: Mapping[str, BatchResults]) -> str:
    names = list(results)
    return (f"fundsim report: {', '.join(names[1:])} against {names[0]}" if len(names) > 1
            else f"fundsim report: {names[0]}")


def xlsx_bytes(results: Mapping[str, BatchResults], folders: Sequence[str | Path],
               verified: Mapping[str, str] | None = None) -> bytes:
    """The workbook (`export.workbook_bytes`): an Overview of sentences first, then Summary,
    Paired differences, Why, Calibration, Parameters, Sources and Runs as numeric tables with
    number formats, bold headers, widths and frozen header rows. The same results give the same
    bytes (dated by the newest manifest)."""
    sheets = [export.Sheet("Summary", comparison.summary_frame(results), row_format="metric",
                           notes=[assumptions.INTERVALS_NOTE, *_uncertain_notes(results)],
                           freeze_columns=2)]
    if len({r.seed for r in results.values()}) == 1 and len(results) > 1:
        sheets.append(export.Sheet("Paired differences", comparison.differences_frame(results),
                                   row_format="metric", percent=("share of runs better",),
                                   freeze_columns=3, notes=[_BETTER_NOTE[0].upper() + _BETTER_NOTE[1:]]))
        sheets.append(_why_sheet(results))
    check = calibration_check(results)
    formats = {i: _calibration_format(r.target.measure) for i, r in enumerate(check.results)}
    sheets.append(export.Sheet("Calibration", calibration_frame(check), notes=check.notes,
                               row_formats=formats))
    sheets.append(export.Sheet("Parameters", parameters_frame(results)))
    sheets.append(export.Sheet("Sources", facts_frame(results, folders, verified),
                               formats={"seed": "0", "runs": "#,##0"}))
    sheets.append(export.runs_sheet(export.runs_frame({n: r.runs for n, r in results.items()})))
    when = export.stamp([r.manifest.get("created_utc", "") for r in results.values()])
    return export.workbook_bytes(overview(results, _title(results)), sheets, when)


@dataclass
class WrittenReport:
    """What `write_report` loaded and, with `verify_sample`, what re-simulation found."""

    results: dict[str, BatchResults]
    checks: dict[str, Verification] = field(default_factory=dict)

    @property
    def mismatched(self) -> list[str]:
        return [label for label, check in self.checks.items() if not check.ok]


def write_report(folders: Sequence[str | Path], out: str | Path,
                 xlsx: str | Path | None = None, force: bool = False,
                 verify_sample: int | None = None, csv: str | Path | None = None,
                 sensitivity: Sequence[str | Path] = (),
                 value: Sequence[str | Path] = ()) -> WrittenReport:
    """Check every folder (and, with `verify_sample`, re-simulate that many runs of each), then
    write the HTML report (and the workbook, and the runs as CSV). Nothing is written if any
    folder is refused; an existing file is replaced only with `force` and only if fundsim wrote
    it."""
    targets = [(Path(out), "--out")] + ([(Path(xlsx), "--xlsx")] if xlsx is not None else [])
    targets += [(Path(csv), "--csv")] if csv is not None else []
    check_targets(targets, force)
    written = WrittenReport(load_for_report(folders))
    results = written.results
    verified = None
    if verify_sample is not None:
        verified = {}
        for (label, res), folder in zip(results.items(), folders, strict=True):
            check = verify_results(res, Path(folder), verify_sample)
            written.checks[label] = check
            verified[label] = (f"{'verified' if check.ok else 'MISMATCH'} now: {len(check.checked)} "
                               f"of {check.total_runs} runs re-simulated"
                               + ("" if check.ok else f" ({'; '.join(check.mismatches[:3])})"))
    from .decision_report import check_value_pair, read_study, read_value

    studies = [(folder, read_study(folder)) for folder in sensitivity]  # refused before writing
    answers = [read_value(file) for file in value]
    for file, answer in zip(value, answers, strict=True):
        check_value_pair(file, answer, results)
    files = {Path(out): render_html(results, folders, verified, studies, answers).encode("utf-8")}
    if xlsx is not None:
        files[Path(xlsx)] = xlsx_bytes(results, folders, verified)
    if csv is not None:
        files[Path(csv)] = export.csv_bytes(export.runs_frame({n: r.runs for n, r in results.items()}))
    export.write_files(files)
    return written

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
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from . import __version__, assumptions, calibration, comparison, uncertain
from .errors import UsageError
from .files import write_atomic
from .model import YEAR_OUTPUTS
from .planner import parameter_differences
from .results import BatchResults, load_results
from .verify import Verification, describe_record, read_record, verify_results

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1180px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.7em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
p.headline { font-size: 1.3em; font-weight: 600; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f3f3f3; } td { max-width: 26em; overflow-wrap: anywhere; }
td:first-child, th:first-child { text-align: left; }
.note { color: #555; font-size: 0.92em; } .warn { background: #fff4d6; padding: 0.6em 1em; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0.5em; }
td.verdict-meets { background: #e3f4e1; } td.verdict-within { background: #fff4d6; }
td.verdict-misses { background: #fde2e1; font-weight: 600; }
table.calibration td:nth-child(n+4) { text-align: left; }
.box { border: 1px solid #bbb; background: #f8f8f8; padding: 0.2em 1.2em 0.6em; margin: 2em 0; }
.box h2 { margin-top: 0.6em; border: none; }
"""


def load_for_report(folders: Sequence[str | Path]) -> dict[str, BatchResults]:
    """Results folders in the order given, each checked against its manifest, with unique labels."""
    loaded = [load_results(folder) for folder in folders]
    labels = comparison.unique_labels([r.name for r in loaded])
    return dict(zip(labels, loaded, strict=True))


GENERATOR = "fundsim"
"""Written into every report (HTML `<meta name="generator">`, the workbook's creator), so that
`--force` can tell a report fundsim wrote from any other file, which it never replaces."""


def check_target(path: Path, kind: str, force: bool) -> None:
    """Refuse (exit 2) to write over anything but a report fundsim wrote, and over that only with
    `force`: a spreadsheet or a page of someone's own is never replaced."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_file():
        what = "a symbolic link" if path.is_symlink() else "a folder"
        raise UsageError(f"{path}: is {what}, not a report file; choose another {kind} path")
    if not force:
        raise UsageError(f"{path}: already exists; use --force to replace it")
    if not is_fundsim_report(path):
        raise UsageError(f"{path}: --force replaces only a report fundsim wrote, and this file is "
                         "not one; it was left untouched: move it, or choose another path")


def is_fundsim_report(path: Path) -> bool:
    """An HTML file carrying fundsim's generator tag, or a workbook fundsim created."""
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            with zipfile.ZipFile(path) as book:
                core = book.read("docProps/core.xml").decode("utf-8", errors="replace")
            return f"<dc:creator>{GENERATOR}</dc:creator>" in core
        with path.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", errors="replace")
        return f'<meta name="generator" content="{GENERATOR}' in head
    except (OSError, zipfile.BadZipFile, KeyError):
        return False


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


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, na_rep="n/a",
                         float_format=lambda x: f"{x:,.2f}")


def _percent(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    shown = frame.copy()
    shown[column] = [f"{x:.0%}" if pd.notna(x) else "n/a" for x in frame[column]]
    return shown


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
                verified: Mapping[str, str] | None = None) -> str:
    """The whole report as one HTML string (Plotly embedded once)."""
    seeds = {r.seed for r in results.values()}
    paired = len(seeds) == 1 and len(results) > 1
    names = list(results)
    title = f"fundsim report: {' against '.join(reversed(names[:2]))}" if len(names) > 1 else \
        f"fundsim report: {names[0]}"
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
        parts.append(f"<p class='headline'>{html.escape(comparison.headline_text(results))}</p>")
        parts.append(f"<p>{html.escape(comparison.money_sentence(results))} Intervals are the "
                     f"{assumptions.PRECISION_LABEL}; single runs spread much wider (see the "
                     "runs' spread in the summary, and the distributions).</p>")
        why = comparison.explanation(results)
        if why:
            parts.append("<h2>Why</h2>" + "".join(f"<p>{html.escape(line)}</p>" for line in why))
            parts.append("<p class='note'>The quantities disruptions are made of, each a paired "
                         "mean difference with its 95% interval:</p>")
            parts.append(_table(comparison.attribution_frame(results).drop(columns=["metric"])))
    elif len(results) > 1:
        parts.append("<p class='warn'>These results use different seeds, so their runs do not "
                     "share random numbers: run-by-run differences would be noise and are left "
                     "out. Re-run them with one seed to compare them run by run.</p>")
    parts += ["<h2>Where the results came from</h2>",
              "<p class='note'>The sha256 values show the files are the ones the manifest lists; "
              "they cannot show the numbers came from the model, since anyone can recompute them. "
              "'Verified by re-simulation' says whether runs were re-run from the folder's own "
              "scenario and seed and matched the stored rows bit for bit.</p>",
              _table(facts_frame(results, folders, verified))]
    diffs = parameter_differences({name: r.scenario for name, r in results.items()})
    parts.append("<h2>How the scenarios differ</h2>")
    parts.append(_table(diffs) if not diffs.empty else "<p>The scenarios have the same parameters.</p>")
    parts += ["<h2>Summary</h2>", "<p class='note'>Mean over runs, and two intervals. "
              f"{html.escape(assumptions.INTERVALS_NOTE)}</p>",
              _table(assumptions.label_intervals(comparison.summary_frame(results)))]
    parts += [f"<p class='note'>{html.escape(line)}</p>" for line in _uncertain_notes(results)]
    if paired:
        parts += ["<h2>Paired differences</h2>", "<p class='note'>Each scenario minus the first, "
                  "run by run; 'share of runs better' counts the runs where it has more output or "
                  "loses less money.</p>", _table(_percent(comparison.differences_frame(results),
                                                           "share of runs better"))]
    parts += [calibration_html(calibration_check(results)), assumptions_html()]
    figures = comparison.figures(results, ecdf=False, diff_metric="disruptions_total",
                                 paired=paired)
    parts.append("<h2>Charts</h2><div class='grid'>")
    for i, fig in enumerate(figures.values()):
        parts.append("<div>" + fig.to_html(full_html=False, include_plotlyjs=(i == 0)) + "</div>")
    parts.append("</div>")
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name=\"generator\" content=\"{GENERATOR} {html.escape(__version__)}\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


def xlsx_bytes(results: Mapping[str, BatchResults], folders: Sequence[str | Path],
               verified: Mapping[str, str] | None = None) -> bytes:
    """Summary, paired differences, calibration, parameter differences, sources and the key
    assumptions as worksheets (openpyxl). Sentences a sheet needs stand below its table."""
    sheets = {"Summary": assumptions.label_intervals(comparison.summary_frame(results))}
    notes = {"Summary": [assumptions.INTERVALS_NOTE, *_uncertain_notes(results)]}
    if len({r.seed for r in results.values()}) == 1 and len(results) > 1:
        sheets["Paired differences"] = comparison.differences_frame(results)
        sheets["Why"] = comparison.attribution_frame(results)
    check = calibration_check(results)
    sheets["Calibration"] = calibration_frame(check)
    notes["Calibration"] = check.notes
    sheets["Parameters"] = parameter_differences({n: r.scenario for n, r in results.items()})
    sheets["Sources"] = facts_frame(results, folders, verified)
    sheets["Assumptions"] = pd.DataFrame({assumptions.KEY_ASSUMPTIONS_TITLE.lower():
                                          list(assumptions.KEY_ASSUMPTIONS)})
    notes["Assumptions"] = assumptions.read_more_lines()
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        writer.book.properties.creator = GENERATOR
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            for i, line in enumerate(notes.get(name, [])):
                sheet.cell(row=len(frame) + 3 + i, column=1, value=line)
        calibration_sheet = writer.sheets["Calibration"]
        for i, result in enumerate(check.results):
            if calibration.is_share(result.target.measure):
                for cell in calibration_sheet[i + 2][1:10]:
                    if isinstance(cell.value, float):
                        cell.number_format = "0.0%"
        writer.sheets["Assumptions"].column_dimensions["A"].width = 120
    return buffer.getvalue()


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
                 verify_sample: int | None = None) -> WrittenReport:
    """Check every folder (and, with `verify_sample`, re-simulate that many runs of each), then
    write the HTML report (and the workbook). Nothing is written if any folder is refused; an
    existing file is replaced only with `force` and only if fundsim wrote it."""
    targets = [(Path(out), "--out")] + ([(Path(xlsx), "--xlsx")] if xlsx is not None else [])
    if xlsx is not None and Path(out).absolute() == Path(xlsx).absolute():
        raise UsageError(f"--out and --xlsx are the same file ({out}); give two paths")
    for path, option in targets:
        check_target(path, option, force)
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
    files = {Path(out): render_html(results, folders, verified).encode("utf-8")}
    if xlsx is not None:
        files[Path(xlsx)] = xlsx_bytes(results, folders, verified)
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
    except OSError as exc:
        raise UsageError(f"{exc.filename or out}: cannot write the report ({exc.strerror})") from None
    return written

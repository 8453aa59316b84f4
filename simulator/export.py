"""Tables for finance teams: Excel workbooks and CSV files whose numbers are numbers.

Why openpyxl directly (it is already installed as pandas' Excel engine): pandas' `to_excel` writes
values but not what makes a sheet usable in Excel: bold headers, column widths, frozen header
rows, number formats (thousands separators, £m to one decimal, shares as percentages) and a first
sheet of sentences. openpyxl does all of it, writes only the files it is asked for, and is the
best-kept pure-Python xlsx writer. Every interval is two numeric columns (low, high), never text,
so a formula can use it.

Reproducible bytes: an xlsx file is a zip whose entries carry the time they were written, and
openpyxl stamps the workbook's created/modified properties with the clock. Both are set from the
results themselves (`stamp`), so the same results give the same workbook bit for bit.

CSV files are plain `pandas.to_csv` with every digit Python holds (no rounding), so pandas reads
back exactly the numbers written; `is_fundsim_csv` recognises one by its header, so `--force`
replaces only a CSV fundsim wrote.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .errors import UsageError
from .files import write_atomic

GENERATOR = "fundsim"
"""The workbook's creator property: `--force` replaces only a workbook fundsim created."""

EXCEL_ROWS = 1_048_576
"""Excel's row limit; a sheet of more runs is refused with a message (use the CSV or Parquet)."""

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="F2F2F2")
_TITLE_FONT = Font(bold=True, size=14)
_MAX_WIDTH = 60
_EPOCH = datetime(1980, 1, 1, tzinfo=UTC)

# Number formats by what a column holds (Excel codes).
COUNT = "#,##0"
COUNT_1 = "#,##0.0"
MONEY = "#,##0.0"
SIGNED = "+#,##0.0;-#,##0.0;0.0"
SHARE = "0.0%"
INDEX = "0.000"
TEXT = "@"

_METRIC_FORMATS = {"disruptions_total": COUNT_1, "priority_disruptions": COUNT_1,
                   "non_priority_disruptions": COUNT_1, "projects_delivered": "0.00",
                   "project_pauses": "0.00", "mean_fte": COUNT_1, "mean_temporary_fte": COUNT_1,
                   "final_productivity": INDEX, "interim_months": "0.0",
                   "cost_per_disruption_k": MONEY}


def metric_format(metric: str) -> str:
    """The Excel number format for values of a per-run output: counts with thousands
    separators, £m (`_m`) to one decimal, indices to three."""
    if metric in _METRIC_FORMATS:
        return _METRIC_FORMATS[metric]
    if metric.endswith("_m"):
        return MONEY
    return "#,##0.000"


@dataclass
class Sheet:
    """One table on its own sheet. `formats` maps a column to an Excel number format;
    `row_format` names a column holding each row's metric, whose format then applies to that
    row's numeric cells (a summary's rows are different outputs); `row_formats` gives rows (by
    position) one format for all their numbers; `percent` columns hold shares. `notes` are
    sentences written below the table."""

    name: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    row_format: str | None = None
    row_formats: dict[int, str] = field(default_factory=dict)
    percent: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    freeze_columns: int = 1


@dataclass
class Front:
    """The first sheet: a title and sections of sentences (the headline, what was compared, the
    key assumptions), so a reader opening the file sees what the numbers say first."""

    title: str
    sections: list[tuple[str, list[str]]]


def stamp(created: Sequence[str]) -> datetime:
    """The workbook's date: the newest of the results' ISO creation times, else 1980-01-01, so
    the same results always give the same bytes."""
    times = []
    for text in created:
        try:
            parsed = datetime.fromisoformat(str(text))
        except ValueError:
            continue
        times.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return max(times) if times else _EPOCH


def workbook_bytes(front: Front | None, sheets: Sequence[Sheet], when: datetime = _EPOCH) -> bytes:
    """The workbook as bytes: the front sheet first (if any), then one sheet per table."""
    book = Workbook()
    book.remove(book.active)
    if front is not None:
        _write_front(book.create_sheet("Overview"), front)
    for sheet in sheets:
        ws = book.create_sheet(sheet.name[:31])
        if len(sheet.frame) + 1 > EXCEL_ROWS:  # say so on the sheet rather than lose the workbook
            ws.cell(row=1, column=1, value=f"{len(sheet.frame):,} rows: more than a sheet holds "
                    f"({EXCEL_ROWS - 1:,}); use the CSV (--csv) or the results folders' Parquet "
                    "files.")
            continue
        _write_table(ws, sheet)
    when_naive = when.astimezone(UTC).replace(tzinfo=None)
    book.properties.creator = GENERATOR
    book.properties.lastModifiedBy = GENERATOR
    book.properties.created = when_naive
    book.properties.modified = when_naive
    buffer = io.BytesIO()
    book.save(buffer)
    return _fixed_zip_times(buffer.getvalue(), when_naive)


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _fixed_zip_times(data: bytes, when: datetime) -> bytes:
    """The same zip with every entry stamped `when` and the workbook's modified date set to it
    (openpyxl writes the clock's time there whatever the properties say), so the bytes do not
    depend on the clock."""
    stamp_ = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp_)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _MODIFIED.sub(rb"\g<1>" + iso + rb"\g<2>", body)
            target.writestr(fixed, body)
    return out.getvalue()


def _write_front(ws, front: Front) -> None:
    ws.column_dimensions["A"].width = 120
    ws.cell(row=1, column=1, value=front.title).font = _TITLE_FONT
    row = 3
    wrap = Alignment(wrap_text=True, vertical="top")
    for heading, lines in front.sections:
        if not lines:
            continue
        ws.cell(row=row, column=1, value=heading).font = _HEADER_FONT
        row += 1
        for line in lines:
            cell = ws.cell(row=row, column=1, value=line)
            cell.alignment = wrap
            cell.number_format = TEXT
            row += 1
        row += 1


def _cell_value(value: object) -> object:
    """A value openpyxl can store: numpy scalars as Python numbers, NaN as an empty cell."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _write_table(ws, sheet: Sheet) -> None:
    frame = sheet.frame
    columns = [str(c) for c in frame.columns]
    for j, name in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j, value=name)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    widths = [min(_MAX_WIDTH, max(8, len(name) * 0.9 + 2)) for name in columns]
    row_metrics = (frame[sheet.row_format].tolist() if sheet.row_format in frame.columns
                   else [None] * len(frame))
    for i, record in enumerate(frame.itertuples(index=False, name=None), start=2):
        metric = row_metrics[i - 2]
        for j, (name, raw) in enumerate(zip(columns, record, strict=True), start=1):
            value = _cell_value(raw)
            cell = ws.cell(row=i, column=j, value=value)
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int | float):
                if name in sheet.percent:
                    cell.number_format = SHARE
                elif i - 2 in sheet.row_formats:
                    cell.number_format = sheet.row_formats[i - 2]
                elif name in sheet.formats:
                    cell.number_format = sheet.formats[name]
                elif metric is not None:
                    cell.number_format = metric_format(str(metric))
                shown = len(f"{value:,.1f}") + 2
            else:
                shown = min(len(str(value)), _MAX_WIDTH) + 2
            widths[j - 1] = max(widths[j - 1], min(_MAX_WIDTH, shown))
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = round(width, 1)
    ws.freeze_panes = ws.cell(row=2, column=sheet.freeze_columns + 1).coordinate
    if len(frame):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(frame) + 1}"
    for k, line in enumerate(sheet.notes):
        ws.cell(row=len(frame) + 3 + k, column=1, value=line)


# --------------------------------------------------------------------------- files fundsim wrote

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
    """An HTML file carrying fundsim's generator tag, a workbook fundsim created, or a CSV with a
    header fundsim writes."""
    if path.suffix.lower() == ".csv":
        return is_fundsim_csv(path)
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


def check_targets(targets: Sequence[tuple[Path, str]], force: bool) -> None:
    """Every output path distinct, and each one new or a file fundsim wrote (with `force`)."""
    seen: dict[Path, str] = {}
    for path, option in targets:
        key = Path(path).absolute()
        if key in seen:
            raise UsageError(f"{seen[key]} and {option} are the same file ({path}); give two paths")
        seen[key] = option
    for path, option in targets:
        check_target(Path(path), option, force)


def write_files(files: Mapping[Path, bytes]) -> None:
    """Write each file atomically (a crash never leaves a half file that looks finished); a path
    that cannot be written is bad input naming it."""
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
    except OSError as exc:
        raise UsageError(f"{exc.filename or next(iter(files))}: cannot write it "
                         f"({exc.strerror or exc})") from None


# --------------------------------------------------------------------------- CSV

RUNS_CSV_HEADER = "scenario,run,"
POINTS_CSV_HEADER = "point,"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV with every digit kept (pandas reads back the same numbers)."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def is_fundsim_csv(path: Path) -> bool:
    """A CSV whose header is one fundsim writes (runs or sweep points)."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(256).decode("utf-8", errors="replace")
    except OSError:
        return False
    return head.startswith((RUNS_CSV_HEADER, POINTS_CSV_HEADER))


def runs_frame(results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every run of every scenario in one long table: `scenario`, `run`, then the outputs."""
    frames = []
    for name, runs in results.items():
        ordered = ["run", *[c for c in runs.columns if c != "run"]]
        frames.append(runs[ordered].assign(scenario=name)[["scenario", *ordered]])
    return pd.concat(frames, ignore_index=True)


def runs_sheet(frame: pd.DataFrame, name: str = "Runs") -> Sheet:
    """The runs table as a sheet, each output column in its own number format."""
    formats = {c: (COUNT if pd.api.types.is_integer_dtype(frame[c]) else metric_format(c))
               for c in frame.columns if c not in ("scenario", "run", "point")}
    formats["run"] = "0"
    return Sheet(name, frame, formats=formats, freeze_columns=2)

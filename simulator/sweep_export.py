"""A sweep as an Excel workbook for finance teams (`fundsim sweep --xlsx`): what was varied and
against which point in words first, then the points table (each point's values, its own mean and
95% CI, and its paired difference from the reference point with its 95% CI) and every run of every
point, all as numbers with number formats (`export.py`)."""

from __future__ import annotations

import pandas as pd

from . import assumptions, export
from .analysis import MAIN_METRICS
from .listing import read_manifest
from .sweep import SweepDesign, SweepOutcome, point_id, rescale_note

SWEEP_INTERVALS_NOTE = ("Each point's interval is the 95% CI of its mean (Monte Carlo precision): "
                        "how precisely its runs pin down the mean, narrowing as runs are added. "
                        "What could happen in a single run is wider: the Runs sheet holds every "
                        "run of every point, and each point's folder (points/<id>/) its bands.")
"""The Points sheet shows means and their 95% CIs only, so the note says where the spread is."""


def _column_format(column: str, varied: set[str]) -> str | None:
    """The number format of a points-table column: by the output it belongs to; a difference
    with its sign."""
    if column in varied or column in ("point", "reference"):
        return None
    if column == "runs":
        return export.COUNT
    for metric in MAIN_METRICS:
        if column.startswith(f"{metric}_diff_"):
            return "+" + export.metric_format(metric) + ";-" + export.metric_format(metric)
        if column.startswith(f"{metric}_"):
            return export.metric_format(metric)
    return None


def points_sheet(design: SweepDesign, points: pd.DataFrame) -> export.Sheet:
    """The points table as a sheet: varied values as given, outputs in their formats."""
    varied = {v.path for v in design.varies} | {p for a in design.adjusted for p in a}
    formats = {c: f for c in points.columns if (f := _column_format(str(c), varied)) is not None}
    return export.Sheet("Points", points, formats=formats)


def runs_table(design: SweepDesign, outcome: SweepOutcome) -> pd.DataFrame:
    """Every run of every point: `point`, the point's varied values, `run`, then the outputs."""
    frames = []
    for i, values in enumerate(design.points):
        pid = point_id(i)
        runs = pd.read_parquet(outcome.folder / "points" / pid / "runs.parquet")
        ordered = ["run", *[c for c in runs.columns if c != "run"]]
        frame = runs[ordered].copy()
        for path, value in reversed(list({**values, **design.adjusted[i]}.items())):
            frame.insert(0, path, value)
        frame.insert(0, "point", pid)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def overview(design: SweepDesign, outcome: SweepOutcome) -> export.Front:
    """The first sheet: what was varied, the reference point, any rescaled shares, which interval
    is which, and the key assumptions."""
    ref = point_id(design.reference)
    ref_values = ", ".join(f"{p} = {v:g}" if isinstance(v, float) else f"{p} = {v}"
                           for p, v in design.points[design.reference].items())
    kind = (f"a Latin hypercube of {design.lhs} points" if design.lhs is not None
            else f"a grid of {len(design.points)} points")
    varied = [f"{v.path}: {v.low:g} to {v.high:g}" + ("" if design.lhs is not None
                                                      else f" in {v.steps} steps")
              for v in design.varies]
    note = rescale_note(design)
    sections = [
        ("What was varied", [f"{design.base.name}, {kind}, {outcome.runs:,} runs per point with "
                             "the same seeds at every point.", *varied, *([note] if note else [])]),
        ("Against which point", [f"Every point is compared with {ref} ({ref_values}) run by run: "
                                 "the <output>_diff_ columns are its paired mean difference and "
                                 "95% CI. Two points whose own intervals overlap can still differ "
                                 "clearly, since their runs share random numbers."]),
        ("Reading the numbers", [SWEEP_INTERVALS_NOTE]),
        (assumptions.KEY_ASSUMPTIONS_TITLE, [*assumptions.KEY_ASSUMPTIONS,
                                             *assumptions.read_more_lines()]),
    ]
    return export.Front(f"fundsim sweep: {design.base.name}", sections)


def sweep_workbook(design: SweepDesign, outcome: SweepOutcome) -> bytes:
    """The sweep's workbook: Overview, Points and Runs, dated by the sweep's manifest (so the same
    sweep gives the same bytes)."""
    values = list({**design.points[0], **design.adjusted[0]})
    runs = export.runs_sheet(runs_table(design, outcome))
    runs.freeze_columns = len(values) + 2  # point, its values and run stay in view
    for path in values:
        runs.formats.pop(path, None)
    created = (read_manifest(outcome.folder) or {}).get("created_utc", "")
    return export.workbook_bytes(overview(design, outcome),
                                 [points_sheet(design, outcome.points), runs],
                                 export.stamp([created]))

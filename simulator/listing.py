"""Results folders as a reader expects to find them: every finished result under a folder, newest
last, with a sweep shown as its points (each an ordinary results folder) and never as a result
itself.

Why a module of its own: the dashboard's Compare page lists folders, and `fundsim compare` and
`fundsim report` must say what a sweep folder is when they are given one. A sweep's own
`manifest.json` describes its points, not runs, so opening it as a result could only fail with
"runs.parquet is missing"; here it is recognised by its `kind` and described in words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .folders import PARTIAL_SUFFIX

MAX_ENTRIES = 200


@dataclass(frozen=True)
class Entry:
    """One finished results folder: how a list shows it, where it is, and when it was written
    (the manifest's modification time in nanoseconds, which orders folders written within one
    second). `sweep` and `values` are set for a sweep's point."""

    label: str
    folder: Path
    written_ns: int
    sweep: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest.json as a dict, or None if there is none or it is not JSON."""
    try:
        data = json.loads((Path(folder) / "manifest.json").read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def is_sweep(folder: Path) -> bool:
    """A sweep's folder (finished or not): its manifest says `kind = "sweep"`."""
    manifest = read_manifest(folder)
    return manifest is not None and manifest.get("kind") == "sweep"


def short_path(path: str) -> str:
    """The last two parts of a field path (`confirmation_delay_months.mode`), enough to tell
    varied fields apart in a list."""
    return ".".join(path.split(".")[-2:])


def point_label(values: dict[str, Any]) -> str:
    """A sweep point's values in a few words: `confirmation_delay_months.mode = 2`."""
    return ", ".join(f"{short_path(p)} = {_number(v)}" for p, v in values.items())


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def sweep_points(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(point id, varied values) of every point a sweep's manifest lists, in order."""
    manifest = read_manifest(folder) or {}
    points = manifest.get("points")
    if not isinstance(points, list):
        return []
    return [(str(p.get("id")), dict(p.get("values") or {})) for p in points
            if isinstance(p, dict) and "id" in p]


def sweep_message(folder: Path) -> str:
    """What a sweep folder is and where its results are, for a command given the folder itself."""
    folder = Path(folder)
    points = sweep_points(folder)
    finished = (read_manifest(folder) or {}).get("status") == "complete"
    state = "" if finished else " (unfinished: finish it with fundsim sweep ... --resume)"
    if not points:
        return (f"{folder}: is a sweep folder{state}, not one result; its points are results "
                f"folders under {folder / 'points'}/")
    first, last = points[0][0], points[-1][0]
    paths = sorted({short_path(p) for _, values in points for p in values})
    return (f"{folder}: is a sweep of {len(points)} points over {', '.join(paths)}{state}, not one "
            f"result. Each point is a results folder: {folder / 'points' / first} to "
            f"{folder / 'points' / last}, with every point's values and summary in "
            f"{folder / 'points.parquet'}. Give two of them, e.g. {folder / 'points' / first} "
            f"{folder / 'points' / last}")


def results_entries(root: Path, limit: int = MAX_ENTRIES) -> list[Entry]:
    """Finished results folders under `root`, oldest first: plain results folders labelled by
    their path under `root`, and every finished sweep's points labelled `sweep/pNNNN (values)`.
    Unfinished batches (`.partial`), hidden folders and the sweeps themselves are left out."""
    root = Path(root)
    if not root.is_dir():
        return []
    found: list[Entry] = []
    sweeps: dict[Path, dict[str, dict[str, Any]]] = {}  # a sweep's points' values, read once
    for manifest_path in sorted(root.rglob("manifest.json")):
        folder = manifest_path.parent
        parts = folder.relative_to(root).parts
        if any(p.startswith(".") or p.endswith(PARTIAL_SUFFIX) for p in parts):
            continue
        manifest = read_manifest(folder)
        if manifest is None or manifest.get("status") != "complete":
            continue
        if manifest.get("kind") == "sweep":
            continue
        try:
            written = manifest_path.stat().st_mtime_ns
        except OSError:
            continue
        label = "/".join(parts) or "."
        sweep, values = None, {}
        if len(parts) >= 3 and parts[-2] == "points":
            parent = folder.parent.parent
            sweep = "/".join(parent.relative_to(root).parts)
            if parent not in sweeps:
                sweeps[parent] = dict(sweep_points(parent))
            values = sweeps[parent].get(parts[-1], {})
            label = f"{sweep}/{parts[-1]}" + (f" ({point_label(values)})" if values else "")
        found.append(Entry(label, folder, written, sweep, values))
    found.sort(key=lambda e: (e.written_ns, e.label))
    return found[-limit:]


def newest_pair(entries: list[Entry]) -> list[Entry]:
    """The two most recently written results, in the order they were written (the older is the
    reference); fewer when there are fewer."""
    return entries[-2:]

"""What fundsim may create and replace on disk: safe folder names, and `--force` that only ever
replaces a folder fundsim wrote.

Why: a results folder is named after its scenario file, and `--force` deletes what is there. A file
called `...toml` (stem `..`) once made `--force` delete the folder *above* `--out`, and `docs.toml`
an unrelated `DIR/docs/`. Two rules close that:

1. A folder name taken from a file name must be one plain path component that cannot be mistaken
   for anything else: not empty, not `.` or `..`, not hidden (fundsim's own temporary and lock
   files start with a dot), no control characters, not ending in `.partial` (an unfinished batch's
   name). Otherwise the command stops (exit 2) and asks for the file to be renamed; fundsim never
   invents a different name, which could silently collide with another.
2. `--force` replaces a folder only if its `manifest.json` says fundsim wrote it, as the same kind
   of folder (a results folder, an unfinished batch, a sweep), and the folder holds nothing but the
   files fundsim writes there. A symbolic link, a plain file, a folder with someone's notes in it,
   or a sweep where a results folder belongs is refused (exit 2), named, and left untouched.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from .errors import UsageError

PARTIAL_SUFFIX = ".partial"

RESULTS = "results"
PARTIAL = "partial"
SWEEP = "sweep"
SWEEP_PARTIAL = "sweep-partial"
SENSITIVITY = "sensitivity"
SENSITIVITY_PARTIAL = "sensitivity-partial"

_RESULT_FILES = {"manifest.json", "scenario.toml", "runs.parquet", "years.parquet",
                 "bands.parquet", "verification.json"}
# Chunk files: one .npys a chunk since issue 10; the files of older batches (Parquet and .npy) may
# still be cleared with --force.
_CHUNK_FILE = re.compile(r"^chunk-\d{9}\.npys$|^(runs|years)-\d{9}\.parquet$|^months-\d{9}\.npy$")
_POINT = re.compile(r"^p\d{4,}$")
_SENSITIVITY_FILES = {"manifest.json", "design.parquet", "runs.parquet", "points.parquet",
                      "indices.parquet"}
_FILES_OF = {SWEEP: {"manifest.json", "points.parquet"},
             SWEEP_PARTIAL: {"manifest.json", "points.parquet"},
             SENSITIVITY: _SENSITIVITY_FILES, SENSITIVITY_PARTIAL: _SENSITIVITY_FILES}
"""The plain files each kind of folder holds at its top level (besides its sub-folders)."""
_SENSITIVITY_BATCH = re.compile(r"^b\d{6}\.parquet$")
_TEMP = re.compile(r"^\..+\.(tmp|lock)$")
MAX_NAME_LENGTH = 120


def _bad_char(name: str) -> str | None:
    for ch in name:
        if ch in "/\\" or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            return ch
    return None


def safe_name(name: str, source: str) -> str:
    """`name` if it can be a folder inside `--out`, else a `UsageError` naming `source` and the rule."""
    rule = None
    if not name.strip():
        rule = "it is empty"
    elif name in (".", ".."):
        which = "this" if name == "." else "the parent"
        rule = f"{name!r} means a folder that already exists ({which} folder)"
    elif name.startswith("."):
        rule = "it starts with a dot (hidden names are fundsim's own temporary and lock files)"
    elif (ch := _bad_char(name)) is not None:
        rule = f"it holds the character {ch!r} (no path separators or control characters)"
    elif name.endswith(PARTIAL_SUFFIX):
        rule = f"it ends in {PARTIAL_SUFFIX!r}, the name of an unfinished batch's folder"
    elif len(name) > MAX_NAME_LENGTH:
        rule = f"it is longer than {MAX_NAME_LENGTH} characters"
    if rule is not None:
        raise UsageError(f"{source}: the results folder is named after the file, and {name!r} "
                         f"cannot be a folder name: {rule}; rename the file (nothing was run)")
    return name


def results_name(file: Path) -> str:
    """The results folder name for a scenario file: its stem, if that is a safe name."""
    return safe_name(Path(file).stem, str(file))


def inside(out: Path, name: str) -> Path:
    """`out / name`, checked to be a direct child of `out` (belt and braces after `safe_name`)."""
    folder = Path(out) / name
    if folder.parent.absolute() != Path(out).absolute() or folder.name != name:
        raise UsageError(f"{folder}: not a folder directly inside --out {out} (nothing was run)")
    return folder


def partial_of(folder: Path) -> Path:
    """Where an unfinished batch for `folder` lives."""
    return folder.with_name(folder.name + PARTIAL_SUFFIX)


# --------------------------------------------------------------------------- recognising


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def kind_of(folder: Path) -> str | None:
    """Which kind of fundsim folder its manifest says this is, or None if it is not one."""
    m = _manifest(folder)
    if m is None or not isinstance(m.get("format_version", 1 if m.get("kind") == SWEEP else None), int):
        return None
    status = m.get("status", "complete")
    if m.get("kind") == SWEEP:
        return {"complete": SWEEP, "partial": SWEEP_PARTIAL}.get(status)
    if m.get("kind") == SENSITIVITY:
        return {"complete": SENSITIVITY, "partial": SENSITIVITY_PARTIAL}.get(status)
    if not isinstance(m.get("scenario_sha256"), str) or "seed" not in m:
        return None
    if status == "partial" and isinstance(m.get("chunks"), dict):
        return PARTIAL
    if status == "complete" and isinstance(m.get("files"), dict):
        # Assembled but not yet renamed (a kill between the two) is still an unfinished batch.
        return PARTIAL if folder.name.endswith(PARTIAL_SUFFIX) else RESULTS
    return None


def _foreign_entries(folder: Path, kind: str) -> list[str]:
    """Entries fundsim would not have written in a folder of this kind (recursively)."""
    foreign = []
    for entry in folder.iterdir():
        name = entry.name
        if _TEMP.match(name) and not entry.is_dir():
            continue
        if entry.is_symlink():
            foreign.append(str(entry))
        elif kind in (RESULTS, PARTIAL) and name in _RESULT_FILES and entry.is_file():
            continue
        elif kind == PARTIAL and name == "chunks" and entry.is_dir():
            foreign += [str(c) for c in entry.iterdir()
                        if c.is_symlink() or not c.is_file()
                        or not (_CHUNK_FILE.match(c.name) or _TEMP.match(c.name))]
        elif entry.is_file() and name in _FILES_OF.get(kind, ()):
            continue
        elif kind == SENSITIVITY_PARTIAL and name == "batches" and entry.is_dir():
            foreign += [str(c) for c in entry.iterdir()
                        if c.is_symlink() or not c.is_file()
                        or not (_SENSITIVITY_BATCH.match(c.name) or _TEMP.match(c.name))]
        elif kind in (SWEEP, SWEEP_PARTIAL) and name == "points" and entry.is_dir():
            for point in entry.iterdir():
                foreign += _point_foreign(point)
        else:
            foreign.append(str(entry))
    return foreign


def _point_foreign(point: Path) -> list[str]:
    name = point.name
    if _TEMP.match(name) and not point.is_dir():
        return []
    base = name.removesuffix(PARTIAL_SUFFIX).removeprefix(".").removesuffix(".new")
    base = base.removesuffix(PARTIAL_SUFFIX)
    if point.is_symlink() or not point.is_dir() or not _POINT.match(base):
        return [str(point)]
    kind = kind_of(point)
    if kind is None:
        return [] if _empty_skeleton(point) else [str(point)]
    return _foreign_entries(point, kind)


def _empty_skeleton(folder: Path) -> bool:
    """A batch's or sweep's folder as it starts, cut off before its manifest was written: at most
    a `chunks/` of chunk files or an empty `points/`, nothing else."""
    for entry in folder.iterdir():
        if _TEMP.match(entry.name) and entry.is_file() and not entry.is_symlink():
            continue  # a manifest cut off while being written
        if entry.is_symlink() or not entry.is_dir():
            return False
        if entry.name == "chunks":
            if any(c.is_symlink() or not c.is_file() or not (_CHUNK_FILE.match(c.name)
                                                              or _TEMP.match(c.name))
                   for c in entry.iterdir()):
                return False
        elif entry.name not in ("points", "batches") or any(entry.iterdir()):
            return False
    return True


_WHAT = {RESULTS: "a fundsim results folder", PARTIAL: "an unfinished fundsim batch",
         SWEEP: "a fundsim sweep folder", SWEEP_PARTIAL: "an unfinished fundsim sweep",
         SENSITIVITY: "a fundsim sensitivity folder",
         SENSITIVITY_PARTIAL: "an unfinished fundsim sensitivity study"}


def check_replaceable(folder: Path, kinds: tuple[str, ...], option: str = "--force") -> None:
    """Refuse (exit 2) to replace `folder` unless it is a fundsim folder of one of `kinds` holding
    only fundsim's files. A folder that does not exist is fine."""
    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    wanted = " or ".join(_WHAT[k] for k in kinds)
    if folder.is_symlink():
        problem = "is a symbolic link"
    elif not folder.is_dir():
        problem = "is a file, not a folder"
    else:
        kind = kind_of(folder)
        if kind is None and _empty_skeleton(folder):
            return  # a batch's folder as it starts, cut off before its manifest was written
        if kind is None:
            problem = "has no fundsim manifest.json"
        elif kind not in kinds:
            problem = f"is {_WHAT[kind]}"
        else:
            foreign = _foreign_entries(folder, kind)
            if not foreign:
                return
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            problem = f"holds files fundsim did not write there ({shown})"
    raise UsageError(f"{folder}: {option} replaces only {wanted}, and this {problem}; it was left "
                     "untouched: move it, or choose another --out (nothing was run)")


def remove(folder: Path, kinds: tuple[str, ...]) -> None:
    """Delete a fundsim folder of one of `kinds` (checked first); nothing if it does not exist."""
    check_replaceable(folder, kinds)
    if folder.exists():
        _remove_tree(folder)


def _remove_tree(folder: Path) -> None:
    """Delete a folder with each level's manifest.json last, so that a deletion cut off half-way
    leaves a folder its manifest still vouches for, which the next `--force` may then finish."""
    manifest = folder / "manifest.json"
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            _remove_tree(entry)
        elif entry != manifest:
            entry.unlink()
    manifest.unlink(missing_ok=True)
    folder.rmdir()

"""Results folders: Parquet tables, the resolved scenario and a manifest that vouches for them.

A results folder is self-describing: `manifest.json` holds the scenario name, the resolved scenario
and its sha256, the seed and run count, library versions, the time, and a sha256 per data file, so
`compare` and the dashboard need nothing else and refuse a folder whose files were changed. A folder
is written under a temporary name and renamed into place, so a half-written folder never looks
complete. Parquet through pyarrow: typed, compressed, readable from R, Excel add-ins and DuckDB.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tomli_w

from . import arguments, folders, locking
from .errors import ResultsError, ScenarioError, UsageError
from .files import sha256_file
from .model import MONTH_OUTPUTS, RUN_OUTPUTS, YEAR_OUTPUTS
from .runner import Chunk
from .scenario import Scenario, scenario_from_dict

if TYPE_CHECKING:  # pandas is imported where frames are built: `fundsim run` never needs it
    import pandas as pd
    import pyarrow as pa

COUNT_OUTPUTS = frozenset({"disruptions_total", "priority_disruptions",
                           "non_priority_disruptions", "projects_delivered", "project_pauses"})
BAND_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
DATA_FILES = ("runs.parquet", "years.parquet", "bands.parquet", "scenario.toml")
FORMAT_VERSION = 1


@dataclass
class BatchResults:
    """A finished batch: per-run, per-year and monthly-band tables, with where they came from."""

    scenario: Scenario
    seed: int
    runs: pd.DataFrame
    years: pd.DataFrame
    bands: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario.name

    def save(self, folder: str | Path, force: bool = False) -> Path:
        """Write the results folder atomically; refuse to replace one unless `force`."""
        return save_results(self, folder, force=force)


class ResultsBuilder:
    """Collects chunks (in run order) into a `BatchResults`."""

    def __init__(self, scenario: Scenario, seed: int, runs: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self.total = runs
        self._chunks: list[Chunk] = []

    def add(self, chunk: Chunk) -> None:
        self._chunks.append(chunk)

    def finish(self) -> BatchResults:
        chunks = sorted(self._chunks, key=lambda c: c.start)
        runs_arr = np.concatenate([c.runs for c in chunks])
        years_arr = np.concatenate([c.years for c in chunks])
        months_arr = np.concatenate([c.months for c in chunks])
        index = np.concatenate([np.arange(c.start, c.stop) for c in chunks])
        return BatchResults(self.scenario, self.seed, runs_frame(index, runs_arr),
                            years_frame(index, years_arr), bands_frame(months_arr))


# The columns of the three tables, as NumPy arrays. One definition for both ways a batch is kept:
# pandas frames in memory (`run_batch`), Arrow tables streamed to Parquet (`fundsim run`, which
# never imports pandas), so both hold the same columns, types and bits.


def runs_columns(index: np.ndarray, arr: np.ndarray) -> dict[str, np.ndarray]:
    """runs.parquet's columns for runs `index` from their (runs x outputs) array."""
    data: dict[str, np.ndarray] = {"run": index.astype(np.int64)}
    for j, name in enumerate(RUN_OUTPUTS):
        col = arr[:, j]
        data[name] = col.astype(np.int64) if name in COUNT_OUTPUTS else np.ascontiguousarray(col)
    return data


def years_columns(index: np.ndarray, arr: np.ndarray) -> dict[str, np.ndarray]:
    """years.parquet's columns (one row per run and fiscal year) from a (runs x years x outputs)
    array."""
    n, years, _ = arr.shape
    data: dict[str, np.ndarray] = {
        "run": np.repeat(index.astype(np.int64), years),
        "fiscal_year": np.tile(np.arange(1, years + 1, dtype=np.int64), n),
    }
    for j, name in enumerate(YEAR_OUTPUTS):
        col = arr[:, :, j].reshape(-1)
        data[name] = col.astype(np.int64) if name in COUNT_OUTPUTS else col
    return data


def band_columns(metric: str, block: np.ndarray) -> dict[str, Any]:
    """One metric's bands from its (runs x months) array: quantiles over runs, and the mean.

    One metric at a time so that a streamed batch needs only one such array in memory (and a slab
    of a few months beside it, `_quantiles_by_month`); the array is made contiguous first so that
    the in-memory and the streamed paths sum the mean in the same order and agree bit for bit.
    The block is left as it was.
    """
    data = np.ascontiguousarray(block, dtype=float)
    mean = data.mean(axis=0)
    q = _quantiles_by_month(data)
    frame: dict[str, Any] = {"month": np.arange(data.shape[1], dtype=np.int64), "metric": metric}
    for k, quantile in enumerate(BAND_QUANTILES):
        frame[f"p{round(quantile * 100)}"] = q[k]
    frame["mean"] = mean
    return frame


_SLAB_BYTES = 16 << 20
"""The most of a block copied at once for its quantiles (16 MiB: a few months of a million runs)."""


def _quantiles_by_month(data: np.ndarray) -> np.ndarray:
    """`np.quantile(data, BAND_QUANTILES, axis=0)` of a (runs x months) C-contiguous array, the same
    values, a third faster on large batches: each month's runs are selected from a contiguous copy
    (a few months at a time, so the copy stays small) rather than along a column strided by the
    row's length. A quantile is an order statistic, so where its values sit does not change it."""
    runs, months = data.shape
    q = np.empty((len(BAND_QUANTILES), months))
    step = max(1, _SLAB_BYTES // max(1, data.itemsize * runs))
    for first in range(0, months, step):
        slab = np.ascontiguousarray(data[:, first:first + step].T)
        q[:, first:first + step] = np.quantile(slab, BAND_QUANTILES, axis=1, overwrite_input=True)
    return q


# NumPy <-> Arrow without pandas. pyarrow's own conversions (`pa.array`, `pa.table`,
# `Array.to_numpy`, `pq.read_table`) import pandas on first use, to look for pandas types: 0.3 s,
# about 50 us a run of a 6,000-run `fundsim run` of the fast model, which never uses pandas. The
# columns here are plain int64/float64/UTF-8 without nulls, which Arrow holds in the same memory
# layout as NumPy, so they are passed as buffers.

_NUMPY_TYPES = {"int64": np.int64, "double": np.float64, "int32": np.int32, "float": np.float32}


def arrow_array(values: np.ndarray | list[str]) -> pa.Array:
    """A NumPy number column (no copy) or a list of strings as an Arrow array."""
    import pyarrow as pa

    if isinstance(values, list):
        data = [v.encode() for v in values]
        offsets = np.zeros(len(data) + 1, dtype=np.int32)
        np.cumsum([len(d) for d in data], out=offsets[1:])
        return pa.Array.from_buffers(pa.string(), len(data),
                                     [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values),
                                 [None, pa.py_buffer(values)])


def arrow_table(columns: dict[str, Any], schema: pa.Schema) -> pa.Table:
    """Columns (NumPy arrays or lists of strings) as an Arrow table of `schema`."""
    import pyarrow as pa

    return pa.Table.from_arrays([arrow_array(columns[name]) for name in schema.names], schema=schema)


def numpy_column(column: pa.ChunkedArray) -> np.ndarray:
    """An Arrow column as a NumPy array: numbers without nulls from their buffers, strings as
    objects; anything else (nulls, other types: a foreign file) through pyarrow's own conversion."""
    import pyarrow as pa

    parts = []
    for chunk in column.chunks:
        kind = _NUMPY_TYPES.get(str(chunk.type))
        if kind is not None and chunk.null_count == 0:
            parts.append(np.frombuffer(chunk.buffers()[1], dtype=kind,
                                       count=len(chunk), offset=chunk.offset * np.dtype(kind).itemsize))
        elif pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type):
            parts.append(np.array(chunk.to_pylist(), dtype=object))
        else:
            parts.append(chunk.to_numpy(zero_copy_only=False))
    if not parts:
        return np.empty(0)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def read_columns(path: Path, columns: list[str]) -> dict[str, np.ndarray]:
    """Some columns of a Parquet file as NumPy arrays (pyarrow's `ParquetFile`: no pandas)."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as source:
        table = source.read(columns=columns)
    return {name: numpy_column(table.column(name)) for name in columns}


def runs_frame(index: np.ndarray, arr: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(runs_columns(index, arr))


def years_frame(index: np.ndarray, arr: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(years_columns(index, arr))


def bands_frame(months: np.ndarray) -> pd.DataFrame:
    """Quantile bands over runs for each month and metric (for fan charts)."""
    import pandas as pd

    return pd.concat([band_rows(metric, months[:, :, j]) for j, metric in enumerate(MONTH_OUTPUTS)],
                     ignore_index=True)


def band_rows(metric: str, block: np.ndarray) -> pd.DataFrame:
    """`band_columns` as a pandas frame."""
    import pandas as pd

    return pd.DataFrame(band_columns(metric, block))


# ------------------------------------------------------------------------------ saving


def library_versions() -> dict[str, str]:
    """The versions that made a results folder (a sweep asks once per point, hence the cache)."""
    return dict(_library_versions())


@functools.cache
def _library_versions() -> dict[str, str]:
    """A library already imported says its own version (`__version__`, the same string as its
    installed metadata); the others are read from their metadata, which costs a file parse each
    (10 ms for all seven, 2 us a run of a 6,000-run batch)."""
    names = ("fundsim", "simpy", "numpy", "scipy", "pandas", "pyarrow", "pydantic")
    versions = {"python": platform.python_version()}
    for name in names:
        version = getattr(sys.modules.get(name), "__version__", None)
        if isinstance(version, str):
            versions[name] = version
            continue
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def save_results(results: BatchResults, folder: str | Path, force: bool = False,
                 extra: dict[str, Any] | None = None) -> Path:
    folder = arguments.path("folder", folder)
    folders.safe_name(folder.name, str(folder))
    locking.acquire(folder)  # one writer per folder, as for `fundsim run`
    try:
        return _save_locked(results, folder, force, extra)
    finally:
        locking.release(folder)


def _save_locked(results: BatchResults, folder: Path, force: bool,
                 extra: dict[str, Any] | None) -> Path:
    if folder.exists() and not force:
        raise UsageError(f"{folder}: results folder already exists; use --force (force=True in "
                         "Python) to replace it")
    folders.check_replaceable(folder, (folders.RESULTS,))
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
    try:
        results.runs.to_parquet(tmp / "runs.parquet", index=False)
        results.years.to_parquet(tmp / "years.parquet", index=False)
        results.bands.to_parquet(tmp / "bands.parquet", index=False)
        resolved = results.scenario.to_dict()
        (tmp / "scenario.toml").write_text(tomli_w.dumps(resolved))
        manifest = {
            "format_version": FORMAT_VERSION,
            "status": "complete",
            "written_by": "fundsim",
            "scenario_name": results.scenario.name,
            "scenario_sha256": results.scenario.sha256(),
            "scenario": resolved,
            "seed": results.seed,
            "runs": len(results.runs),
            "versions": library_versions(),
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {name: sha256_file(tmp / name) for name in DATA_FILES},
            **(extra or {}),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        folders.remove(folder, (folders.RESULTS,))
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    results.manifest = manifest
    return folder


# ------------------------------------------------------------------------------ loading


def _read_manifest(folder: Path) -> dict[str, Any]:
    """manifest.json as a dict whose fields have the types a results folder's manifest has."""
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ResultsError(f"{folder}: manifest.json is unreadable ({exc})") from None
    if not isinstance(manifest, dict):
        raise ResultsError(f"{folder}: manifest.json is unreadable (not a JSON object)")
    if manifest.get("status") == "partial":
        raise ResultsError(f"{folder}: an unfinished batch, not a results folder; finish it with "
                           "`fundsim run ... --resume`")
    expected = {"files": dict, "seed": int, "scenario": dict, "runs": int, "scenario_sha256": str}
    for key, kind in expected.items():
        value = manifest.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            shown = "missing" if key not in manifest else f"a {type(value).__name__}"
            raise ResultsError(f"{folder}: manifest.json is unreadable ({key} is {shown}, not a "
                               f"{kind.__name__})")
    if manifest["seed"] < 0 or manifest["runs"] < 1:
        raise ResultsError(f"{folder}: manifest.json is unreadable (seed {manifest['seed']}, runs "
                           f"{manifest['runs']})")
    if not all(isinstance(v, str) for v in manifest["files"].values()):
        raise ResultsError(f"{folder}: manifest.json is unreadable (files must map names to sha256)")
    return manifest


def _read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path, columns=columns)
    except Exception as exc:  # pyarrow raises its own types for a damaged or foreign file
        raise ResultsError(f"{path}: cannot be read as a results table ({type(exc).__name__}: "
                           f"{exc})") from None


def _read_columns(path: Path, columns: list[str]) -> dict[str, np.ndarray]:
    """Some columns of a results table as NumPy arrays, read with pyarrow alone (no pandas: the
    check before a batch is published should not cost a pandas import)."""
    try:
        return read_columns(path, columns)
    except Exception as exc:  # pyarrow raises its own types for a damaged or foreign file
        raise ResultsError(f"{path}: cannot be read as a results table ({type(exc).__name__}: "
                           f"{exc})") from None


def cross_check(folder: Path, manifest: dict[str, Any], scenario: Scenario,
                scenario_toml_known: bool = False) -> None:
    """What the hashes cannot show: that the files agree with each other and with the manifest.

    A sha256 only proves a file is the one the manifest lists, and anyone can rewrite both. Here:
    `scenario.toml` is the manifest's scenario; `runs.parquet` holds exactly runs 0..runs-1 in
    order; `years.parquet` one row per run and fiscal year of the horizon; `bands.parquet` one row
    per month of the horizon for each metric. (The seed cannot be checked from the tables: only
    re-simulating them can, which is what `fundsim verify` does.)

    `scenario_toml_known`: the caller has matched scenario.toml's sha256 with that of the bytes it
    wrote from `scenario` itself (the chunk store, publishing what it just assembled), so the file
    is not parsed and validated again (40 ms here, 7 us a run of a 6,000-run batch).
    """
    folder = Path(folder)
    if not scenario_toml_known:
        _check_scenario_toml(folder, scenario)
    _check_tables(folder, manifest, scenario)


def _check_scenario_toml(folder: Path, scenario: Scenario) -> None:
    try:
        text = (folder / "scenario.toml").read_text(encoding="utf-8")
        from_toml = scenario_from_dict(tomllib.loads(text), source=str(folder / "scenario.toml"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ScenarioError) as exc:
        raise ResultsError(f"{folder}: scenario.toml cannot be read back ({exc})") from None
    if from_toml.sha256() != scenario.sha256():
        raise ResultsError(f"{folder}: scenario.toml and the scenario in manifest.json differ (their "
                           "sha256 do not match): one was edited; re-run the scenario")


def _check_tables(folder: Path, manifest: dict[str, Any], scenario: Scenario) -> None:
    runs = manifest["runs"]
    index = _read_columns(folder / "runs.parquet", ["run"])["run"]
    if len(index) != runs or not np.array_equal(index, np.arange(runs)):
        raise ResultsError(f"{folder}: runs.parquet holds {len(index)} rows, not runs 0 to "
                           f"{runs - 1} in order as manifest.json says ({runs} runs)")
    years = scenario.horizon.years
    table = _read_columns(folder / "years.parquet", ["run", "fiscal_year"])
    if (len(table["run"]) != runs * years
            or not np.array_equal(table["run"], np.repeat(np.arange(runs), years))
            or not np.array_equal(table["fiscal_year"], np.tile(np.arange(1, years + 1), runs))):
        raise ResultsError(f"{folder}: years.parquet does not hold one row per run and fiscal year "
                           f"({runs} runs x {years} years) as the manifest and scenario say")
    bands = _read_columns(folder / "bands.parquet", ["month", "metric"])
    names = bands["metric"]
    for metric in dict.fromkeys(names.tolist()):  # each metric once, in the file's order
        if metric is None:
            continue
        if not np.array_equal(bands["month"][names == metric], np.arange(12 * years)):
            raise ResultsError(f"{folder}: bands.parquet does not hold {12 * years} months of "
                               f"{metric} as the scenario's horizon says")


def load_results(folder: str | Path) -> BatchResults:
    """A saved results folder, checked file by file against its manifest, and the files against
    each other (`cross_check`)."""
    folder = arguments.path("folder", folder)
    manifest_path = folder / "manifest.json"
    if not folder.is_dir():
        raise ResultsError(f"{folder}: not a results folder (no such directory)")
    if not manifest_path.is_file():
        raise ResultsError(f"{folder}: not a results folder (manifest.json is missing)")
    manifest = _read_manifest(folder)
    files = manifest["files"]
    for name in DATA_FILES:
        path = folder / name
        if not path.is_file():
            raise ResultsError(f"{folder}: {name} is missing")
        if name not in files or sha256_file(path) != files[name]:
            raise ResultsError(
                f"{folder}: {name} does not match its manifest (sha256 differs): the folder was "
                "changed after it was written; re-run the scenario")
    try:
        scenario = scenario_from_dict(manifest["scenario"], source=str(manifest_path))
    except ScenarioError as exc:
        raise ResultsError(f"{folder}: the scenario in manifest.json is not valid: {exc}") from None
    if scenario.sha256() != manifest["scenario_sha256"]:
        raise ResultsError(f"{folder}: the scenario in manifest.json does not match its sha256")
    cross_check(folder, manifest, scenario)
    return BatchResults(scenario, manifest["seed"], _read_table(folder / "runs.parquet"),
                        _read_table(folder / "years.parquet"),
                        _read_table(folder / "bands.parquet"), manifest)

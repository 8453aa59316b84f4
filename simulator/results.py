"""Results folders: Parquet tables, the resolved scenario and a manifest that vouches for them.

A results folder is self-describing: `manifest.json` holds the scenario name, the resolved scenario
and its sha256, the seed and run count, library versions, the time, and a sha256 per data file, so
`compare` and the dashboard need nothing else and refuse a folder whose files were changed. A folder
is written under a temporary name and renamed into place, so a half-written folder never looks
complete. Parquet through pyarrow: typed, compressed, readable from R, Excel add-ins and DuckDB.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from .errors import ResultsError, UsageError
from .files import sha256_file
from .model import MONTH_OUTPUTS, RUN_OUTPUTS, YEAR_OUTPUTS
from .runner import Chunk
from .scenario import Scenario, scenario_from_dict

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


def runs_frame(index: np.ndarray, arr: np.ndarray) -> pd.DataFrame:
    data: dict[str, Any] = {"run": index.astype(np.int64)}
    for j, name in enumerate(RUN_OUTPUTS):
        col = arr[:, j]
        data[name] = col.astype(np.int64) if name in COUNT_OUTPUTS else col
    return pd.DataFrame(data)


def years_frame(index: np.ndarray, arr: np.ndarray) -> pd.DataFrame:
    n, years, _ = arr.shape
    data: dict[str, Any] = {
        "run": np.repeat(index.astype(np.int64), years),
        "fiscal_year": np.tile(np.arange(1, years + 1, dtype=np.int64), n),
    }
    for j, name in enumerate(YEAR_OUTPUTS):
        col = arr[:, :, j].reshape(-1)
        data[name] = col.astype(np.int64) if name in COUNT_OUTPUTS else col
    return pd.DataFrame(data)


def bands_frame(months: np.ndarray) -> pd.DataFrame:
    """Quantile bands over runs for each month and metric (for fan charts)."""
    return pd.concat([band_rows(metric, months[:, :, j]) for j, metric in enumerate(MONTH_OUTPUTS)],
                     ignore_index=True)


def band_rows(metric: str, block: np.ndarray) -> pd.DataFrame:
    """One metric's bands from its (runs x months) array.

    One metric at a time so that a streamed batch needs only one such array in memory; the array is
    made contiguous first so that the in-memory and the streamed paths sum the mean in the same
    order and agree bit for bit.
    """
    block = np.ascontiguousarray(block, dtype=float)
    q = np.quantile(block, BAND_QUANTILES, axis=0)  # (quantiles, months)
    frame: dict[str, Any] = {"month": np.arange(block.shape[1], dtype=np.int64), "metric": metric}
    for k, quantile in enumerate(BAND_QUANTILES):
        frame[f"p{round(quantile * 100)}"] = q[k]
    frame["mean"] = block.mean(axis=0)
    return pd.DataFrame(frame)


# ------------------------------------------------------------------------------ saving


def library_versions() -> dict[str, str]:
    names = ("fundsim", "simpy", "numpy", "scipy", "pandas", "pyarrow", "pydantic")
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def save_results(results: BatchResults, folder: str | Path, force: bool = False,
                 extra: dict[str, Any] | None = None) -> Path:
    folder = Path(folder)
    if folder.exists() and not force:
        raise UsageError(f"{folder}: results folder already exists; use --force to replace it")
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
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    results.manifest = manifest
    return folder


# ------------------------------------------------------------------------------ loading


def load_results(folder: str | Path) -> BatchResults:
    """A saved results folder, checked file by file against its manifest."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not folder.is_dir():
        raise ResultsError(f"{folder}: not a results folder (no such directory)")
    if not manifest_path.is_file():
        raise ResultsError(f"{folder}: not a results folder (manifest.json is missing)")
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("status") == "partial":
            raise ResultsError(f"{folder}: an unfinished batch, not a results folder; finish it with "
                               "`fundsim run ... --resume`")
        files = manifest["files"]
        seed = int(manifest["seed"])
        resolved = manifest["scenario"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"{folder}: manifest.json is unreadable ({exc})") from None
    for name in DATA_FILES:
        path = folder / name
        if not path.is_file():
            raise ResultsError(f"{folder}: {name} is missing")
        if name not in files or sha256_file(path) != files[name]:
            raise ResultsError(
                f"{folder}: {name} does not match its manifest (sha256 differs): the folder was "
                "changed after it was written; re-run the scenario")
    scenario = scenario_from_dict(resolved, source=str(manifest_path))
    if scenario.sha256() != manifest.get("scenario_sha256"):
        raise ResultsError(f"{folder}: the scenario in manifest.json does not match its sha256")
    return BatchResults(scenario, seed, pd.read_parquet(folder / "runs.parquet"),
                        pd.read_parquet(folder / "years.parquet"),
                        pd.read_parquet(folder / "bands.parquet"), manifest)

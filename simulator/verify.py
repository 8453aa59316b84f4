"""`fundsim verify`: re-simulate a sample of a results folder's runs and check they are, bit for bit,
the rows it stores. fundsim's reproducibility turned into an audit.

Why: a sha256 in the manifest only catches accidental edits. Anyone who edits `runs.parquet` can
recompute its hash and write it into the manifest. What cannot be forged without the model is the
numbers themselves: every run is a pure function of (scenario, seed, run index), so re-running
run *i* from the folder's own `scenario.toml` and seed must give row *i* exactly. A random sample
(20 runs by default, drawn from a fresh seed the output prints, so the check can be repeated) makes
an edit of k rows out of n visible with probability 1 - C(n-k, 20)/C(n, 20): an edit of 5% of the
rows is caught 64% of the time with 20 runs, 99.4% with 100; `--sample` sets the count up to all
runs.

What it checks: `runs.parquet` and `years.parquet` rows of the sampled runs, every column, as
stored bits. What it cannot check from a sample: `bands.parquet` (quantiles over all runs; covered
by its sha256 and `load_results`' layout checks). A mismatch can also come from a different model
or library version; the manifest's versions are compared and any difference is said.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__, locking
from .files import sha256_file, write_atomic
from .results import BatchResults, library_versions, load_results, runs_frame, years_frame
from .runner import simulate_chunk

DEFAULT_SAMPLE = 20
RECORD = "verification.json"
_COMPARED_VERSIONS = ("fundsim", "numpy", "scipy", "simpy")


@dataclass
class Verification:
    """What was re-simulated, and every difference found."""

    folder: Path
    seed: int
    total_runs: int
    checked: list[int]
    sample_seed: int | None
    mismatches: list[str] = field(default_factory=list)
    version_notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def differing_runs(self) -> list[int]:
        """The runs with at least one difference, in order."""
        return sorted({int(m.split(":")[0].removeprefix("run ")) for m in self.mismatches})

    def summary(self) -> str:
        what = (f"{len(self.checked)} of {self.total_runs} runs" if len(self.checked) < self.total_runs
                else f"all {self.total_runs} runs")
        how = f" (sample seed {self.sample_seed})" if self.sample_seed is not None else ""
        if self.ok:
            return (f"{self.folder}: verified: {what}{how}, re-simulated from the folder's own "
                    f"scenario and seed {self.seed}, match the stored rows bit for bit")
        runs = ", ".join(map(str, self.differing_runs[:20]))
        more = f" and {len(self.differing_runs) - 20} more" if len(self.differing_runs) > 20 else ""
        return (f"{self.folder}: MISMATCH: {len(self.mismatches)} difference(s) in {what}{how} "
                f"re-simulated from the folder's scenario and seed {self.seed}; runs that differ: "
                f"{runs}{more}")

    def record(self) -> dict[str, Any]:
        return {"result": "verified" if self.ok else "mismatch",
                "verified_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                "fundsim": __version__, "seed": self.seed, "runs_checked": self.checked,
                "total_runs": self.total_runs, "sample_seed": self.sample_seed,
                "runs_differing": self.differing_runs, "mismatches": self.mismatches[:50],
                "version_notes": self.version_notes,
                "manifest_sha256": sha256_file(self.folder / "manifest.json")}


def choose_runs(total: int, sample: int | None, sample_seed: int | None) -> tuple[list[int], int | None]:
    """The run indices to check: all of them when `sample` is None or covers them; else a random
    sample from `sample_seed` (fresh when None, returned so the output can print it)."""
    if sample is None or sample >= total:
        return list(range(total)), None
    if sample_seed is None:
        sample_seed = secrets.randbelow(2**31)
    rng = np.random.default_rng(sample_seed)
    return sorted(int(i) for i in rng.choice(total, size=sample, replace=False)), sample_seed


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds (repr of a float keeps every bit)."""
    return value.item() if hasattr(value, "item") else value


def _differences(label: str, stored: pd.DataFrame, fresh: pd.DataFrame, run: int) -> list[str]:
    out = []
    if list(stored.columns) != list(fresh.columns):
        missing = sorted(set(fresh.columns) - set(stored.columns))
        extra = sorted(set(stored.columns) - set(fresh.columns))
        return [f"run {run}: {label} columns differ (missing {missing}, extra {extra})"]
    if len(stored) != len(fresh):
        return [f"run {run}: {label} has {len(stored)} rows, re-simulated {len(fresh)}"]
    for column in fresh.columns:
        a = stored[column].to_numpy()
        b = fresh[column].to_numpy()
        if a.dtype != b.dtype or a.tobytes() != b.tobytes():
            i = next((k for k in range(len(a)) if a[k:k + 1].tobytes() != b[k:k + 1].tobytes()), 0)
            where = f" (row {i + 1} of {len(a)})" if len(a) > 1 else ""
            out.append(f"run {run}: {label} {column}{where}: stored {_plain(a[i])!r}, "
                       f"re-simulated {_plain(b[i])!r}")
    return out


def verify_results(results: BatchResults, folder: Path, sample: int | None = DEFAULT_SAMPLE,
                   sample_seed: int | None = None) -> Verification:
    """Re-simulate the chosen runs of loaded results and compare them with the stored rows."""
    total = len(results.runs)
    checked, used_seed = choose_runs(total, sample, sample_seed)
    report = Verification(Path(folder), results.seed, total, checked, used_seed)
    current = library_versions()
    written = results.manifest.get("versions", {}) if isinstance(results.manifest, dict) else {}
    for name in _COMPARED_VERSIONS:
        then = written.get(name) if isinstance(written, dict) else None
        if then is not None and then != current.get(name):
            report.version_notes.append(f"written with {name} {then}, checked with {current.get(name)}")
    runs_by_index = results.runs.set_index("run", drop=False)
    years_groups = {int(k): g for k, g in results.years.groupby("run", sort=False)}
    for run in checked:
        chunk = simulate_chunk(results.scenario, results.seed, run, run + 1)
        index = np.array([run])
        fresh_runs = runs_frame(index, chunk.runs)
        fresh_years = years_frame(index, chunk.years)
        stored_runs = runs_by_index.loc[[run]].reset_index(drop=True)
        stored_years = years_groups.get(run, results.years.iloc[0:0]).reset_index(drop=True)
        report.mismatches += _differences("runs.parquet", stored_runs, fresh_runs, run)
        report.mismatches += _differences("years.parquet", stored_years, fresh_years, run)
    return report


def verify_folder(folder: str | Path, sample: int | None = DEFAULT_SAMPLE,
                  sample_seed: int | None = None, record: bool = True) -> Verification:
    """Load (hashes and cross-checks), re-simulate a sample, and write `verification.json` into the
    folder (under the folder's lock, so a concurrent `run --force` cannot replace it meanwhile)."""
    folder = Path(folder)
    results = load_results(folder)
    report = verify_results(results, folder, sample, sample_seed)
    if record:
        locking.acquire(folder)
        try:
            write_atomic(folder / RECORD, json.dumps(report.record(), indent=2).encode())
        except OSError:
            pass  # a read-only folder can still be verified; the record is a convenience
        finally:
            locking.release(folder)
    return report


def read_record(folder: str | Path) -> dict[str, Any] | None:
    """The folder's `verification.json` if it is for the manifest now in the folder, else None.

    It is a record, not a proof: anyone can write this file. `fundsim report --verify` re-checks.
    """
    folder = Path(folder)
    try:
        data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            return None
        if data.get("manifest_sha256") != sha256_file(folder / "manifest.json"):
            return None
    except (OSError, ValueError, RecursionError):
        return None
    return data


def describe_record(data: dict[str, Any] | None) -> str:
    """A record in words, for the report."""
    if data is None:
        return "not verified"
    checked = data.get("runs_checked")
    n = len(checked) if isinstance(checked, list) else "?"
    return (f"{data.get('result', '?')} by `fundsim verify` on {data.get('verified_utc', '?')}: "
            f"{n} of {data.get('total_runs', '?')} runs re-simulated (a record in the folder; "
            "--verify re-checks now)")


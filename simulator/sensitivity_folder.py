"""Running a sensitivity design into a results folder, resumably.

    DIR/<stem>[-vs-<other>]-<method>[-<metric>, unless disruptions_total]/
        manifest.json     kind "sensitivity": scenarios, factors, method, samples, runs, seed,
                          metric, the files' sha256
        design.parquet    one row per point: unit-cube coordinates (u_0, u_1, ...) and values
        runs.parquet      per point and run: the metric of SCENARIO (and of OTHER, and the paired
                          difference, with --against)
        points.parquet    per point: its values, the metric's mean and 95% CI
        indices.parquet   per factor: the method's table (tornado bars, Morris mu*/sigma, Sobol S1/ST)

While it runs the folder is `<name>.partial/`, and points are run in batches, each written as
`batches/b<first point>.parquet` when it is done: `--resume` skips finished batches, so an
interrupted design loses at most the batch that was running.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import folders, locking
from .errors import UsageError
from .evaluate import evaluate
from .executors import ChunkExecutor
from .files import parquet_bytes, write_atomic
from .results import library_versions
from .scenario import Scenario
from .sensitivity import Design, fixed_base, indices

RUNS_PER_BATCH = 4000
"""About how many runs a batch of points holds: a few seconds of work, so an interrupted design
loses little, and few enough files."""
_BATCH = re.compile(r"^b(\d{6})\.parquet$")


@dataclass(frozen=True)
class Study:
    """What a sensitivity folder answers: SCENARIO's metric (or its paired difference against
    OTHER) over a design."""

    scenario: Scenario
    other: Scenario | None
    design: Design
    metric: str
    runs: int
    seed: int

    def variants(self, first: int, stop: int) -> list[Scenario]:
        """The scenarios of points [first, stop): each point's values in SCENARIO (then in
        OTHER, when there is one)."""
        paths = tuple(f.path for f in self.design.factors)
        out = []
        for base in self.bases():
            make = base.copier(paths)
            out += [make(tuple(float(v) for v in self.design.values[p])) for p in range(first, stop)]
        return out

    def measure(self, first: int, stop: int, executor: ChunkExecutor, workers: int = 1,
                progress: Callable[[int], None] | None = None) -> np.ndarray:
        """The metric of every run of points [first, stop): SCENARIO's rows, then OTHER's."""
        return evaluate(self.variants(first, stop), self.runs, self.seed, executor,
                        metrics=(self.metric,), workers=workers, progress=progress).of(self.metric)

    def per_point(self, got: np.ndarray) -> np.ndarray:
        """What the study measures, point by run, from `measure`: SCENARIO's metric, or the paired
        difference SCENARIO minus OTHER."""
        if self.other is None:
            return got
        count = got.shape[0] // 2
        return got[:count] - got[count:]

    def bases(self) -> list[Scenario]:
        scenarios = [self.scenario] + ([self.other] if self.other is not None else [])
        return [fixed_base(s, self.design.factors) for s in scenarios]

    def cost(self) -> int:
        """Model runs the whole design takes."""
        return self.design.points * self.runs * (2 if self.other is not None else 1)

    def plan(self) -> dict[str, Any]:
        """What a resumed folder must match."""
        return {
            "kind": "sensitivity", "format_version": 1, "method": self.design.method,
            "metric": self.metric, "seed": self.seed, "runs": self.runs,
            "samples": self.design.samples, "scenario_sha256": self.scenario.sha256(),
            "other_sha256": self.other.sha256() if self.other is not None else None,
            "factors": [{"path": f.path, "dist": f.dist.model_dump(), "central": f.central,
                         "given_as_range": f.given_as_range} for f in self.design.factors],
        }


DEFAULT_METRIC = "disruptions_total"


def folder_name(stem: str, other_stem: str | None, method: str,
                metric: str = DEFAULT_METRIC) -> str:
    """`<stem>[-vs-<other>]-<method>`, and `-<metric>` for any metric but the default, so a study
    of another metric does not take the same folder."""
    name = f"{stem}-vs-{other_stem}-{method}" if other_stem else f"{stem}-{method}"
    if metric != DEFAULT_METRIC:
        name += f"-{metric}"
    return folders.safe_name(name, f"{stem}.toml")


def preflight(folder: Path, resume: bool, force: bool) -> None:
    """Refuse an existing study without --force, a leftover one without --resume/--force, and
    anything that is not a fundsim sensitivity folder where one would be replaced."""
    partial = folders.partial_of(folder)
    if folder.exists() and not force:
        raise UsageError(f"{folder}: sensitivity folder already exists; use --force to replace it "
                         "(nothing was run)")
    if partial.exists() and not resume and not force:
        raise UsageError(f"{partial}: an unfinished sensitivity study is here; add --resume to "
                         "finish it, or --force to start again (nothing was run)")
    if force:
        folders.check_replaceable(folder, (folders.SENSITIVITY,))
    if force or resume:
        folders.check_replaceable(partial, (folders.SENSITIVITY_PARTIAL,),
                                  "--force" if force else "--resume")


@dataclass
class Outcome:
    folder: Path
    rows: list[dict[str, Any]]
    points: Any  # pandas DataFrame
    resumed: bool
    ran: int  # model runs made now (not counting a resumed folder's finished batches)


def run_study(study: Study, folder: Path, executor: ChunkExecutor, workers: int = 1,
              resume: bool = False, force: bool = False,
              progress: Callable[[int], None] | None = None) -> Outcome:
    """Run every point (skipping finished batches when resuming) and write the folder atomically."""
    locking.acquire(folder)
    try:
        return _run_locked(study, folder, executor, workers, resume, force, progress)
    finally:
        locking.release(folder)


def _run_locked(study: Study, folder: Path, executor: ChunkExecutor, workers: int, resume: bool,
                force: bool, progress: Callable[[int], None] | None) -> Outcome:
    import pandas as pd

    preflight(folder, resume, force)
    partial = folders.partial_of(folder)
    plan = study.plan()
    resumed = False
    if partial.exists():
        if resume and _same_plan(partial, plan):
            resumed = True
        elif resume:
            raise UsageError(f"{partial}: was started with other options or scenarios; --resume "
                             "needs the same ones, or use --force to start again")
        else:
            folders.remove(partial, (folders.SENSITIVITY_PARTIAL,))
    manifest = {"status": "partial", "written_by": "fundsim", **plan,
                "scenario": study.scenario.to_dict(),
                "other": study.other.to_dict() if study.other is not None else None,
                "scenario_name": study.scenario.name,
                "other_name": study.other.name if study.other is not None else None}
    try:
        (partial / "batches").mkdir(parents=True, exist_ok=True)
        write_atomic(partial / "manifest.json", json.dumps(manifest, indent=1).encode())
    except OSError as exc:
        raise UsageError(f"--out {folder.parent}: cannot write results there "
                         f"({os.strerror(exc.errno or 0)}); choose a folder you can write to "
                         "(nothing was run)") from None
    scenarios = 2 if study.other is not None else 1
    per_batch = max(1, RUNS_PER_BATCH // (study.runs * scenarios))
    done = _finished_batches(partial)
    ran = 0
    for first in range(0, study.design.points, per_batch):
        stop = min(first + per_batch, study.design.points)
        if first in done:
            if progress is not None:
                progress((stop - first) * study.runs * scenarios)
            continue
        got = study.measure(first, stop, executor, workers, progress)
        ran += got.size
        write_atomic(partial / "batches" / f"b{first:06d}.parquet",
                     parquet_bytes(_batch_frame(first, stop, got, study.other is not None)))
    runs = pd.concat([pd.read_parquet(p) for p in sorted((partial / "batches").iterdir())
                      if _BATCH.match(p.name)], ignore_index=True)
    runs = runs.sort_values(["point", "run"], kind="stable").reset_index(drop=True)
    value = "diff" if study.other is not None else "value"
    per_run = runs[value].to_numpy(dtype=float).reshape(study.design.points, study.runs)
    rows = indices(study.design, per_run, study.seed)
    points = _points_frame(study, per_run)
    files = {"design.parquet": _design_frame(study.design), "runs.parquet": runs,
             "points.parquet": points, "indices.parquet": pd.DataFrame(rows)}
    sums = {name: write_atomic(partial / name, parquet_bytes(frame)) for name, frame in files.items()}
    for batch in (partial / "batches").iterdir():
        batch.unlink()
    (partial / "batches").rmdir()
    final = {**manifest, "status": "complete", "points": study.design.points,
             "versions": library_versions(),
             "created_utc": datetime.now(UTC).isoformat(timespec="seconds"), "files": sums}
    write_atomic(partial / "manifest.json", json.dumps(final, indent=1).encode())
    folders.remove(folder, (folders.SENSITIVITY,))
    os.replace(partial, folder)
    return Outcome(folder, rows, points, resumed, ran)


def _same_plan(partial: Path, plan: dict[str, Any]) -> bool:
    try:
        old = json.loads((partial / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return all(old.get(k) == v for k, v in json.loads(json.dumps(plan)).items())


def _finished_batches(partial: Path) -> set[int]:
    return {int(m[1]) for p in (partial / "batches").iterdir() if (m := _BATCH.match(p.name))}


def _batch_frame(first: int, stop: int, got: np.ndarray, paired: bool):
    """Rows (point, run, value[, other, diff]) of points [first, stop)."""
    import pandas as pd

    count = stop - first
    runs = got.shape[1]
    frame = {"point": np.repeat(np.arange(first, stop), runs), "run": np.tile(np.arange(runs), count),
             "value": got[:count].ravel()}
    if paired:
        frame["other"] = got[count:].ravel()
        frame["diff"] = frame["value"] - frame["other"]
    return pd.DataFrame(frame)


def _design_frame(design: Design):
    import pandas as pd

    frame: dict[str, Any] = {"point": np.arange(design.points)}
    for k in range(len(design.factors)):
        frame[f"u_{k}"] = design.unit[:, k]
    for k, f in enumerate(design.factors):
        frame[f.path] = design.values[:, k]
    return pd.DataFrame(frame)


def _points_frame(study: Study, per_run: np.ndarray):
    import pandas as pd

    from .analysis import mean_ci

    frame = _design_frame(study.design).drop(
        columns=[f"u_{k}" for k in range(len(study.design.factors))])
    cis = [mean_ci(row) for row in per_run]
    frame["mean"] = [c[0] for c in cis]
    frame["ci_low"] = [c[1] for c in cis]
    frame["ci_high"] = [c[2] for c in cis]
    return pd.DataFrame(frame)


def load_study(folder: Path) -> dict[str, Any]:
    """A finished sensitivity folder's manifest and tables (for discovery, reports, dashboard)."""
    import pandas as pd

    from .errors import ResultsError

    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{folder}: not a finished sensitivity folder ({exc})") from None
    if manifest.get("kind") != "sensitivity" or manifest.get("status") != "complete":
        raise ResultsError(f"{folder}: not a finished fundsim sensitivity folder (its manifest "
                           "says otherwise); run `fundsim sensitivity` to make one")
    out: dict[str, Any] = {"manifest": manifest}
    for name in ("design", "points", "indices"):
        out[name] = pd.read_parquet(folder / f"{name}.parquet")
    return out


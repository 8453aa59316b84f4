"""A resumable chunk store: a batch's results written chunk by chunk as they finish, then assembled.

Why: finance batches of 100,000 runs must survive `kill -9`, a full disk or a dead worker, and must
not hold every run in memory. While a batch runs, its results live in `DIR/<stem>.partial/`:

    manifest.json      status "partial": scenario, seed, plan (runs, chunk size, target) and the
                       chunks done so far with a sha256 per file, replaced atomically after each chunk
    chunks/            runs-<start>.parquet, years-<start>.parquet, months-<start>.npy per chunk

Every file is written under a temporary name, flushed, and `os.replace`d into place, and a chunk
counts as done only once the manifest lists it, so a chunk cut off half-way is never taken for a
finished one. `finish` streams the chunk files into `runs.parquet` and `years.parquet` in run order
(pyarrow's `ParquetWriter`, one row group per chunk), builds the monthly bands one metric at a time
(memory O(runs x months) for one metric, about 58 MB at 100,000 six-year runs), writes the usual
manifest, deletes `chunks/` (the per-run monthly paths are not kept: at 100,000 runs they are 330 MB
and only the bands are read), and renames the folder to its final name. The result is an ordinary
results folder that `load_results` accepts, bit-identical whatever the workers, the scheduler, or
how many times the batch was interrupted and resumed, because the chunk size is fixed by the
manifest and every draw is keyed by (seed, run, name).

Monthly chunk arrays are `.npy` (NumPy's own format, read with `allow_pickle=False`, memory-mapped)
rather than Parquet because bands need one metric's (runs x months) block at a time, which is one
contiguous slice of a (metrics, runs, months) array.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import tomli_w

from . import folders, locking
from .errors import ResultsError, RunError, UsageError
from .files import parquet_bytes, sha256_file, write_atomic
from .model import MONTH_OUTPUTS
from .results import (
    DATA_FILES,
    FORMAT_VERSION,
    band_rows,
    library_versions,
    runs_frame,
    years_frame,
)
from .runner import Chunk
from .scenario import Scenario

PARTIAL_SUFFIX = folders.PARTIAL_SUFFIX
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def partial_folder(folder: Path) -> Path:
    """Where an unfinished batch for `folder` lives."""
    return folders.partial_of(folder)


def _npy_bytes(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _disk_error(exc: OSError, where: Path, kept: str) -> RunError:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return RunError(f"{where}: could not write results ({reason}). {kept}")


class ChunkStore:
    """The on-disk state of one scenario's batch: which chunks are done, and their files."""

    def __init__(self, folder: Path, scenario: Scenario, seed: int, plan: dict[str, Any],
                 manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.partial = partial_folder(folder)
        self.scenario = scenario
        self.seed = seed
        self.plan = plan
        self.manifest = manifest

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, folder: Path, scenario: Scenario, seed: int, plan: dict[str, Any],
             resume: bool, force: bool) -> ChunkStore:
        """Start a new partial folder, or (with `resume`) pick up the one a stopped batch left.

        `plan` holds what fixes the numbers and the chunks (runs, chunk_size, target): a resumed
        batch must be asked for the same plan, scenario and seed, or it would not reproduce.
        """
        folder = Path(folder)
        # One writer per folder, taken before anything is checked or deleted; re-entrant, so the
        # CLI can hold it for the whole command. Released by `publish`.
        locking.acquire(folder)
        try:
            return cls._open_locked(folder, scenario, seed, plan, resume, force)
        except BaseException:
            locking.release(folder)
            raise

    @classmethod
    def _open_locked(cls, folder: Path, scenario: Scenario, seed: int, plan: dict[str, Any],
                     resume: bool, force: bool) -> ChunkStore:
        partial = partial_folder(folder)
        if folder.exists() and force:
            folders.check_replaceable(folder, (folders.RESULTS,))
        if folder.exists() and not force:
            raise UsageError(f"{folder}: results folder already exists; use --force to replace it "
                             "(nothing was run)")
        if partial.exists() and (resume or force):
            folders.check_replaceable(partial, (folders.PARTIAL,),
                                      "--resume" if resume and not force else "--force")
        if partial.exists() and resume and (partial / "manifest.json").exists():
            return cls._resume(folder, scenario, seed, plan)
        if partial.exists() and not force and not resume:
            raise UsageError(f"{partial}: an unfinished batch is here; add --resume to finish it, "
                             "or --force to start again (nothing was run)")
        manifest = {
            "status": "partial",
            "written_by": "fundsim",
            "batch": uuid.uuid4().hex,  # this batch's identity: its assembly checks against it
            "format_version": FORMAT_VERSION,
            "scenario_name": scenario.name,
            "scenario_sha256": scenario.sha256(),
            "scenario": scenario.to_dict(),
            "seed": seed,
            "plan": plan,
            "chunks": {},
        }
        try:  # built under a temporary name, so a partial folder always has its manifest
            staging = partial.with_name(f".{partial.name}.new")
            folders.remove(partial, (folders.PARTIAL,))
            folders.remove(staging, (folders.PARTIAL,))
            (staging / "chunks").mkdir(parents=True)
            write_atomic(staging / "manifest.json", json.dumps(manifest, indent=1).encode())
            os.replace(staging, partial)
            store = cls(folder, scenario, seed, plan, manifest)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise UsageError(f"--out {folder.parent}: cannot write results there ({reason}); "
                             "choose a folder you can write to (nothing was run)") from None
        return store

    @classmethod
    def _resume(cls, folder: Path, scenario: Scenario, seed: int, plan: dict[str, Any]) -> ChunkStore:
        partial = partial_folder(folder)
        path = partial / "manifest.json"
        try:
            manifest = json.loads(path.read_text())
            old_plan = manifest["plan"]
            if manifest.get("status") != "complete":
                manifest["chunks"].items()
            old_sha, old_seed = manifest["scenario_sha256"], manifest["seed"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: cannot resume from this manifest ({exc}); use --force to "
                             "start again") from None
        if old_sha != scenario.sha256():
            raise UsageError(f"{partial}: was started from a different scenario (sha256 "
                             f"{old_sha[:12]}, the file now gives {scenario.sha256()[:12]}); "
                             "--resume needs the same scenario, or use --force to start again")
        if old_seed != seed:
            raise UsageError(f"{partial}: was started with --seed {old_seed}, not {seed}; --resume "
                             "needs the same seed, or use --force to start again")
        for key, value in plan.items():
            if key == "chunk_size" and value is None:
                continue
            if old_plan.get(key) != value:
                raise UsageError(
                    f"{partial}: was started with {key} = {old_plan.get(key)!r}, not {value!r}; "
                    "--resume needs the same options, or use --force to start again")
        store = cls(folder, scenario, seed, old_plan, manifest)
        if store.assembled:
            return store
        store._verify_chunks()
        for stray in (partial / "chunks").glob(".*.tmp"):
            stray.unlink()
        return store

    def _verify_chunks(self) -> None:
        """Drop (to run again) any listed chunk whose files are missing or do not match."""
        bad = []
        for start, entry in self.manifest["chunks"].items():
            for name, digest in entry["files"].items():
                path = self.partial / "chunks" / name
                if not path.is_file() or sha256_file(path) != digest:
                    bad.append(start)
                    break
        for start in bad:
            del self.manifest["chunks"][start]
        if bad:
            self._save_manifest()

    # ----------------------------------------------------------------- state

    @property
    def chunk_size(self) -> int:
        return int(self.plan["chunk_size"])

    def done(self) -> dict[int, int]:
        """Completed chunks: start -> stop (all of them, as one, once assembled)."""
        if self.assembled:
            return {0: int(self.manifest["runs"])}
        return {int(s): int(e["stop"]) for s, e in self.manifest["chunks"].items()}

    def missing(self, bounds: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        if self.assembled:
            return []
        done = self.done()
        return [(a, b) for a, b in bounds if done.get(a) != b]

    def _save_manifest(self) -> None:
        data = json.dumps(self.manifest, indent=1, sort_keys=True).encode()
        write_atomic(self.partial / "manifest.json", data)

    # ----------------------------------------------------------------- writing

    def add(self, chunk: Chunk) -> None:
        """Write one finished chunk's files, then record it in the manifest (in that order)."""
        index = np.arange(chunk.start, chunk.stop)
        tag = f"{chunk.start:09d}"
        files = {
            f"runs-{tag}.parquet": parquet_bytes(runs_frame(index, chunk.runs)),
            f"years-{tag}.parquet": parquet_bytes(years_frame(index, chunk.years)),
            f"months-{tag}.npy": _npy_bytes(np.ascontiguousarray(chunk.months.transpose(2, 0, 1))),
        }
        try:
            digests = {name: write_atomic(self.partial / "chunks" / name, data)
                       for name, data in files.items()}
            self.manifest["chunks"][str(chunk.start)] = {"stop": chunk.stop, "files": digests}
            self._save_manifest()
        except OSError as exc:
            self.manifest["chunks"].pop(str(chunk.start), None)
            if exc.errno in _DISK_ERRNOS:
                raise _disk_error(exc, self.partial, self.kept_message()) from None
            raise

    def kept_message(self) -> str:
        n = len(self.manifest["chunks"])
        return (f"{n} finished chunk(s) ({sum(b - a for a, b in self.done().items())} runs) are kept "
                f"in {self.partial}; run the same command with --resume to finish")

    def metric_values(self, metric: str, stop: int) -> np.ndarray:
        """One per-run output for runs [0, stop), in run order (for precision targets)."""
        done = self.done()
        parts = []
        for start in sorted(s for s in done if s < stop):
            table = pq.read_table(self.partial / "chunks" / f"runs-{start:09d}.parquet",
                                  columns=[metric])
            parts.append(table.column(0).to_numpy().astype(float))
        return np.concatenate(parts) if parts else np.empty(0)

    # ----------------------------------------------------------------- finishing

    @property
    def assembled(self) -> bool:
        """True once the final files and manifest are in the partial folder (only the rename is left)."""
        return self.manifest.get("status") == "complete"

    def assemble(self, runs: int, extra: dict[str, Any] | None = None) -> None:
        """Write runs [0, runs) as the final tables and manifest inside the partial folder.

        Order matters for a kill at any instant: data files first, then the final manifest replaces
        the partial one (from then on a resume only renames), then the chunk files go.
        """
        if self.assembled:
            shutil.rmtree(self.partial / "chunks", ignore_errors=True)
            return
        starts = sorted(s for s in self.done() if s < runs)
        expected = 0
        for a in starts:
            if a != expected:
                raise ResultsError(f"{self.partial}: runs {expected}-{a - 1} are missing")
            expected = self.done()[a]
        if expected != runs:
            raise ResultsError(f"{self.partial}: runs {expected}-{runs - 1} are missing")
        self._check_chunk_files(starts)
        try:
            self._assemble(starts, runs, extra or {})
        except OSError as exc:
            if exc.errno in _DISK_ERRNOS:
                raise _disk_error(exc, self.partial, self.kept_message()) from None
            raise

    def _check_chunk_files(self, starts: list[int]) -> None:
        """Every chunk file about to be assembled is byte for byte the one this batch wrote (its
        sha256 as recorded when written): a file another process put there is never published."""
        for start in starts:
            for name, digest in self.manifest["chunks"][str(start)]["files"].items():
                path = self.partial / "chunks" / name
                if not path.is_file() or sha256_file(path) != digest:
                    raise ResultsError(
                        f"{path}: is not the chunk this batch wrote (sha256 differs); another "
                        "process has written into this batch's folder. Nothing was published; run "
                        "again with --force")

    def check_assembled(self) -> None:
        """Before the rename: the assembled folder agrees with its own manifest, and the manifest
        with this batch (seed, scenario, run count), so a folder holding anything else is never
        published."""
        from .results import cross_check

        path = self.partial / "manifest.json"
        try:
            on_disk = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ResultsError(f"{path}: cannot be read back ({exc}); nothing was published") from None
        mine = self.manifest
        for key in ("seed", "scenario_sha256", "runs", "batch"):
            if on_disk.get(key) != mine.get(key):
                raise ResultsError(
                    f"{self.partial}: manifest.json says {key} = {on_disk.get(key)!r}, but this "
                    f"batch has {mine.get(key)!r}: another process wrote here. Nothing was "
                    "published; run again with --force")
        for name in DATA_FILES:
            if sha256_file(self.partial / name) != on_disk["files"].get(name):
                raise ResultsError(f"{self.partial}: {name} does not match the manifest just "
                                   "written; nothing was published; run again with --force")
        cross_check(self.partial, on_disk, self.scenario)

    def publish(self, force: bool) -> Path:
        """Check the assembled folder, then rename it to its final name (replacing an existing
        one only with force, and only if fundsim wrote it). Lets go of the folder's lock."""
        self.check_assembled()
        if self.folder.exists() and force:
            folders.remove(self.folder, (folders.RESULTS,))
        os.replace(self.partial, self.folder)
        locking.release(self.folder)
        return self.folder

    def finish(self, runs: int, force: bool, extra: dict[str, Any] | None = None) -> Path:
        """Assemble and publish in one step (one scenario)."""
        self.assemble(runs, extra)
        return self.publish(force)

    def _assemble(self, starts: list[int], runs: int, extra: dict[str, Any]) -> None:
        chunks = self.partial / "chunks"
        for kind in ("runs", "years"):
            self._concat_parquet([chunks / f"{kind}-{s:09d}.parquet" for s in starts],
                                 self.partial / f"{kind}.parquet")
        bands = pd.concat([band_rows(metric, self._month_block(starts, runs, j))
                           for j, metric in enumerate(MONTH_OUTPUTS)], ignore_index=True)
        write_atomic(self.partial / "bands.parquet", parquet_bytes(bands))
        resolved = self.scenario.to_dict()
        write_atomic(self.partial / "scenario.toml", tomli_w.dumps(resolved).encode())
        manifest = {
            "format_version": FORMAT_VERSION,
            "status": "complete",
            "written_by": "fundsim",
            "batch": self.manifest.get("batch"),
            "scenario_name": self.scenario.name,
            "scenario_sha256": self.scenario.sha256(),
            "scenario": resolved,
            "seed": self.seed,
            "runs": runs,
            "plan": self.plan,
            "chunk_size": self.chunk_size,
            "versions": library_versions(),
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {name: sha256_file(self.partial / name) for name in DATA_FILES},
            **extra,
        }
        write_atomic(self.partial / "manifest.json",
                      json.dumps(manifest, indent=2, sort_keys=True).encode())
        self.manifest = manifest
        shutil.rmtree(chunks)

    @staticmethod
    def _concat_parquet(parts: list[Path], target: Path) -> None:
        """Stream chunk files into one Parquet file, one row group per chunk, in the order given.

        Written through a Python file object so that a full disk raises OSError with its errno.
        """
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            with tmp.open("wb") as fh:
                writer = None
                for part in parts:
                    table = pq.read_table(part)
                    if writer is None:
                        writer = pq.ParquetWriter(fh, table.schema)
                    writer.write_table(table)
                if writer is not None:
                    writer.close()
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def _month_block(self, starts: list[int], runs: int, j: int) -> np.ndarray:
        """Metric j's (runs x months) array, filled chunk by chunk from memory-mapped files."""
        block = None
        for start in starts:
            arr = np.load(self.partial / "chunks" / f"months-{start:09d}.npy", mmap_mode="r",
                          allow_pickle=False)
            if block is None:
                block = np.empty((runs, arr.shape[2]))
            block[start:start + arr.shape[1]] = arr[j]
            del arr
        assert block is not None
        return block

"""A resumable chunk store: a batch's results written chunk by chunk as they finish, then assembled.

Why: finance batches of 100,000 runs must survive `kill -9`, a full disk or a dead worker, and must
not hold every run in memory. While a batch runs, its results live in `DIR/<stem>.partial/`:

    manifest.json      status "partial": scenario, seed, plan (runs, chunk size, target) and the
                       chunks done so far with a sha256 per file, replaced atomically after each chunk
    chunks/            chunk-<start>.npys per chunk: the chunk's three arrays (per run, per year,
                       per month) as NumPy `.npy` records back to back

Every file is written under a temporary name and `os.replace`d into place, and a chunk counts as
done only once the manifest lists it, so a chunk cut off half-way is never taken for a finished one.
`finish` streams the chunk arrays into `runs.parquet` and `years.parquet` in run order (pyarrow's
`ParquetWriter`, in row groups of a fixed size, so the files are byte for byte the same whatever
the chunk size), builds the monthly bands one metric at a time (memory O(runs x months) for one
metric, about 58 MB at 100,000 six-year runs), writes the usual manifest, deletes `chunks/` (the
per-run monthly paths are not kept: at 100,000 runs they are 330 MB and only the bands are read),
and renames the folder to its final name. The result is an ordinary
results folder that `load_results` accepts, bit-identical whatever the workers, the scheduler, or
how many times the batch was interrupted and resumed, because every draw is keyed by (seed, run,
name).

Cheap per run, because a fast model leaves little room (issue 10): a chunk is one file of raw
arrays and one small manifest rewrite; nothing here imports pandas.

* Chunk arrays are `.npy` records (NumPy's own format, no pickles): writing one is a header and a
  copy of memory, and the bands need one metric's (runs x months) block at a time, which is one
  contiguous run of bytes of a chunk's (metrics, runs, months) array, read straight into place.
* Chunk files and the partial manifest are replaced atomically (temporary name, then rename) but
  not flushed to disk (`fsync`) one by one. What a batch must survive, `kill -9`, a dead worker or
  a full disk, never loses what the kernel was given, so a flush buys nothing there; it would only
  matter after a power cut or a kernel crash. Then a chunk file left short or empty fails its
  sha256, which `--resume` and the assembly check, and is simply simulated again; a manifest left
  unreadable makes --resume refuse and ask for --force. Nothing unverified is ever published. A
  flush took 0.6 ms on an idle disk here and 20 ms on a busy one, and a batch has a chunk every
  few tens of milliseconds once the model is fast. Every file of the finished results folder is
  still flushed before it is renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tomli_w

from . import folders, locking
from .errors import ResultsError, RunError, UsageError
from .files import sha256_file, write_atomic
from .model import MONTH_OUTPUTS, RUN_OUTPUTS
from .results import (
    BAND_QUANTILES,
    COUNT_OUTPUTS,
    DATA_FILES,
    FORMAT_VERSION,
    arrow_table,
    band_columns,
    library_versions,
    runs_columns,
    years_columns,
)
from .runner import Chunk
from .scenario import Scenario

if TYPE_CHECKING:
    import pyarrow as pa

PARTIAL_SUFFIX = folders.PARTIAL_SUFFIX
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def partial_folder(folder: Path) -> Path:
    """Where an unfinished batch for `folder` lives."""
    return folders.partial_of(folder)


CHUNK_FORMAT = 2
"""One `.npys` file of NumPy arrays a chunk (format 1, before issue 10, was two Parquet tables and
an `.npy`); recorded in the partial manifest, so that a batch started in another format is refused
on --resume, not misread."""
ROW_GROUP_ROWS = 1 << 16
"""Rows per Parquet row group in runs.parquet and years.parquet: fixed, so that the files do not
depend on the chunk size."""


CHUNK_ARRAYS = ("runs", "years", "months")
"""What a chunk file holds, in this order: NumPy `.npy` records back to back."""


def chunk_name(start: int) -> str:
    """The chunk file of the chunk starting at run `start`."""
    return f"chunk-{start:09d}.npys"


Layout = dict[str, tuple[int, tuple[int, ...]]]
"""Where each array of a chunk file starts (bytes), and its shape."""


def _write_chunk(path: Path, arrays: list[np.ndarray]) -> tuple[str, Layout]:
    """Write arrays as `.npy` records back to back under a temporary name and rename the file into
    place; return its sha256 and layout. Not fsynced (see the module's docstring: the manifest's
    sha256 covers it). One file a chunk, because creating a file costs about as much here as
    writing a chunk's 800 kB."""
    parts: list[memoryview] = []
    layout: Layout = {}
    offset = 0
    for name, arr in zip(CHUNK_ARRAYS, arrays, strict=True):
        arr = np.ascontiguousarray(arr, dtype="<f8")
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(arr))
        parts += [header.getbuffer(), memoryview(arr).cast("B")]
        offset += len(header.getbuffer())
        layout[name] = (offset, arr.shape)
        offset += arr.nbytes
    return _replace(path, parts), layout


def _replace(path: Path, parts: list[memoryview] | list[bytes]) -> str:
    """Write `parts` to a temporary name beside `path` and rename it into place (atomic: a reader
    sees the old file or the new one, never half of one); return the sha256. Not fsynced: see the
    module's docstring for why a batch's partial files need not be."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("wb") as fh:
            for part in parts:
                fh.write(part)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _chunk_layout(path: Path) -> Layout:
    """Where each array of a chunk file starts, and its shape (checked to be what `_write_chunk`
    writes: little-endian doubles in C order, and nothing after the last)."""
    fmt = np.lib.format
    layout = {}
    with path.open("rb") as fh:
        for name in CHUNK_ARRAYS:
            read = fmt.read_array_header_1_0 if fmt.read_magic(fh) == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read(fh)
            if fortran or dtype != np.dtype("<f8"):
                raise ResultsError(f"{path}: is not a chunk file fundsim wrote ({name}: {dtype}, "
                                   f"{'Fortran' if fortran else 'C'} order)")
            layout[name] = (fh.tell(), tuple(shape))
            fh.seek(8 * math.prod(shape), os.SEEK_CUR)
        if fh.tell() != os.fstat(fh.fileno()).st_size:
            raise ResultsError(f"{path}: is not a chunk file fundsim wrote (its size)")
    return layout


def _read_into(path: Path, offset: int, out: np.ndarray) -> np.ndarray:
    """Fill `out` (C-contiguous) with the bytes of `path` from `offset`: a plain read, straight
    into place (no memory map, so a chunk's pages never count in this process's RSS)."""
    with path.open("rb") as fh:
        fh.seek(offset)
        if fh.readinto(memoryview(out).cast("B")) != out.nbytes:
            raise ResultsError(f"{path}: is shorter than its header says")
    return out


def _read_array(path: Path, layout: Layout, name: str) -> np.ndarray:
    offset, shape = layout[name]
    return _read_into(path, offset, np.empty(shape))


class _HashingFile:
    """A write-only file object that hashes what passes through it, for pyarrow's writer: the
    sha256 the manifest records is taken from the very bytes written, without reading them back.
    Writes go through Python's own file object, so a full disk raises OSError with its errno."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.sha256 = hashlib.sha256()
        self.closed = False

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return int(self._fh.write(data))

    def tell(self) -> int:
        return int(self._fh.tell())

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


class _ParquetOut:
    """One Parquet file streamed table by table, in row groups of `ROW_GROUP_ROWS` whatever the
    tables' sizes, under a temporary name; `close` flushes it to disk, renames it into place and
    returns its sha256; leaving the `with` block without `close` deletes it.

    No dictionary encoding for number columns: on simulated doubles it makes files larger and
    costs three times the time to write (measured on `annual`)."""

    def __init__(self, target: Path, dictionary: list[str] | None = None) -> None:
        self.target = target
        self._tmp = target.with_name(f".{target.name}.tmp")
        self._dictionary = dictionary
        self._fh: Any = None
        self._sink: _HashingFile | None = None
        self._writer: Any = None
        self._schema: pa.Schema | None = None
        self._held: list[pa.Table] = []
        self._rows = 0
        self._done = False

    def __enter__(self) -> _ParquetOut:
        self._fh = self._tmp.open("wb")
        self._sink = _HashingFile(self._fh)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._done:
            return
        try:  # not closed: an error on the way (a full disk raises again on every flush)
            with contextlib.suppress(Exception):
                if self._writer is not None:
                    self._writer.close()
            with contextlib.suppress(OSError):
                self._fh.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def write(self, columns: dict[str, Any], schema: pa.Schema | None = None) -> None:
        """Append columns (NumPy arrays, or lists of strings); the first call fixes the schema
        (from the NumPy types, unless given)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._schema is None:
            self._schema = schema or _schema(columns)
            self._writer = pq.ParquetWriter(self._sink, self._schema,
                                            use_dictionary=self._dictionary or False)
        table = arrow_table(columns, self._schema)
        self._held.append(table)
        self._rows += table.num_rows
        if self._rows >= ROW_GROUP_ROWS:
            # One contiguous table per write: pages then fall where the data puts them, not
            # where chunks ended.
            whole = pa.concat_tables(self._held).combine_chunks()
            cut = self._rows - self._rows % ROW_GROUP_ROWS
            self._writer.write_table(whole.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
            self._held, self._rows = [whole.slice(cut)], self._rows - cut

    def close(self) -> str:
        import pyarrow as pa

        assert self._writer is not None and self._sink is not None, "nothing was written"
        if self._rows:
            self._writer.write_table(pa.concat_tables(self._held).combine_chunks(),
                                     row_group_size=ROW_GROUP_ROWS)
        self._held = []
        self._writer.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.target)
        self._done = True
        return self._sink.sha256.hexdigest()


def _schema(columns: dict[str, np.ndarray]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(name, pa.from_numpy_dtype(col.dtype)) for name, col in columns.items()])


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
        self._layouts: dict[int, Layout] = {}  # known from writing them, or read once
        self._scenario_toml_sha256: str | None = None  # of the scenario.toml this object wrote

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
            "chunk_format": CHUNK_FORMAT,
            "chunks": {},
        }
        try:  # built under a temporary name, so a partial folder always has its manifest
            staging = partial.with_name(f".{partial.name}.new")
            folders.remove(partial, (folders.PARTIAL,))
            folders.remove(staging, (folders.PARTIAL,))
            (staging / "chunks").mkdir(parents=True)
            write_atomic(staging / "manifest.json", json.dumps(manifest, sort_keys=True).encode())
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
        if manifest.get("chunk_format") != CHUNK_FORMAT:
            raise UsageError(f"{partial}: was started by an earlier fundsim, whose chunk files this "
                             "version does not read; use --force to start again")
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
        # Rewritten after every chunk, so encoded compactly: without `indent`, json uses its C
        # encoder (the scenario is most of the file; indented, it took 1.4 ms a chunk); and
        # replaced atomically but not fsynced (a flush waited 0.6 ms on an idle disk here, 20 ms
        # on a busy one: see the module's docstring).
        _replace(self.partial / "manifest.json", [json.dumps(self.manifest, sort_keys=True).encode()])

    # ----------------------------------------------------------------- writing

    def add(self, chunk: Chunk) -> None:
        """Write one finished chunk's files, then record it in the manifest (in that order)."""
        name = chunk_name(chunk.start)
        # months as (metrics, runs, months): one metric's runs are one contiguous block, which is
        # what the bands read
        arrays = [chunk.runs, chunk.years, chunk.months.transpose(2, 0, 1)]
        try:
            digest, self._layouts[chunk.start] = _write_chunk(self.partial / "chunks" / name, arrays)
            digests = {name: digest}
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
        j = RUN_OUTPUTS.index(metric)
        parts = [self._chunk(start, "runs")[:, j] for start in sorted(s for s in self.done() if s < stop)]
        values = np.concatenate(parts) if parts else np.empty(0)
        # as runs.parquet stores it: counts are whole numbers there
        return values.astype(np.int64).astype(float) if metric in COUNT_OUTPUTS else values

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
        try:
            self._assemble(starts, runs, extra or {})
        except FileNotFoundError as exc:
            raise self._foreign(Path(exc.filename or self.partial / "chunks")) from None
        except OSError as exc:
            if exc.errno in _DISK_ERRNOS:
                raise _disk_error(exc, self.partial, self.kept_message()) from None
            raise

    def _foreign(self, path: Path) -> ResultsError:
        return ResultsError(f"{path}: is not the chunk this batch wrote (sha256 differs); another "
                            "process has written into this batch's folder. Nothing was published; "
                            "run again with --force")

    def _check_read(self, starts: list[int], read: dict[int, Any]) -> None:
        """Every chunk just assembled was, byte for byte, the file this batch wrote (its sha256
        as recorded when written), so a file another process put there is never published. The
        bytes checked are the very bytes used: each chunk file is hashed as it is read."""
        for start in starts:
            (name, digest), = self.manifest["chunks"][str(start)]["files"].items()
            if read[start].hexdigest() != digest:
                raise self._foreign(self.partial / "chunks" / name)

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
        digests = {name: sha256_file(self.partial / name) for name in DATA_FILES}
        for name, digest in digests.items():
            if digest != on_disk["files"].get(name) or digest != mine["files"].get(name):
                raise ResultsError(f"{self.partial}: {name} does not match the manifest just "
                                   "written; nothing was published; run again with --force")
        known = self._scenario_toml_sha256 == digests["scenario.toml"]
        cross_check(self.partial, on_disk, self.scenario, scenario_toml_known=known)

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
        read = {start: hashlib.sha256() for start in starts}  # each chunk file, as it is read
        with (_ParquetOut(self.partial / "runs.parquet") as runs_out,
              _ParquetOut(self.partial / "years.parquet") as years_out):
            for start in starts:
                runs_arr, years_arr = self._read_head(start, read[start])
                index = np.arange(start, start + len(runs_arr))
                runs_out.write(runs_columns(index, runs_arr))
                years_out.write(years_columns(index, years_arr))
            digests = {"runs.parquet": runs_out.close(), "years.parquet": years_out.close()}
        bands = self._bands(starts, runs, read)
        self._check_read(starts, read)
        with _ParquetOut(self.partial / "bands.parquet", dictionary=["metric"]) as out:
            schema = _bands_schema()
            for columns in bands:
                out.write(columns, schema)
            digests["bands.parquet"] = out.close()
        resolved = self.scenario.to_dict()
        digests["scenario.toml"] = write_atomic(self.partial / "scenario.toml",
                                                tomli_w.dumps(resolved).encode())
        self._scenario_toml_sha256 = digests["scenario.toml"]  # written here from self.scenario
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
            "files": {name: digests[name] for name in DATA_FILES},
            **extra,
        }
        write_atomic(self.partial / "manifest.json",
                     json.dumps(manifest, indent=2, sort_keys=True).encode())
        self.manifest = manifest
        shutil.rmtree(chunks)

    def _chunk_path(self, start: int) -> Path:
        return self.partial / "chunks" / chunk_name(start)

    def _layout(self, start: int) -> Layout:
        """A chunk file's layout: as written by this process, else read from its headers (a
        resumed batch's chunks; the sha256 checked before assembly vouches for either)."""
        if start not in self._layouts:
            try:
                self._layouts[start] = _chunk_layout(self._chunk_path(start))
            except ValueError:  # NumPy's word for a header that is not one
                raise self._foreign(self._chunk_path(start)) from None
        return self._layouts[start]

    def _chunk(self, start: int, name: str) -> np.ndarray:
        return _read_array(self._chunk_path(start), self._layout(start), name)

    def _read_head(self, start: int, read: Any) -> tuple[np.ndarray, np.ndarray]:
        """A chunk's per-run and per-year arrays: the file up to its monthly data, read once and
        hashed into `read`."""
        layout = self._layout(start)
        end = layout["months"][0]
        with self._chunk_path(start).open("rb") as fh:
            head = fh.read(end)
        if len(head) != end:
            raise self._foreign(self._chunk_path(start))
        read.update(head)
        arrays = []
        for name in ("runs", "years"):
            offset, shape = layout[name]
            arrays.append(np.frombuffer(head, "<f8", math.prod(shape), offset).reshape(shape))
        return arrays[0], arrays[1]

    def _bands(self, starts: list[int], runs: int, read: dict[int, Any]) -> list[dict[str, Any]]:
        """Each metric's bands over all runs, one metric's (runs x months) block at a time, read
        chunk by chunk straight into place (a chunk's (metrics, runs, months) array holds it as
        one contiguous run of bytes) and hashed into `read` in file order."""
        layouts = {start: self._layout(start)["months"] for start in starts}
        months = next(iter(layouts.values()))[1][2]
        bands = []
        for j, metric in enumerate(MONTH_OUTPUTS):
            block = np.empty((runs, months))
            for start, (offset, (_, n, _)) in layouts.items():
                part = block[start:start + n]
                _read_into(self._chunk_path(start), offset + j * part.nbytes, part)
                read[start].update(memoryview(part).cast("B"))
            columns = band_columns(metric, block)
            columns["metric"] = [metric] * len(columns["month"])
            bands.append(columns)
        return bands


def _bands_schema() -> pa.Schema:
    """bands.parquet's columns: month, metric, the quantile bands and the mean."""
    import pyarrow as pa

    return pa.schema([("month", pa.int64()), ("metric", pa.string()),
                      *((f"p{round(q * 100)}", pa.float64()) for q in BAND_QUANTILES),
                      ("mean", pa.float64())])

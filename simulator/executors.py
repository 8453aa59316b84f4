"""Where chunks of runs are simulated: in this process, on a local process pool, or (see
`distributed.py`) on a Dask cluster. All give back `(task index, Chunk)` pairs as chunks finish, in
whatever order; the chunk store puts them back in run order, so the numbers never depend on which
executor ran them or which chunk finished first.

Two local pools:

* `ProcessExecutor`, the CLI's: one command, one batch at a time.
* `FairPool`, the dashboard's: one pool shared by every browser session, which takes chunks from
  the sessions in turn (so one session's heavy upload cannot starve another's change), drops a
  batch's queued chunks when it is cancelled or replaced by the same session's newer batch, and
  stops a batch that runs past its time budget.

Both pools' workers die with the process that started them (`die_with_parent`): a `kill -9` of the
CLI or a stopped dashboard server leaves no simulation running.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import math
import os
import queue
import signal
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import RunError
from .runner import Chunk, default_workers, simulate_chunk
from .scenario import Scenario

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

# The process pools' modules (concurrent.futures.process, multiprocessing: 35 ms) are imported
# where a pool is made: `fundsim run --workers 1` runs its chunks in this process and never needs
# them, and start-up counts in every batch's cost per run (issue 10).

Task = tuple[Scenario, int, int, int]
"""(scenario, seed, start, stop): the arguments of `simulate_chunk`."""


class WorkerLost(RunError):
    """A worker process died (killed, out of memory) while chunks were running on it."""


class BatchCancelled(RunError):
    """A batch was stopped before it finished: replaced by a newer batch of the same session, or
    cancelled (the session ended, the server is stopping)."""


class BatchTooLong(RunError):
    """A batch ran past the time budget a shared pool gives one batch."""


class ChunkExecutor(Protocol):
    """Runs `simulate_chunk` over tasks and yields each finished one with its index."""

    def map_unordered(self, tasks: list[Task]) -> Iterator[tuple[int, Chunk]]: ...

    def close(self) -> None: ...


# ------------------------------------------------------------------ workers die with their parent

_PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 0.5
"""How often a worker's watchdog thread checks that its parent is still there."""


def die_with_parent(parent: int) -> None:
    """Pool worker initializer: end this worker when the process that started it dies.

    Two mechanisms, because each has a gap:

    * Linux's `prctl(PR_SET_PDEATHSIG, SIGKILL)` makes the kernel kill this process the moment its
      parent dies, even by `kill -9`. It is tied to the parent *thread* that started the worker,
      so pools must start their workers from a thread that lives as long as the pool (the CLI's
      main thread; `FairPool`'s dispatcher thread), never from a short-lived Streamlit script
      thread. Set after the exec of the spawn start method, so it is not lost there.
    * A daemon thread polls `os.getppid()`: when the parent dies the worker is re-parented, and
      the worker exits within `PARENT_POLL_SECONDS`. This covers other systems and any case where
      the signal was not armed (the libc call failing, for instance).

    Either way a worker holds nothing to clean up: chunks go back to the parent, which writes them.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the watchdog thread still works
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="fundsim-parent-watch", daemon=True).start()


def _processes(pool: ProcessPoolExecutor) -> list[Any]:
    """A pool's worker processes. `ProcessPoolExecutor` has no public handle on them (and no way
    to stop running work before Python 3.14's `terminate_workers`), so `_processes` is read
    defensively."""
    return list((getattr(pool, "_processes", None) or {}).values())


def _unwedge(pool: ProcessPoolExecutor) -> None:
    """Make sure a pool with a dead worker finds out.

    A worker killed while writing its result leaves half a message in the result pipe; the pool's
    manager thread then blocks forever reading the rest (the parent and the other workers hold the
    pipe's write end, so the read never sees end-of-file). That thread is joined at interpreter
    exit, so a server that lost a worker this way never exits, and its futures never finish. Once
    every worker is dead, closing the parent's unused write end turns the blocked read into
    end-of-file: the pool reports itself broken, as it would for any dead worker."""
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError, AttributeError):
            writer.close()


def _has_dead_worker(pool: ProcessPoolExecutor) -> bool:
    """True if a worker has exited (its sentinel is ready: checked without reaping it, which
    stays the pool's own business)."""
    from multiprocessing.connection import wait as connection_wait

    sentinels = []
    for process in _processes(pool):
        with contextlib.suppress(ValueError, AttributeError):
            sentinels.append(process.sentinel)
    try:
        return bool(sentinels) and bool(connection_wait(sentinels, timeout=0))
    except (OSError, ValueError):
        return False


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL a pool's worker processes and let the pool go without waiting for their chunks."""
    processes = _processes(pool)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError, AttributeError):
            process.join(timeout=5)
    _unwedge(pool)
    pool.shutdown(wait=False, cancel_futures=True)


# ------------------------------------------------------------------ the CLI's pool


class ProcessExecutor:
    """A process pool kept for the whole command (one start-up for every scenario and sweep point).

    With one worker, chunks run in this process: no pool to start, and nothing to lose to a fork.
    At most `2 x workers` chunks are in flight, so a 100,000-run batch never queues its results in
    memory faster than they are written. The workers die with this process (`die_with_parent`).
    """

    def __init__(self, workers: int | None = None, start_method: str | None = None) -> None:
        """`start_method` "spawn" suits a multi-threaded host, where a fork could copy a lock held
        by another thread; the default (fork on Linux) starts faster."""
        self.workers = workers or default_workers()
        self._start_method = start_method
        self._pool: ProcessPoolExecutor | None = None

    def map_unordered(self, tasks: list[Task]) -> Iterator[tuple[int, Chunk]]:
        if self.workers == 1:
            for i, task in enumerate(tasks):
                yield i, simulate_chunk(*task)
            return
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool
        from multiprocessing import get_context

        if self._pool is None:
            context = get_context(self._start_method) if self._start_method else None
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                             initializer=die_with_parent,
                                             initargs=(os.getpid(),))
        pending: dict[Future[Chunk], int] = {}
        queue_ = iter(enumerate(tasks))
        lost: BaseException | None = None
        try:
            while True:
                while lost is None and len(pending) < 2 * self.workers:
                    item = next(queue_, None)
                    if item is None:
                        break
                    try:
                        pending[self._pool.submit(simulate_chunk, *item[1])] = item[0]
                    except BrokenProcessPool as exc:
                        lost = exc
                if not pending:
                    break
                finished, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                if not finished and _has_dead_worker(self._pool):
                    _kill_workers(self._pool)  # see _unwedge: the pool is broken either way
                for future in finished:
                    index = pending.pop(future)
                    try:
                        chunk = future.result()
                    except BrokenProcessPool as exc:
                        lost = exc
                        continue
                    yield index, chunk
        finally:
            if lost is None:  # a broken pool fails its own futures; cancelling races with that
                for future in pending:
                    future.cancel()
        if lost is not None:
            self.close()
            raise WorkerLost("a worker process died during the batch (killed, or out of memory)")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# ------------------------------------------------------------------ the dashboard's shared pool

BATCH_SECONDS_ENV = "FUNDSIM_BATCH_SECONDS"
DEFAULT_BATCH_SECONDS = 120.0
"""The most one dashboard batch may take: 5,000 runs of a shipped scenario take about 6 s on 2 cores,
so two minutes only ever stops a scenario that asks for far more work than a slider change."""
STATS_ENV = "FUNDSIM_POOL_STATS"
"""If set, a file where `FairPool` keeps a JSON snapshot of its recent batches (for tests and for
an operator watching a shared server)."""
CHUNK_SECONDS = 0.2
"""The work one dashboard chunk aims at: fairness and cancellation act between chunks, so a chunk
this short lets a new session's first chunk start within about this long."""
SECONDS_PER_EVENT = 30e-6
"""About what one SimPy event of a run costs (measured 17-33 us); `bounds.event_estimate` counts
them, so a run's time can be estimated before it starts."""


def batch_seconds() -> float:
    """The dashboard's time budget per batch: FUNDSIM_BATCH_SECONDS, else 120 s."""
    text = os.environ.get(BATCH_SECONDS_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_BATCH_SECONDS
    except ValueError:
        value = DEFAULT_BATCH_SECONDS
    return value if math.isfinite(value) and value > 0 else DEFAULT_BATCH_SECONDS


def quick_chunk_size(scenario: Scenario, runs: int, workers: int,
                     seconds: float = CHUNK_SECONDS) -> int:
    """Runs per chunk so that one chunk takes about `seconds` (estimated from the events a run
    schedules), and a batch has at least four chunks per worker to keep the progress bar moving.
    The chunk size never changes the numbers: every run's draws are keyed by its own index."""
    from .bounds import event_estimate

    per_run = max(1, sum(event_estimate(scenario).values())) * SECONDS_PER_EVENT
    by_time = max(1, int(seconds / per_run))
    return max(1, min(by_time, -(-runs // (workers * 4))))


@dataclass(eq=False)
class _Batch:
    id: int
    session: str
    label: str
    tasks: list[tuple[Any, ...]]
    deadline: float
    budget: float
    total: int = 0
    started: float = field(default_factory=time.monotonic)
    next: int = 0  # the next task to submit
    in_flight: int = 0
    submitted: int = 0
    finished: int = 0
    state: str = "running"  # running, done, cancelled, timed out, failed
    reason: str = ""
    futures: set[Future[Any]] = field(default_factory=set)
    out: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)

    def stats(self) -> dict[str, Any]:
        return {"id": self.id, "session": self.session, "label": self.label,
                "tasks": self.total, "submitted": self.submitted, "finished": self.finished,
                "in_flight": self.in_flight, "state": self.state, "reason": self.reason,
                "seconds": round(time.monotonic() - self.started, 3)}


_POOLS: weakref.WeakSet[FairPool] = weakref.WeakSet()
_EXIT_HOOKED = False


def _stop_all_pools() -> None:
    for pool in list(_POOLS):
        pool.close()


def _hook_exit() -> None:
    """Stop every FairPool's workers as the interpreter shuts down (a server's SIGTERM).

    `concurrent.futures` joins its pools at exit through `threading._register_atexit`, waiting for
    the chunks still running; hooks registered there run in reverse order, so ours (registered
    later) kills the workers first and the server exits at once. Plain `atexit` would run after
    that join; it is the fallback if the private hook ever goes away."""
    global _EXIT_HOOKED
    if _EXIT_HOOKED:
        return
    _EXIT_HOOKED = True
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is None:
            raise AttributeError
        register(_stop_all_pools)
    except (AttributeError, RuntimeError):
        import atexit

        atexit.register(_stop_all_pools)


class FairPool:
    """A process pool shared by many sessions (the dashboard's browser tabs), fair between them.

    * **Round robin.** Each session has at most one batch; its chunks wait in this object, not in
      the process pool, and at most `workers` chunks are in flight. When a worker frees up, the
      next chunk comes from the session with the fewest chunks in flight, then the one served
      least recently: a session that uploads a scenario a hundred times heavier still gets only
      its turn, and another session's slider change starts within one chunk's time.
    * **Cancellation.** `cancel` drops a batch's queued chunks (the few in flight finish and are
      discarded, never cancelled: see `_stop`); a new batch from the same session cancels that
      session's stale one, which is what a Streamlit rerun after a widget change needs.
    * **Time budget.** A batch still unfinished `budget` seconds after it was submitted is
      cancelled, and its reader gets `BatchTooLong` with a plain message.
    * **Workers die with the server** (`die_with_parent`), and are killed when the interpreter
      shuts down, so stopping the server stops the simulations.

    The chunk function is `simulate_chunk` unless another picklable function is given (tests use
    a sleeping one). Chunks are submitted from one long-lived dispatcher thread, which also makes
    it the parent thread of every worker (see `die_with_parent`).
    """

    def __init__(self, workers: int | None = None, start_method: str | None = "spawn",
                 fn: Callable[..., Any] = simulate_chunk, budget: float | None = None,
                 stats_path: str | Path | None = None) -> None:
        self.workers = workers or default_workers()
        self.fn = fn
        self.budget = budget
        # Before `_hook_exit` below: concurrent.futures.process registers its own exit hook (which
        # waits for running chunks) when first imported, and ours must come later to run first.
        import concurrent.futures.process  # noqa: F401
        from multiprocessing import get_context

        self._context = get_context(start_method) if start_method else None
        self._cond = threading.Condition(threading.RLock())
        self._active: dict[str, _Batch] = {}  # session -> its running batch
        self._served: dict[str, int] = {}  # session -> when it last got a chunk (a counter)
        self._tick = itertools.count(1)
        self._ids = itertools.count(1)
        self._recent: OrderedDict[int, _Batch] = OrderedDict()
        self._in_flight = 0
        self._pool: ProcessPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        path = stats_path if stats_path is not None else os.environ.get(STATS_ENV)
        self.stats_path = Path(path) if path else None
        _POOLS.add(self)
        _hook_exit()

    # -------------------------------------------------------------- the callers' side

    def submit(self, session: str, tasks: list[tuple[Any, ...]], label: str = "",
               budget: float | None = None) -> _Batch:
        """Queue a batch for `session`, cancelling that session's unfinished batch. `budget`
        (seconds) defaults to the pool's, else FUNDSIM_BATCH_SECONDS, else 120 s."""
        if budget is None:
            budget = self.budget if self.budget is not None else batch_seconds()
        with self._cond:
            if self._closed:
                raise BatchCancelled("the dashboard's worker pool is shutting down")
            stale = self._active.get(session)
            if stale is not None:
                self._stop(stale, "cancelled", "replaced by a newer change in the same session")
            batch = _Batch(next(self._ids), session, label, list(tasks),
                           time.monotonic() + budget, budget, len(tasks))
            self._recent[batch.id] = batch
            while len(self._recent) > 64:
                self._recent.popitem(last=False)
            if tasks:
                self._active[session] = batch
                self._ensure_thread()
            else:
                batch.state = "done"
            self._changed()
            self._cond.notify_all()
        return batch

    def results(self, batch: _Batch, on_wait: Callable[[], None] | None = None,
                poll: float = 0.5) -> Iterator[tuple[int, Any]]:
        """Yield `(task index, result)` as chunks finish; raise `BatchCancelled`, `BatchTooLong`,
        `WorkerLost` or the chunk's own error if the batch stops. While waiting, `on_wait` is
        called every `poll` seconds (the dashboard uses it to let Streamlit interrupt a stale
        script run). Leaving early (closing the generator) cancels the batch."""
        remaining = batch.total
        try:
            while remaining:
                left = batch.deadline - time.monotonic()
                if left <= 0:
                    self._time_out(batch)
                try:
                    item = batch.out.get(timeout=min(poll, max(left, 0.0)) + 0.01)
                except queue.Empty:
                    if on_wait is not None:
                        on_wait()
                    continue
                if isinstance(item, BaseException):
                    raise item
                remaining -= 1
                yield item
        finally:
            self.cancel(batch)
            while True:  # chunks that arrived after the reader stopped are dropped, not kept
                try:
                    batch.out.get_nowait()
                except queue.Empty:
                    break

    def map_unordered(self, session: str, tasks: list[tuple[Any, ...]], label: str = "",
                      on_wait: Callable[[], None] | None = None) -> Iterator[tuple[int, Any]]:
        """`submit` then `results`: the chunk-executor interface, for one session."""
        batch = self.submit(session, tasks, label)
        return self.results(batch, on_wait)

    def session(self, session: str, label: str = "",
                on_wait: Callable[[], None] | None = None) -> SessionExecutor:
        """A `ChunkExecutor` that runs `run_batch`'s chunks as `session`'s batches."""
        return SessionExecutor(self, session, label, on_wait)

    def cancel(self, batch: _Batch, reason: str = "cancelled") -> None:
        """Drop the batch's queued chunks; chunks already running finish and are discarded."""
        with self._cond:
            if batch.state == "running":
                self._stop(batch, "cancelled", reason)
                self._changed()

    def stats(self) -> list[dict[str, Any]]:
        """The recent batches, oldest first: chunks submitted and finished, state and reason."""
        with self._cond:
            return [b.stats() for b in self._recent.values()]

    def worker_pids(self) -> list[int]:
        """The process ids of the pool's workers (none before the first chunk)."""
        with self._cond:
            pool = self._pool
            processes = (getattr(pool, "_processes", None) or {}) if pool is not None else {}
            return sorted(int(pid) for pid in processes)

    def close(self) -> None:
        """Cancel every batch and kill the workers (a closed pool accepts no batches)."""
        with self._cond:
            self._closed = True
            for batch in list(self._active.values()):
                self._stop(batch, "cancelled", "the dashboard's worker pool is shutting down")
            pool, self._pool = self._pool, None
            self._changed()
            self._cond.notify_all()
        if pool is not None:
            _kill_workers(pool)

    # -------------------------------------------------------------- the dispatcher's side

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._dispatch, name="fundsim-fair-pool",
                                            daemon=True)
            self._thread.start()

    def _dispatch(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                for batch in list(self._active.values()):
                    if now >= batch.deadline:
                        self._stop(batch, "timed out", self._too_long_message(batch))
                        self._changed()
                while self._in_flight < self.workers:
                    batch = self._pick()
                    if batch is None:
                        break
                    self._submit_next(batch)
                if self._pool is not None and self._in_flight and _has_dead_worker(self._pool):
                    # A worker died (killed, out of memory). The pool is broken and would fail
                    # every running chunk; stopping it now also frees it if the worker died
                    # half-way through writing its result (see _unwedge).
                    pool = self._pool
                    self._lost_pool(pool)
                    _kill_workers(pool)
                deadlines = [b.deadline for b in self._active.values()]
                wait_for = min(deadlines) - time.monotonic() if deadlines else 1.0
                self._cond.wait(timeout=min(max(wait_for, 0.01), 1.0))

    def _pick(self) -> _Batch | None:
        waiting = [b for b in self._active.values() if b.next < len(b.tasks)]
        if not waiting:
            return None
        return min(waiting, key=lambda b: (b.in_flight, self._served.get(b.session, 0), b.id))

    def _submit_next(self, batch: _Batch) -> None:
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        task = batch.tasks[batch.next]
        index = batch.next
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=self._context,
                                             initializer=die_with_parent,
                                             initargs=(os.getpid(),))
        try:
            future = self._pool.submit(self.fn, *task)
        except (BrokenProcessPool, RuntimeError):
            self._lost_pool(self._pool)
            return
        batch.next += 1
        batch.submitted += 1
        batch.in_flight += 1
        self._in_flight += 1
        self._served[batch.session] = next(self._tick)
        batch.futures.add(future)
        pool = self._pool
        future.add_done_callback(lambda f: self._finished(batch, index, f, pool))
        self._changed()

    def _finished(self, batch: _Batch, index: int, future: Future[Any],
                  pool: ProcessPoolExecutor) -> None:
        from concurrent.futures.process import BrokenProcessPool

        with self._cond:
            if future in batch.futures:
                batch.futures.discard(future)
                batch.in_flight -= 1
                self._in_flight -= 1
            if future.cancelled():
                self._cond.notify_all()
                return
            error = future.exception()
            if isinstance(error, BrokenProcessPool):
                self._lost_pool(pool)
                if batch.state == "running":
                    self._stop(batch, "failed", "a worker process died during the batch (killed, "
                               "or out of memory)", WorkerLost)
            elif batch.state == "running":
                if error is not None:
                    self._stop(batch, "failed", f"{type(error).__name__}: {error}", error=error)
                else:
                    batch.finished += 1
                    batch.out.put((index, future.result()))
                    if batch.finished == batch.total:
                        batch.state = "done"
                        self._forget(batch)
            self._changed()
            self._cond.notify_all()

    def _lost_pool(self, pool: ProcessPoolExecutor | None) -> None:
        """A worker died: the pool is broken (its own manager thread terminates the other workers
        and fails its futures); the next chunk starts a new pool."""
        if pool is not None and pool is self._pool:
            self._pool = None

    def _too_long_message(self, batch: _Batch) -> str:
        return (f"stopped after {batch.budget:g} s: {batch.label or 'this batch'} takes longer than "
                f"the dashboard allows one batch ({batch.finished} of {batch.total} chunks "
                "done). Use fewer runs or a lighter scenario here, or run it with `fundsim run`, "
                f"which has no such limit (an operator can raise it with {BATCH_SECONDS_ENV})")

    def _time_out(self, batch: _Batch) -> None:
        with self._cond:
            if batch.state == "running":
                self._stop(batch, "timed out", self._too_long_message(batch))
                self._changed()

    def _stop(self, batch: _Batch, state: str, reason: str,
              kind: type[RunError] | None = None, error: BaseException | None = None) -> None:
        """Stop a running batch: no more of its chunks are submitted, and its reader is woken with
        the error. Its chunks in flight (at most one per worker) finish and are discarded.

        They are deliberately not cancelled: on Python 3.11 a future cancelled while the pool is
        failing its futures after a worker died (`terminate_broken`) makes the pool's manager
        thread die of InvalidStateError half-way, leaving the pool's other futures unfinished for
        ever; and with no more than one chunk per worker in flight there is nothing queued to
        cancel anyway."""
        if batch.state != "running":
            return
        batch.state, batch.reason = state, reason
        self._forget(batch)
        if error is None:
            kind = kind or (BatchTooLong if state == "timed out" else BatchCancelled)
            error = kind(reason)
        batch.out.put(error)
        self._cond.notify_all()

    def _forget(self, batch: _Batch) -> None:
        """A batch is over: no longer scheduled, and its tasks (scenarios) are let go; its
        counters stay in the recent list for `stats`."""
        if self._active.get(batch.session) is batch:
            del self._active[batch.session]
        batch.tasks = []

    def _changed(self) -> None:
        """Rewrite the stats file, if one was asked for (renamed into place, so a reader never
        sees half of it; not flushed to disk: it is a live view, not a record)."""
        path = self.stats_path
        if path is None:
            return
        data = json.dumps({"pid": os.getpid(), "workers": self.worker_pids(),
                           "batches": self.stats()}).encode()
        tmp = path.with_name(f".{path.name}.tmp")
        with contextlib.suppress(OSError):
            tmp.write_bytes(data)
            os.replace(tmp, path)


class SessionExecutor:
    """One session's view of a `FairPool`, with the `ChunkExecutor` interface `run_batch` takes."""

    def __init__(self, pool: FairPool, session: str, label: str = "",
                 on_wait: Callable[[], None] | None = None) -> None:
        self.pool = pool
        self.workers = pool.workers
        self.session = session
        self.label = label
        self.on_wait = on_wait
        self._batches: list[_Batch] = []

    def map_unordered(self, tasks: list[Task]) -> Iterator[tuple[int, Chunk]]:
        batch = self.pool.submit(self.session, list(tasks), self.label)
        self._batches.append(batch)
        return self.pool.results(batch, self.on_wait)

    def cancel(self) -> None:
        """Cancel every batch this view submitted that is still running (finished ones are left
        alone, and so is a newer batch of the same session submitted elsewhere)."""
        for batch in self._batches:
            self.pool.cancel(batch)

    def close(self) -> None:
        """The pool is shared: closing one session's view leaves it running."""

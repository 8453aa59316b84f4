"""Where chunks of runs are simulated: in this process, on a local process pool, or (see
`distributed.py`) on a Dask cluster. All give back `(task index, Chunk)` pairs as chunks finish, in
whatever order; the chunk store puts them back in run order, so the numbers never depend on which
executor ran them or which chunk finished first.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Protocol

from .errors import RunError
from .runner import Chunk, default_workers, simulate_chunk
from .scenario import Scenario

Task = tuple[Scenario, int, int, int]
"""(scenario, seed, start, stop): the arguments of `simulate_chunk`."""


class WorkerLost(RunError):
    """A worker process died (killed, out of memory) while chunks were running on it."""


class ChunkExecutor(Protocol):
    """Runs `simulate_chunk` over tasks and yields each finished one with its index."""

    def map_unordered(self, tasks: list[Task]) -> Iterator[tuple[int, Chunk]]: ...

    def close(self) -> None: ...


class ProcessExecutor:
    """A process pool kept for the whole command (one start-up for every scenario and sweep point).

    With one worker, chunks run in this process: no pool to start, and nothing to lose to a fork.
    At most `2 x workers` chunks are in flight, so a 100,000-run batch never queues its results in
    memory faster than they are written.
    """

    def __init__(self, workers: int | None = None, start_method: str | None = None) -> None:
        """`start_method` "spawn" suits a multi-threaded host (the dashboard's server), where a
        fork could copy a lock held by another thread; the default (fork on Linux) starts faster."""
        self.workers = workers or default_workers()
        self._context = get_context(start_method) if start_method else None
        self._pool: ProcessPoolExecutor | None = None

    def map_unordered(self, tasks: list[Task]) -> Iterator[tuple[int, Chunk]]:
        if self.workers == 1:
            for i, task in enumerate(tasks):
                yield i, simulate_chunk(*task)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=self._context)
        pending: dict[Future[Chunk], int] = {}
        queue = iter(enumerate(tasks))
        lost: BaseException | None = None
        try:
            while True:
                while lost is None and len(pending) < 2 * self.workers:
                    item = next(queue, None)
                    if item is None:
                        break
                    try:
                        pending[self._pool.submit(simulate_chunk, *item[1])] = item[0]
                    except BrokenProcessPool as exc:
                        lost = exc
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    try:
                        chunk = future.result()
                    except BrokenProcessPool as exc:
                        lost = exc
                        continue
                    yield index, chunk
        finally:
            for future in pending:
                future.cancel()
        if lost is not None:
            self.close()
            raise WorkerLost("a worker process died during the batch (killed, or out of memory)")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

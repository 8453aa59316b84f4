"""Chunks on a Dask distributed cluster: an existing scheduler (`--scheduler tcp://HOST:PORT`) or a
`LocalCluster` on 127.0.0.1 (`--cluster local`).

Dask distributed because finance teams already run it on their clusters and it needs nothing but a
scheduler address; it retries a chunk whose worker died on another worker, and the chunk store
keeps the numbers independent of where and in which order chunks ran. Connecting gives up after a
few seconds (`timeout="5s"`), so a wrong or unreachable address is an error, not a hang: a
malformed address is bad input (exit 2), an unreachable one exit 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .errors import RunError, UsageError
from .executors import Task, WorkerLost
from .runner import Chunk, default_workers, simulate_chunk

CONNECT_TIMEOUT = "5s"
_ADDRESS = re.compile(r"^(?:(tcp|tls)://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-_]+):(\d{1,5})$")


def check_address(address: str) -> str:
    """`tcp://HOST:PORT` (or `tls://`, or bare `HOST:PORT`), else a `--scheduler` usage error."""
    match = _ADDRESS.match(address.strip())
    if not match or not 1 <= int(match.group(3)) <= 65535:
        raise UsageError(f"--scheduler {address!r}: not a scheduler address; expected "
                         "tcp://HOST:PORT with a port from 1 to 65535, e.g. tcp://10.0.0.5:8786")
    return address.strip() if match.group(1) else f"tcp://{address.strip()}"


class DaskExecutor:
    """Runs chunks on a Dask cluster; a context manager that closes what it started."""

    def __init__(self, scheduler: str | None = None, local_workers: int | None = None) -> None:
        from distributed import Client, LocalCluster

        self._cluster: Any = None
        if scheduler is not None:
            address = check_address(scheduler)
            try:
                self.client = Client(address, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                raise RunError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there "
                               f"within {CONNECT_TIMEOUT} ({exc}); is it running, and is the "
                               "address right? (nothing was run)") from None
        else:
            self._cluster = LocalCluster(n_workers=local_workers or default_workers(),
                                         threads_per_worker=1, processes=True, host="127.0.0.1",
                                         dashboard_address="127.0.0.1:0")
            self.client = Client(self._cluster, timeout=CONNECT_TIMEOUT)

    def map_unordered(self, tasks: list[Task]) -> Iterator[tuple[int, Chunk]]:
        from distributed import KilledWorker, as_completed

        futures = {}
        for i, task in enumerate(tasks):
            future = self.client.submit(simulate_chunk, *task, pure=False)
            futures[future.key] = (i, future)
        try:
            for future in as_completed([f for _, f in futures.values()]):
                try:
                    chunk = future.result()
                except KilledWorker as exc:
                    raise WorkerLost(f"Dask workers died running a chunk ({exc})") from None
                index, _ = futures.pop(future.key)
                future.release()  # the worker may drop the chunk now that it is written
                yield index, chunk
        finally:
            self.client.cancel([f for _, f in futures.values()])

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Chunks on a Dask distributed cluster: an existing scheduler (`--scheduler tcp://HOST:PORT`) or a
`LocalCluster` on 127.0.0.1 (`--cluster local`).

Dask distributed because finance teams already run it on their clusters and it needs nothing but a
scheduler address; it retries a chunk whose worker died on another worker, and the chunk store
keeps the numbers independent of where and in which order chunks ran.

Before a `Client` is made, `probe` checks within `PROBE_SECONDS` that the address really is a Dask
scheduler with workers, because Dask's own connect bounds only the TCP connection, not the
handshake after it: a web server or a port that accepts and never answers kept the CLI waiting for
ten minutes, and a port sending garbage made Dask read its first eight bytes as a message length
and ask for petabytes. The probe reads the handshake a scheduler sends as soon as it accepts (an
8-byte length, then a few small frames) with a socket timeout and size limits, then asks the
scheduler who it is (`identity`) under an asyncio deadline. A malformed address is bad input
(exit 2); anything that is not a reachable scheduler with workers exits 1 naming the address.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from .errors import RunError, UsageError
from .executors import Task, WorkerLost
from .runner import Chunk, default_workers, simulate_chunk

CONNECT_TIMEOUT = "5s"
PROBE_SECONDS = 5.0
"""The probe's whole budget; with the Client's own connect after it, a bad address fails in 10 s."""
_MAX_HANDSHAKE_BYTES = 1 << 16
"""A scheduler's handshake is a few hundred bytes; anything claiming more is not one."""
_MAX_FRAMES = 64
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
            security = probe(address, scheduler)
            try:
                # Not the process's default client: a notebook's own Client stays its default.
                self.client = Client(address, timeout=CONNECT_TIMEOUT, security=security,
                                     set_as_default=False)
            except Exception as exc:  # any failure to connect is the environment's, not a bug
                raise RunError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there "
                               f"within {CONNECT_TIMEOUT} ({type(exc).__name__}: {exc}); is it "
                               "running, and is the address right? (nothing was run)") from None
        else:
            self._cluster = LocalCluster(n_workers=local_workers or default_workers(),
                                         threads_per_worker=1, processes=True, host="127.0.0.1",
                                         dashboard_address="127.0.0.1:0")
            self.client = Client(self._cluster, timeout=CONNECT_TIMEOUT, set_as_default=False)

    def map_unordered(self, tasks: list[Task]) -> Iterator[tuple[int, Chunk]]:
        from distributed import KilledWorker, as_completed

        futures = {}
        for i, task in enumerate(tasks):
            future = self.client.submit(simulate_chunk, *task, pure=False)
            futures[future.key] = (i, future)
        try:
            # On this client's own loop: `as_completed` otherwise takes the process's default
            # client's loop, and with a second Client in the process (a notebook's, a test's) a
            # future re-run after a lost worker waits on an event bound to the wrong loop.
            pending = [f for _, f in futures.values()]
            for future in as_completed(pending, loop=self.client.loop):
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


# ------------------------------------------------------------------------------ the probe


def _fail(label: str, what: str) -> RunError:
    return RunError(f"--scheduler {label}: {what} (nothing was run)")


def probe(address: str, label: str | None = None) -> Any:
    """Check within `PROBE_SECONDS` that `address` is a Dask scheduler with at least one worker;
    return the `Security` to connect with, or raise `RunError` (exit 1) saying what is there."""
    label = label or address
    deadline = time.monotonic() + PROBE_SECONDS
    scheme, host, port = _split(address)
    security = None
    if scheme == "tls":
        security = _tls_security(label)
        _tcp_reachable(host, port, deadline, label)
    else:
        _read_handshake(host, port, deadline, label)
    reply = _identity(address, security, deadline, label)
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, dict) else None
        what = f"a Dask {kind}" if isinstance(kind, str) else "a Dask service"
        raise _fail(label, f"this is {what}, not a scheduler; give the scheduler's address "
                           "(`dask scheduler` prints it)")
    workers = reply.get("workers")
    if not workers:
        raise _fail(label, "the scheduler has no workers, so the batch would wait forever; start "
                           f"some with `dask worker {address}`")
    return security


def _split(address: str) -> tuple[str, str, int]:
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    return scheme, host.strip("[]"), int(port)


def _tls_security(label: str) -> Any:
    """Dask's TLS settings from its own configuration (files or DASK_DISTRIBUTED__COMM__TLS__*
    variables); without a CA file and a client certificate a tls:// scheduler cannot be used."""
    import dask
    from distributed.security import Security

    tls = dask.config.get("distributed.comm.tls", default={}) or {}
    client = tls.get("client") or {}
    if not tls.get("ca-file") or not client.get("cert"):
        raise _fail(label, "a tls:// scheduler needs Dask's TLS settings (distributed.comm.tls."
                           "ca-file and distributed.comm.tls.client.cert, with .key, in the Dask "
                           "configuration), and none are set; set them, or use tcp://")
    try:
        return Security()
    except Exception as exc:
        raise _fail(label, f"Dask's TLS settings cannot be used ({type(exc).__name__}: {exc})") from None


def _connect(host: str, port: int, deadline: float, label: str) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=max(0.05, deadline - time.monotonic()))
    except (OSError, ValueError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise _fail(label, f"cannot reach a Dask scheduler there within {CONNECT_TIMEOUT} ({reason}); "
                           "is it running, and is the address right?") from None


def _tcp_reachable(host: str, port: int, deadline: float, label: str) -> None:
    _connect(host, port, deadline, label).close()


def _read_exactly(sock: socket.socket, n: int, deadline: float) -> bytes:
    data = bytearray()
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        part = sock.recv(n - len(data))
        if not part:
            raise EOFError
        data += part
    return bytes(data)


def _read_handshake(host: str, port: int, deadline: float, label: str) -> None:
    """A Dask comm speaks first: an 8-byte length, then `n` frame lengths and the frames."""
    sock = _connect(host, port, deadline, label)
    not_dask = ("something answers there, but it is not a Dask scheduler: it {}; check the "
                "address and port (`dask scheduler` prints them)")
    try:
        (total,) = struct.unpack("Q", _read_exactly(sock, 8, deadline))
        if not 8 <= total <= _MAX_HANDSHAKE_BYTES:
            raise _fail(label, not_dask.format("sent bytes that are not a Dask handshake"))
        body = _read_exactly(sock, total, deadline)
        (frames,) = struct.unpack_from("Q", body)
        if not 1 <= frames <= _MAX_FRAMES or 8 + 8 * frames > total:
            raise _fail(label, not_dask.format("sent bytes that are not a Dask handshake"))
        lengths = struct.unpack_from(f"{frames}Q", body, 8)
        if 8 + 8 * frames + sum(lengths) != total:
            raise _fail(label, not_dask.format("sent bytes that are not a Dask handshake"))
    except TimeoutError:
        raise _fail(label, not_dask.format(
            f"accepted the connection but sent no Dask handshake within {PROBE_SECONDS:g} s")) from None
    except EOFError:
        raise _fail(label, not_dask.format("closed the connection without a Dask handshake")) from None
    except OSError as exc:
        raise _fail(label, f"the connection failed ({exc.strerror or exc})") from None
    finally:
        sock.close()


def _identity(address: str, security: Any, deadline: float, label: str) -> Any:
    """Ask the scheduler who it is, under the probe's deadline, on a loop of its own (a thread,
    so that it works from a notebook whose loop is already running)."""
    from distributed.comm import connect

    async def ask() -> Any:
        kwargs = security.get_connection_args("client") if security is not None else {}
        comm = await connect(address, timeout=max(0.05, deadline - time.monotonic()), **kwargs)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    async def bounded() -> Any:
        return await asyncio.wait_for(ask(), timeout=max(0.05, deadline - time.monotonic()))

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fundsim-probe")
    future = pool.submit(asyncio.run, bounded())
    try:
        return future.result(timeout=max(0.1, deadline - time.monotonic() + 1.0))
    except (TimeoutError, FutureTimeout):
        raise _fail(label, f"the scheduler did not answer within {PROBE_SECONDS:g} s") from None
    except Exception as exc:  # MemoryError included: a reply no scheduler would send
        raise _fail(label, f"it did not answer as a Dask scheduler ({type(exc).__name__}: "
                           f"{exc})") from None
    finally:
        pool.shutdown(wait=False)  # never wait here: the deadline is the point

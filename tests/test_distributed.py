"""Dask: a real LocalCluster on 127.0.0.1 gives the same bytes as the process pool; an unreachable
scheduler is a clear error (exit 1) bounded by the connect timeout; a malformed address is bad input."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from distributed import LocalCluster

from simulator.cli import main

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = ROOT / "scenarios" / "annual.toml"
THREE = ROOT / "scenarios" / "three_year.toml"
FILES = ("runs.parquet", "years.parquet", "bands.parquet")


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as local:
        yield local


@pytest.fixture(scope="module")
def pool_results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pool")
    assert main(["run", str(ANNUAL), str(THREE), "--runs", "60", "--seed", "4", "--workers", "2",
                 "--out", str(out), "--quiet"]) == 0
    return out


def _same_bytes(a: Path, b: Path) -> None:
    for stem in ("annual", "three_year"):
        for name in FILES:
            assert (a / stem / name).read_bytes() == (b / stem / name).read_bytes(), (stem, name)


def test_a_run_on_an_existing_scheduler_matches_the_process_pool_bit_for_bit(cluster, pool_results,
                                                                             tmp_path):
    out = tmp_path / "dask"
    assert main(["run", str(ANNUAL), str(THREE), "--runs", "60", "--seed", "4", "--scheduler",
                 cluster.scheduler_address, "--out", str(out), "--quiet"]) == 0
    _same_bytes(out, pool_results)


def test_cluster_local_starts_its_own_cluster_and_matches_too(pool_results, tmp_path):
    out = tmp_path / "local"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(ANNUAL), str(THREE),
                           "--runs", "60", "--seed", "4", "--cluster", "local", "--workers", "2",
                           "--out", str(out), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    _same_bytes(out, pool_results)


def test_a_sweep_on_the_cluster_matches_one_on_one_worker(cluster, tmp_path):
    vary = ["--vary", "funding.streams.core.confirmation_delay_months.mode=0:4:2", "--runs", "20"]
    assert main(["sweep", str(ANNUAL), *vary, "--workers", "1", "--out", str(tmp_path / "one"),
                 "--quiet"]) == 0
    assert main(["sweep", str(ANNUAL), *vary, "--scheduler", cluster.scheduler_address,
                 "--out", str(tmp_path / "dask"), "--quiet"]) == 0
    one, dask = tmp_path / "one" / "annual-sweep", tmp_path / "dask" / "annual-sweep"
    for point in ("p0000", "p0001"):
        for name in FILES:
            a, b = one / "points" / point / name, dask / "points" / point / name
            assert a.read_bytes() == b.read_bytes(), (point, name)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_a_clear_error_not_a_hang(capsys, tmp_path):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    assert main(["run", str(ANNUAL), "--runs", "5", "--scheduler", address,
                 "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert f"--scheduler {address}: cannot reach a Dask scheduler there within 5s" in err
    assert "nothing was run" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("address", ["nonsense", "tcp://host", "tcp://127.0.0.1:99999"])
def test_a_malformed_scheduler_address_is_bad_input(capsys, tmp_path, address):
    assert main(["run", str(ANNUAL), "--runs", "5", "--scheduler", address,
                 "--out", str(tmp_path / "x")]) == 2
    assert f"--scheduler {address!r}: not a scheduler address; expected tcp://HOST:PORT" in (
        capsys.readouterr().err)


def test_workers_with_a_scheduler_is_bad_input(capsys, tmp_path):
    assert main(["run", str(ANNUAL), "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786",
                 "--out", str(tmp_path / "x")]) == 2
    assert "leave out --workers" in capsys.readouterr().err


def test_scheduler_and_cluster_together_are_bad_input(capsys, tmp_path):
    assert main(["run", str(ANNUAL), "--cluster", "local", "--scheduler", "tcp://127.0.0.1:8786",
                 "--out", str(tmp_path / "x")]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_dask_worker_killed_mid_batch_is_replaced_and_the_bytes_do_not_change(tmp_path):
    """Dask reruns a dead worker's chunks elsewhere; the chunk store keeps the numbers the same.

    Deterministic (issue 8, item 0): 120 chunks of 10 runs, the kill once the manifest lists two
    of them, so most of the batch is still to run on the surviving and the restarted worker. A
    second Client stays open in this process throughout (as in a notebook): the executor must wait
    on its own client's loop, not the process's default one (the cause of the old 1-in-4 failure,
    "asyncio.Event ... is bound to a different event loop").
    """
    import json
    import os
    import signal
    import threading
    import time

    from distributed import Client

    args = ["run", str(ANNUAL), "--runs", "1200", "--chunk-size", "10", "--seed", "6", "--quiet"]
    assert main([*args, "--workers", "1", "--out", str(tmp_path / "ref")]) == 0
    out = tmp_path / "dask"
    partial = out / "annual.partial" / "manifest.json"
    killed: list[int] = []

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as local, Client(local) as client:
        pids = list(client.run(os.getpid).values())

        def kill_one_worker_once_two_chunks_are_written() -> None:
            deadline = time.monotonic() + 120  # only stops a broken test from hanging
            while time.monotonic() < deadline:
                try:
                    done = len(json.loads(partial.read_text())["chunks"])
                except (OSError, ValueError, KeyError):
                    done = 0
                if done >= 2:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(done)
                    return
                time.sleep(0.002)

        killer = threading.Thread(target=kill_one_worker_once_two_chunks_are_written)
        killer.start()
        code = main([*args, "--scheduler", local.scheduler_address, "--out", str(out)])
        killer.join()
    assert len(killed) == 1, "the worker was not killed while the batch ran"
    assert killed[0] < 100, f"killed after {killed[0]} of 120 chunks: too late to test a re-run"
    assert code == 0
    for name in FILES:
        assert (out / "annual" / name).read_bytes() == (tmp_path / "ref" / "annual" / name).read_bytes()


# ------------------------------------------------------------------ not a Dask scheduler


@pytest.fixture
def fake_servers():
    """Local stand-ins for what a wrong --scheduler may point at, on 127.0.0.1 only: a web server,
    a port that accepts and never answers, and one that sends garbage."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    web = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    sockets: list[socket.socket] = []

    def listener(on_accept) -> int:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        sockets.append(server)

        def loop() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                sockets.append(conn)
                on_accept(conn)

        threading.Thread(target=loop, daemon=True).start()
        return server.getsockname()[1]

    silent = listener(lambda conn: None)
    # 8 bytes that read as a 25 PiB message length, then noise: what made Dask ask for petabytes
    garbage = listener(lambda conn: conn.sendall(b"\xff" * 7 + b"\x00" + bytes(range(256)) * 4))
    yield {"http": web.server_address[1], "silent": silent, "garbage": garbage}
    web.shutdown()
    for s in sockets:
        s.close()


@pytest.mark.parametrize("kind, scheme, says", [
    ("http", "tcp", "accepted the connection but sent no Dask handshake within 5 s"),
    ("silent", "tcp", "accepted the connection but sent no Dask handshake within 5 s"),
    ("garbage", "tcp", "sent bytes that are not a Dask handshake"),
    ("silent", "tls", "a tls:// scheduler needs Dask's TLS settings"),
    ("http", "tls", "a tls:// scheduler needs Dask's TLS settings"),
])
def test_a_scheduler_address_that_is_not_a_dask_scheduler_exits_1_within_10_seconds(
        fake_servers, capsys, tmp_path, kind, scheme, says):
    import time

    address = f"{scheme}://127.0.0.1:{fake_servers[kind]}"
    started = time.monotonic()
    code = main(["run", str(ANNUAL), "--runs", "5", "--scheduler", address,
                 "--out", str(tmp_path / "x")])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1
    assert f"--scheduler {address}: " in err and says in err and "(nothing was run)" in err
    assert "Traceback" not in err and "MemoryError" not in err
    assert elapsed < 10
    assert not (tmp_path / "x" / "annual").exists()


def test_a_tls_scheduler_with_tls_settings_that_does_not_answer_exits_1(fake_servers, capsys,
                                                                        tmp_path):
    import dask

    pem = tmp_path / "x.pem"
    pem.write_text("not a certificate")
    address = f"tls://127.0.0.1:{fake_servers['silent']}"
    with dask.config.set({"distributed.comm.tls.ca-file": str(pem),
                          "distributed.comm.tls.client.cert": str(pem),
                          "distributed.comm.tls.client.key": str(pem)}):
        code = main(["run", str(ANNUAL), "--runs", "5", "--scheduler", address,
                     "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 1 and f"--scheduler {address}: " in err and "Traceback" not in err


def test_a_workers_address_or_a_scheduler_without_workers_exits_1_saying_so(cluster, capsys,
                                                                            tmp_path):
    worker = next(iter(cluster.scheduler_info["workers"]))
    assert main(["run", str(ANNUAL), "--runs", "5", "--scheduler", worker,
                 "--out", str(tmp_path / "x")]) == 1
    assert "this is a Dask Worker, not a scheduler" in capsys.readouterr().err
    with LocalCluster(n_workers=0, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as empty:
        assert main(["run", str(ANNUAL), "--runs", "5", "--scheduler", empty.scheduler_address,
                     "--out", str(tmp_path / "x")]) == 1
    assert "the scheduler has no workers, so the batch would wait forever" in capsys.readouterr().err

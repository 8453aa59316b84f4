"""The pools that run chunks (issue 13, item 4): the dashboard's `FairPool` is fair between
sessions, drops a cancelled or replaced batch's queued chunks, stops a batch past its time budget;
and no pool outlives the process that started it (`kill -9` of the CLI, a stopped server).

The FairPool tests run a sleeping chunk function on a real spawn pool (as the dashboard does), and
assert on what was scheduled (chunks submitted, batch states), never on how fast it went.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from simulator import load_scenario
from simulator.bounds import event_estimate
from simulator.executors import (
    CHUNK_SECONDS,
    SECONDS_PER_EVENT,
    BatchCancelled,
    BatchTooLong,
    FairPool,
    WorkerLost,
    batch_seconds,
    quick_chunk_size,
)

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
ANNUAL = ROOT / "scenarios" / "annual.toml"
# A pool's manager thread dying of an exception (as it did when a future was cancelled while the
# pool failed its futures after a worker died) leaves futures unfinished for ever: fail on it.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

GONE_WITHIN = 15.0
"""Seconds allowed for orphaned workers to disappear: the kernel's parent-death signal acts at
once and the watchdog thread within half a second; the rest is slack for a loaded machine."""


# ------------------------------------------------------------------ chunk functions (picklable)


def nap(seconds: float, tag: int | str) -> int | str:
    """A chunk that takes `seconds` and returns its tag (a negative time raises ValueError); the
    tag "die" kills its worker, as the out-of-memory killer would; "wedge" kills it half-way
    through writing its result."""
    if tag == "die":
        os._exit(9)
    if tag == "wedge":  # die half-way through writing a result, as a kill at the wrong moment does
        frame = sys._getframe()
        while "result_queue" not in frame.f_locals:
            frame = frame.f_back
        writer = frame.f_locals["result_queue"]._writer
        os.write(writer.fileno(), struct.pack("!i", 1 << 20) + b"half a result")
        os._exit(9)
    time.sleep(seconds)
    return tag


def nap_marked(seconds: float, marker: str) -> int:
    """A chunk that leaves `<marker>.<pid>` behind once it is running, then sleeps."""
    Path(f"{marker}.{os.getpid()}").touch()
    time.sleep(seconds)
    return os.getpid()


def watchdog_only(parent: int, marker: str) -> None:
    """A child that arms only the polling fallback of `die_with_parent` (as on a system without
    prctl), then waits to be orphaned."""
    from simulator import executors

    real = sys.platform
    sys.platform = "not-linux"
    try:
        executors.die_with_parent(parent)
    finally:
        sys.platform = real
    Path(f"{marker}.{os.getpid()}").touch()
    time.sleep(120)


# ------------------------------------------------------------------ helpers


def _gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie waiting for its new parent to reap it counts)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency; /proc works without it
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")
    try:
        return psutil.Process(pid).status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return True


def _wait_until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def _assert_all_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + GONE_WITHIN
    while not all(_gone(pid) for pid in pids):
        alive = [pid for pid in pids if not _gone(pid)]
        if time.monotonic() > deadline:
            for pid in alive:  # do not leave them running for the rest of the suite
                os.kill(pid, signal.SIGKILL)
            pytest.fail(f"pool workers {alive} outlived their parent by {GONE_WITHIN:g} s")
        time.sleep(0.05)


def _markers(folder: Path, stem: str) -> list[int]:
    return sorted(int(p.suffix[1:]) for p in folder.glob(f"{stem}.*"))


def _stats(pool: FairPool, batch) -> dict:
    return next(s for s in pool.stats() if s["id"] == batch.id)


@pytest.fixture(scope="module")
def pool():
    """One shared spawn pool of two workers, as the dashboard keeps (sessions differ per test)."""
    shared = FairPool(2, start_method="spawn", fn=nap)
    warm = shared.submit("warm-up", [(0.0, i) for i in range(2)])
    assert sorted(i for i, _ in shared.results(warm)) == [0, 1]
    yield shared
    shared.close()


# ------------------------------------------------------------------ fairness and cancellation


def test_a_heavy_batch_does_not_starve_another_sessions_light_batch(pool):
    heavy = pool.submit("fair-A", [(0.02, i) for i in range(60)], "heavy")
    reader = pool.results(heavy)
    first = next(reader)  # A has the pool to itself and both workers are busy with its chunks
    light = pool.submit("fair-B", [(0.02, i) for i in range(6)], "light")
    assert sorted(tag for _, tag in pool.results(light)) == list(range(6))
    a = _stats(pool, heavy)
    # B finished while A is still running: B's chunks were not queued behind A's 60
    assert a["state"] == "running" and a["finished"] < 60, a
    assert _stats(pool, light)["state"] == "done"
    assert sorted(tag for _, tag in [first, *reader]) == list(range(60))
    assert _stats(pool, heavy)["state"] == "done"


def test_cancelling_a_batch_drops_its_queued_chunks(pool):
    batch = pool.submit("cancel-A", [(0.05, i) for i in range(200)], "long")
    reader = pool.results(batch)
    for _ in range(3):
        next(reader)
    pool.cancel(batch)
    with pytest.raises(BatchCancelled):
        list(reader)
    submitted = _stats(pool, batch)["submitted"]
    assert submitted < 200
    time.sleep(0.5)  # ten chunks' time: nothing more of it may start
    after = _stats(pool, batch)
    assert after["submitted"] == submitted and after["state"] == "cancelled", after
    # the pool is free for others
    other = pool.submit("cancel-B", [(0.0, i) for i in range(4)])
    assert len(list(pool.results(other))) == 4


def test_a_new_batch_from_the_same_session_cancels_its_stale_batch(pool):
    stale = pool.submit("rerun", [(0.05, i) for i in range(200)], "before the change")
    reader = pool.results(stale)
    next(reader)
    fresh = pool.submit("rerun", [(0.01, i) for i in range(10)], "after the change")
    with pytest.raises(BatchCancelled, match="replaced by a newer change in the same session"):
        list(reader)
    submitted = _stats(pool, stale)["submitted"]
    assert sorted(tag for _, tag in pool.results(fresh)) == list(range(10))
    assert _stats(pool, stale)["submitted"] == submitted < 200
    assert _stats(pool, stale)["state"] == "cancelled"


def test_leaving_a_batch_early_cancels_it(pool):
    batch = pool.submit("leave", [(0.05, i) for i in range(100)])
    reader = pool.results(batch)
    next(reader)
    reader.close()  # what a stopped Streamlit script run does to its loop
    assert _stats(pool, batch)["state"] == "cancelled"


# ------------------------------------------------------------------ the time budget


def test_a_batch_past_its_time_budget_stops_with_a_plain_message(pool):
    batch = pool.submit("budget", [(0.1, i) for i in range(400)], "slow scenario", budget=0.5)
    with pytest.raises(BatchTooLong, match=r"^stopped after 0\.5 s: slow scenario takes longer than "
                                           r"the dashboard allows one batch \(\d+ of 400 chunks "
                                           r"done\)\. Use fewer runs .*FUNDSIM_BATCH_SECONDS\)$"):
        list(pool.results(batch))
    submitted = _stats(pool, batch)["submitted"]
    time.sleep(0.5)
    after = _stats(pool, batch)
    assert after["submitted"] == submitted < 400 and after["state"] == "timed out", after


def test_a_batch_nobody_reads_is_still_stopped_at_its_budget(pool):
    batch = pool.submit("unread", [(0.1, i) for i in range(400)], budget=0.5)
    _wait_until(lambda: _stats(pool, batch)["state"] == "timed out", "the budget", timeout=30)
    with pytest.raises(BatchTooLong):
        list(pool.results(batch))


def test_the_budget_comes_from_fundsim_batch_seconds(monkeypatch):
    monkeypatch.delenv("FUNDSIM_BATCH_SECONDS", raising=False)
    assert batch_seconds() == 120.0
    monkeypatch.setenv("FUNDSIM_BATCH_SECONDS", "7.5")
    assert batch_seconds() == 7.5
    for bad in ("soon", "-3", "0", "nan", "inf"):
        monkeypatch.setenv("FUNDSIM_BATCH_SECONDS", bad)
        assert batch_seconds() == 120.0


# ------------------------------------------------------------------ errors


def test_a_chunks_error_reaches_its_reader_and_stops_only_that_batch(pool):
    bad = pool.submit("error", [(0.0, 0), (-1.0, 1), *[(0.05, i) for i in range(2, 50)]])
    with pytest.raises(ValueError, match="sleep length must be non-negative"):
        list(pool.results(bad))
    assert _stats(pool, bad)["state"] == "failed"
    good = pool.submit("error-other", [(0.0, i) for i in range(3)])
    assert len(list(pool.results(good))) == 3


def test_a_dead_worker_is_worker_lost_and_the_next_batch_gets_new_workers(pool):
    before = pool.worker_pids()
    batch = pool.submit("dies", [(0.0, "die"), *[(0.05, i) for i in range(20)]])
    with pytest.raises(WorkerLost, match="a worker process died during the batch"):
        list(pool.results(batch))
    again = pool.submit("dies", [(0.0, i) for i in range(3)])
    assert len(list(pool.results(again))) == 3
    assert not set(before) & set(pool.worker_pids())


def test_a_worker_dying_half_way_through_its_result_does_not_wedge_the_pool(pool):
    """The pool's reader would wait for the rest of the message for ever; the batch must end as a
    lost worker, well inside its budget, and the pool must work again."""
    batch = pool.submit("wedge", [(0.0, "wedge"), *[(0.2, i) for i in range(10)]], budget=60)
    with pytest.raises(WorkerLost, match="a worker process died during the batch"):
        list(pool.results(batch))
    again = pool.submit("wedge", [(0.0, i) for i in range(3)])
    assert len(list(pool.results(again))) == 3


def test_the_stats_file_shows_each_batch(tmp_path, pool, monkeypatch):
    path = tmp_path / "stats.json"
    monkeypatch.setattr(pool, "stats_path", path)
    batch = pool.submit("stats", [(0.0, i) for i in range(3)], "three")
    list(pool.results(batch))
    data = json.loads(path.read_text())
    assert data["pid"] == os.getpid() and data["workers"] == pool.worker_pids()
    assert data["batches"][-1] | {"seconds": 0} == {
        "id": batch.id, "session": "stats", "label": "three", "tasks": 3, "submitted": 3,
        "finished": 3, "in_flight": 0, "state": "done", "reason": "", "seconds": 0}


def test_dashboard_chunks_aim_at_a_fifth_of_a_second():
    annual = load_scenario(ANNUAL)
    heavy = annual.with_changes({"workforce.recruitment_interval_months": 0.25, "horizon.years": 30})
    for scenario in (annual, heavy):
        size = quick_chunk_size(scenario, 5000, 2)
        per_run = sum(event_estimate(scenario).values()) * SECONDS_PER_EVENT
        assert size >= 1 and (size == 1 or size * per_run <= CHUNK_SECONDS)
    assert quick_chunk_size(heavy, 5000, 2) < quick_chunk_size(annual, 5000, 2)
    assert quick_chunk_size(annual, 100, 2) <= 13  # at least four chunks a worker


# ------------------------------------------------------------------ workers die with their parent


def _pool_workers(pid: int) -> list[int]:
    import psutil

    return [c.pid for c in psutil.Process(pid).children(recursive=True)
            if "resource_tracker" not in " ".join(c.cmdline())]


def _chunks_done(out: Path) -> int:
    try:
        return len(json.loads((out / "annual.partial" / "manifest.json").read_text())["chunks"])
    except (OSError, ValueError, KeyError):
        return 0


def test_kill_9_of_the_cli_mid_batch_takes_its_pool_workers_with_it(tmp_path):
    out = tmp_path / "res"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "run", str(ANNUAL), "--runs", "20000",
         "--chunk-size", "50", "--workers", "2", "--seed", "1", "--out", str(out), "--quiet"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until(lambda: _chunks_done(out) >= 2 or proc.poll() is not None, "two chunks")
        assert proc.poll() is None, "the batch ended before it could be killed"
        workers = _pool_workers(proc.pid)
        assert len(workers) >= 2, workers
    finally:
        proc.kill()
        proc.wait()
    _assert_all_gone(workers)


def _script(body: str) -> list[str]:
    """`python -c` (no main module for spawn children to re-import), with tests/ importable."""
    head = f"import sys, time\nsys.path[:0] = [{str(ROOT)!r}, {str(TESTS)!r}]\n"
    return [sys.executable, "-c", head + textwrap.dedent(body)]


def test_kill_9_of_a_fair_pools_parent_takes_its_workers_with_it(tmp_path):
    """Both mechanisms at once: the pool's workers (parent-death signal and watchdog) and a child
    that arms only the watchdog, as on a system without prctl."""
    proc = subprocess.Popen(_script(f"""
        import multiprocessing, os
        from simulator.executors import FairPool
        import test_executors as t
        pool = FairPool(2, start_method="fork", fn=t.nap_marked)
        pool.submit("s", [(120, {str(tmp_path / "running")!r}) for _ in range(4)])
        multiprocessing.get_context("fork").Process(
            target=t.watchdog_only, args=(os.getpid(), {str(tmp_path / "watched")!r})).start()
        time.sleep(120)
    """), cwd=ROOT)
    try:
        _wait_until(lambda: (len(_markers(tmp_path, "running")) >= 2
                             and _markers(tmp_path, "watched")) or proc.poll() is not None,
                    "both workers running a chunk and the watched child")
        assert proc.poll() is None
        children = _markers(tmp_path, "running") + _markers(tmp_path, "watched")
    finally:
        proc.kill()
        proc.wait()
    _assert_all_gone(children)


def test_a_fair_pools_process_exits_without_waiting_for_running_chunks(tmp_path):
    """What stopping the server does: the interpreter shuts down while chunks of two minutes are
    running. Without FairPool's exit hook, concurrent.futures would wait for them."""
    marker = tmp_path / "busy"
    proc = subprocess.Popen(_script(f"""
        from simulator.executors import FairPool
        import test_executors as t
        pool = FairPool(2, start_method="fork", fn=t.nap_marked)
        pool.submit("s", [(120, {str(marker)!r}) for _ in range(4)])
        import pathlib
        while len(list(pathlib.Path({str(tmp_path)!r}).glob("busy.*"))) < 2:
            time.sleep(0.02)
        print("exiting", flush=True)
    """), cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "exiting"
        workers = _markers(tmp_path, "busy")
        proc.wait(timeout=60)  # half the chunks' length: it did not wait for them
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    _assert_all_gone(workers)

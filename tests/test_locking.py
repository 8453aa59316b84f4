"""One writer per results folder.

Issue 13's second attack: two `run --force` into one `--out`, seeds 7 and 8, started apart; the
first exited 0 and published a folder whose manifest said seed 7 while most rows were seed 8.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from simulator import load_results
from simulator.cli import main
from simulator.errors import UsageError
from simulator.locking import acquire, held, lock_path, locked, release
from simulator.verify import verify_folder

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = ROOT / "scenarios" / "annual.toml"


def _wait_for(condition, what: str, limit: float = 120.0) -> None:
    """Poll until `condition()`; the limit only stops a broken test from hanging."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def _chunks_listed(partial: Path) -> int:
    try:
        return len(json.loads((partial / "manifest.json").read_text())["chunks"])
    except (OSError, ValueError, KeyError):
        return 0


def test_a_second_run_into_the_same_folder_exits_2_naming_the_first_and_nothing_mixes(tmp_path, capsys):
    out = tmp_path / "out"
    first = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "run", str(ANNUAL), "--runs", "2000",
         "--chunk-size", "10", "--seed", "7", "--workers", "1", "--out", str(out), "--force",
         "--quiet"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        # A known point: the first run holds the lock and has written one of its 200 chunks.
        _wait_for(lambda: _chunks_listed(out / "annual.partial") >= 1, "the first run's chunk")
        code = main(["run", str(ANNUAL), "--runs", "2000", "--chunk-size", "10", "--seed", "8",
                     "--workers", "1", "--out", str(out), "--force", "--quiet"])
        err = capsys.readouterr().err
    finally:
        first.wait(timeout=300)
    assert code == 2
    assert f"{out / 'annual'}: another fundsim is writing this folder (pid {first.pid} " in err
    assert "--seed 7" in err and "nothing was run" in err
    assert first.returncode == 0, first.stderr.read()
    published = load_results(out / "annual")
    assert published.seed == 7 and len(published.runs) == 2000
    check = verify_folder(out / "annual", sample=40, sample_seed=3)
    assert check.ok, check.mismatches  # every sampled row really is seed 7
    assert not lock_path(out / "annual").exists()


def test_the_lock_dies_with_its_holder_so_a_killed_batch_resumes(tmp_path):
    out = tmp_path / "out"
    args = ["run", str(ANNUAL), "--runs", "600", "--chunk-size", "10", "--seed", "4",
            "--workers", "1", "--out", str(out), "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", *args], cwd=ROOT)
    _wait_for(lambda: _chunks_listed(out / "annual.partial") >= 1, "a chunk")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert lock_path(out / "annual").exists()  # left behind, but no longer locked
    assert main([*args, "--resume"]) == 0
    assert load_results(out / "annual").seed == 4


def test_a_forked_worker_outliving_its_parent_does_not_keep_the_lock(tmp_path):
    """A POSIX record lock belongs to the process: a pool worker forked while the lock was held
    (and orphaned when the parent was killed) does not hold the folder (flock would)."""
    folder = tmp_path / "annual"
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from simulator.locking import acquire
        acquire(Path({str(folder)!r}))
        child = os.fork()
        if child == 0:
            time.sleep(120)
            os._exit(0)
        print(child, flush=True)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        with pytest.raises(UsageError, match="another fundsim is writing this folder"):
            acquire(folder)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        os.kill(child, 0)  # the orphaned worker is still alive ...
        acquire(folder)  # ... and the folder is free
        release(folder)
    finally:
        os.kill(child, signal.SIGKILL)


def test_locks_are_reentrant_within_a_process_and_removed_by_the_last_release(tmp_path):
    folder = tmp_path / "annual"
    acquire(folder)
    acquire(folder)
    assert held(folder)
    text = lock_path(folder).read_text()
    assert text.startswith(f"pid {os.getpid()} since ") and " UTC: " in text
    release(folder)
    assert held(folder) and lock_path(folder).exists()
    release(folder)
    assert not held(folder) and not lock_path(folder).exists()


def test_locked_holds_every_folder_and_lets_go_even_on_error(tmp_path):
    folders = [tmp_path / "b", tmp_path / "a"]
    with pytest.raises(RuntimeError), locked(folders):
        assert all(held(f) for f in folders)
        raise RuntimeError("boom")
    assert not any(held(f) for f in folders)


def test_a_lock_in_a_folder_that_cannot_be_created_is_bad_input(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UsageError, match="cannot write results there"):
        acquire(blocker / "out" / "annual")

"""`fundsim run` as a finance team meets it: killed with SIGKILL and resumed, a pool worker killed
mid-batch, precision targets, --json/--quiet and the terminal-only progress bar. Real processes,
real signals, real Parquet; run counts kept small so the suite stays quick."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from simulator import load_results
from simulator.cli import main
from simulator.precision import half_width

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = ROOT / "scenarios" / "annual.toml"
THREE = ROOT / "scenarios" / "three_year.toml"
FUNDSIM = [sys.executable, "-m", "simulator.cli"]
RUNS, CHUNK, SEED = 1200, 20, 3


def _run_args(out: Path, *extra: str) -> list[str]:
    return ["run", str(ANNUAL), "--runs", str(RUNS), "--chunk-size", str(CHUNK), "--seed", str(SEED),
            "--out", str(out), "--quiet", *extra]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted batch, in-process with one worker."""
    out = tmp_path_factory.mktemp("reference")
    assert main(_run_args(out, "--workers", "1")) == 0
    return out / "annual"


def _chunks_done(out: Path) -> int:
    try:
        return len(json.loads((out / "annual.partial" / "manifest.json").read_text())["chunks"])
    except (OSError, ValueError, KeyError):
        return 0


def _wait_for_chunks(proc: subprocess.Popen, out: Path, n: int) -> None:
    """Poll (no sleeps that decide the outcome) until `n` chunks are listed or the process ends."""
    while _chunks_done(out) < n:
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        time.sleep(0.01)


def _assert_identical(folder: Path, reference: Path) -> None:
    for name in ("runs.parquet", "years.parquet", "bands.parquet", "scenario.toml"):
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name
    a, b = load_results(folder), load_results(reference)
    pd.testing.assert_frame_equal(a.runs, b.runs, check_exact=True)


def test_kill_9_then_resume_gives_the_uninterrupted_results_bit_for_bit(tmp_path, reference):
    out = tmp_path / "res"
    proc = subprocess.Popen([*FUNDSIM, *_run_args(out, "--workers", "1")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_chunks(proc, out, 3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "annual").exists()
    done = _chunks_done(out)
    assert 3 <= done < RUNS // CHUNK

    again = subprocess.run([*FUNDSIM, *_run_args(out, "--workers", "1")], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2
    assert "an unfinished batch is here; add --resume to finish it, or --force" in again.stderr

    resumed = subprocess.run([*FUNDSIM, *_run_args(out, "--workers", "2", "--resume")], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(p.name for p in out.iterdir()) == ["annual"]
    _assert_identical(out / "annual", reference)


def _pool_workers(pid: int) -> list[psutil.Process]:
    children = psutil.Process(pid).children(recursive=True)
    return [c for c in children if "resource_tracker" not in " ".join(c.cmdline())]


def test_a_worker_killed_mid_batch_is_reported_and_resume_completes(tmp_path, reference):
    out = tmp_path / "res"
    proc = subprocess.Popen([*FUNDSIM, *_run_args(out, "--workers", "2")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_chunks(proc, out, 2)
    workers = _pool_workers(proc.pid)
    assert workers, "no pool worker to kill"
    os.kill(workers[0].pid, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    assert "a worker process died during the batch" in stderr
    assert "run the same command with --resume to finish" in stderr
    assert "Traceback" not in stderr
    kept = _chunks_done(out)
    assert kept >= 2 and not (out / "annual").exists()

    assert main(_run_args(out, "--workers", "2", "--resume")) == 0
    _assert_identical(out / "annual", reference)


# ------------------------------------------------------------------ precision targets


def _json_run(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["run", *args, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out)


def test_target_ci_stops_at_the_first_stage_that_is_precise_enough(capsys, tmp_path):
    summary = _json_run(capsys, str(ANNUAL), "--runs", "40", "--target-ci", "60", "--workers", "1",
                        "--out", str(tmp_path / "a"))
    stop = summary["stop"]
    assert stop["reason"] == "target reached" and stop["half_width"] <= 60
    runs = stop["runs"]
    assert runs > 40 and runs % 40 == 0 and summary["runs"] == runs
    loaded = load_results(tmp_path / "a" / "annual")
    assert loaded.manifest["stop"] == stop and len(loaded.runs) == runs
    values = loaded.runs["disruptions_total"].to_numpy()
    assert half_width(values) == pytest.approx(stop["half_width"], rel=1e-12)
    assert half_width(values[: runs - 40]) > 60  # else it would have stopped a stage earlier


def test_target_ci_is_deterministic_whatever_the_workers(capsys, tmp_path):
    args = [str(ANNUAL), str(THREE), "--runs", "30", "--target-ci", "80", "--chunk-size", "7"]
    one = _json_run(capsys, *args, "--workers", "1", "--out", str(tmp_path / "one"))
    two = _json_run(capsys, *args, "--workers", "2", "--out", str(tmp_path / "two"))
    assert one["stop"] == two["stop"]
    assert one["stop"]["of"] == "paired difference against the first scenario"
    for name in ("annual", "three_year"):
        assert ((tmp_path / "one" / name / "runs.parquet").read_bytes()
                == (tmp_path / "two" / name / "runs.parquet").read_bytes())


def test_target_ci_records_when_max_runs_stopped_it(capsys, tmp_path):
    summary = _json_run(capsys, str(ANNUAL), "--runs", "10", "--target-ci", "0.001", "--max-runs", "25",
                        "--workers", "1", "--out", str(tmp_path / "m"))
    assert summary["stop"]["reason"] == "max runs reached"
    assert summary["stop"]["half_width"] > 0.001
    assert len(load_results(tmp_path / "m" / "annual").runs) == 25


@pytest.mark.parametrize("option", [["--max-runs", "5"], ["--metric", "lapsed_funds_m"]])
def test_target_options_without_a_target_are_bad_input(capsys, tmp_path, option):
    assert main(["run", str(ANNUAL), *option, "--out", str(tmp_path / "x")]) == 2
    assert f"{' '.join(option)}: only used with --target-ci" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("width", ["0", "-1", "wide"])
def test_a_bad_target_width_is_bad_input(capsys, tmp_path, width):
    assert main(["run", str(ANNUAL), "--target-ci", width, "--out", str(tmp_path / "x")]) == 2
    assert "--target-ci" in capsys.readouterr().err


# ------------------------------------------------------------------ output modes


def test_run_json_is_one_strict_json_object_and_nothing_else(capsys, tmp_path):
    capsys.readouterr()
    assert main(["run", str(ANNUAL), "--runs", "1", "--workers", "1", "--out", str(tmp_path / "j"),
                 "--json"]) == 0
    captured = capsys.readouterr()

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    summary = json.loads(captured.out, parse_constant=refuse)  # one run: the CI is null, not NaN
    assert summary["command"] == "run" and summary["runs"] == 1 and summary["stop"] is None
    metrics = summary["scenarios"][0]["metrics"]["disruptions_total"]
    assert metrics["ci_low"] is None and metrics["mean"] > 0
    assert captured.err == ""


def test_quiet_prints_nothing(capsys, tmp_path):
    capsys.readouterr()
    assert main(["run", str(ANNUAL), "--runs", "3", "--workers", "1", "--out", str(tmp_path / "q"),
                 "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_a_progress_bar_with_eta_is_drawn_on_a_terminal_only(tmp_path, on_terminal):
    args = ["run", str(ANNUAL), "--runs", "60", "--chunk-size", "10", "--workers", "1"]
    drawn = on_terminal([*FUNDSIM, *args, "--out", str(tmp_path / "tty")])
    assert "annual" in drawn and "60/60" in drawn
    assert re.search(r"\d+:\d\d:\d\d", drawn), drawn  # the ETA column
    piped = subprocess.run([*FUNDSIM, *args, "--out", str(tmp_path / "pipe")], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == ""


# ------------------------------------------------------------------ output folder faults


def test_an_out_folder_that_cannot_be_created_exits_2_naming_it(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file where a folder should be")
    assert main(["run", str(ANNUAL), "--runs", "3", "--workers", "1", "--out", str(blocker / "res")]) == 2
    err = capsys.readouterr().err
    assert f"--out {blocker / 'res'}: cannot write results there (Not a directory)" in err
    assert "nothing was run" in err


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write in: a read-only tmpfs when running as root (root ignores file
    modes, and CI runs as root), else a folder with mode 555."""
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() != 0:
        locked.chmod(0o555)
        yield locked, "Permission denied"
        locked.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(locked)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"could not mount a read-only tmpfs as root: {mounted.stderr.strip()}")
    try:
        yield locked, "Read-only file system"
    finally:
        subprocess.run(["umount", str(locked)], check=True)


def test_a_read_only_out_folder_exits_2(capsys, read_only_folder):
    locked, reason = read_only_folder
    assert main(["run", str(ANNUAL), "--runs", "3", "--workers", "1", "--out", str(locked)]) == 2
    assert f"cannot write results there ({reason})" in capsys.readouterr().err
    assert os.listdir(locked) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full for a real ENOSPC")
def test_a_full_disk_while_assembling_exits_1_keeping_every_chunk(capsys, tmp_path, reference):
    """The assembled runs.parquet's temporary name is a link to /dev/full: the kernel answers ENOSPC.
    (A full disk while a chunk is written is tested on the chunk store in test_streaming.py.)"""
    out = tmp_path / "res"
    args = _run_args(out, "--workers", "1")
    proc = subprocess.Popen([*FUNDSIM, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_chunks(proc, out, 1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    (out / "annual.partial" / ".runs.parquet.tmp").symlink_to("/dev/full")
    capsys.readouterr()
    assert main([*args, "--resume"]) == 1
    err = capsys.readouterr().err
    assert "annual.partial: could not write results (No space left on device)" in err
    assert f"{RUNS // CHUNK} finished chunk(s) ({RUNS} runs) are kept in" in err
    assert "--resume to finish" in err and "Traceback" not in err
    assert not (out / "annual").exists()
    assert not (out / "annual.partial" / "runs.parquet").exists()  # nothing half-written left
    assert main([*args, "--resume"]) == 0
    _assert_identical(out / "annual", reference)


def test_a_killed_target_ci_run_resumes_to_the_same_stop_and_bytes(capsys, tmp_path):
    args = ["run", str(ANNUAL), "--runs", "50", "--chunk-size", "10", "--target-ci", "30", "--seed", "2",
            "--workers", "1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "ref")]) == 0
    reference = load_results(tmp_path / "ref" / "annual")
    assert reference.manifest["stop"]["runs"] > 100  # several stages, so the kill lands mid-way
    out = tmp_path / "cut"
    proc = subprocess.Popen([*FUNDSIM, *args, "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_chunks(proc, out, 7)  # into the second stage
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert main([*args, "--out", str(out), "--resume"]) == 0
    resumed = load_results(out / "annual")
    assert resumed.manifest["stop"] == reference.manifest["stop"]
    _assert_identical(out / "annual", tmp_path / "ref" / "annual")

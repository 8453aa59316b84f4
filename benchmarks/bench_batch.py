"""Benchmark: peak memory (RSS of the whole process tree) and throughput of `fundsim run`.

Issue target: a 100,000-run batch of the 6-year annual scenario completes with peak RSS under
1 GiB for the whole process tree. `fundsim run` runs as a subprocess, as a finance team would run
it; psutil samples the RSS of it and all its children every 50 ms and sums them (shared pages of
forked workers are counted once per process, so the figure errs high). Runs/s is wall-clock, start-up
and assembly included.

    make bench            # or: python benchmarks/bench_batch.py [--runs 10000 100000] [--workers W]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
FUNDSIM = Path(sys.executable).with_name("fundsim")
GIB = 1024**3


def tree_rss(proc: psutil.Process) -> int:
    """Bytes resident in a process and all its descendants right now."""
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


def measure(runs: int, workers: int | None, scenario: Path) -> tuple[float, int]:
    """Seconds and peak tree RSS (bytes) of one `fundsim run`."""
    out = Path(tempfile.mkdtemp(prefix="fundsim-bench-"))
    argv = [str(FUNDSIM), "run", str(scenario), "--runs", str(runs), "--seed", "1", "--out", str(out),
            "--quiet"]
    if workers:
        argv += ["--workers", str(workers)]
    try:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT)
        proc = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            peak = max(peak, tree_rss(proc))
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        if child.returncode != 0:
            raise SystemExit(f"fundsim run exited {child.returncode}")
        return seconds, peak
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=None, help="default: all cores")
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "annual.toml"))
    args = parser.parse_args()
    cores = args.workers or psutil.cpu_count() or 1
    print(f"fundsim run {Path(args.scenario).name}, {cores} worker(s); peak RSS of the process tree")
    for runs in args.runs:
        seconds, peak = measure(runs, args.workers, Path(args.scenario))
        verdict = "under" if peak < GIB else "OVER"
        print(f"{runs:>7,} runs: {seconds:6.1f} s, {runs / seconds:6.0f} runs/s, "
              f"peak RSS {peak / 2**20:6.0f} MiB ({verdict} 1 GiB)", flush=True)


if __name__ == "__main__":
    main()

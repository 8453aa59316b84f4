"""Benchmark: what `fundsim run` costs beyond the model itself, its runs/s, and a 100,000-run batch.

1. **End to end against the model's own time** (issue 10: within 15%). For each scenario,
   `fundsim run FILE --runs 6000 --workers 1 --quiet` in a subprocess (the command's `main`,
   with a timer around its calls of `simulate_chunk`), timed from its start to its exit
   (start-up, chunk files, assembly and publishing included), against the same runs simulated in
   a fresh process by `simulator.runner.simulate_chunk` over the same chunk bounds (imports
   excluded). The two alternate, `--repeats` times, and the best of each is compared: another
   process on the machine only ever adds time, so the best is the least disturbed. Two processes
   running the same model differ by a few per cent (memory layout, hash seeds), which hides a
   small overhead; so the command's own simulate time is subtracted from its own wall time too,
   a ratio free of that. The end-to-end time is also given in bare SimPy timeout events (as
   `bench_run.py` measures them, moments apart in this process), the unit of the issue's target
   (<= 500 a run for `annual`).
2. **Where the overhead goes**: `fundsim run` in a child process with timers around its parts, its
   chunks simulated beforehand (so that only what the command adds is timed); each part's best
   of `--repeats`. Start-up is split into Python itself, the model's and package's imports (what
   any process that runs the model pays) and the CLI's own.
3. **Runs/s on 1 and 2 workers** through `fundsim run`, start-up and assembly included.
4. **100,000 runs of `annual` on 2 workers**: seconds (target < 60 s) and peak RSS of the whole
   process tree (target < 1 GiB), sampled every 50 ms with psutil (shared pages of forked workers
   are counted once per process, so the figure errs high).

    make bench    # or: python benchmarks/bench_batch.py [--runs 6000] [--repeats 3] [--big-runs 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import simpy

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
GIB = 1024**3
CLI = [sys.executable, "-m", "simulator.cli"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                  os.environ.get("PYTHONPATH")]))}
"""Children import this checkout's `simulator`, whatever the venv's install points at."""

MODEL_ONLY = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    from simulator.batch import stream_chunk_size
    from simulator.runner import chunk_bounds, simulate_chunk
    from simulator.scenario import load_scenario
    imports = time.perf_counter() - t0
    scenario = load_scenario(sys.argv[1])
    runs = int(sys.argv[2])
    wall, cpu = time.perf_counter(), time.process_time()
    for start, stop in chunk_bounds(runs, stream_chunk_size(runs)):
        simulate_chunk(scenario, 1, start, stop)
    print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                      "imports": imports}))
""")

TIMED_RUN = textwrap.dedent("""
    import json, sys, time
    import simulator.executors as executors
    spent = 0.0
    simulate_chunk = executors.simulate_chunk

    def timed(*args):
        global spent
        start = time.perf_counter()
        try:
            return simulate_chunk(*args)
        finally:
            spent += time.perf_counter() - start

    executors.simulate_chunk = timed
    import simulator.cli as cli
    code = cli.main(sys.argv[1:])
    assert code == 0, code
    print(json.dumps({"simulate": spent}))
""")
"""`fundsim run` (the same `main` the command calls), timing its own calls of `simulate_chunk`."""

PARTS = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import simulator.runner
    t1 = time.perf_counter()
    import simulator.cli as cli
    t2 = time.perf_counter()
    import simulator.executors as executors
    import simulator.streaming as streaming
    from simulator.batch import stream_chunk_size
    from simulator.scenario import load_scenario

    # The chunks are simulated first, untimed; the command then gets each from memory, so what
    # is timed is everything `fundsim run` does but simulate, on the same chunks.
    scenario, runs = load_scenario(sys.argv[2]), int(sys.argv[4])
    size = stream_chunk_size(runs)
    chunks = {start: simulator.runner.simulate_chunk(scenario, 1, start, min(start + size, runs))
              for start in range(0, runs, size)}
    spent = {"load scenarios": 0.0, "chunk files": 0.0, "assemble": 0.0, "check and publish": 0.0}

    def timed(key, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start
        return wrapper

    executors.simulate_chunk = lambda scenario, seed, start, stop: chunks[start]
    cli._load_all = timed("load scenarios", cli._load_all)
    streaming.ChunkStore.add = timed("chunk files", streaming.ChunkStore.add)
    streaming.ChunkStore.assemble = timed("assemble", streaming.ChunkStore.assemble)
    streaming.ChunkStore.publish = timed("check and publish", streaming.ChunkStore.publish)
    t3 = time.perf_counter()
    code = cli.main(sys.argv[1:])
    t4 = time.perf_counter()
    assert code == 0, code
    print(json.dumps({"imports: the model and package": t1 - t0, "imports: the CLI": t2 - t1,
                      **spent, "main": t4 - t3}))
""")


def bare_event_seconds(events: int = 50_000) -> float:
    """Seconds per bare SimPy timeout event (as in bench_run.py): one process yielding timeouts."""
    env = simpy.Environment()

    def ticker(env: simpy.Environment):
        for _ in range(events):
            yield env.timeout(1)

    env.process(ticker(env))
    start = time.perf_counter()
    env.run()
    return (time.perf_counter() - start) / events


def timed_child(argv: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system, from the kernel's accounting of the child) and stdout
    of one child process, which must succeed."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, cwd=ROOT, env=ENV, stdout=subprocess.PIPE)
    out = child.stdout.read() if child.stdout else b""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {child.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, out.decode()


def cli_run(scenario: Path, runs: int, workers: int) -> tuple[float, float]:
    """Wall seconds of `fundsim run` from its start to its exit, and the seconds it spent in
    `simulate_chunk` (in its own process: with --workers 1, all of the simulation)."""
    out = Path(tempfile.mkdtemp(prefix="fundsim-bench-"))
    try:
        wall, _, text = timed_child([sys.executable, "-c", TIMED_RUN, "run", str(scenario),
                                     "--runs", str(runs), "--seed", "1", "--workers", str(workers),
                                     "--quiet", "--out", str(out)])
        return wall, json.loads(text)["simulate"]
    finally:
        shutil.rmtree(out, ignore_errors=True)


def model_only(scenario: Path, runs: int) -> tuple[float, float, float]:
    """Wall and CPU seconds of the same runs simulated in a fresh process, and its import time."""
    _, _, out = timed_child([sys.executable, "-c", MODEL_ONLY, str(scenario), str(runs)])
    data = json.loads(out)
    return data["wall"], data["cpu"], data["imports"]


def startup_seconds(repeats: int) -> tuple[float, float]:
    """Best wall seconds of `python -c "import simulator.cli"` and of `python -c "pass"`."""
    cli = min(timed_child([sys.executable, "-c", "import simulator.cli"])[0] for _ in range(repeats))
    bare = min(timed_child([sys.executable, "-c", "pass"])[0] for _ in range(repeats))
    return cli, bare


def end_to_end(scenarios: list[str], runs: int, repeats: int) -> dict[str, float]:
    """Section 1; returns the best CLI wall seconds per scenario (for section 3)."""
    bare = min(bare_event_seconds() for _ in range(3))
    print(f"1. fundsim run --runs {runs:,} --workers 1 --quiet, start to exit, against the model's "
          f"own time (us a run, best of {repeats}, alternating)")
    print(f"   {'':<12}{'simulate_chunk':>15}{'fundsim':>9}{'':>8}{'its own':>10}{'all':>8}{'':>8}"
          f"{'fundsim run in':>22}")
    print(f"   {'scenario':<12}{'alone':>15}{'run':>9}{'ratio':>8}{'simulate':>10}{'else':>8}"
          f"{'ratio':>8}{'bare events (range)':>22}")
    best_cli: dict[str, float] = {}
    for name in scenarios:
        path = SCENARIOS / f"{name}.toml"
        alone, wall, own, rest, events = [], [], [], [], []
        for _ in range(repeats):
            alone.append(model_only(path, runs)[0])
            before = bare_event_seconds()
            seconds, simulate = cli_run(path, runs, 1)
            after = bare_event_seconds()
            wall.append(seconds)
            own.append(simulate)
            rest.append(seconds - simulate)
            # In bare events measured just before and after this very run: the machine's speed
            # drifts by a fifth over minutes here, which a ratio to one earlier measurement keeps.
            events.append(seconds / runs / min(before, after))
        m, c, o, r = (min(x) / runs for x in (alone, wall, own, rest))
        best_cli[name] = min(wall)
        inside = min(w / s for w, s in zip(wall, own, strict=True))
        spread = f"{statistics.median(events):,.0f} ({min(events):,.0f}-{max(events):,.0f})"
        print(f"   {name:<12}{m * 1e6:>15,.0f}{c * 1e6:>9,.0f}{c / m:>7.3f}x{o * 1e6:>10,.0f}"
              f"{r * 1e6:>8,.0f}{inside:>7.3f}x{spread:>22}")
    print(f"   simulate_chunk alone: the same chunks in a fresh process (imports excluded). Its own "
          f"simulate: the command's time in simulate_chunk; all else = start to exit minus that, "
          f"and its ratio, unlike the first, is free of the few per cent by which one process's "
          f"model runs faster than another's. Bare events: each run's wall time over a bare "
          f"SimPy event timed just before and after it (median and range of the repetitions; "
          f"a bare event took {bare * 1e9:.0f} ns at the start).")
    return best_cli


def parts(scenario: str, runs: int, repeats: int) -> None:
    """Section 2: each part's best time over `repeats` child processes (a part is disturbed by
    other processes only upwards, so its least time is its own cost)."""
    best: dict[str, float] = {}
    for _ in range(repeats):
        out = Path(tempfile.mkdtemp(prefix="fundsim-bench-"))
        try:
            _, _, text = timed_child([sys.executable, "-c", PARTS, "run",
                                      str(SCENARIOS / f"{scenario}.toml"), "--runs", str(runs),
                                      "--seed", "1", "--workers", "1", "--quiet", "--out", str(out)])
        finally:
            shutil.rmtree(out, ignore_errors=True)
        spent = json.loads(text)
        main = spent.pop("main")
        spent["other (parsing, locks, checks)"] = main - sum(
            v for k, v in spent.items() if not k.startswith("imports"))
        for key, seconds in spent.items():
            best[key] = min(best.get(key, seconds), seconds)
    cli, python = startup_seconds(repeats)
    rows = {"python start-up": python, **best}
    total = sum(rows.values())
    print(f"2. what fundsim run {scenario} --runs {runs:,} --workers 1 adds to the model: "
          f"{total:.3f} s = {total / runs * 1e6:.0f} us a run (each part's best of {repeats}; "
          f"the chunks simulated beforehand; `python -c 'import simulator.cli'` takes {cli:.3f} s)")
    for key, seconds in rows.items():
        print(f"   {key:<34}{seconds * 1e3:8.0f} ms {seconds / runs * 1e6:8.1f} us a run")


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


def measure_rss(runs: int, workers: int, scenario: Path) -> tuple[float, int]:
    """Seconds and peak tree RSS (bytes) of one `fundsim run`."""
    out = Path(tempfile.mkdtemp(prefix="fundsim-bench-"))
    argv = [*CLI, "run", str(scenario), "--runs", str(runs), "--seed", "1", "--out", str(out),
            "--quiet", "--workers", str(workers)]
    try:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT, env=ENV)
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
    parser.add_argument("--runs", type=int, default=6000, help="runs for sections 1-3 (6000)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repetitions (3)")
    parser.add_argument("--scenarios", nargs="+", default=["annual", "three_year"])
    parser.add_argument("--big-runs", type=int, default=100_000,
                        help="runs of the memory and time check (100000; 0 skips it)")
    args = parser.parse_args()
    print(f"fundsim batch benchmark: {psutil.cpu_count()} cores, Python {sys.version.split()[0]}",
          flush=True)
    best_cli = end_to_end(args.scenarios, args.runs, args.repeats)
    parts(args.scenarios[0], args.runs, args.repeats)
    first = args.scenarios[0]
    two = min(cli_run(SCENARIOS / f"{first}.toml", args.runs, 2)[0] for _ in range(args.repeats))
    one = best_cli[first]
    print(f"3. fundsim run {first} --runs {args.runs:,}, start-up and assembly included: "
          f"{args.runs / one:,.0f} runs/s on 1 worker, {args.runs / two:,.0f} runs/s on 2 workers "
          f"({one / two:.2f}x)", flush=True)
    if args.big_runs:
        seconds, peak = measure_rss(args.big_runs, 2, SCENARIOS / "annual.toml")
        print(f"4. fundsim run annual --runs {args.big_runs:,} --workers 2: {seconds:.1f} s "
              f"({'under' if seconds < 60 else 'OVER'} 60 s), {args.big_runs / seconds:,.0f} runs/s, "
              f"peak RSS of the process tree {peak / 2**20:,.0f} MiB "
              f"({'under' if peak < GIB else 'OVER'} 1 GiB)")


if __name__ == "__main__":
    main()

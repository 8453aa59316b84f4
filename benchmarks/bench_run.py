"""Benchmark: one run's cost, alone (`simulate`) and in a batch's chunks (`simulate_runs`), in µs and
in bare SimPy timeout events, for `annual` and `three_year`, with the model in use named.

Seconds depend on the machine and on what else it is doing; the ratio of a run's time to one bare
SimPy timeout event (a process yielding timeouts, measured in the same process moments apart, with
the garbage collector on as in any SimPy program) holds on a noisy machine. Each figure is the
median of several repetitions, each against its own bare-event measurement. The same figures for
the plain-Python model come from a child process (`FUNDSIM_MODEL=python`), so the speed-up of
the compiled model is measured, not assumed.

    make bench            # or: python benchmarks/bench_run.py [--runs N] [--repeats R] [--no-plain]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import simpy

from simulator import native
from simulator.model import compile_scenario, simulate, simulate_runs
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("annual", "three_year")
CHUNK = 188  # what `fundsim run --runs 6000` simulates per chunk (batch.stream_chunk_size)


def bare_event_seconds(events: int = 50_000) -> float:
    """Seconds per bare SimPy timeout event: one process yielding `events` timeouts."""
    env = simpy.Environment()

    def ticker(env: simpy.Environment):
        for _ in range(events):
            yield env.timeout(1)

    env.process(ticker(env))
    start = time.perf_counter()
    env.run()
    return (time.perf_counter() - start) / events


def _one_at_a_time(compiled, first: int, runs: int) -> float:
    start = time.perf_counter()
    for run in range(first, first + runs):
        simulate(compiled, 1, run)
    return (time.perf_counter() - start) / runs


def _in_chunks(compiled, first: int, runs: int) -> float:
    start = time.perf_counter()
    for s in range(first, first + runs, CHUNK):
        simulate_runs(compiled, 1, s, min(s + CHUNK, first + runs))
    return (time.perf_counter() - start) / runs


def measure(runs: int, repeats: int) -> dict[str, dict[str, float]]:
    """Per scenario and way of running: median µs a run and median bare events a run."""
    out: dict[str, dict[str, float]] = {}
    for name in SCENARIOS:
        compiled = compile_scenario(load_scenario(ROOT / "scenarios" / f"{name}.toml"))
        simulate_runs(compiled, 1, 0, 20)  # warm caches
        for label, how in (("simulate", _one_at_a_time), ("batch", _in_chunks)):
            seconds, events = [], []
            for rep in range(repeats):
                bare = bare_event_seconds()
                run = how(compiled, 10_000 + rep * runs, runs)
                bare = min(bare, bare_event_seconds())
                seconds.append(run)
                events.append(run / bare)
            out[f"{name}/{label}"] = {"us": statistics.median(seconds) * 1e6,
                                      "events": statistics.median(events)}
    out["bare"] = {"ns": bare_event_seconds() * 1e9}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=564, help="runs per repetition")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-plain", action="store_true", help="skip the plain-Python comparison")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the child's output
    args = parser.parse_args()
    figures = measure(args.runs, args.repeats)
    if args.json:
        print(json.dumps(figures))
        return
    plain = None
    if not args.no_plain and native.status().used:
        child = subprocess.run(
            [sys.executable, __file__, "--json", "--runs", str(max(args.runs // 3, 60)),
             "--repeats", "3"],
            env={**os.environ, "FUNDSIM_MODEL": "python"}, capture_output=True, text=True, check=True)
        plain = json.loads(child.stdout)
    print(f"model: {native.status().describe()}")
    print(f"bare SimPy timeout event: {figures['bare']['ns']:,.0f} ns")
    print(f"{'scenario':<12}{'one run':<10}{'µs':>8}{'bare events':>13}"
          + (f"{'plain Python':>14}{'speed-up':>10}" if plain else ""))
    for key, row in figures.items():
        if key == "bare":
            continue
        name, label = key.split("/")
        line = f"{name:<12}{label:<10}{row['us']:>8,.0f}{row['events']:>13,.0f}"
        if plain:
            line += f"{plain[key]['events']:>14,.0f}{plain[key]['events'] / row['events']:>9.1f}x"
        print(line)
    print("'batch' is simulate_runs in chunks of 188 runs, as `fundsim run --runs 6000` simulates "
          "them; bench_batch.py gives the CLI end to end. Target (issue 10): <= 500 bare events a "
          "run end to end through `fundsim run --workers 1`.")


if __name__ == "__main__":
    main()

"""Benchmark: runs per second per core, and one run's cost in bare SimPy timeout events.

Seconds depend on the machine and on what else it is doing; the ratio of one run's time to one bare
SimPy timeout event, measured in the same process moments apart, holds on a noisy machine. Target
(issue 2): one 6-year run of the shipped annual scenario costs at most 400 bare SimPy events.

    make bench            # or: python benchmarks/bench_run.py [--runs N] [--scenario FILE]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import simpy

from simulator.model import compile_scenario, simulate
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


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


def run_seconds(compiled, runs: int, first: int) -> float:
    start = time.perf_counter()
    for run in range(first, first + runs):
        simulate(compiled, 1, run)
    return (time.perf_counter() - start) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "annual.toml"))
    parser.add_argument("--runs", type=int, default=300, help="runs per repetition")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    compiled = compile_scenario(load_scenario(args.scenario))
    simulate(compiled, 1, 0)  # warm caches
    ratios, per_run = [], []
    for rep in range(args.repeats):
        bare = bare_event_seconds()
        run = run_seconds(compiled, args.runs, rep * args.runs)
        bare = min(bare, bare_event_seconds())
        ratios.append(run / bare)
        per_run.append(run)
    ratio = statistics.median(ratios)
    seconds = min(per_run)
    print(f"scenario: {Path(args.scenario).name}, {compiled.years}-year horizon")
    print(f"one run = {ratio:,.0f} bare SimPy events (median of {args.repeats}; target <= 400)")
    print(f"one run = {seconds * 1e6:,.0f} us; {1 / seconds:,.0f} runs/s per core (best repetition)")
    print(f"bare SimPy event = {bare_event_seconds() * 1e9:,.0f} ns")


if __name__ == "__main__":
    main()

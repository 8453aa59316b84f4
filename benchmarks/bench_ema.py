"""Benchmark: `run_batch` on 2 workers against EMA Workbench's MultiprocessingEvaluator, same runs.

Issue 10 target: `simulator.memory.run_batch` on 2 workers at least 2x as fast as EMA Workbench's
`MultiprocessingEvaluator` driving the same `simulator.runner.run_once`, for the same runs on the
same cores. EMA Workbench is the exploratory-modelling package planners' analysts use for this kind
of batch: one experiment per task, sent to a `multiprocessing.Pool`.

Both compute runs 0..N-1 of one scenario with one seed. EMA evaluates `run_once(scenario, run,
seed)` per experiment, the run index being its one uncertainty, given as explicit points (so
neither side samples); `run_batch` simulates the same runs in chunks and builds its tables and
monthly bands. Each is timed from starting its process pool to having its results in hand (EMA:
its experiments table and outcomes; run_batch: a `BatchResults`), and the per-run outputs are
checked to be the same numbers. The two alternate, `--repeats` times; the ratio of the best times
is printed, with the range of the paired ratios: another process on the machine only ever adds
time, so the best of each is the least disturbed. EMA Workbench is also timed with a model that
returns at once: its own cost per experiment (one task and one result a run through its pool and
its parent process), which a faster model does not reduce, so it says where the ratio goes as
the model gets faster.

EMA Workbench is a dependency of fundsim (`fundsim discover` uses its PRIM), so `make venv`
installs it. EMA Workbench 3.x needs Python 3.12; on 3.11 pip resolves 2.5.x, whose evaluator is
the same.

    python benchmarks/bench_ema.py [--runs 3000] [--repeats 3] [--scenario annual]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from simulator.memory import run_batch
from simulator.model import RUN_OUTPUTS
from simulator.runner import run_once
from simulator.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_ENV = "FUNDSIM_BENCH_SCENARIO"
SEED = 1
_scenario: Scenario | None = None


def ema_model(run: int = 0) -> dict[str, float]:
    """The model as EMA Workbench calls it: keyword uncertainties in, a dict of outcomes out.

    The scenario is read once per worker process (inherited when workers are forked, else from
    the file named in FUNDSIM_BENCH_SCENARIO), as a user would hold it in a module global."""
    global _scenario
    if _scenario is None:
        _scenario = load_scenario(os.environ[SCENARIO_ENV])
    row = run_once(_scenario, run=int(run), seed=SEED)
    return {name: row[name] for name in RUN_OUTPUTS}


def idle_model(run: int = 0) -> dict[str, float]:
    """A model that returns at once: what EMA Workbench costs per experiment by itself."""
    return {name: float(run) for name in RUN_OUTPUTS}


def time_ema(runs: int, workers: int, function=ema_model) -> tuple[float, np.ndarray]:
    """Seconds for EMA Workbench to evaluate runs 0..runs-1, and disruptions_total in run order."""
    import ema_workbench as ema

    point = getattr(ema, "Sample", None) or ema.Scenario  # 3.x calls a point a Sample
    model = ema.Model("fundsim", function=function)
    model.uncertainties = [ema.IntegerParameter("run", 0, runs - 1)]
    model.outcomes = [ema.ScalarOutcome(name) for name in RUN_OUTPUTS]
    points = [point(run=i) for i in range(runs)]
    start = time.perf_counter()
    with ema.MultiprocessingEvaluator(model, n_processes=workers) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=points)
    seconds = time.perf_counter() - start
    order = np.argsort(experiments["run"].to_numpy())
    return seconds, np.asarray(outcomes["disruptions_total"])[order]


def time_run_batch(scenario: Scenario, runs: int, workers: int) -> tuple[float, np.ndarray]:
    """Seconds for run_batch (its own pool) to give a BatchResults of runs 0..runs-1."""
    start = time.perf_counter()
    batch = run_batch(scenario, runs, SEED, workers=workers)
    seconds = time.perf_counter() - start
    return seconds, batch.runs["disruptions_total"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenario", default="annual", help="a file in scenarios/, without .toml")
    args = parser.parse_args()
    # EMA's progress bar (tqdm reads this when imported): output, and a little of EMA's time
    os.environ.setdefault("TQDM_DISABLE", "1")
    with warnings.catch_warnings():  # its optional cluster back-ends announce themselves
        warnings.simplefilter("ignore")
        try:
            import ema_workbench
        except ImportError:
            sys.exit("EMA Workbench is not installed: make venv installs it with fundsim")
    logging.getLogger("EMA").setLevel(logging.WARNING)
    path = ROOT / "scenarios" / f"{args.scenario}.toml"
    os.environ[SCENARIO_ENV] = str(path)
    scenario = load_scenario(path)
    ema_times, batch_times = [], []
    for _ in range(args.repeats):
        ema_seconds, ema_values = time_ema(args.runs, args.workers)
        batch_seconds, batch_values = time_run_batch(scenario, args.runs, args.workers)
        if ema_values.astype(float).tobytes() != batch_values.astype(float).tobytes():
            sys.exit("EMA Workbench and run_batch disagree on disruptions_total: not the same runs")
        ema_times.append(ema_seconds)
        batch_times.append(batch_seconds)
    idle = min(time_ema(args.runs, args.workers, idle_model)[0] for _ in range(args.repeats))
    ema_best, batch_best = min(ema_times), min(batch_times)
    paired = sorted(e / b for e, b in zip(ema_times, batch_times, strict=True))
    print(f"run_batch against EMA Workbench {ema_workbench.__version__} MultiprocessingEvaluator: "
          f"{args.scenario}, {args.runs:,} runs, {args.workers} workers, best of {args.repeats}, "
          f"same per-run outputs")
    print(f"  EMA Workbench {ema_best:6.2f} s  {ema_best / args.runs * 1e6:7.0f} us a run  "
          f"{args.runs / ema_best:7,.0f} runs/s")
    print(f"  run_batch     {batch_best:6.2f} s  {batch_best / args.runs * 1e6:7.0f} us a run  "
          f"{args.runs / batch_best:7,.0f} runs/s")
    print(f"  EMA Workbench with a model that returns at once: {idle:.2f} s, {idle / args.runs * 1e6:.0f} "
          f"us an experiment: its own cost, which a faster model does not reduce")
    verdict = "meets" if ema_best / batch_best >= 2 else "below"
    print(f"  run_batch is {ema_best / batch_best:.2f}x EMA Workbench (paired repetitions "
          f"{paired[0]:.2f}x to {paired[-1]:.2f}x; target >= 2x: {verdict})")


if __name__ == "__main__":
    main()

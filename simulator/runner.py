"""Monte Carlo: simulate runs in chunks, as arrays, in run order.

`run_once(scenario, run=i, seed=s)` is the unit of work; the runner only maps it (through the
compiled scenario, so the layout is built once per worker, not per run). Because every draw is keyed
by (seed, run, what it is about), a batch gives the same numbers bit for bit whatever the number of
workers or the chunk size: chunks are simulated independently and put back in run order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import arguments
from .errors import ModelError
from .model import (
    MONTH_OUTPUTS,
    RUN_OUTPUTS,
    YEAR_OUTPUTS,
    ChunkArrays,
    CompiledScenario,
    compile_scenario,
    simulate,
    simulate_runs,
)
from .scenario import Scenario

ProgressCallback = Callable[[int], None]
"""Called with the number of runs just finished."""

_COMPILED: dict[str, CompiledScenario] = {}


def _compiled(scenario: Scenario) -> CompiledScenario:
    key = scenario.sha256()
    if key not in _COMPILED:
        check_event_budget(scenario)
        if len(_COMPILED) > 32:
            _COMPILED.clear()
        _COMPILED[key] = compile_scenario(scenario)
    return _COMPILED[key]


def check_event_budget(scenario: Scenario) -> None:
    """Refuse a scenario whose runs would schedule more SimPy events than `bounds.EVENT_BUDGET`.

    Validation already applies this bound; the runner applies it again because a `Scenario` can be
    built without validation (`model_construct`), and the runner is the last door before the work.
    """
    from .bounds import event_problems

    problems = event_problems(scenario)
    if problems:
        raise ModelError(f"{scenario.name}: {problems[0].render()}")


def _simulate(cs: CompiledScenario, seed: int, run: int):
    """One run, with any arithmetic failure turned into a plain `ModelError` naming the run."""
    try:
        return simulate(cs, seed, run)
    except (ArithmeticError, ValueError, RecursionError) as exc:
        raise _cannot_compute(cs, seed, run, exc) from None


def _simulate_runs(cs: CompiledScenario, seed: int, start: int, stop: int) -> ChunkArrays:
    """Runs [start, stop) in one call; on an arithmetic failure, the runs one at a time, so the
    error names the first run that fails."""
    try:
        return simulate_runs(cs, seed, start, stop)
    except (ArithmeticError, ValueError, RecursionError):
        for run in range(start, stop):
            _simulate(cs, seed, run)
        raise


def _cannot_compute(cs: CompiledScenario, seed: int, run: int, exc: BaseException) -> ModelError:
    return ModelError(f"{cs.scenario.name}: run {run} (seed {seed}) cannot be computed "
                      f"({type(exc).__name__}: {exc}); the scenario's values are outside what "
                      "the model can compute: check its largest and smallest numbers")


# Outputs that may be NaN: a cost per disruption where there were none is not a number, honestly.
_MAY_BE_NAN = frozenset({"cost_per_disruption_k"})
_EXACT = 2.0**53
_HINTS = {"disruptions": "operations.disruptions_per_fte_year, workforce.initial_fte and the "
                         "capabilities' productivity_uplift",
          "money": "funding.baseline_budget_m, the costs and workforce.cost_per_fte_k"}


def check_outputs(name: str, start: int, names: tuple[str, ...], arr: np.ndarray, what: str) -> None:
    """Refuse a chunk holding a non-finite output (NaN only where it means "none"), or a value too
    large to store exactly (counts are 64-bit integers: a larger float would wrap to
    -9223372036854775808). `arr` has runs first and outputs last."""
    flat = arr.reshape(arr.shape[0], -1, arr.shape[-1])
    bad = ~np.isfinite(flat) | (np.abs(flat) >= _EXACT)
    for j, output in enumerate(names):
        if output in _MAY_BE_NAN:
            bad[:, :, j] &= ~np.isnan(flat[:, :, j])
    if not bad.any():
        return
    i, k, j = (int(x[0]) for x in np.nonzero(bad))
    output = names[j]
    value = flat[i, k, j]
    hint = _HINTS["disruptions" if "disruption" in output or "fte" in output else "money"]
    raise ModelError(f"{name}: run {start + i}: {what} output {output} = {value:g}: outputs must be "
                     f"finite numbers below {_EXACT:.0e} (where counts are exact); the scenario's "
                     f"values overflow what a run can count; check {hint}")


def run_once(scenario: Scenario, run: int, seed: int) -> dict[str, float]:
    """One run: a dict of the per-run outputs (exactly row `run` of a batch with this seed)."""
    scenario = arguments.scenario(scenario)
    run = arguments.whole("run", run, 0)
    seed = arguments.whole("seed", seed, 0)
    out = _simulate(_compiled(scenario), seed, run)
    check_outputs(scenario.name, run, RUN_OUTPUTS,
                  np.array([[out.run[k] for k in RUN_OUTPUTS]], dtype=float), "per-run")
    return {"run": run, **out.run}


@dataclass
class Chunk:
    """The arrays of runs [start, stop): per run, per fiscal year, per month."""

    start: int
    stop: int
    runs: np.ndarray  # (n, len(RUN_OUTPUTS))
    years: np.ndarray  # (n, years, len(YEAR_OUTPUTS))
    months: np.ndarray  # (n, months, len(MONTH_OUTPUTS))


def simulate_chunk(scenario: Scenario, seed: int, start: int, stop: int) -> Chunk:
    """Runs [start, stop) of a batch, as arrays. Pure: the same arguments give the same bits."""
    arrays = _simulate_runs(_compiled(scenario), seed, start, stop)
    runs, years, months = arrays.runs, arrays.years, arrays.months
    check_outputs(scenario.name, start, RUN_OUTPUTS, runs, "per-run")
    check_outputs(scenario.name, start, YEAR_OUTPUTS, years, "per-year")
    check_outputs(scenario.name, start, MONTH_OUTPUTS, months, "monthly")
    return Chunk(start, stop, runs, years, months)


def chunk_bounds(runs: int, chunk_size: int, first: int = 0) -> list[tuple[int, int]]:
    """Consecutive [start, stop) ranges covering runs first..runs-1."""
    return [(s, min(s + chunk_size, runs)) for s in range(first, runs, chunk_size)]


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def default_chunk_size(runs: int, workers: int) -> int:
    return max(1, min(500, -(-runs // (workers * 4))))

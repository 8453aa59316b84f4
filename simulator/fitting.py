"""`fundsim calibrate --fit`: estimate free parameters so a scenario meets its calibration targets.

Method: `scipy.optimize.differential_evolution` on the misfit (`calibration.misfit`) of a batch run
with the same seed at every trial point (common random numbers), within the bounds the user gives.

Why differential evolution: with common random numbers the misfit is a deterministic function of
the parameters, but a piecewise one: a parameter that moves a contract over its threshold or a
recruit into another campaign changes the outputs in steps. Gradient methods see zero gradients on
the flat pieces and Nelder-Mead's simplex stalls on them; differential evolution is derivative-free,
searches the whole box, respects bounds, and is reproducible from its seed. It needs more
evaluations (population x generations), so a fit uses fewer runs per evaluation (`fit_runs`) than
the final check, and the final check re-runs the calibrated scenario with the full count.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from scipy import optimize

from . import calibration
from .errors import ScenarioError, UsageError
from .executors import ChunkExecutor
from .memory import run_batch
from .scenario import Scenario
from .sweep import bind, parse_vary

PENALTY = 1e6
"""Misfit of a trial point that gives an invalid scenario (a combination validation refuses)."""


@dataclass(frozen=True)
class FreeParameter:
    path: str
    low: float
    high: float


def parse_fit(text: str, scenario: Scenario) -> FreeParameter:
    """`PATH=LOW:HIGH` for a number field of the scenario, or a usage error naming the rule."""
    if text.count(":") > 1:
        raise UsageError(f"--fit {text!r}: expected PATH=LOW:HIGH (no steps: the fit chooses the "
                         "points)")
    try:
        vary = parse_vary(text)
        bound = bind(scenario, vary)
    except UsageError as exc:
        raise UsageError(str(exc).replace("--vary", "--fit")) from None
    except ScenarioError as exc:
        raise UsageError(f"--fit {text!r}: " + "; ".join(p.render() for p in exc.problems)) from None
    if vary.low == vary.high:
        raise UsageError(f"--fit {text!r}: LOW and HIGH are equal; give a range to search")
    if bound.integer:
        raise UsageError(f"--fit {vary.path}: a whole-number field cannot be fitted (the search "
                         "moves continuously); set it in the scenario file")
    return FreeParameter(vary.path, vary.low, vary.high)


@dataclass
class FitResult:
    values: dict[str, float]
    misfit: float
    evaluations: int
    generations: int
    history: list[tuple[dict[str, float], float]] = field(default_factory=list)


def fit(scenario: Scenario, targets: calibration.Targets, params: list[FreeParameter], runs: int,
        seed: int, executor: ChunkExecutor, generations: int = 8, population: int = 6,
        progress: Callable[[int, float], None] | None = None) -> FitResult:
    """The parameter values within bounds that minimise the misfit, by differential evolution.
    `progress(evaluations, best misfit)` is called after each evaluation."""
    memo: dict[tuple[float, ...], float] = {}
    history: list[tuple[dict[str, float], float]] = []
    best = [math.inf]

    def misfit(x: np.ndarray) -> float:
        key = tuple(float(v) for v in x)
        if key in memo:
            return memo[key]
        values = {p.path: v for p, v in zip(params, key, strict=True)}
        try:
            trial = scenario.with_changes(values)
        except ScenarioError:
            value = PENALTY
        else:
            batch = run_batch(trial, runs, seed, executor=executor)
            value = calibration.misfit(targets, batch.runs, batch.years)
        memo[key] = value
        history.append((values, value))
        best[0] = min(best[0], value)
        if progress is not None:
            progress(len(history), best[0])
        return value

    result = optimize.differential_evolution(
        misfit, [(p.low, p.high) for p in params], seed=seed, maxiter=generations,
        popsize=population, polish=False, init="sobol", tol=1e-3, updating="immediate")
    values = {p.path: float(v) for p, v in zip(params, result.x, strict=True)}
    return FitResult(values, float(result.fun), len(history), int(result.nit), history)


def write_calibrated(source: Path, scenario: Scenario, values: dict[str, float], out: Path,
                     note: list[str]) -> Path:
    """A scenario file that inherits `source` and sets the fitted values, with how they were found
    as comments. Values are rounded to 4 significant figures: the fit is no more precise than that."""
    data: dict[str, Any] = {"base": os.path.relpath(source.resolve(), out.resolve().parent)}
    data["scenario"] = {"name": f"{scenario.name}-calibrated",
                        "description": f"{scenario.name} with parameters fitted to calibration "
                                       "targets (fundsim calibrate --fit)"}
    for path, value in values.items():
        node = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = float(f"{value:.4g}")
    header = "".join(f"# {line}\n" for line in note)
    out.write_text(header + tomli_w.dumps(data), encoding="utf-8")
    return out

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
from .files import write_atomic
from .memory import run_batch
from .scenario import Scenario, inherited_files
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


WRITTEN_BY = "# Written by fundsim calibrate --fit"
"""How a calibrated scenario file begins: `--force` replaces only a file that begins so."""


def check_out(out: Path, source: Path, force: bool) -> None:
    """Refuse, before any run, an `--out` the fit must not or cannot write: a file of the scenario
    being fitted or of those it inherits (the calibrated file inherits them), a folder or link,
    an existing file without `--force`, and with it any file but a calibrated scenario fundsim
    wrote (a user's own scenario is never replaced), or a path under a file."""
    target = out.resolve()
    if target in {path.resolve() for path in inherited_files(source)}:
        raise UsageError(f"{out}: is {source} or a file it inherits, which the calibrated file "
                         "will inherit in turn; it was left untouched: choose another --out")
    if out.is_symlink() or (out.exists() and not out.is_file()):
        what = "a symbolic link" if out.is_symlink() else "a folder"
        raise UsageError(f"{out}: is {what}, not a scenario file; choose another --out")
    if out.exists():
        if not force:
            raise UsageError(f"{out}: already exists; add --force to replace it, or choose "
                             "another --out")
        if not _is_calibrated_file(out):
            raise UsageError(f"{out}: --force replaces only a calibrated scenario fundsim wrote, "
                             "and this file is not one; it was left untouched: move it, or "
                             "choose another --out")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{out}: {folder} is a file, so no folder can be made under it; choose "
                         "another --out")


def _is_calibrated_file(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(len(WRITTEN_BY.encode()))
    except OSError:
        return False
    return head == WRITTEN_BY.encode()


def write_calibrated(source: Path, scenario: Scenario, values: dict[str, float], out: Path,
                     note: list[str]) -> Path:
    """A scenario file that inherits `source` and sets the fitted values, with how they were found
    as comments after `WRITTEN_BY`. Values are rounded to 4 significant figures:
    the fit is no more precise than that. Written atomically, its folder made if missing."""
    target = out.resolve()
    data: dict[str, Any] = {"base": os.path.relpath(source.resolve(), target.parent)}
    data["scenario"] = {"name": f"{scenario.name}-calibrated",
                        "description": f"{scenario.name} with parameters fitted to calibration "
                                       "targets (fundsim calibrate --fit)"}
    for path, value in values.items():
        node = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = float(f"{value:.4g}")
    header = WRITTEN_BY + "".join(f"\n# {line}" for line in note) + "\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, (header + tomli_w.dumps(data)).encode("utf-8"))
    except OSError as exc:
        fitted = ", ".join(f"{path} = {value:.4g}" for path, value in values.items())
        raise UsageError(f"{out}: cannot write it ({exc.strerror or exc}); the fitted values "
                         f"were {fitted}") from None
    return out

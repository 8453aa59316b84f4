"""What drives the answer: factors (field paths with ranges), the three designs a reviewer asks for,
and their estimators.

* **One at a time (tornado)**: the base point (every factor at the scenario's own value), then each
  factor alone at its low and at its high end. A bar is the change in the metric from the base,
  with a 95% interval from the paired per-run differences (every point runs the same runs with
  the same seed, so the interval holds the factor's effect, not chance).
* **Morris** elementary effects (SALib's trajectories and estimator): mu* (mean absolute effect)
  screens which factors matter; sigma (spread of the effects) says whether a factor acts through
  interactions or curvature. Cheap: (factors + 1) points a trajectory.
* **Sobol** first-order (S1) and total-order (ST) indices with bootstrap 95% intervals (SALib's
  Saltelli/Sobol' sampling and estimator, second order off): the share of the metric's variance
  across the ranges that each factor explains alone, and with its interactions.

Why SALib: its designs and estimators are the field's reference implementations (Herman and Usher
2017, used across environmental and energy modelling), with the bootstrap intervals a reviewer
expects; writing our own Saltelli estimator would be code to defend instead of a citation.

Every design is drawn on the unit cube and mapped to values through each factor's quantile
function: a `low`/`high` range is uniform, a distribution (`triangular`, `pert`, `uniform`, as in
a scenario's `[uncertain]` table) is used as it is. So the indices are with respect to those
distributions, and Morris effects are per whole range (from the 0 to the 1 quantile). The tornado
moves a uniform range to its ends, and a distribution to its 5th and 95th percentiles (a
triangular's ends are near-impossible values, not a plausible low and high).

The metric of a point is the mean over its runs of one per-run output, or with `--against` of the
paired per-run difference SCENARIO minus OTHER (what moves the *gain*). Factors that a scenario
declares uncertain are fixed by the design at each point (the same rule as a sweep); the other
declared uncertain parameters stay drawn per run, identically at every point.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from . import uncertain
from .distributions import Distribution, Uniform
from .errors import UsageError
from .scenario import Scenario

METHODS = ("oat", "morris", "sobol")
MORRIS_LEVELS = 4
TORNADO_QUANTILES = (0.05, 0.95)
"""Where the tornado puts a factor given as a distribution (a `low`/`high` range: its ends)."""
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class Factor:
    """One varied field: its dotted path, the distribution its values come from, and the
    scenario's own value (the tornado's base)."""

    path: str
    dist: Any  # a `Distribution`
    central: float
    given_as_range: bool = True
    own: float | None = None  # the scenario's own value, when the base had to differ from it

    def base_note(self) -> str | None:
        """Says so when the base is not the scenario's own value (which lies outside the range)."""
        if self.own is None or self.own == self.central:
            return None
        return (f"{self.path}: the scenario's own value {self.own:g} is outside the range, so the "
                f"tornado's base puts it at the range's median, {self.central:g}")

    @property
    def label(self) -> str:
        """The last two parts of the path: enough to tell factors apart in a chart."""
        return ".".join(self.path.split(".")[-2:])

    def values(self, unit: np.ndarray) -> np.ndarray:
        """Values at unit-cube coordinates (the distribution's quantiles)."""
        return np.asarray(self.dist.ppf_array(np.asarray(unit, dtype=float)), dtype=float)

    def ends(self) -> tuple[float, float]:
        """The tornado's low and high values."""
        if self.given_as_range:
            return self.dist.support()
        lo, hi = TORNADO_QUANTILES
        return float(self.dist.ppf(lo)), float(self.dist.ppf(hi))


_DIST = TypeAdapter(Distribution)


def _field_value(scenario: Scenario, path: str) -> Any:
    found, value = uncertain.path_value(scenario.to_dict(), path)
    return value if found else None


def factors_from_file(file: str | Path, scenario: Scenario) -> list[Factor]:
    """The factors of a ranges file: a TOML table of field path -> `{ low = L, high = H }` or a
    bounded distribution (`{ dist = "triangular", min = ..., mode = ..., max = ... }`), e.g.

        "organisation.legacy_it_cost_m_per_year" = { low = 20, high = 60 }

    Every entry is checked: a usage error names the file, the entry, the value and the rule."""
    path = Path(file)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise UsageError(f"--ranges {path}: cannot read it ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"--ranges {path}: not valid TOML ({exc})") from None
    if not data:
        raise UsageError(f"--ranges {path}: names no field; give lines such as "
                         '"organisation.legacy_it_cost_m_per_year" = { low = 20, high = 60 }')
    out = []
    for key, entry in data.items():
        where = f"--ranges {path}: {key}"
        if not isinstance(entry, dict):
            raise UsageError(f"{where} = {entry!r}: must be a table {{ low = L, high = H }} or a "
                             "distribution { dist = ..., min = ..., max = ... }")
        if "dist" in entry:
            try:
                dist = _DIST.validate_python(entry)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise UsageError(f"{where} = {entry}: {first['msg']}") from None
            given_as_range = False
        else:
            extra = sorted(set(entry) - {"low", "high"})
            if extra or not {"low", "high"} <= set(entry):
                raise UsageError(f"{where} = {entry}: give exactly low and high (or a dist)")
            lo, hi = entry["low"], entry["high"]
            if any(isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
                   for v in (lo, hi)):
                raise UsageError(f"{where} = {entry}: low and high must be finite numbers")
            if not lo < hi:
                raise UsageError(f"{where}: low = {lo} must be below high = {hi}")
            dist = Uniform(dist="uniform", min=float(lo), max=float(hi))
            given_as_range = True
        out.append(Factor(str(key), dist, _base_in(dist, _central(scenario, str(key))),
                          given_as_range, _central(scenario, str(key))))
    return out


def _base_in(dist: Any, own: float) -> float:
    """The tornado's base for a factor: the scenario's own value when it lies in the range,
    else the range's median (a base outside the range would measure both bars from a point the
    reviewer excluded)."""
    lo, hi = dist.support()
    return own if lo <= own <= hi else float(dist.ppf(0.5))


def _central(scenario: Scenario, path: str) -> float:
    value = _field_value(scenario, path)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def declared_factors(scenario: Scenario) -> list[Factor]:
    """The scenario's own `[uncertain]` parameters, as factors (the default ranges)."""
    return [Factor(p, d, _central(scenario, p), given_as_range=False)
            for p, d in scenario.uncertain.items()]


def check_factors(factors: Sequence[Factor], scenarios: Sequence[tuple[str, Scenario]],
                  source: str) -> None:
    """Every factor must be a number field that can vary without re-planning the run (the rules of
    `[uncertain]`), and each scenario must be valid at every range end, alone and together: so
    every point of every design is a valid scenario without validating thousands of them."""
    if not factors:
        raise UsageError(f"{source}: no factors to vary; give --ranges FILE or declare "
                         "[uncertain] parameters in the scenario")
    paths = [f.path for f in factors]
    dupes = sorted({p for p in paths if paths.count(p) > 1})
    if dupes:
        raise UsageError(f"{source}: {dupes[0]} is given twice; vary each field once")
    for name, scenario in scenarios:
        probe = scenario.model_copy(update={"uncertain": {f.path: f.dist for f in factors}})
        found = uncertain.problems(probe)
        if found:
            first = found[0]
            rule = first.render().replace('uncertain."', '"').replace("a run could draw",
                                                                       "the range reaches")
            raise UsageError(f"{source}: {name}: {rule} (nothing was run)")


def fixed_base(scenario: Scenario, factors: Sequence[Factor]) -> Scenario:
    """The scenario with every factor fixed at its own value (no longer drawn per run)."""
    return scenario.with_changes({f.path: f.central for f in factors})


# --------------------------------------------------------------------------- designs


def problem_spec(factors: Sequence[Factor]) -> dict[str, Any]:
    """SALib's problem on the unit cube (values come from each factor's quantiles)."""
    return {"num_vars": len(factors), "names": [f.path for f in factors],
            "bounds": [[0.0, 1.0]] * len(factors)}


def _unit_of(factor: Factor, value: float) -> float:
    """Where a value sits on the factor's probability scale, as Morris and Sobol record their
    points (the tornado's rows of the design): the u whose quantile is the value, found by
    bisection on the quantile function (monotone; 60 halvings reach a double's resolution)."""
    lo, hi = factor.dist.support()
    if not hi > lo:
        return 0.5
    if value <= lo:
        return 0.0
    if value >= hi:
        return 1.0
    below, above = 0.0, 1.0
    for _ in range(60):
        middle = 0.5 * (below + above)
        if float(factor.dist.ppf(middle)) < value:
            below = middle
        else:
            above = middle
    return 0.5 * (below + above)


@dataclass(frozen=True)
class Design:
    """The points to run: `values[p, k]` is factor k at point p; `unit` the same on the unit
    cube (what SALib's estimators read)."""

    method: str
    factors: tuple[Factor, ...]
    samples: int
    unit: np.ndarray
    values: np.ndarray

    @property
    def points(self) -> int:
        return int(self.values.shape[0])


def default_samples(method: str) -> int:
    """Morris trajectories, or Sobol's base sample N (a power of 2); one-at-a-time has none."""
    return {"oat": 0, "morris": 10, "sobol": 64}[method]


def make_design(method: str, factors: Sequence[Factor], samples: int, seed: int) -> Design:
    """The design's points in a fixed order (the same method, factors, samples and seed give the
    same points)."""
    factors = tuple(factors)
    d = len(factors)
    if method == "oat":
        rows = [[f.central for f in factors]]
        for k, f in enumerate(factors):
            for end in f.ends():
                row = [g.central for g in factors]
                row[k] = end
                rows.append(row)
        values = np.array(rows, dtype=float)
        unit = np.array([[_unit_of(f, v) for f, v in zip(factors, row, strict=True)]
                         for row in values])
        return Design(method, factors, 0, unit, values)
    spec = problem_spec(factors)
    if method == "morris":
        from SALib.sample import morris

        unit = morris.sample(spec, samples, num_levels=MORRIS_LEVELS, seed=seed)
    elif method == "sobol":
        from SALib.sample import sobol

        unit = sobol.sample(spec, samples, calc_second_order=False, scramble=True, seed=seed)
    else:
        raise UsageError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    unit = np.asarray(unit, dtype=float)
    values = np.column_stack([f.values(unit[:, k]) for k, f in enumerate(factors)]) if d else unit
    return Design(method, factors, samples, unit, values)


def check_samples(method: str, samples: int) -> None:
    if method == "sobol" and (samples < 2 or samples & (samples - 1)):
        raise UsageError(f"--samples {samples}: Sobol sampling needs a power of 2 (e.g. 64, 128, "
                         "256): Saltelli's scheme keeps its balance properties only then")
    if method == "morris" and samples < 2:
        raise UsageError(f"--samples {samples}: Morris needs at least 2 trajectories (10-50 is usual)")


def cost_points(method: str, factors: int, samples: int) -> int:
    """How many points a design has (before running anything)."""
    return {"oat": 1 + 2 * factors, "morris": samples * (factors + 1),
            "sobol": samples * (factors + 2)}[method]


# --------------------------------------------------------------------------- estimators


def _mean_ci(x: np.ndarray) -> tuple[float, float, float]:
    from .analysis import mean_ci

    return mean_ci(np.asarray(x, dtype=float))


def tornado(design: Design, per_run: np.ndarray) -> list[dict[str, Any]]:
    """Each factor's bar: the metric at its low and high end minus the base point, with paired 95%
    intervals over runs. `per_run[p, i]` is the metric of run i at point p. Sorted widest first."""
    base = per_run[0]
    _, base_low, base_high = _mean_ci(base)
    rows = []
    for k, f in enumerate(design.factors):
        low_v, high_v = design.values[1 + 2 * k, k], design.values[2 + 2 * k, k]
        low = _mean_ci(per_run[1 + 2 * k] - base)
        high = _mean_ci(per_run[2 + 2 * k] - base)
        rows.append({"factor": f.path, "label": f.label, "central": f.central,
                     "low_value": float(low_v), "high_value": float(high_v),
                     "base": float(np.mean(base)), "base_ci_low": base_low, "base_ci_high": base_high,
                     "low_effect": low[0], "low_ci_low": low[1], "low_ci_high": low[2],
                     "high_effect": high[0], "high_ci_low": high[1], "high_ci_high": high[2],
                     "swing": abs(high[0] - low[0])})
    return sorted(rows, key=lambda r: -r["swing"])


def morris_indices(design: Design, y: np.ndarray, seed: int) -> list[dict[str, Any]]:
    """SALib's Morris estimator: mu, mu*, its bootstrap 95% interval, and sigma, per factor."""
    from SALib.analyze import morris

    got = morris.analyze(problem_spec(design.factors), design.unit, np.asarray(y, dtype=float),
                         num_resamples=BOOTSTRAP_RESAMPLES, conf_level=0.95,
                         num_levels=MORRIS_LEVELS, seed=seed)
    rows = [{"factor": f.path, "label": f.label, "mu": float(got["mu"][k]),
             "mu_star": float(got["mu_star"][k]), "mu_star_conf": float(got["mu_star_conf"][k]),
             "sigma": float(got["sigma"][k])} for k, f in enumerate(design.factors)]
    return sorted(rows, key=lambda r: -r["mu_star"])


def sobol_indices(design: Design, y: np.ndarray, seed: int) -> list[dict[str, Any]]:
    """SALib's Sobol estimator (Saltelli 2010 / Jansen): S1 and ST with bootstrap 95% intervals."""
    from SALib.analyze import sobol

    values = np.asarray(y, dtype=float)
    if float(np.var(values)) == 0.0:
        raise UsageError("the metric is the same at every point of the design, so no factor "
                         "explains any of its variance (Sobol indices are undefined); widen the "
                         "ranges or choose another --metric")
    got = sobol.analyze(problem_spec(design.factors), values, calc_second_order=False,
                        num_resamples=BOOTSTRAP_RESAMPLES, conf_level=0.95, seed=seed)
    rows = [{"factor": f.path, "label": f.label, "S1": float(got["S1"][k]),
             "S1_conf": float(got["S1_conf"][k]), "ST": float(got["ST"][k]),
             "ST_conf": float(got["ST_conf"][k])} for k, f in enumerate(design.factors)]
    return sorted(rows, key=lambda r: -r["ST"])


def indices(design: Design, per_run: np.ndarray, seed: int) -> list[dict[str, Any]]:
    """The method's table, one row per factor, most influential first."""
    if design.method == "oat":
        return tornado(design, per_run)
    y = per_run.mean(axis=1)
    if design.method == "morris":
        return morris_indices(design, y, seed)
    return sobol_indices(design, y, seed)

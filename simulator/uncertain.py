"""Uncertain parameters: numbers we are unsure of, drawn once per run.

A scenario's `[uncertain]` table maps a field path to a bounded distribution:

    [uncertain]
    "organisation.legacy_it_cost_m_per_year" = { dist = "triangular", min = 20, mode = 40, max = 60 }

Every run draws each declared field once, from its own keyed uniform (`uncertain/<path>`, see
`rng.py`), and simulates with those values. So one batch spans plausible parameter sets, and two
scenarios that declare the same field draw the same value in run i: paired comparisons stay paired
and their differences carry the policy's effect *across* what we do not know.

Why only number fields, and only bounded distributions: a drawn value is applied without running
validation again (that would cost more than the run), so every value it can take is checked once,
when the scenario is loaded: the field at the distribution's minimum and maximum, alone and all
together, must validate. A lognormal has no maximum to check. Counts and switches (horizon,
settlement length, tranches, recruitment interval) shape the run's calendar and its catalogue of
draws, and stream shares must sum to one, so they cannot be drawn per run.

The field's own value in the file stays its central value (what the documentation cites); it is
not used by runs while the field is declared uncertain. A scenario that sets a field its base
declared uncertain fixes it (see `scenario.load_scenario`), and so does a sweep or a dashboard
edit of it (`Scenario.with_changes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import Problem, ScenarioError, problem

if TYPE_CHECKING:
    from .scenario import Scenario

BOUNDED_KINDS = ("uniform", "triangular", "pert")
STRUCTURAL_FIELDS = {"recruitment_interval_months"}
"""Number fields that set how many events and draws a run has, so cannot vary between runs."""


def path_value(data: dict[str, Any], path: str | list[str]) -> tuple[bool, Any]:
    """(found, value) of a dotted field path in scenario data, or of the path's parts (where a
    part holds dots itself, as an `[uncertain]` entry's key does)."""
    node: Any = data
    for part in path.split(".") if isinstance(path, str) else path:
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def problems(scenario: Scenario) -> list[Problem]:
    """Everything wrong with a scenario's `[uncertain]` table, each naming the entry and its rule."""
    if not scenario.uncertain:
        return []
    data = scenario.to_dict()
    out: list[Problem] = []
    for path, dist in scenario.uncertain.items():
        where = f'uncertain."{path}"'
        found, value = path_value(data, path)
        if not found:
            out.append(problem(where, "names no field of the scenario (a dotted path such as "
                                      "organisation.legacy_it_cost_m_per_year)"))
            continue
        if isinstance(value, bool) or not isinstance(value, float):
            out.append(problem(where, "must name a number field: counts, switches, text and "
                                      "distributions cannot be drawn per run", value))
            continue
        leaf = path.split(".")[-1]
        if leaf in STRUCTURAL_FIELDS:
            out.append(problem(where, f"{leaf} sets how many events a run has, so it cannot "
                                      "vary between runs"))
            continue
        if path.startswith("funding.streams.") and leaf == "share":
            out.append(problem(where, "stream shares must sum to 1, so one cannot be drawn alone; "
                                      "declare funding.baseline_budget_m or a stream's "
                                      "capital_share uncertain instead"))
            continue
        if dist.dist not in BOUNDED_KINDS:
            allowed = ", ".join(f'"{k}"' for k in BOUNDED_KINDS)
            out.append(problem(where + ".dist", f"must be one of {allowed}: every value a run can "
                                                "draw is checked when the scenario is loaded, so "
                                                "the distribution needs a minimum and a maximum",
                               dist.dist))
    if out:
        return out
    return _range_problems(scenario)


def _range_problems(scenario: Scenario) -> list[Problem]:
    """Each field at its distribution's minimum and maximum, alone and all together, must give a
    valid scenario; report the first rule broken at each."""
    out: list[Problem] = []
    supports = {path: dist.support() for path, dist in scenario.uncertain.items()}
    trials: list[tuple[str, dict[str, float]]] = []
    for path, (lo, hi) in supports.items():
        trials += [(f'uncertain."{path}"', {path: lo}), (f'uncertain."{path}"', {path: hi})]
    if len(supports) > 1:
        trials += [("uncertain (every minimum together)", {p: s[0] for p, s in supports.items()}),
                   ("uncertain (every maximum together)", {p: s[1] for p, s in supports.items()})]
    seen: set[str] = set()
    for where, values in trials:
        try:
            scenario.with_values(values, validate=True)
        except ScenarioError as exc:
            if where in seen:
                continue
            seen.add(where)
            shown = ", ".join(f"{p} = {v:g}" for p, v in values.items())
            rules = "; ".join(p.render() for p in exc.problems)
            out.append(problem(where, f"a run could draw {shown}, which breaks: {rules}"))
    return out


def draw(scenario: Scenario, uniforms: np.ndarray) -> dict[str, float]:
    """The values of one run, from its uniforms for `uncertain/<path>` in declaration order."""
    return {path: float(dist.ppf(float(u)))
            for (path, dist), u in zip(scenario.uncertain.items(), uniforms, strict=True)}


def draw_names(scenario: Scenario) -> list[str]:
    """The names of the per-run draws, one per uncertain field (its path)."""
    return list(scenario.uncertain)


def values_table(scenario: Scenario, seed: int, runs: int) -> dict[str, np.ndarray]:
    """Every run's drawn values, per field path: the same numbers the runs used (each is a pure
    function of seed, run and path), for reports, sensitivity and scenario discovery."""
    from .rng import DrawCatalogue

    catalogue = DrawCatalogue()
    catalogue.add("uncertain", draw_names(scenario))
    rows = [draw(scenario, catalogue.uniforms(seed, run)) for run in range(runs)]
    return {path: np.array([row[path] for row in rows]) for path in scenario.uncertain}


def describe(scenario: Scenario) -> str:
    """One sentence saying which parameters are drawn per run, or '' when none are."""
    if not scenario.uncertain:
        return ""
    parts = [f"{path} ({_describe_dist(dist)})" for path, dist in scenario.uncertain.items()]
    return (f"{scenario.name} draws {len(parts)} uncertain parameter"
            f"{'s' if len(parts) != 1 else ''} once per run, so the runs' spread includes what we "
            f"do not know about them: {'; '.join(parts)}.")


def _describe_dist(dist: Any) -> str:
    if dist.dist == "uniform":
        return f"uniform {dist.min:g} to {dist.max:g}"
    if dist.dist in ("triangular", "pert"):
        return f"{dist.dist} {dist.min:g} to {dist.max:g}, most likely {dist.mode:g}"
    return dist.dist

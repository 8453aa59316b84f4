"""A chunk of runs in one call: every run's draws made at once, each run simulated, and the chunk's
outputs assembled at once.

Why a chunk and not a run at a time: a run's own numpy work (its uniforms, the quantiles of its
lead times and delays, two Poisson inversions of 72 months, two dozen small output arrays) costs
about as much as its event loop once the loop is compiled, and nearly all of it is per call rather
than per element. Done for a chunk, each is one array operation. Every value is computed element by
element with the same IEEE operations as one run alone (the distributions' `ppf_array`, the Poisson
quantile, the sums over years), so a run's outputs do not depend on the chunk it is in:
tests/test_reference_outputs.py holds the model to the bits it gave before chunks existed.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from .. import native
from ..distributions import poisson_ppf
from .compiled import CompiledScenario
from .counts import certified_counts
from .records import MONTH_OUTPUTS, RUN_OUTPUTS, YEAR_OUTPUTS, RunDraws, RunOutput
from .run import Run


@dataclass
class ChunkArrays:
    """Outputs of runs [start, stop): per run, per fiscal year, per month (outputs last)."""

    runs: np.ndarray  # (n, len(RUN_OUTPUTS))
    years: np.ndarray  # (n, years, len(YEAR_OUTPUTS))
    months: np.ndarray  # (n, months, len(MONTH_OUTPUTS))


def draw_values(cs: CompiledScenario, u: np.ndarray) -> list[RunDraws]:
    """Each run's draws as values, for runs that share `cs` (one row of uniforms a run)."""
    sc = cs.scenario
    draws = cs.draws
    amounts, delays, tranches = [], [], []
    for c in cs.streams:
        sigma = c.spec.amount_volatility
        z = special.ndtri(u[:, draws.slice(f"amount/{c.name}")])
        factor = np.exp(sigma * z - 0.5 * sigma * sigma)
        amounts.append((c.expected_m * factor).tolist())
        delays.append(c.spec.confirmation_delay_months.ppf_array(
            u[:, draws.slice(f"delay/{c.name}")]).tolist())
        tranches.append(u[:, draws.slice(f"tranche/{c.name}")].tolist() if c.tranche_stream
                        else [[] for _ in range(len(u))])
    leads, outturns, margins = [], [], []
    margin_scale = 2.0 * sc.organisation.contract_margin
    for p in cs.projects:
        spec = p.spec
        leads.append(spec.lead_time_months.ppf_array(u[:, draws.slice(f"lead/{p.name}")][:, 0]))
        growth = spec.cost_growth_factor.ppf_array(u[:, draws.slice(f"growth/{p.name}")][:, 0])
        outturns.append(spec.capex_m * growth)
        margins.append(margin_scale * u[:, draws.slice(f"margin/{p.name}")][:, 0])
    lead = sc.workforce.recruitment_lead_months
    recruit = lead.ppf_array(u[:, draws.slice("recruit")]).tolist()
    thaw = lead.ppf_array(u[:, draws.slice("thaw")]).tolist()
    news = lead.ppf_array(u[:, draws.slice("news")]).tolist()
    by_project = [np.column_stack(x).tolist() if cs.projects else [[] for _ in range(len(u))]
                  for x in (leads, outturns, margins)]
    return [RunDraws([a[i] for a in amounts], [d[i] for d in delays], [t[i] for t in tranches],
                     by_project[0][i], by_project[1][i], by_project[2][i],
                     recruit[i], thaw[i], news[i])
            for i in range(len(u))]


def _draws_from(cs: CompiledScenario) -> tuple[object, ...]:
    """Everything `draw_values` reads besides the uniforms: equal tuples, equal draws."""
    sc = cs.scenario
    return (tuple((c.name, c.spec.amount_volatility, c.spec.confirmation_delay_months,
                   c.tranche_stream, c.expected_m.tobytes()) for c in cs.streams),
            tuple((p.name, p.spec.lead_time_months, p.spec.cost_growth_factor, p.spec.capex_m)
                  for p in cs.projects),
            sc.organisation.contract_margin, sc.workforce.recruitment_lead_months)


def simulate_runs(compiled: CompiledScenario, seed: int, start: int, stop: int) -> ChunkArrays:
    """Runs [start, stop) of a compiled scenario: a pure function of (scenario, seed, runs)."""
    u = compiled.draws.uniforms_many(seed, start, stop)
    n = stop - start
    # Runs are released once read (`Run.release` breaks their reference cycles), so reference
    # counting frees a run, its drawn scenario and its arrays, and the cyclic garbage collector
    # has nothing to find; left on, it walks every live object of the process every few runs
    # (a quarter of a compiled run's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        draws = draw_values(compiled, u)
        layouts = compiled.for_runs(u)
        if compiled.scenario.uncertain:
            # Where a run's drawn parameters change what its draws are made from (a stream's
            # amounts or delays, a lead time, a cost), its draws are made again.
            shared = _draws_from(compiled)
            for i, layout in enumerate(layouts):
                if _draws_from(layout) != shared:
                    draws[i] = draw_values(layout, u[i:i + 1])[0]
        runs = [Run(layouts[i], draws[i]).run() for i in range(n)]
        arrays = _assemble(compiled, u, runs)
        for run in runs:
            run.release()
        return arrays
    finally:
        if collecting:
            gc.enable()


def _assemble(cs: CompiledScenario, u: np.ndarray, runs: list[Run]) -> ChunkArrays:
    """The chunk's output arrays from what its runs recorded."""
    n, years, months = len(runs), cs.years, cs.months
    draws = cs.draws
    # Every run's records in two flat lists, each turned into an array at once: a float in a list
    # costs numpy the same to read wherever it is, but one conversion spares a row's call and
    # shape discovery per run (the same float64 values as an array built a row at a time).
    expected: list[float] = []
    values: list[float] = []
    for r in runs:
        r.record_into(expected, values)
    year_width = len(YEAR_OUTPUTS) * years
    width = year_width + 4 * months  # the four month-end series `record_into` appends
    table = np.fromiter(values, dtype=float, count=n * width).reshape(n, width)
    uniforms = np.concatenate([u[:, draws.slice("disrupt/priority")],
                               u[:, draws.slice("disrupt/other")]], axis=1)
    counts = _poisson_counts(uniforms, expected)
    priority, other = counts[:, :months], counts[:, months:]
    monthly = priority + other

    # (n, outputs, years), then outputs last.
    y = table[:, :year_width].reshape(n, len(YEAR_OUTPUTS), years)
    col = {name: j for j, name in enumerate(YEAR_OUTPUTS)}
    y[:, col["priority_disruptions"]] = priority.reshape(n, years, 12).sum(axis=2)
    y[:, col["non_priority_disruptions"]] = other.reshape(n, years, 12).sum(axis=2)
    total_y = y[:, col["priority_disruptions"]] + y[:, col["non_priority_disruptions"]]
    y[:, col["disruptions_total"]] = total_y
    spent_y = y[:, col["spent_m"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        y[:, col["cost_per_disruption_k"]] = np.where(total_y > 0, spent_y * 1000.0 / total_y, np.nan)
    sums = y.sum(axis=2)  # (n, outputs): each output summed over the years

    total = monthly.sum(axis=1)
    spent = sums[:, col["spent_m"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = np.where(total > 0, spent * 1000.0 / total, math.nan)
    by_name = {
        "disruptions_total": total,
        "priority_disruptions": priority.sum(axis=1),
        "non_priority_disruptions": other.sum(axis=1),
        "lapsed_funds_m": sums[:, col["lapsed_funds_m"]],
        "capability_spend_m": sums[:, col["capability_spend_m"]],
        "overrun_cost_m": sums[:, col["overrun_cost_m"]],
        "projects_delivered": [float(r.portfolio.delivered_count) for r in runs],
        "project_pauses": [float(r.portfolio.pause_count) for r in runs],
        "mean_fte": y[:, col["mean_fte"]].mean(axis=1),
        "final_productivity": [r.operations.productivity for r in runs],
        "cost_per_disruption_k": cost,
        "mean_temporary_fte": y[:, col["mean_temporary_fte"]].mean(axis=1),
        "temporary_spend_m": sums[:, col["temporary_spend_m"]],
        "overhead_m": sums[:, col["overhead_m"]],
        "emergency_cover_m": sums[:, col["emergency_cover_m"]],
        "received_m": sums[:, col["received_m"]],
        "spent_m": spent,
        "interim_months": [r.ledger.interim_months for r in runs],
    }
    run_arr = np.column_stack([np.asarray(by_name[k], dtype=float) for k in RUN_OUTPUTS])

    m = np.empty((n, months, len(MONTH_OUTPUTS)))
    recorded = table[:, year_width:].reshape(n, 4, months)
    m[:, :, :4] = recorded.transpose(0, 2, 1)
    m[:, :, 4] = monthly
    m[:, :, 5] = np.cumsum(monthly, axis=1)
    return ChunkArrays(run_arr, np.ascontiguousarray(y.transpose(0, 2, 1)), m)


def _poisson_counts(u: np.ndarray, mean: list[float]) -> np.ndarray:
    """`poisson_ppf(u, mean)`, bit for bit, for uniforms `u` (runs x values) and their means, run
    after run in the same order: compiled, most counts by summing probabilities (`counts.py` says
    why that is the same count), the rest by `poisson_ppf`."""
    if not native.status().used:
        return poisson_ppf(u, np.array(mean).reshape(u.shape))
    flat_u = u.ravel()
    counts, undecided = certified_counts(flat_u.tolist(), mean)
    k = np.array(counts)
    if undecided:
        at = np.array(undecided)
        k[at] = poisson_ppf(flat_u[at], np.array(mean)[at])
    return k.reshape(u.shape)


def simulate(compiled: CompiledScenario, seed: int, run: int) -> RunOutput:
    """One run of a compiled scenario: a pure function of (scenario, seed, run), the same bits
    as that run's row of any chunk."""
    arrays = simulate_runs(compiled, seed, run, run + 1)
    return RunOutput(
        {k: float(arrays.runs[0, j]) for j, k in enumerate(RUN_OUTPUTS)},
        {k: np.ascontiguousarray(arrays.years[0, :, j]) for j, k in enumerate(YEAR_OUTPUTS)},
        {k: np.ascontiguousarray(arrays.months[0, :, j]) for j, k in enumerate(MONTH_OUTPUTS)})


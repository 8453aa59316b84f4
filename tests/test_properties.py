"""Every lever a planner can move, moved with paired runs: the direction a planner expects.

Each check runs the same seed and run indices through two scenarios that differ in one lever, so
run i of each shares its random numbers (common random numbers) and the paired difference is the
lever's effect. "Never worse" is tested as "not worse beyond 3 standard errors of the paired mean";
"better" as "the whole 3-SE interval above zero". The rows of the issue's table (issue 8) are here
by name, with the number the old model gave in their docstrings.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from simulator.model import RUN_OUTPUTS, YEAR_OUTPUTS
from simulator.runner import simulate_chunk
from simulator.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = load_scenario(ROOT / "scenarios" / "annual.toml")
THREE_YEAR = load_scenario(ROOT / "scenarios" / "three_year.toml")
RUNS = 300
SEED = 1
Z = 3.0
COLUMN = {name: i for i, name in enumerate(RUN_OUTPUTS)}


_SIMULATED: dict[tuple[str, int], np.ndarray] = {}


def _outputs(scenario: Scenario, runs: int = RUNS) -> np.ndarray:
    """Per-run outputs, simulated once per (scenario, runs): several checks pair the same scenario."""
    key = (scenario.sha256(), runs)
    if key not in _SIMULATED:
        _SIMULATED[key] = simulate_chunk(scenario, SEED, 0, runs).runs
    return _SIMULATED[key]


def paired(before: Scenario, after: Scenario, metric: str, runs: int = RUNS) -> tuple[float, float]:
    """Mean and standard error of after - before, run by run."""
    diff = _outputs(after, runs)[:, COLUMN[metric]] - _outputs(before, runs)[:, COLUMN[metric]]
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(runs))


def assert_not_lower(before: Scenario, after: Scenario, metric: str = "disruptions_total") -> None:
    mean, se = paired(before, after, metric)
    assert mean >= -Z * se, f"{metric} fell by {-mean:.1f} (SE {se:.1f})"


def assert_higher(before: Scenario, after: Scenario, metric: str = "disruptions_total") -> None:
    mean, se = paired(before, after, metric)
    assert mean - Z * se > 0, f"{metric} changed by {mean:+.1f} (SE {se:.1f}), expected a rise"


def assert_lower(before: Scenario, after: Scenario, metric: str) -> None:
    mean, se = paired(before, after, metric)
    assert mean + Z * se < 0, f"{metric} changed by {mean:+.1f} (SE {se:.1f}), expected a fall"


def carry(scenario: Scenario, extra: float, streams: tuple[str, ...] | None = None) -> Scenario:
    changes = {}
    for name, stream in scenario.funding.streams.items():
        if streams is None or name in streams:
            prefix = f"funding.streams.{name}."
            changes[prefix + "carry_over_within_settlement"] = min(
                1.0, stream.carry_over_within_settlement + extra)
            changes[prefix + "carry_over_across_settlements"] = min(
                1.0, stream.carry_over_across_settlements + extra)
    return scenario.with_changes(changes)


def scaled_leads(scenario: Scenario, factor: float) -> Scenario:
    changes = {}
    for name, capability in scenario.capabilities.items():
        dist = capability.lead_time_months.model_dump()
        for key in ("min", "mode", "max", "value", "median"):
            if key in dist:
                dist[key] *= factor
        changes[f"capabilities.{name}.lead_time_months"] = dist
    return scenario.with_changes(changes)


def fixed_core_delay(scenario: Scenario, months: float) -> Scenario:
    return scenario.with_changes(
        {"funding.streams.core.confirmation_delay_months": {"dist": "fixed", "value": months}})


# ------------------------------------------------------------------ the table


def test_more_carry_over_on_every_stream_gives_more_output_annual():
    """Old model: -249 disruptions."""
    assert_higher(ANNUAL, carry(ANNUAL, 0.5))


def test_more_carry_over_on_every_stream_gives_less_lapse_and_more_output_three_year():
    """Old model: lapsed +£23.5m, disruptions -186."""
    assert_lower(THREE_YEAR, carry(THREE_YEAR, 0.5), "lapsed_funds_m")
    assert_higher(THREE_YEAR, carry(THREE_YEAR, 0.5))


def test_external_carry_over_lowers_lapse_without_emergency_cover():
    """Old model: lapsed +£181m, emergency cover +£326m."""
    after = carry(ANNUAL, 0.5, ("external",))
    assert_lower(ANNUAL, after, "lapsed_funds_m")
    assert np.all(_outputs(after)[:, COLUMN["emergency_cover_m"]] == 0.0)


def test_core_carry_over_gives_more_output():
    """Old model: -58 disruptions, £54m unspent at the end."""
    assert_higher(ANNUAL, carry(ANNUAL, 0.5, ("core",)))


def test_shorter_lead_times_give_more_output_three_year():
    """Old model: -181 disruptions, IT delivered in 25% of runs instead of 78%."""
    assert_higher(THREE_YEAR, scaled_leads(THREE_YEAR, 0.75))


def test_shorter_lead_times_never_lower_output_annual():
    assert_not_lower(ANNUAL, scaled_leads(ANNUAL, 0.75))


def test_a_cheaper_it_project_never_lowers_output():
    """Old model: IT capex £120m -> £40m, -235 disruptions."""
    assert_not_lower(ANNUAL, ANNUAL.with_changes({"capabilities.it_modernisation.capex_m": 40.0}))


def test_later_confirmation_in_the_late_window_never_raises_output():
    """Old model: fixed delay 8.5 -> 9.0 gave +556 (uncapped year-end buying)."""
    assert_not_lower(fixed_core_delay(ANNUAL, 9.0), fixed_core_delay(ANNUAL, 8.5))


def test_half_a_month_of_delay_moves_output_by_a_small_smooth_amount():
    """Old model: 9.0 -> 9.5 gave -833 (no campaign all year). Every half-month step of a fixed
    core delay from -1 to 11 months moves mean output by under 1.5% (the old cliffs were 4-6%),
    and later confirmation is never better beyond noise."""
    runs = 100
    levels = np.arange(-1.0, 11.01, 0.5)
    outputs = [_outputs(fixed_core_delay(ANNUAL, float(d)), runs)[:, COLUMN["disruptions_total"]]
               for d in levels]
    for before, after in pairwise(outputs):
        diff = after - before
        se = diff.std(ddof=1) / np.sqrt(runs)
        assert abs(diff.mean()) < 0.015 * before.mean(), (diff.mean(), before.mean())
        assert diff.mean() <= Z * se


def test_a_small_change_of_contract_cover_never_flips_outcomes():
    """Old model: 0.35 -> 0.40 gave +430 and IT delivered in 59% -> 10% of runs. The board counts
    (1 - cover) x (1 - haircut) of unconfirmed money, the haircut uniform on [0, 2 x margin], so
    a project's threshold cover is spread over a band (1 - cover) x 2 x margin wide: a 0.05 step
    flips at most 0.05 / ((1 - cover) x 2 x margin) of the runs for any one project. Up to the
    cover where that share reaches a quarter, every step moves mean output by under 1.5% and
    deliveries by under 0.25 projects; beyond it (the last steps towards counting nothing
    unconfirmed) output and deliveries fall steeply but never rise (docs/model.md, Known issues)."""
    runs = 100
    steps = np.arange(0.0, 1.001, 0.05)
    out = [_outputs(ANNUAL.with_changes({"organisation.contract_cover": float(c)}), runs)
           for c in steps]
    margin = ANNUAL.organisation.contract_margin
    smooth_up_to = 1.0 - 0.05 / (0.25 * 2.0 * margin)
    for cover, (before, after) in zip(steps, pairwise(out), strict=False):
        total = before[:, COLUMN["disruptions_total"]]
        diff = after[:, COLUMN["disruptions_total"]] - total
        delivered = (after[:, COLUMN["projects_delivered"]]
                     - before[:, COLUMN["projects_delivered"]])
        if cover + 0.05 <= smooth_up_to + 1e-9:
            assert abs(diff.mean()) < 0.015 * total.mean(), cover
            assert abs(delivered.mean()) < 0.25, cover
        assert diff.mean() <= Z * diff.std(ddof=1) / np.sqrt(runs), cover
        assert delivered.mean() <= Z * delivered.std(ddof=1) / np.sqrt(runs) + 1e-12, cover


def test_interim_fraction_does_what_the_model_page_says():
    """Old model: no effect at all. Now the interim allowance pays projects' capital before
    confirmation, so more of it keeps projects moving: never less output, fewer months paused."""
    low = ANNUAL.with_changes({"organisation.interim_fraction": 0.0})
    high = ANNUAL.with_changes({"organisation.interim_fraction": 0.9})
    assert_higher(low, high)
    assert_lower(low, high, "project_pauses")


# ------------------------------------------------------------------ every other lever


@pytest.mark.parametrize("scenario", [ANNUAL, THREE_YEAR], ids=["annual", "three_year"])
def test_more_money_never_lowers_output(scenario):
    assert_higher(scenario, scenario.with_changes({"funding.baseline_budget_m": 750.0}))


def test_earlier_confirmation_never_lowers_output():
    assert_not_lower(fixed_core_delay(ANNUAL, 4.0), fixed_core_delay(ANNUAL, 1.0))
    assert_higher(THREE_YEAR, load_scenario(ROOT / "scenarios" / "three_year_early.toml"))


def test_less_uncertain_money_never_lowers_output():
    assert_not_lower(ANNUAL, ANNUAL.with_changes({"funding.streams.core.amount_volatility": 0.0}))


def test_a_longer_settlement_never_lowers_output():
    assert_higher(ANNUAL, THREE_YEAR)
    five = ANNUAL.with_changes({"funding.streams.core.settlement_years": 5})
    assert_not_lower(ANNUAL, five)


def test_lower_overheads_never_lower_output():
    assert_higher(ANNUAL, ANNUAL.with_changes({"organisation.fixed_costs_m_per_year": 130.0}))
    assert_not_lower(ANNUAL, ANNUAL.with_changes({"funding.streams.external.bid_overhead_pct": 0.0}))


def test_faster_recruitment_never_lowers_output():
    faster = ANNUAL.with_changes(
        {"workforce.recruitment_lead_months": {"dist": "triangular", "min": 2, "mode": 4, "max": 8}})
    assert_not_lower(ANNUAL, faster)
    assert_not_lower(ANNUAL, ANNUAL.with_changes({"workforce.recruitment_interval_months": 1.0}))


def test_more_attrition_never_raises_fte():
    more = ANNUAL.with_changes({"workforce.attrition_per_year": 0.12})
    mean, se = paired(ANNUAL, more, "mean_fte")
    assert mean + Z * se < 0
    uplift = ANNUAL.with_changes({"workforce.attrition_uplift_unconfirmed": 0.0})
    mean, se = paired(uplift, ANNUAL, "mean_fte")
    assert mean <= Z * se


def test_a_smaller_reprofiling_premium_never_lowers_output():
    cheaper = THREE_YEAR.with_changes(
        {f"capabilities.{n}.reprofile_premium": 0.5 for n in THREE_YEAR.capabilities})
    assert_not_lower(THREE_YEAR, cheaper)


def test_no_cost_growth_never_lowers_output():
    certain_cost = THREE_YEAR.with_changes(
        {"capabilities.it_modernisation.cost_growth_factor": {"dist": "fixed", "value": 1.0}})
    assert_not_lower(THREE_YEAR, certain_cost)


@pytest.mark.parametrize("name", ["baseline", "annual", "three_year", "three_year_early",
                                  "less_external"])
def test_shipped_scenarios_need_no_emergency_cover_and_balance_every_year(name):
    """Emergency cover is left only for a settlement below the staff already in post (the one case
    the rules leave unfunded, since nobody is made redundant): with 95% core money and 5% in-year
    money to fall back on, `less_external` meets it in about one run in a hundred."""
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    chunk = simulate_chunk(scenario, SEED, 0, 100)
    cover = chunk.runs[:, COLUMN["emergency_cover_m"]]
    if name == "less_external":
        assert np.mean(cover > 0) <= 0.02
        assert cover.sum() < 1e-4 * chunk.runs[:, COLUMN["received_m"]].sum()
    else:
        assert np.all(cover == 0.0)
    y = {k: chunk.years[:, :, i] for i, k in enumerate(YEAR_OUTPUTS)}
    inflow = y["received_m"] + y["carried_in_m"]
    outflow = y["spent_m"] + y["lapsed_funds_m"] + y["carried_out_m"] + y["overhead_m"]
    np.testing.assert_allclose(inflow, outflow, rtol=1e-9, atol=1e-6)


# ------------------------------------------------------------------ found by the sceptical review


LESS_EXTERNAL = load_scenario(ROOT / "scenarios" / "less_external.toml")


def test_late_core_money_loses_value_smoothly_where_core_money_dominates():
    """Review: in less_external a fixed core delay of 9 -> 9.5 months cost 2.2% of output against
    about 1.2% for its neighbours, because the whole late settlement (most of it paying staff)
    was charged to temporary capacity's value. Each stream's late share is now pro rata, so
    adjacent half-month steps across the late window differ by under 0.5% of output (the old
    jump was 0.9%); the paired second difference has an SE near 0.01%."""
    runs = 200
    outputs = [_outputs(fixed_core_delay(LESS_EXTERNAL, float(d)), runs)[:, COLUMN["disruptions_total"]]
               for d in np.arange(8.0, 11.01, 0.5)]
    steps = [after - before for before, after in pairwise(outputs)]
    for first, second, level in zip(steps, steps[1:], outputs[1:], strict=False):
        curvature = second - first
        se = curvature.std(ddof=1) / np.sqrt(runs)
        assert abs(curvature.mean()) - Z * se < 0.005 * level.mean(), (curvature.mean(), level.mean())


@pytest.mark.parametrize("base", [ANNUAL, LESS_EXTERNAL], ids=["annual", "less_external"])
def test_an_interim_overdraft_is_shared_by_the_streams_not_by_their_lapse_order(base):
    """Review: with external money also paid at confirmation, the first stream in lapse order
    carried the whole organisation's overdraft, and its own smaller settlement then showed the
    excess as emergency cover (£55m in 85% of annual runs, £387m in every less_external run).
    Each stream on an interim allowance now carries a share in proportion to its allowance's
    base, so a change that only reorders the streams (external carry-over 0 -> 0.01) changes no
    emergency cover, and what remains is under 0.1% of the money received."""
    at_confirmation = base.with_changes({"funding.streams.external.arrival": "at_confirmation"})
    reordered = at_confirmation.with_changes(
        {"funding.streams.external.carry_over_across_settlements": 0.01})
    mean, se = paired(at_confirmation, reordered, "emergency_cover_m")
    assert abs(mean) <= Z * se + 1e-6
    runs = _outputs(at_confirmation)
    cover = runs[:, COLUMN["emergency_cover_m"]].mean()
    assert cover < 0.001 * runs[:, COLUMN["received_m"]].mean(), cover

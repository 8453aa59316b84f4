"""The SimPy model against theory, against itself (equivalence under certainty), and properties.

Statistical tests use fixed seeds and tolerances of a few standard errors computed from the theory,
never from what a run happened to give.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.model import RUN_OUTPUTS, YEAR_OUTPUTS, compile_scenario, simulate
from simulator.scenario import Scenario, load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
BASELINE = load_scenario(ROOT / "scenarios" / "baseline.toml")
COUNTS = ("disruptions_total", "priority_disruptions", "non_priority_disruptions",
          "projects_delivered", "project_pauses")


def _runs(scenario: Scenario, runs: int, seed: int = 7) -> list:
    compiled = compile_scenario(scenario)
    return [simulate(compiled, seed, i) for i in range(runs)]


def _column(outs, key: str) -> np.ndarray:
    return np.array([o.run[key] for o in outs])


def flat_scenario(fte: float = 1000.0, rate: float = 0.5, years: int = 6) -> Scenario:
    """Constant staff, no projects, no decay, no temporary capacity: a homogeneous Poisson process.

    Money exactly fits the establishment (so nobody is recruited), attrition is zero, every
    pound is carried over and no temporary capacity can be absorbed (ceiling 0)."""
    fixed = 10.0
    budget = fixed + (fte + 0.5) * 70.0 / 1000.0
    data = {
        "scenario": {"name": "flat"},
        "horizon": {"years": years},
        "funding": {"baseline_budget_m": budget, "real_growth": 0.0, "streams": {"core": {
            "share": 1.0, "settlement_years": 1,
            "confirmation_delay_months": {"dist": "fixed", "value": -1.0},
            "amount_volatility": 0.0, "arrival": "at_confirmation", "capital_share": 0.0,
            "carry_over_within_settlement": 1.0, "carry_over_across_settlements": 1.0}}},
        "organisation": {"interim_fraction": 0.9, "contract_cover": 1.0,
                         "fixed_costs_m_per_year": fixed, "legacy_it_cost_m_per_year": 0.0,
                         "late_spend_window_months": 3.0, "late_spend_value": 0.6,
                         "temporary_capacity_premium": 0.5, "prudence_sd": 0.0,
                         "temporary_capacity_max_fraction": 0.0},
        "workforce": {"initial_fte": fte, "cost_per_fte_k": 70.0, "attrition_per_year": 0.0,
                      "recruitment_lead_months": {"dist": "fixed", "value": 6.0},
                      "ramp_up_months": 6.0},
        "operations": {"disruptions_per_fte_year": rate, "priority_share_base": 0.4,
                       "legacy_decay_per_year": 0.0},
    }
    return scenario_from_dict(data, "flat")


def test_flat_scenario_gives_poisson_disruptions_with_the_known_mean_and_variance():
    runs = 400
    outs = _runs(flat_scenario(), runs)
    expected = 1000.0 * 0.5 * 6  # FTE * disruptions per FTE-year * years
    totals = _column(outs, "disruptions_total")
    assert np.all(_column(outs, "mean_fte") == pytest.approx(1000.0))
    se_mean = math.sqrt(expected / runs)
    assert abs(totals.mean() - expected) < 4 * se_mean
    # Sample variance of a Poisson total: sd of s^2 is about var * sqrt(2 / (n - 1)).
    se_var = expected * math.sqrt(2.0 / (runs - 1))
    assert abs(totals.var(ddof=1) - expected) < 4 * se_var
    # Each month is Poisson(expected / 72): index of dispersion near 1 over all run-months.
    monthly = np.concatenate([o.months["disruptions"] for o in outs])
    month_mean = expected / 72
    assert abs(monthly.mean() - month_mean) < 4 * math.sqrt(month_mean / monthly.size)
    dispersion = monthly.var(ddof=1) / monthly.mean()
    assert abs(dispersion - 1.0) < 4 * math.sqrt(2.0 / (monthly.size - 1))


def test_flat_scenario_splits_disruptions_by_the_priority_share():
    outs = _runs(flat_scenario(), 200)
    priority = _column(outs, "priority_disruptions").sum()
    total = _column(outs, "disruptions_total").sum()
    share_se = math.sqrt(0.4 * 0.6 / total)
    assert abs(priority / total - 0.4) < 4 * share_se


def test_flat_scenario_spends_exactly_its_commitments():
    out = _runs(flat_scenario(), 1)[0]
    staff_and_fixed = 1000.0 * 70.0 / 1000.0 + 10.0
    assert out.years["spent_m"] == pytest.approx(np.full(6, staff_and_fixed))
    assert out.run["lapsed_funds_m"] == pytest.approx(0.0, abs=1e-9)
    assert out.run["emergency_cover_m"] == 0.0


def certain(scenario: Scenario, settlement_years: int, delay: float = -1.0) -> Scenario:
    """docs/design.md's certainty: confirmed by the period start, no volatility, no tranches, all
    unspent money carried over, and no project needing more cover than one year gives."""
    data = scenario.to_dict()
    for stream in data["funding"]["streams"].values():
        stream.update(settlement_years=settlement_years, amount_volatility=0.0,
                      arrival="at_confirmation", carry_over_within_settlement=1.0,
                      carry_over_across_settlements=1.0,
                      confirmation_delay_months={"dist": "fixed", "value": delay})
    data["organisation"]["contract_cover"] = 0.0
    data["organisation"]["contract_margin"] = 0.0  # no haircut: later years' money is certain
    data["uncertain"] = {}  # certainty: every parameter known (contract_cover is drawn otherwise)
    return scenario_from_dict(data, "certain")


def assert_same_runs(outs_a, outs_b) -> None:
    for a, b in zip(outs_a, outs_b, strict=True):
        for key in RUN_OUTPUTS:
            if key in COUNTS:
                assert a.run[key] == b.run[key], key
            else:
                assert a.run[key] == pytest.approx(b.run[key], rel=1e-9, abs=1e-9, nan_ok=True), key
        for key in YEAR_OUTPUTS:
            np.testing.assert_allclose(a.years[key], b.years[key], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("delay", [-3.0, 0.0])
def test_one_and_three_year_settlements_are_identical_under_certainty(delay):
    annual = _runs(certain(BASELINE, 1, delay), 25)
    three = _runs(certain(BASELINE, 3, delay), 25)
    assert_same_runs(annual, three)
    assert any(o.run["projects_delivered"] > 0 for o in annual)  # the portfolio really ran


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(growth=st.floats(-0.05, 0.05), delay=st.floats(-6.0, 0.0), fte=st.floats(3000, 5000),
       years=st.sampled_from([3, 6]), seed=st.integers(0, 2**32 - 1))
def test_equivalence_under_certainty_holds_for_varied_scenarios(growth, delay, fte, years, seed):
    data = BASELINE.to_dict()
    data["funding"]["real_growth"] = growth
    data["workforce"]["initial_fte"] = fte
    data["horizon"]["years"] = years
    base = scenario_from_dict(data, "varied")
    one = [simulate(compile_scenario(certain(base, 1, delay)), seed, i) for i in range(3)]
    three = [simulate(compile_scenario(certain(base, 3, delay)), seed, i) for i in range(3)]
    assert_same_runs(one, three)


def _vary(scenario: Scenario, **paths) -> Scenario:
    return scenario.with_changes({k.replace("__", "."): v for k, v in paths.items()})


scenario_changes = st.fixed_dictionaries({
    "funding__streams__core__settlement_years": st.integers(1, 4),
    "funding__streams__core__amount_volatility": st.floats(0.0, 0.3),
    "funding__streams__core__carry_over_within_settlement": st.floats(0.0, 1.0),
    "funding__streams__external__tranches": st.integers(1, 6),
    "funding__streams__external__settlement_years": st.integers(1, 3),
    "funding__streams__core__confirmation_delay_months": st.tuples(
        st.floats(-6, 4), st.floats(0.1, 12)).map(
        lambda t: {"dist": "uniform", "min": t[0], "max": min(11.0, t[0] + t[1])}),
    "organisation__interim_fraction": st.floats(0.0, 1.2),
    "organisation__contract_cover": st.floats(0.0, 1.0),
    "organisation__late_spend_window_months": st.floats(0.0, 12.0),
    "workforce__attrition_per_year": st.floats(0.0, 0.3),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=scenario_changes, seed=st.integers(0, 2**32 - 1), run=st.integers(0, 10_000))
def test_money_is_conserved_every_year_and_no_balance_goes_negative(changes, seed, run):
    out = simulate(compile_scenario(_vary(BASELINE, **changes)), seed, run)
    y = out.years
    inflow = y["received_m"] + y["carried_in_m"]
    outflow = y["spent_m"] + y["lapsed_funds_m"] + y["carried_out_m"] + y["overhead_m"]
    np.testing.assert_allclose(inflow, outflow, rtol=1e-9, atol=1e-6)
    for key in ("lapsed_funds_m", "carried_out_m", "spent_m", "emergency_cover_m", "overhead_m"):
        assert np.all(y[key] >= -1e-9), key
    assert np.all(out.months["cash_m"] >= -1e-9)
    assert np.all(out.months["fte"] >= 0)
    # carried out of one year is carried into the next
    np.testing.assert_allclose(y["carried_out_m"][:-1], y["carried_in_m"][1:], rtol=1e-12)


def test_a_run_is_a_pure_function_of_scenario_seed_and_run():
    compiled = compile_scenario(BASELINE)
    a, b = simulate(compiled, 3, 11), simulate(compiled, 3, 11)
    assert a.run == pytest.approx(b.run, nan_ok=True)
    assert simulate(compiled, 3, 12).run != a.run


# ---------------------------------------------------------------- mechanisms, each switchable

def _paired(a: Scenario, b: Scenario, key: str, runs: int = 40) -> np.ndarray:
    return _column(_runs(b, runs), key) - _column(_runs(a, runs), key)


def test_late_confirmation_freezes_recruitment_and_contracting():
    early = _vary(BASELINE,
                  funding__streams__core__confirmation_delay_months={"dist": "fixed", "value": -1.0})
    late = _vary(BASELINE,
                 funding__streams__core__confirmation_delay_months={"dist": "fixed", "value": 5.0})
    assert np.all(_column(_runs(early, 10), "interim_months") == 0)
    assert np.all(_column(_runs(late, 10), "interim_months") == pytest.approx(30.0))
    assert _paired(early, late, "mean_fte").mean() < 0


# A board that needs every pound of a project confirmed before it signs (contract_cover 1), with
# the capital of the pre-calibration baseline (8% of core, IT at £120m, no minor works) and an IT
# programme short enough (18-30 months) for a three-year settlement's confirmed years to cover
# its spending: the setting in which a settlement's length decides whether the large project can
# be let at all.
FULL_COVER = _vary(BASELINE, organisation__contract_cover=1.0,
                   organisation__minor_works_m_per_year=0.0,
                   funding__streams__core__capital_share=0.08,
                   capabilities__it_modernisation__capex_m=120.0,
                   capabilities__it_modernisation__lead_time_months={
                       "dist": "triangular", "min": 18.0, "mode": 24.0, "max": 30.0})


def test_a_short_confirmed_horizon_keeps_the_large_it_project_uncontracted():
    annual = _runs(_vary(FULL_COVER, funding__streams__core__settlement_years=1), 20)
    three = _runs(_vary(FULL_COVER, funding__streams__core__settlement_years=3), 20)
    # Legacy IT keeps decaying only where the modernisation is never bought.
    assert all(o.years["capability_spend_m"].sum() < 120 for o in annual)
    assert all(o.years["capability_spend_m"].sum() > 120 for o in three)
    no_cover = _runs(_vary(FULL_COVER, organisation__contract_cover=0.0), 20)
    assert np.mean(_column(no_cover, "capability_spend_m")) > np.mean(_column(annual, "capability_spend_m"))


def test_pauses_cost_remobilisation_and_overrun_and_switch_off_with_zero_rates():
    on = _runs(_vary(FULL_COVER, funding__streams__core__settlement_years=3), 20)
    assert sum(o.run["project_pauses"] for o in on) > 0
    assert sum(o.run["overrun_cost_m"] for o in on) > 0
    off = FULL_COVER.to_dict()
    off["funding"]["streams"]["core"]["settlement_years"] = 3
    for cap in off["capabilities"].values():
        cap.update(remobilisation_cost_pct=0.0, overrun_pct_per_year_late=0.0, reprofile_premium=0.0)
    off["uncertain"] = {}  # the baseline draws the IT project's reprofile premium per run
    assert all(o.run["overrun_cost_m"] == 0 for o in _runs(scenario_from_dict(off), 20))


def test_rushed_year_end_money_buys_less_and_switches_off_with_late_spend_value_one():
    diff = _paired(_vary(BASELINE, organisation__late_spend_value=0.6),
                   _vary(BASELINE, organisation__late_spend_value=1.0), "disruptions_total")
    # Same keyed uniforms and a monotone Poisson inverse: more value never gives fewer disruptions.
    assert np.all(diff >= 0) and diff.mean() > 0


def test_bid_overhead_is_charged_per_stream_and_switches_off_at_zero():
    off = _vary(BASELINE, funding__streams__external__bid_overhead_pct=0.0)
    assert all(o.run["overhead_m"] == 0 for o in _runs(off, 5))
    on = _runs(BASELINE, 5)
    assert all(o.run["overhead_m"] > 0 for o in on)


def test_specialist_capabilities_shift_disruptions_towards_priority_threats():
    data = BASELINE.to_dict()
    for cap in data["capabilities"].values():
        cap["priority_uplift"] = 0.0
    without = scenario_from_dict(data)
    share_with = _column(_runs(BASELINE, 30), "priority_disruptions").sum() / \
        _column(_runs(BASELINE, 30), "disruptions_total").sum()
    share_without = _column(_runs(without, 30), "priority_disruptions").sum() / \
        _column(_runs(without, 30), "disruptions_total").sum()
    assert share_without == pytest.approx(BASELINE.operations.priority_share_base, abs=0.01)
    assert share_with > share_without + 0.01


def test_amount_uncertainty_lowers_the_planned_establishment():
    prudent = _vary(BASELINE, organisation__prudence_sd=1.0)
    neutral = _vary(BASELINE, organisation__prudence_sd=0.0)
    assert _paired(neutral, prudent, "mean_fte").mean() < 0


def test_late_in_year_money_lapses_and_full_carry_over_keeps_it():
    keep = _vary(BASELINE, funding__streams__external__carry_over_within_settlement=1.0,
                 funding__streams__external__carry_over_across_settlements=1.0)
    assert _paired(BASELINE, keep, "lapsed_funds_m").mean() < 0


def test_a_settlement_confirmed_after_the_next_one_still_lands():
    """Delays spanning more than a year can confirm year k+1 before year k; both must land."""
    wide = _vary(BASELINE, funding__streams__core__confirmation_delay_months={
        "dist": "uniform", "min": -4.0, "max": 10.0})
    for out in _runs(wide, 150, seed=2):
        y = out.years
        np.testing.assert_allclose(y["received_m"] + y["carried_in_m"],
                                   y["spent_m"] + y["lapsed_funds_m"] + y["carried_out_m"]
                                   + y["overhead_m"], rtol=1e-9, atol=1e-6)
        assert out.run["interim_months"] < 6 * 10.0 + 1e-9


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml")))
def test_a_chunk_of_runs_leaves_nothing_for_the_cyclic_garbage_collector(name):
    """Runs are released once read (`Run.release`): reference counting frees them, so a batch
    does not pay the cyclic collector to find every finished run (issue 10)."""
    import gc

    from simulator.model import simulate_runs

    compiled = compile_scenario(load_scenario(ROOT / "scenarios" / f"{name}.toml"))
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collector finds, to see whose it is
    try:
        simulate_runs(compiled, 11, 0, 30)
        gc.collect()
        # Only the model's and SimPy's objects: another test's threads may leave garbage too.
        left = [type(o).__qualname__ for o in gc.garbage
                if type(o).__module__.startswith(("simulator", "simpy"))]
        assert left == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()

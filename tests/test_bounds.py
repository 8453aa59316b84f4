"""Bounded work for any scenario: every field that scales a run's work or overflows an output is
refused with its bound and the reason, and a run that would still produce a non-finite or wrapped
output is an error, never a silent NaN or -9223372036854775808 (issue 13's third, sixth and
seventh attacks)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from simulator import bounds
from simulator.cli import main
from simulator.errors import ModelError, ScenarioError
from simulator.runner import check_event_budget, run_once, simulate_chunk
from simulator.scenario import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = load_scenario(ROOT / "scenarios" / "annual.toml")


@pytest.mark.parametrize("body, message", [
    ("[workforce]\nrecruitment_interval_months = 1e-6",
     r"workforce\.recruitment_interval_months = 1e-06: must be at least 0\.25 \(a weekly campaign\): "
     r"each campaign is an event"),
    ("[workforce]\nrecruitment_interval_months = 0.001",
     r"workforce\.recruitment_interval_months = 0\.001: must be at least 0\.25"),
    ("[workforce]\ncost_per_fte_k = 5e-324",
     r"workforce\.cost_per_fte_k = 5e-324: must be from 1 to 10,000 .*cannot be divided by"),
    ("[operations]\ndisruptions_per_fte_year = 1e15",
     r"operations\.disruptions_per_fte_year = 1000000000000000\.0: must be at most 1,000 .*overflow"),
    ("[funding]\nbaseline_budget_m = 1e308",
     r"funding\.baseline_budget_m = 1e\+308: must be at most 1,000,000 \(£m\): .*inf and NaN"),
    ("[capabilities.it_modernisation]\ncapex_m = 1e300",
     r"capabilities\.it_modernisation\.capex_m = 1e\+300: must be at most 1,000,000"),
    ('[capabilities.it_modernisation]\nlead_time_months = { dist = "pert", min = 24, mode = 1e308, '
     'max = 1.5e308 }',
     r"capabilities\.it_modernisation\.lead_time_months\.mode = 1e\+308: must be at most 600 months"),
    ('[workforce]\nrecruitment_lead_months = { dist = "lognormal", median = 1e300, sigma = 1 }',
     r"workforce\.recruitment_lead_months\.median = 1e\+300: must be at most 120 months"),
    ('[capabilities.it_modernisation]\ncost_growth_factor = { dist = "fixed", value = 1e300 }',
     r"capabilities\.it_modernisation\.cost_growth_factor\.value = 1e\+300: must be at most 100 "
     r"\(the outturn cost is capex_m times this factor; .*overflow\)"),
    ('[capabilities.it_modernisation]\ncost_growth_factor = { dist = "pert", min = 1, mode = 2, '
     'max = 1e6 }',
     r"capabilities\.it_modernisation\.cost_growth_factor\.max = 1000000\.0: must be at most 100"),
    ('[capabilities.it_modernisation]\ncost_growth_factor = { dist = "lognormal", median = 1.28, '
     'sigma = 4.5 }',
     r"capabilities\.it_modernisation\.cost_growth_factor\.sigma = 4\.5: must be at most 2 for a "
     r"cost growth factor \(at sigma 2 one project in a hundred"),
    ("[operations]\ndisruptions_per_fte_year = 10\n[funding]\nreal_growth = 1.0\n"
     "[horizon]\nyears = 30",
     r"operations\.disruptions_per_fte_year = 10\.0: with this budget, staff cost and the "
     r"capabilities' productivity uplifts, a run could count up to .* above 1e\+15"),
])
def test_a_value_that_scales_work_or_overflows_is_refused_with_the_bound_and_why(
        write_override, body, message):
    path = write_override(body)
    with pytest.raises(ScenarioError, match=rf"^{path}: {message}"):
        load_scenario(path)


def test_too_many_streams_or_capabilities_are_refused(baseline_text):
    data = load_scenario(ROOT / "scenarios" / "baseline.toml").to_dict()
    one = data["capabilities"]["digital_forensics"]
    data["capabilities"] = {f"c{i}": dict(one, priority=i) for i in range(bounds.MAX_CAPABILITIES + 1)}
    with pytest.raises(ScenarioError, match=r"^many\.toml: capabilities: holds 51 capabilities; at "
                                            r"most 50 \(every planning decision looks at every "
                                            r"project\)$"):
        scenario_from_dict(data, "many.toml")


def test_a_combination_over_the_event_budget_is_refused_naming_the_biggest_cause():
    data = ANNUAL.to_dict()
    data["horizon"]["years"] = 30
    data["workforce"]["recruitment_interval_months"] = 0.25
    external = data["funding"]["streams"]["external"]
    external.update(tranches=12)
    for i in range(18):  # each field within its own bound: 20 streams, 50 capabilities
        data["funding"]["streams"][f"grant{i}"] = dict(external, share=0.0)
    one = data["capabilities"]["digital_forensics"]
    data["capabilities"] = {f"c{i}": dict(one, priority=i) for i in range(50)}
    with pytest.raises(ScenarioError, match=r"^busy\.toml: capabilities: holds 50 entries: a run "
                                            r"would schedule about 13,[\d]{3} events \(4,500 from "
                                            r"this field\), above the budget of 12,000"):
        scenario_from_dict(data, "busy.toml")


def test_the_shipped_scenarios_are_far_inside_every_bound():
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        scenario = load_scenario(path)
        assert sum(bounds.event_estimate(scenario).values()) < bounds.EVENT_BUDGET / 50
        assert bounds.output_ceiling(scenario) < bounds.MAX_OUTPUT_CEILING / 1e9


def test_deep_nesting_is_refused_without_a_recursion_error(tmp_path):
    arrays = tmp_path / "arrays.toml"
    arrays.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ScenarioError, match=r"nest too deeply"):
        load_scenario(arrays)
    tables = tmp_path / "tables.toml"
    tables.write_text("[" + ".".join(["a"] * 3000) + "]\n")
    with pytest.raises(ScenarioError, match=r"nest deeper than 12 levels"):
        load_scenario(tables)
    with pytest.raises(ScenarioError, match="nest deeper"):
        nested: dict = {}
        node = nested
        for _ in range(5000):
            node["x"] = {}
            node = node["x"]
        scenario_from_dict(nested, "dict")


def test_a_huge_file_and_a_long_base_chain_are_refused(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * bounds.MAX_FILE_BYTES + "\n")
    with pytest.raises(ScenarioError, match=r"a scenario is a few kilobytes"):
        load_scenario(big)
    (tmp_path / "f0.toml").write_text(f'base = "{(ROOT / "scenarios" / "baseline.toml").as_posix()}"\n')
    for i in range(1, 20):
        (tmp_path / f"f{i}.toml").write_text(f'base = "f{i - 1}.toml"\n')
    with pytest.raises(ScenarioError, match=r"base: more than 16 files inherit one another"):
        load_scenario(tmp_path / "f19.toml")


def test_validate_and_run_exit_2_naming_the_field_before_any_work(write_override, tmp_path, capsys):
    path = write_override("[workforce]\nrecruitment_interval_months = 1e-6")
    assert main(["validate", str(path)]) == 2
    assert main(["run", str(path), "--runs", "5", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("workforce.recruitment_interval_months = 1e-06: must be at least 0.25") == 2
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ the runner's own guards


def _unvalidated(**operations) -> object:
    """The annual scenario with fields changed *without* validation, as `model_copy` allows: the
    runner must not trust that every Scenario it is handed went through the bounds."""
    return ANNUAL.model_copy(update={"operations": ANNUAL.operations.model_copy(update=operations)})


def test_a_run_whose_counts_would_wrap_stops_with_a_model_error_naming_the_output():
    scenario = _unvalidated(disruptions_per_fte_year=1e15)
    with pytest.raises(ModelError, match=r"^annual: run 0: per-run output disruptions_total = "
                                         r"[\d.e+]+: outputs must be finite numbers below 9e\+15 .* "
                                         r"check operations\.disruptions_per_fte_year"):
        simulate_chunk(scenario, 1, 0, 3)
    with pytest.raises(ModelError, match="disruptions_total"):
        run_once(scenario, run=0, seed=1)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_a_run_whose_money_is_not_finite_stops_with_a_model_error():
    """A budget of 1e308 overflows on purpose: numpy's overflow warnings are expected here."""
    funding = ANNUAL.funding.model_copy(update={"baseline_budget_m": 1e308})
    scenario = ANNUAL.model_copy(update={"funding": funding})
    with pytest.raises(ModelError, match=r"output \w+ = (nan|inf|[\d.e+]+): outputs must be finite"):
        simulate_chunk(scenario, 1, 0, 1)


def test_the_runner_applies_the_event_budget_to_unvalidated_scenarios():
    workforce = ANNUAL.workforce.model_copy(update={"recruitment_interval_months": 1e-3})
    scenario = ANNUAL.model_copy(update={"workforce": workforce})
    with pytest.raises(ModelError, match=r"^annual: workforce\.recruitment_interval_months = 0\.001: "
                                         r"a run would schedule about 72,1\d\d events \(72,001 from "
                                         r"this field\)"):
        check_event_budget(scenario)
    with pytest.raises(ModelError, match="events"):
        simulate_chunk(scenario, 1, 0, 1)


def test_a_cost_per_disruption_of_nan_is_allowed_where_it_means_none():
    scenario = _unvalidated(disruptions_per_fte_year=0.0)
    chunk = simulate_chunk(scenario, 1, 0, 2)
    assert np.isnan(chunk.runs[:, 10]).all()  # cost_per_disruption_k with no disruptions


def test_model_errors_survive_a_trip_between_processes():
    exc = pickle.loads(pickle.dumps(ModelError("annual: run 3: bad")))
    assert isinstance(exc, ModelError) and str(exc) == "annual: run 3: bad"

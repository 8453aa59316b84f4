"""Uncertain parameters: drawn once per run from their own keys, paired across scenarios, checked
at load, fixed by a file or an edit that sets them, and without effect when none are declared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator import uncertain
from simulator.errors import ScenarioError
from simulator.model import compile_scenario, simulate
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text.replace("BASE", str(BASELINE)))
    return path


def test_the_shipped_baseline_declares_uncertain_parameters_and_annual_inherits_them():
    base = load_scenario(BASELINE)
    annual = load_scenario(ROOT / "scenarios" / "annual.toml")
    assert "organisation.legacy_it_cost_m_per_year" in base.uncertain
    assert annual.uncertain == base.uncertain
    assert "uncertain parameters" in uncertain.describe(base)


def test_each_run_uses_the_values_values_table_reports(tmp_path):
    # Draw the legacy cost only; with every other number fixed, a run with the drawn value fixed
    # in the file must give the very same outputs as the uncertain run.
    path = _write(tmp_path, "u.toml", 'base = "BASE"\n[uncertain]\n'
                  '"organisation.late_spend_value" = { dist = "uniform", min = 0.3, max = 0.9 }\n')
    scenario = load_scenario(path)
    drawn = uncertain.values_table(scenario, seed=5, runs=3)["organisation.late_spend_value"]
    assert len(set(drawn)) == 3 and all(0.3 <= v <= 0.9 for v in drawn)
    compiled = compile_scenario(scenario)
    for run, value in enumerate(drawn):
        fixed = scenario.with_changes({"organisation.late_spend_value": float(value)})
        assert not fixed.uncertain.get("organisation.late_spend_value")
        a = simulate(compiled, 5, run)
        b = simulate(compile_scenario(fixed), 5, run)
        for key in a.run:
            assert a.run[key] == b.run[key] or (np.isnan(a.run[key]) and np.isnan(b.run[key]))


def test_two_scenarios_declaring_a_field_draw_the_same_value_in_each_run(tmp_path):
    one = _write(tmp_path, "one.toml", 'base = "BASE"\n')
    three = _write(tmp_path, "three.toml",
                   'base = "BASE"\n[funding.streams.core]\nsettlement_years = 3\n')
    a = uncertain.values_table(load_scenario(one), seed=2, runs=20)
    b = uncertain.values_table(load_scenario(three), seed=2, runs=20)
    for path in a:
        np.testing.assert_array_equal(a[path], b[path])


def test_a_file_that_sets_an_uncertain_field_fixes_it(tmp_path):
    child = _write(tmp_path, "child.toml",
                   'base = "BASE"\n[organisation]\nlegacy_it_cost_m_per_year = 30.0\n')
    scenario = load_scenario(child)
    assert "organisation.legacy_it_cost_m_per_year" not in scenario.uncertain
    assert scenario.organisation.legacy_it_cost_m_per_year == 30.0
    again = _write(tmp_path, "again.toml",
                   'base = "BASE"\n[organisation]\nlegacy_it_cost_m_per_year = 30.0\n[uncertain]\n'
                   '"organisation.legacy_it_cost_m_per_year" = '
                   '{ dist = "uniform", min = 20.0, max = 40.0 }\n')
    assert load_scenario(again).uncertain["organisation.legacy_it_cost_m_per_year"].max == 40.0


@pytest.mark.parametrize("entry, words", [
    ('"organisation.late_spend_value" = { dist = "uniform", min = 0.5, max = 1.5 }',
     ["late_spend_value = 1.5", "less than or equal to 1"]),
    ('"organisation.late_spend_value" = { dist = "lognormal", median = 0.5, sigma = 0.1 }',
     ['"uniform", "triangular", "pert"']),
    ('"funding.streams.core.share" = { dist = "uniform", min = 0.5, max = 0.9 }',
     ["shares must sum to 1"]),
    ('"horizon.years" = { dist = "uniform", min = 5, max = 7 }', ["must name a number field"]),
    ('"workforce.recruitment_interval_months" = { dist = "uniform", min = 2, max = 4 }',
     ["cannot vary between runs"]),
    ('"organisation.no_such" = { dist = "uniform", min = 2, max = 4 }', ["names no field"]),
])
def test_an_uncertain_entry_a_run_could_not_use_is_refused_at_load(tmp_path, entry, words):
    path = _write(tmp_path, "bad.toml", f'base = "BASE"\n[uncertain]\n{entry}\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text = str(info.value)
    assert str(path) in text and "uncertain." in text
    for w in words:
        assert w in text


def test_ranges_are_checked_together(tmp_path):
    # Each range alone keeps attrition + uplift below 1; both at their maxima do not.
    path = _write(tmp_path, "both.toml", 'base = "BASE"\n[uncertain]\n'
                  '"workforce.attrition_per_year" = { dist = "uniform", min = 0.05, max = 0.55 }\n'
                  '"workforce.attrition_uplift_unconfirmed" = { dist = "uniform", min = 0.0, max = 0.5 }\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "every maximum together" in str(info.value)


def test_declaring_parameters_widens_the_spread_but_keeps_the_pairing(tmp_path):
    fixed = _write(tmp_path, "fixed.toml", 'base = "BASE"\nuncertain = {}\n')
    unsure = load_scenario(BASELINE)
    sure = load_scenario(fixed)
    assert not sure.uncertain
    a = compile_scenario(sure)
    b = compile_scenario(unsure)
    xa = np.array([simulate(a, 1, r).run["disruptions_total"] for r in range(80)])
    xb = np.array([simulate(b, 1, r).run["disruptions_total"] for r in range(80)])
    assert xb.std() > xa.std()


def _field(node, name):
    return node[name] if isinstance(node, dict) else getattr(node, name)


def test_a_runs_drawn_scenario_is_what_pydantic_copies_and_validation_give():
    """`with_values` copies models without pydantic's generic copy (for speed): the copy equals
    `model_copy`'s field for field, at every level, and the validated route's values."""
    scenario = load_scenario(BASELINE)
    values = {path: dist.ppf(0.3) for path, dist in scenario.uncertain.items()}
    fast = scenario.with_values(values)
    checked = scenario.with_values(values, validate=True)
    for path, value in values.items():
        node_fast, node_checked, node_before = fast, checked, scenario
        for part in path.split("."):
            node_fast, node_checked, node_before = (
                _field(node_fast, part), _field(node_checked, part), _field(node_before, part))
        assert node_fast == node_checked == value != node_before
    assert fast.to_dict() == checked.to_dict() | {"uncertain": fast.to_dict()["uncertain"]}
    assert fast.organisation == scenario.organisation.model_copy(update={
        k.split(".")[1]: v for k, v in values.items() if k.startswith("organisation.")})
    assert fast.organisation.model_fields_set == scenario.organisation.model_copy(update={
        k.split(".")[1]: v for k, v in values.items() if k.startswith("organisation.")}).model_fields_set
    assert fast.workforce is not scenario.workforce and fast.horizon is scenario.horizon


@pytest.mark.parametrize("more", [
    "",  # the shipped fields: a project's uplift and premium, which keep the contracting order
    '"capabilities.it_modernisation.lead_time_months.max" = { dist = "uniform", min = 40.0, max = 60.0 }',
])
def test_a_runs_projects_are_laid_out_as_its_own_scenario_would_be(tmp_path, more):
    """`for_runs` reuses the contracting order and the lookahead unless a drawn field can change
    them (a project's priority or lead time): each run's layout must still be exactly what laying
    out its own drawn scenario gives."""
    from simulator.model.compiled import _lookahead, _projects

    path = _write(tmp_path, "s.toml", f'base = "BASE"\n[uncertain]\n{more}\n')
    compiled = compile_scenario(load_scenario(path))
    layouts = compiled.for_runs(compiled.draws.uniforms_many(3, 0, 40))
    leads = set()
    for layout in layouts:
        assert layout.projects == _projects(layout.scenario)
        assert layout.contract_lookahead == _lookahead(layout.projects)
        assert all(p.spec is layout.scenario.capabilities[p.name] for p in layout.projects)
        leads.add(layout.contract_lookahead)
    assert len(leads) == (2 if more else 1)  # the drawn lead time moves the lookahead in some runs

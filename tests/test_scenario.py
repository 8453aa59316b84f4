"""Scenario files: loading, `base` inheritance, `enabled = false`, fingerprints, and every kind of
bad input a planner can write, each answered with one message naming the file, the field path,
the value and the rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulator.distributions import Fixed, Triangular, Uniform
from simulator.errors import ScenarioError
from simulator.scenario import MAX_CONFIRMATION_DELAY_MONTHS, Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
BASELINE_TOML = SCENARIOS / "baseline.toml"
SHIPPED_SCENARIOS = sorted(SCENARIOS.glob("*.toml"))

# --------------------------------------------------------------------------- shipped scenarios


def test_at_least_four_scenarios_are_shipped():
    names = {p.name for p in SHIPPED_SCENARIOS}
    assert {"baseline.toml", "annual.toml", "three_year.toml"} <= names
    assert len(names) >= 4


@pytest.mark.parametrize("path", SHIPPED_SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_loads_and_is_named_after_its_file(path: Path):
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    assert scenario.name == path.stem
    total = sum(s.share for s in scenario.funding.streams.values())
    assert total == pytest.approx(1.0)


def test_three_year_resolves_base_and_settles_core_for_three_years():
    three = load_scenario(SCENARIOS / "three_year.toml")
    annual = load_scenario(SCENARIOS / "annual.toml")
    assert three.funding.streams["core"].settlement_years == 3
    assert annual.funding.streams["core"].settlement_years == 1


def test_deep_merge_keeps_every_field_the_child_does_not_set():
    base = load_scenario(SCENARIOS / "annual.toml")
    three = load_scenario(SCENARIOS / "three_year.toml")
    core, base_core = three.funding.streams["core"], base.funding.streams["core"]
    # only settlement_years (and the [scenario] table) differ from annual
    assert core.model_copy(update={"settlement_years": 1}) == base_core
    assert core.share == 0.9
    assert core.confirmation_delay_months == base_core.confirmation_delay_months
    assert three.funding.streams["external"] == base.funding.streams["external"]
    assert three.capabilities == base.capabilities
    for section in ("horizon", "organisation", "workforce", "operations"):
        assert getattr(three, section) == getattr(base, section)
    assert three.funding.baseline_budget_m == base.funding.baseline_budget_m


def test_inheritance_chains_through_two_files():
    less = load_scenario(SCENARIOS / "less_external.toml")  # -> annual.toml -> baseline.toml
    core = less.funding.streams["core"]
    assert core.share == pytest.approx(0.95)
    assert less.funding.streams["external"].share == pytest.approx(0.05)
    assert core.settlement_years == 1
    assert core.confirmation_delay_months == Triangular(dist="triangular", min=-1.0, mode=2.0, max=5.0)


def test_base_is_resolved_relative_to_the_file_not_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "parent.toml").write_text(BASELINE_TOML.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "child.toml").write_text('base = "parent.toml"\n[horizon]\nyears = 4\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario(Path("plans") / "child.toml")
    assert scenario.horizon.years == 4
    assert scenario.name == "baseline"


def test_a_file_saved_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + f'base = "{BASELINE_TOML.as_posix()}"\n'.encode())
    assert load_scenario(path) == load_scenario(BASELINE_TOML)


def test_a_problem_in_an_inherited_file_names_that_file(tmp_path):
    # the field is wrong in the file the scenario inherits, not in the scenario file: the message
    # must send the planner to the file that holds it, and say which scenario inherited it
    (tmp_path / "parent.toml").write_text(
        f'base = "{BASELINE_TOML.as_posix()}"\n[workforce]\ninitial_fte = "lots"\n'
        '[uncertain]\n"capabilities.nothing.capex_m" = { dist = "uniform", min = 1, max = 2 }\n',
        encoding="utf-8")
    child = tmp_path / "child.toml"
    child.write_text('base = "parent.toml"\n[operations]\nbogus = 1\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(child)
    lines = str(caught.value).splitlines()
    parent = str(tmp_path / "parent.toml")
    assert f"{parent} (inherited by {child}): workforce.initial_fte = 'lots'" in lines[0]
    assert lines[1].startswith(f"{child}: operations.bogus = 1: unknown field")
    assert caught.value.file == str(child)
    child.write_text('base = "parent.toml"\n[workforce]\ninitial_fte = 10\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=re.escape(
            f'{parent} (inherited by {child}): uncertain."capabilities.nothing.capex_m"')):
        load_scenario(child)


def test_a_distribution_in_a_child_replaces_the_parents_distribution_whole(write_override):
    # baseline has a triangular {min, mode, max}; a field-by-field merge would leave `mode` in a
    # uniform (an unknown field) and `min`/`max` in a fixed one
    uniform = load_scenario(write_override(
        '[workforce]\nrecruitment_lead_months = { dist = "uniform", min = 2, max = 4 }', "u.toml"))
    assert uniform.workforce.recruitment_lead_months == Uniform(dist="uniform", min=2.0, max=4.0)
    fixed = load_scenario(write_override(
        '[funding.streams.core]\nconfirmation_delay_months = { dist = "fixed", value = 0 }', "f.toml"))
    assert fixed.funding.streams["core"].confirmation_delay_months == Fixed(dist="fixed", value=0.0)


def test_enabled_false_removes_a_stream_and_the_rest_must_sum_to_one(write_override):
    path = write_override(
        "[funding.streams.core]\nshare = 1.0\n[funding.streams.external]\nenabled = false")
    scenario = load_scenario(path)
    assert set(scenario.funding.streams) == {"core"}


def test_enabled_false_on_a_stream_leaves_shares_that_must_still_sum_to_one(write_override):
    path = write_override("[funding.streams.external]\nenabled = false")
    with pytest.raises(ScenarioError, match=re.escape(f"{path}: funding: ") + r"stream shares must sum to 1 "
                       r"\(got 0\.9: core 0\.9\)"):
        load_scenario(path)


def test_a_scenario_with_no_settled_stream_is_refused_with_the_reason(write_override):
    """Review: core money paid in tranches left posts paid by in-year money and emergency cover
    (£1,275m a run); staff in post need money that arrives at confirmation."""
    path = write_override('[funding.streams.core]\narrival = "tranches"\ntranches = 4')
    with pytest.raises(ScenarioError, match=re.escape(f"{path}: funding: ") +
                       r"at least one stream with a positive share must arrive \"at_confirmation\""):
        load_scenario(path)


def test_enabled_false_removes_a_capability(write_override):
    scenario = load_scenario(write_override("[capabilities.covert_surveillance]\nenabled = false"))
    assert "covert_surveillance" not in scenario.capabilities
    assert set(scenario.capabilities) == {"it_modernisation", "digital_forensics", "financial_investigation"}


def test_a_disabled_capability_takes_its_inherited_uncertain_parameters_with_it(write_override):
    # the baseline declares it_modernisation's uplift and premium uncertain: switching the
    # capability off in a file that inherits it must not leave entries naming no field
    scenario = load_scenario(write_override("[capabilities.it_modernisation]\nenabled = false"))
    assert "it_modernisation" not in scenario.capabilities
    assert not [p for p in scenario.uncertain if p.startswith("capabilities.it_modernisation.")]
    kept = load_scenario(BASELINE_TOML).uncertain
    assert set(scenario.uncertain) == {p for p in kept
                                       if not p.startswith("capabilities.it_modernisation.")}


def test_a_disabled_capability_is_not_validated(write_override):
    # a planner switching a capability off should not have to fix its other fields first
    scenario = load_scenario(write_override(
        "[capabilities.covert_surveillance]\nenabled = false\ncapex_m = -5"))
    assert "covert_surveillance" not in scenario.capabilities


# --------------------------------------------------------------------------- fingerprint, changes


def test_sha256_is_equal_for_equal_scenarios_loaded_twice_or_written_differently(write_override):
    a = load_scenario(SCENARIOS / "three_year.toml")
    b = load_scenario(SCENARIOS / "three_year.toml")
    assert a.sha256() == b.sha256()
    assert re.fullmatch(r"[0-9a-f]{64}", a.sha256())
    # an integer where the file had a float is the same scenario
    same = load_scenario(write_override("[funding]\nbaseline_budget_m = 711"))
    assert same.sha256() == load_scenario(BASELINE_TOML).sha256()


def test_sha256_changes_when_one_field_changes():
    base = load_scenario(BASELINE_TOML)
    assert base.with_changes({"workforce.attrition_per_year": 0.09}).sha256() != base.sha256()
    assert base.with_changes({"scenario.description": "x"}).sha256() != base.sha256()


def test_with_changes_returns_a_new_validated_scenario_and_leaves_the_original():
    base = load_scenario(BASELINE_TOML)
    changed = base.with_changes({"funding.streams.core.settlement_years": 3,
                                 "workforce.recruitment_lead_months.max": 14.0})
    assert changed.funding.streams["core"].settlement_years == 3
    assert changed.workforce.recruitment_lead_months.max == 14.0
    assert base.funding.streams["core"].settlement_years == 1
    assert base.workforce.recruitment_lead_months.max == 12.0
    three = load_scenario(SCENARIOS / "three_year.toml")
    annual = load_scenario(SCENARIOS / "annual.toml")
    assert annual.with_changes({"funding.streams.core.settlement_years": 3,
                              "scenario.name": "three_year",
                              "scenario.description": three.scenario.description}) == three


@pytest.mark.parametrize("path", ["funding.streams.core.shaer", "funding.streams.grant.share",
                                  "horizn.years", "workforce.initial_fte.value"])
def test_with_changes_rejects_an_unknown_path(path):
    base = load_scenario(BASELINE_TOML)
    with pytest.raises(ScenarioError, match=re.escape(path) + r".*no such field"):
        base.with_changes({path: 1.0})


def test_with_changes_validates_the_new_value():
    base = load_scenario(BASELINE_TOML)
    with pytest.raises(ScenarioError,
                       match=r"workforce\.attrition_per_year = 1\.5: input should be less than 1"):
        base.with_changes({"workforce.attrition_per_year": 1.5})


# --------------------------------------------------------------------------- bad input
#
# Each case: an override written over baseline.toml, and a regex for what must follow
# "<file>: " in the message (the field path, the value where there is one, and the rule).

BAD_OVERRIDES = {
    "string_for_number": ('[horizon]\nyears = "6"',
                          r"horizon\.years = '6': input should be a valid integer"),
    "string_for_float": ('[funding]\nbaseline_budget_m = "711"',
                         r"funding\.baseline_budget_m = '711': input should be a valid number"),
    "bool_for_int": ("[horizon]\nyears = true",
                     r"horizon\.years = True: input should be a valid integer"),
    "float_for_int": ("[horizon]\nyears = 6.5",
                      r"horizon\.years = 6\.5: input should be a valid integer"),
    "table_for_number": ("[funding]\nbaseline_budget_m = { x = 1 }",
                         r"funding\.baseline_budget_m = \{x = 1\}: input should be a valid number"),
    "nan": ("[funding]\nreal_growth = nan",
            r"funding\.real_growth = nan: must be a finite number \(not nan or inf\)"),
    "inf": ("[funding]\nbaseline_budget_m = inf",
            r"funding\.baseline_budget_m = inf: must be a finite number \(not nan or inf\)"),
    "negative_share": ("[funding.streams.core]\nshare = -0.1",
                       r"funding\.streams\.core\.share = -0\.1: input should be greater than or equal to 0"),
    "attrition_one": ("[workforce]\nattrition_per_year = 1.0",
                      r"workforce\.attrition_per_year = 1\.0: input should be less than 1"),
    "horizon_zero": ("[horizon]\nyears = 0",
                     r"horizon\.years = 0: input should be greater than or equal to 1"),
    "shares_not_one": ("[funding.streams.core]\nshare = 0.7",
                       r"funding: stream shares must sum to 1 \(got 0\.8: core 0\.7, external 0\.1\)"),
    "min_above_max": ('[workforce]\nrecruitment_lead_months = { dist = "uniform", min = 9, max = 3 }',
                      r"workforce\.recruitment_lead_months: min \(9\.0\) must be below max \(3\.0\)"),
    "min_equals_max": ('[workforce]\nrecruitment_lead_months = { dist = "pert", min = 3, mode = 3, max = 3 }',
                       r"workforce\.recruitment_lead_months: min \(3\.0\) must be below max \(3\.0\); "
                       r'use dist = "fixed"'),
    "mode_outside": ('[workforce]\nrecruitment_lead_months = { dist = "triangular", min = 3, mode = 20, '
                     "max = 12 }",
                     r"workforce\.recruitment_lead_months: mode \(20\.0\) must lie between min \(3\.0\) "
                     r"and max \(12\.0\)"),
    "unknown_dist": ('[workforce]\nrecruitment_lead_months = { dist = "normal", mean = 6 }',
                     r"workforce\.recruitment_lead_months\.dist = 'normal': dist must be one of "
                     r'"fixed", "uniform", "triangular", "pert", "lognormal"'),
    "number_for_distribution": ("[workforce]\nrecruitment_lead_months = 6",
                                r"workforce\.recruitment_lead_months = 6: input should be a valid "
                                r"dictionary"),
    "negative_sigma": ('[workforce]\nrecruitment_lead_months = '
                       '{ dist = "lognormal", median = 6, sigma = -1 }',
                       r"workforce\.recruitment_lead_months\.sigma = -1: input should be greater than or "
                       r"equal to 0"),
    "unknown_field": ("[workforce]\ncolour = 3",
                      r"workforce\.colour = 3: unknown field \(allowed: initial_fte, cost_per_fte_k, "),
    "typo_suggests_close_match": ("[workforce]\nattrition_per_yaer = 0.1",
                                  r"workforce\.attrition_per_yaer = 0\.1: unknown field; did you mean "
                                  r"'attrition_per_year'\?"),
    "typo_in_section": ("[horizn]\nyears = 3",
                        r"horizn = \{years = 3\}: unknown field; did you mean 'horizon'\?"),
    "typo_in_stream": ("[funding.streams.core]\nshares = 0.8",
                       r"funding\.streams\.core\.shares = 0\.8: unknown field; did you mean 'share'\?"),
    "typo_in_distribution": ('[workforce]\nrecruitment_lead_months = '
                             '{ dist = "triangular", min = 3, mod = 6, max = 12 }',
                             r"workforce\.recruitment_lead_months\.mod = 6: unknown field; did you mean "
                             r"'mode'\?"),
    "confirmation_delay_beyond_11_months": (
        '[funding.streams.core]\nconfirmation_delay_months = { dist = "uniform", min = 0, max = 12 }',
        r"funding\.streams\.core: confirmation_delay_months max \(12\.0\) must be at most 11: a settlement "
        r"is confirmed inside the first year"),
    "bad_literal": ('[funding.streams.core]\narrival = "monthly"',
                    r"funding\.streams\.core\.arrival = 'monthly': input should be 'at_confirmation' or "
                    r"'tranches'"),
    "enabled_not_bool": ('[funding.streams.external]\nenabled = "no"',
                         r"funding\.streams\.external\.enabled = 'no': must be true or false"),
}


@pytest.mark.parametrize(("body", "expected"), BAD_OVERRIDES.values(), ids=BAD_OVERRIDES.keys())
def test_bad_override_raises_scenario_error_naming_file_field_value_and_rule(write_override, body, expected):
    path = write_override(body)
    with pytest.raises(ScenarioError, match=re.escape(f"{path}: ") + expected) as info:
        load_scenario(path)
    assert info.value.file == str(path)
    assert info.value.problems


def test_the_confirmation_delay_cap_is_eleven_months():
    assert MAX_CONFIRMATION_DELAY_MONTHS == 11.0


def test_a_missing_required_field_is_named(tmp_path, baseline_text):
    path = tmp_path / "missing.toml"
    path.write_text(baseline_text.replace("initial_fte = 5000\n", ""), encoding="utf-8")
    expected = f"{path}: workforce.initial_fte: required field is missing"
    with pytest.raises(ScenarioError, match=re.escape(expected)):
        load_scenario(path)


def test_a_missing_section_is_named(tmp_path, baseline_text):
    path = tmp_path / "no_horizon.toml"
    path.write_text(baseline_text.replace("[horizon]\nyears = 6\n", ""), encoding="utf-8")
    with pytest.raises(ScenarioError, match=re.escape(f"{path}: horizon: required field is missing")):
        load_scenario(path)


def test_every_problem_in_a_file_is_reported_at_once(write_override):
    path = write_override("[horizon]\nyears = 0\n[workforce]\nattrition_per_year = -1")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}: horizon.years = 0: ")
    assert lines[1].startswith(f"{path}: workforce.attrition_per_year = -1: ")


def test_broken_toml_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[scenario\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=re.escape(f"{path}: (file): not valid TOML: ") + r".*line 1"):
        load_scenario(path)


def test_broken_toml_in_a_base_file_names_the_base_file(tmp_path):
    parent = tmp_path / "parent.toml"
    parent.write_text("[horizon]\nyears = = 3\n", encoding="utf-8")
    child = tmp_path / "child.toml"
    child.write_text('base = "parent.toml"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=re.escape(f"{parent}: (file): not valid TOML")):
        load_scenario(child)


def test_a_missing_base_file_is_named_with_the_base_value(tmp_path):
    path = tmp_path / "orphan.toml"
    path.write_text('base = "nowhere.toml"\n[horizon]\nyears = 3\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=re.escape(
            f"{path}: base = 'nowhere.toml': file not found: {tmp_path / 'nowhere.toml'}")):
        load_scenario(path)


def test_a_base_that_is_not_a_string_is_refused(tmp_path):
    path = tmp_path / "numbered.toml"
    path.write_text("base = 3\n", encoding="utf-8")
    expected = f"{path}: base = 3: must be the path of another scenario file, relative to this one"
    with pytest.raises(ScenarioError, match=re.escape(expected)):
        load_scenario(path)


def test_a_cyclic_base_is_refused_with_the_cycle_spelled_out(tmp_path):
    (tmp_path / "a.toml").write_text('base = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('base = "a.toml"\n', encoding="utf-8")
    cycle = r"a\.toml: base: inheritance cycle: a\.toml -> b\.toml -> a\.toml"
    with pytest.raises(ScenarioError, match=cycle):
        load_scenario(tmp_path / "a.toml")


def test_a_file_that_inherits_itself_is_refused(tmp_path):
    path = tmp_path / "self.toml"
    path.write_text('base = "./self.toml"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"inheritance cycle: self\.toml -> self\.toml"):
        load_scenario(path)


@pytest.mark.parametrize("text", ["", "\n# only a comment\n"], ids=["empty", "comment_only"])
def test_an_empty_file_is_refused_with_a_pointer_to_an_example(tmp_path, text):
    path = tmp_path / "empty.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=re.escape(f"{path}: (file): the file is empty; see "
                                                      "scenarios/baseline.toml")):
        load_scenario(path)


def test_a_non_utf8_file_is_refused_with_the_byte_offset(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[scenario]\nname = "café"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError, match=re.escape(f"{path}: (file): not UTF-8 text (byte 22); save the "
                                                      "file as UTF-8")):
        load_scenario(path)


def test_a_missing_file_is_refused(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(ScenarioError, match=re.escape(f"{path}: (file): file not found")):
        load_scenario(path)


def test_a_folder_is_not_a_scenario_file(tmp_path):
    with pytest.raises(ScenarioError, match=re.escape(f"{tmp_path}: (file): not a file")):
        load_scenario(tmp_path)

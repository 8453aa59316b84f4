"""What a comparison compares: lever groups, the sentence naming the differences, and the warning
when two scenarios differ in more than one group of levers (issue 8, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.levers import describe_differences, differences, lever_group, mixed_warning
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {p.stem: load_scenario(p) for p in (ROOT / "scenarios").glob("*.toml")}


@pytest.mark.parametrize(("path", "group"), [
    ("funding.streams.core.settlement_years", "settlement length"),
    ("funding.streams.core.confirmation_delay_months", "confirmation timing"),
    ("funding.streams.external.tranches", "how in-year money arrives"),
    ("funding.streams.core.carry_over_within_settlement", "carry-over rules"),
    ("funding.streams.core.share", "amount and mix of money"),
    ("funding.baseline_budget_m", "amount and mix of money"),
    ("organisation.contract_cover", "the organisation's rules"),
    ("workforce.attrition_per_year", "workforce"),
    ("capabilities.it_modernisation.capex_m", "capability projects"),
    # an [uncertain] entry goes with the field it draws (fixing a lever is one change, not two)
    ("uncertain.organisation.contract_cover", "the organisation's rules"),
    ("uncertain.funding.streams.core.amount_volatility", "amount and mix of money"),
])
def test_every_field_falls_in_the_group_a_planner_would_name(path, group):
    assert lever_group(path) == group


def test_the_shipped_headline_pair_differs_in_settlement_length_only():
    annual, three = SHIPPED["annual"], SHIPPED["three_year"]
    diffs = differences(annual, three)
    assert [d.path for d in diffs] == ["funding.streams.core.settlement_years"]
    assert (diffs[0].a, diffs[0].b) == (1, 3)
    assert mixed_warning("annual", annual, "three_year", three) is None
    assert "differs from annual in settlement length" in describe_differences(
        "annual", annual, "three_year", three)


def test_the_value_of_earlier_confirmation_is_its_own_pair():
    three, early = SHIPPED["three_year"], SHIPPED["three_year_early"]
    assert {d.group for d in differences(three, early)} == {"confirmation timing"}
    assert mixed_warning("three_year", three, "three_year_early", early) is None


def test_a_comparison_that_mixes_two_groups_is_warned_about_in_words():
    annual, early = SHIPPED["annual"], SHIPPED["three_year_early"]
    warning = mixed_warning("annual", annual, "three_year_early", early)
    assert warning is not None
    assert "2 groups of levers" in warning
    assert "confirmation timing" in warning and "settlement length" in warning
    assert "mixes their effects" in warning


def test_identical_scenarios_are_said_to_be_identical():
    annual = SHIPPED["annual"]
    renamed = annual.with_changes({"scenario.name": "other"})
    assert differences(annual, renamed) == []
    assert "same parameters" in describe_differences("annual", annual, "other", renamed)


def test_moving_an_uncertain_lever_is_one_group_of_levers():
    # the planner's contract cover fixes the baseline's uncertain one: one decision, no warning
    annual = load_scenario(ROOT / "scenarios" / "annual.toml")
    assert "organisation.contract_cover" in annual.uncertain
    moved = annual.with_changes({"organisation.contract_cover": 0.2})
    assert mixed_warning("annual", annual, "moved", moved) is None

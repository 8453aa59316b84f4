"""A planner's edits in words (`simulator.changes`): names, descriptions and headline subjects
generated from what differs, and messages that name the sidebar control."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from simulator import changes, load_scenario
from simulator.planner import settings_from

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = load_scenario(ROOT / "scenarios" / "annual.toml")


def _with(core: dict | None = None, **top) -> tuple:
    start = settings_from(ANNUAL)
    streams = dict(start.streams)
    if core:
        streams["core"] = dataclasses.replace(streams["core"], **core)
    return dataclasses.replace(start, streams=streams, **top)


def test_nothing_changed_keeps_the_scenario_as_it_is():
    edited, found = changes.apply_named(ANNUAL, settings_from(ANNUAL))
    assert edited is ANNUAL and found == []


def test_a_longer_settlement_names_and_describes_itself():
    edited, found = changes.apply_named(ANNUAL, _with({"settlement_years": 3}))
    assert edited.name == "annual with three-year core settlements"
    assert edited.scenario.description == ("As annual, with three-year core settlements instead "
                                           "of one-year.")
    assert edited.funding.streams["core"].settlement_years == 3
    assert changes.subject(found) == ("three-year core settlements instead of one-year", True)


def test_the_name_follows_the_settings_not_the_first_edit():
    """Issue 12: "annual (edited)" at any length; now two years and five years read differently."""
    two, _ = changes.apply_named(ANNUAL, _with({"settlement_years": 2}))
    five, _ = changes.apply_named(ANNUAL, _with({"settlement_years": 5}))
    assert two.name == "annual with two-year core settlements"
    assert five.name == "annual with five-year core settlements"
    assert "One-year" not in two.scenario.description


def test_a_known_date_is_a_fixed_delay_in_words():
    edited, found = changes.apply_named(ANNUAL, _with({"delay_min": 2.0, "delay_mode": 2.0,
                                                       "delay_max": 2.0}))
    delay = edited.funding.streams["core"].confirmation_delay_months
    assert (delay.dist, delay.value) == ("fixed", 2.0)
    assert edited.name == "annual with known core date (month 2)"
    assert found[0].long == ("core money confirmed on a known date, 2 months after the year "
                             "starts, instead of confirmed between 1 month before and 5 months "
                             "after the year starts (most likely 2 months after)")


def test_more_than_two_changes_are_counted_in_the_name():
    edited, found = changes.apply_named(ANNUAL, _with({"settlement_years": 3},
                                                      contract_cover=0.5, baseline_budget_m=800.0))
    assert edited.name == "annual with 3 changes"
    subject, plural = changes.subject(found)
    assert subject.startswith("these 3 changes (three-year core settlements instead of one-year;")
    assert "a budget of £800m a year instead of £711m" in subject and plural


@pytest.mark.parametrize(("path", "control"), [
    ("funding.streams.core.settlement_years", "Settlement length under Core funding"),
    ("funding.streams.core.confirmation_delay_months", "Confirmation date under Core funding"),
    ("funding.streams.core.confirmation_delay_months.min", "Confirmation date under Core funding"),
    ("funding.streams.external.share", "Share of external in-year money under Budget and "
                                       "contracting"),
    ("funding", "Share of external in-year money under Budget and contracting"),
    ("organisation.contract_cover", "Contract cover under Budget and contracting"),
    ("workforce.cost_per_fte_k", "workforce.cost_per_fte_k"),
])
def test_a_field_is_named_by_the_control_that_sets_it(path, control):
    assert changes.control_for(path) == control

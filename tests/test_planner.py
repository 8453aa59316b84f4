"""Planner settings: what the sidebar moves becomes a validated scenario; saving and differences."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from simulator import load_scenario
from simulator.cli import main as fundsim
from simulator.errors import ScenarioError, UsageError
from simulator.planner import (
    apply_settings,
    delay_triple,
    parameter_differences,
    safe_filename,
    save_scenario,
    settings_from,
    three_year_counterpart,
)

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = load_scenario(ROOT / "scenarios" / "annual.toml")
THREE_YEAR = load_scenario(ROOT / "scenarios" / "three_year.toml")


def _with_stream(settings, name, **changes):
    streams = dict(settings.streams)
    streams[name] = dataclasses.replace(streams[name], **changes)
    return dataclasses.replace(settings, streams=streams)


def test_unchanged_settings_give_back_the_same_scenario():
    assert apply_settings(ANNUAL, settings_from(ANNUAL)) is ANNUAL


def test_settings_read_the_scenario():
    s = settings_from(ANNUAL)
    assert s.streams["core"].settlement_years == 1
    assert (s.streams["core"].delay_min, s.streams["core"].delay_mode,
            s.streams["core"].delay_max) == (-1, 2, 5)
    assert s.in_year_share == pytest.approx(0.1)
    assert s.baseline_budget_m == 711.0


def test_only_what_moved_is_written_back():
    settings = _with_stream(settings_from(ANNUAL), "core", settlement_years=4)
    edited = apply_settings(ANNUAL, settings)
    assert edited.funding.streams["core"].settlement_years == 4
    assert edited.name == "annual (edited)"
    # a PERT lead time and the external stream's triangular delay are untouched
    assert edited.funding.streams["external"] == ANNUAL.funding.streams["external"]
    assert edited.capabilities == ANNUAL.capabilities


def test_an_edited_delay_becomes_triangular():
    settings = _with_stream(settings_from(ANNUAL), "core", delay_min=-3.0, delay_mode=0.0,
                            delay_max=2.5)
    delay = apply_settings(ANNUAL, settings).funding.streams["core"].confirmation_delay_months
    assert (delay.dist, delay.min, delay.mode, delay.max) == ("triangular", -3.0, 0.0, 2.5)


def test_a_minimum_above_the_maximum_is_a_scenario_error():
    settings = _with_stream(settings_from(ANNUAL), "core", delay_min=9.0)
    with pytest.raises(ScenarioError, match=r"confirmation_delay_months.*min"):
        apply_settings(ANNUAL, settings)


def test_in_year_share_keeps_shares_summing_to_one():
    settings = dataclasses.replace(settings_from(ANNUAL), in_year_share=0.35)
    streams = apply_settings(ANNUAL, settings).funding.streams
    assert streams["external"].share == pytest.approx(0.35)
    assert streams["core"].share == pytest.approx(0.65)


def test_budget_growth_and_contract_cover_are_applied():
    settings = dataclasses.replace(settings_from(ANNUAL), baseline_budget_m=800.0,
                                   real_growth=0.02, contract_cover=0.5)
    edited = apply_settings(ANNUAL, settings)
    assert edited.funding.baseline_budget_m == 800.0
    assert edited.funding.real_growth == 0.02
    assert edited.organisation.contract_cover == 0.5


def test_three_year_counterpart_changes_settlements_only():
    counterpart = three_year_counterpart(ANNUAL)
    assert counterpart.funding.streams["core"].settlement_years == 3
    # in-year tranche money is bid for year by year: it stays annual
    assert counterpart.funding.streams["external"].settlement_years == 1
    differences = parameter_differences({"a": ANNUAL, "b": counterpart})
    assert list(differences["parameter"]) == ["funding.streams.core.settlement_years"]


@pytest.mark.parametrize("dist, expected", [
    ({"dist": "uniform", "min": 0, "max": 4}, (0, 2, 4)),
    ({"dist": "fixed", "value": 3}, (3, 3, 3)),
    ({"dist": "pert", "min": -1, "mode": 0, "max": 5}, (-1, 0, 5)),
])
def test_delay_triple_reads_every_kind(dist, expected):
    scenario = ANNUAL.with_changes({"funding.streams.core.confirmation_delay_months": dist})
    assert delay_triple(scenario.funding.streams["core"].confirmation_delay_months) == expected


@pytest.mark.parametrize("title, name", [
    ("Three-year, early (v2)!", "three_year_early_v2.toml"),
    ("../../etc/passwd", "etc_passwd.toml"),
    ("Réseau étendu", "reseau_etendu.toml"),
])
def test_safe_filename(title, name):
    assert safe_filename(title) == name


def test_a_title_without_letters_is_refused():
    with pytest.raises(UsageError, match="at least one letter or digit"):
        safe_filename("!!! ???")


def test_saved_scenario_runs_unchanged_with_fundsim(tmp_path, capsys):
    edited = apply_settings(ANNUAL, _with_stream(settings_from(ANNUAL), "core", settlement_years=2))
    path = save_scenario(edited, tmp_path / "saved", "Two-year core")
    assert path == tmp_path / "saved" / "two_year_core.toml"
    again = load_scenario(path)
    assert again.name == "Two-year core"
    assert again.funding == edited.funding and again.capabilities == edited.capabilities
    assert fundsim(["run", str(path), "--runs", "4", "--out", str(tmp_path / "res"),
                    "--workers", "1", "--quiet"]) == 0
    assert (tmp_path / "res" / "two_year_core" / "manifest.json").is_file()


def test_saving_never_overwrites_without_confirmation(tmp_path):
    path = save_scenario(ANNUAL, tmp_path, "Mine")
    before = path.read_text()
    with pytest.raises(UsageError, match="already exists"):
        save_scenario(THREE_YEAR, tmp_path, "Mine")
    assert path.read_text() == before
    save_scenario(THREE_YEAR, tmp_path, "Mine", overwrite=True)
    assert load_scenario(path).funding.streams["core"].settlement_years == 3


def test_parameter_differences_lists_what_differs():
    differences = parameter_differences({"annual": ANNUAL, "three_year": THREE_YEAR})
    rows = differences.set_index("parameter")
    assert rows.loc["funding.streams.core.settlement_years"].tolist() == ["1", "3"]
    # The shipped pair changes one thing: settlement length (issue: comparisons that change one thing).
    assert list(rows.index) == ["funding.streams.core.settlement_years"]
    early = parameter_differences({"three_year": THREE_YEAR, "early": load_scenario(
        ROOT / "scenarios" / "three_year_early.toml")}).set_index("parameter")
    assert early.loc["funding.streams.core.confirmation_delay_months"].tolist() == [
        "triangular(min=-1, mode=2, max=5)", "triangular(min=-8, mode=-6, max=-4)"]
    assert "scenario.name" not in rows.index
    assert parameter_differences({"a": ANNUAL, "b": ANNUAL}).empty
    # a lever the planner moved is fixed where the other scenario draws it: said, not '-'
    fixed = parameter_differences({"annual": ANNUAL, "moved": ANNUAL.with_changes(
        {"organisation.contract_cover": 0.2})}).set_index("parameter")
    assert fixed.loc["uncertain.organisation.contract_cover"].tolist() == [
        "triangular(min=0.01, mode=0.13, max=0.25)", "fixed"]

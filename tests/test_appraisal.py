"""Green Book appraisal (`simulator/appraisal.py`, `fundsim appraise`): discounting against the
annuity formula, the tail rules on known streams, the `[appraisal]` table's validation, and the
command end to end on the shipped annual and three-year scenarios."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from simulator import load_scenario
from simulator.appraisal import (
    FLOWS,
    appraise_years,
    capex_weighted_uplift,
    discount_factors,
    extend,
    present_value,
    verdict,
)
from simulator.cli import main
from simulator.evaluate import evaluate
from simulator.executors import ProcessExecutor
from simulator.scenario import Appraisal as Settings
from simulator.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
ANNUAL, THREE_YEAR = SCENARIOS / "annual.toml", SCENARIOS / "three_year.toml"


def _annuity_due(c: float, r: float, n: int) -> float:
    """c paid at the start of each of n years (year 0 undiscounted), at rate r."""
    return c * (1 - (1 + r) ** -n) / r * (1 + r)


# --------------------------------------------------------------------------- discounting


@pytest.mark.parametrize("years", [1, 6, 30, 31])
def test_a_constant_stream_discounts_to_the_annuity_formula(years):
    c, r = 12.5, 0.035
    pv = present_value(np.full((1, years), c), discount_factors(years, r))
    assert pv[0] == pytest.approx(_annuity_due(c, r, years), rel=1e-12)


def test_past_year_30_the_long_term_rate_applies_as_a_second_annuity():
    c, r1, r2, years = 3.0, 0.035, 0.030, 60
    factors = discount_factors(years, r1, r2)
    d30 = (1 + r1) ** -30
    expected = _annuity_due(c, r1, 31) + d30 * c * (1 - (1 + r2) ** -(years - 31)) / r2
    assert present_value(np.full(years, c), factors) == pytest.approx(expected, rel=1e-12)
    assert factors[0] == 1.0
    assert factors[1] == pytest.approx(1 / 1.035, rel=1e-15)
    assert factors[31] / factors[30] == pytest.approx(1 / 1.030, rel=1e-15)


def test_a_zero_rate_leaves_money_undiscounted():
    assert np.array_equal(discount_factors(5, 0.0, 0.0), np.ones(5))


# --------------------------------------------------------------------------- the tail


def test_hold_repeats_the_last_simulated_year_and_none_counts_nothing():
    flows = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert extend(flows, 5, "hold").tolist() == [[1, 2, 3, 3, 3], [4, 5, 6, 6, 6]]
    assert extend(flows, 5, "none").tolist() == [[1, 2, 3, 0, 0], [4, 5, 6, 0, 0]]
    assert extend(flows, 2, "hold").tolist() == [[1, 2], [4, 5]]  # a short period cuts the stream


def _streams(runs: int, years: int, disruptions: np.ndarray, spent: np.ndarray) -> dict[str, np.ndarray]:
    out = {k: np.zeros((runs, years)) for k in FLOWS}
    out["disruptions_total"] = disruptions
    out["spent_m"] = spent
    return out


def test_a_held_tail_values_the_last_years_difference_as_an_annuity():
    """B gives one more disruption a year in its last simulated year only; held over a ten-year
    period that is one disruption a year in years 3..9, discounted."""
    runs, sim, period = 4, 4, 10
    a = _streams(runs, sim, np.full((runs, sim), 100.0), np.full((runs, sim), 50.0))
    more = np.full((runs, sim), 100.0)
    more[:, -1] += 1.0
    b = _streams(runs, sim, more, np.full((runs, sim), 50.0))
    held = appraise_years(a, b, Settings(years=period, tail="hold"), period)
    factors = discount_factors(period)
    assert held.difference["disruptions_total"].mean == pytest.approx(factors[3:].sum(), rel=1e-12)
    assert held.difference["disruptions_total"].se == 0.0
    assert held.difference["cost_m"].mean == 0.0
    none = appraise_years(a, b, Settings(), sim)
    assert none.difference["disruptions_total"].mean == pytest.approx(factors[3], rel=1e-12)
    # B's own PV under hold: 100 a year for ten years plus the held extra one
    assert held.per_scenario["B"]["disruptions_total"].mean == pytest.approx(
        _annuity_due(100.0, 0.035, period) + factors[3:].sum(), rel=1e-12)


# --------------------------------------------------------------------------- values and verdicts


def test_npsv_and_bcr_follow_their_definitions():
    rng = np.random.default_rng(3)
    runs, sim = 50, 5
    base = rng.normal(2000, 50, (runs, sim))
    spent = rng.normal(700, 10, (runs, sim))
    a = _streams(runs, sim, base, spent)
    b = _streams(runs, sim, base + 30 + rng.normal(0, 5, (runs, sim)), spent + 4.0)
    settings = Settings(social_value_per_disruption_k=400.0, social_value_source="illustrative")
    r = appraise_years(a, b, settings, sim)
    f = discount_factors(sim)
    extra_disruptions = ((b["disruptions_total"] - a["disruptions_total"]) @ f).mean()
    extra_cost = 4.0 * f.sum()
    assert r.difference["cost_m"].mean == pytest.approx(extra_cost, rel=1e-9)
    assert r.difference["npsv_m"].mean == pytest.approx(0.4 * extra_disruptions - extra_cost, rel=1e-9)
    kind, ratio = r.bcr()
    assert kind == "ratio"
    assert ratio == pytest.approx(0.4 * extra_disruptions / extra_cost, rel=1e-9)
    assert r.switching_value_k() == pytest.approx(extra_cost * 1000 / extra_disruptions, rel=1e-9)
    # the horizon's last row is the full appraisal
    last = r.horizon[-1]
    assert last["years"] == sim
    for key in ("disruptions_total", "cost_m", "lapsed_funds_m", "npsv_m"):
        assert last[key]["mean"] == r.difference[key].mean
        assert last[key]["ci_low"] == r.difference[key].low
    assert r.pays_off_from() is not None
    assert "benefit-cost ratio" in r.sentence()
    json.dumps(r.to_dict())  # JSON-able (NaN aside, which options.json_safe nulls)
    # the sentence says "pays off" only where the interval clears zero too (a mean of +0.3 with
    # an interval of -0.2 to +0.8 in year 1 was "pays off from ... of 1 years")
    def horizon(*rows: tuple[float, float]) -> list[dict]:
        return [{"years": k, "npsv_m": {"mean": m, "ci_low": lo}}
                for k, (m, lo) in enumerate(rows, start=1)]

    unclear = dataclasses.replace(r, horizon=horizon((0.3, -0.2), (5, 1), (9, 4), (12, 6), (15, 8)))
    assert ("its mean pays off from an appraisal period of 1 year, its 95% interval from 2 years"
            in unclear.sentence())
    never = dataclasses.replace(r, horizon=horizon((0.3, -0.2), (0.5, -0.1), (1, -0.1), (1, -1),
                                                   (2, -1)))
    assert "but its 95% interval includes zero at the end of the period" in never.sentence()
    clear = dataclasses.replace(r, horizon=horizon((-1, -2), (0.5, 0.1), (1, 0.5), (2, 1), (3, 2)))
    assert "; it pays off from an appraisal period of 2 years." in clear.sentence()


@pytest.mark.parametrize(("value", "cost", "kind"), [
    (10.0, 5.0, "ratio"), (10.0, -5.0, "dominates"), (0.0, 0.0, "same"), (-1.0, 5.0, "dominated"),
    (-10.0, -5.0, "saves")])
def test_verdict_gives_a_ratio_only_when_b_costs_more_and_gives_more(value, cost, kind):
    found, ratio = verdict(value, cost)
    assert found == kind
    assert math.isfinite(ratio) == (kind in ("ratio", "saves"))


def test_optimism_bias_is_a_capex_weighted_uplift_of_capability_spend():
    s = load_scenario(SCENARIOS / "baseline.toml")
    bias = s.appraisal_settings.optimism_bias
    caps = s.capabilities
    expected = sum(caps[k].capex_m * bias.get(k, 0.0) for k in caps) / sum(c.capex_m for c in caps.values())
    assert capex_weighted_uplift(s) == pytest.approx(expected, rel=1e-12)
    runs, sim = 3, 2
    a = _streams(runs, sim, np.ones((runs, sim)), np.ones((runs, sim)))
    a["capability_spend_m"] = np.full((runs, sim), 10.0)
    r = appraise_years(a, a, Settings(), sim, uplift_a=0.5, uplift_b=0.5)
    pv = 10.0 * discount_factors(sim).sum()
    assert r.per_scenario["A"]["optimism_bias_m"].mean == pytest.approx(0.5 * pv)
    assert r.per_scenario["A"]["cost_m"].mean == pytest.approx(discount_factors(sim).sum() + 0.5 * pv)


# --------------------------------------------------------------------------- the [appraisal] table


@pytest.mark.parametrize(("body", "expected"), [
    ("[appraisal]\ndiscount_rate = -0.1", "appraisal.discount_rate = -0.1: input should be greater than "
                                          "or equal to 0"),
    ('[appraisal]\ndiscount_rate = "0.035"', "appraisal.discount_rate = '0.035': input should be a valid "
                                             "number"),
    ("[appraisal]\nyears = 10", "appraisal.years = 10: must be at most the simulated horizon (6 years) "
                                "unless tail = \"hold\""),
    ('[appraisal]\ntail = "forever"', "appraisal.tail = 'forever': input should be 'none' or 'hold'"),
    ("[appraisal.optimism_bias]\nit_modernization = 2.0",
     "appraisal.optimism_bias.it_modernization = 'it_modernization': not a capability of this scenario; "
     "did you mean 'it_modernisation'?"),
    ("[appraisal.optimism_bias]\ndigital_forensics = -1.0",
     "appraisal.optimism_bias.digital_forensics = -1.0: input should be greater than or equal to 0"),
    ("[appraisal]\nsocial_value_per_disruption_k = 400.0",
     "appraisal.social_value_source: required when social_value_per_disruption_k is given"),
    ('[appraisal]\nsocial_value_source = "Home Office"',
     "appraisal.social_value_source = 'Home Office': names the source of social_value_per_disruption_k"),
    ("[appraisal]\nhorizon = 10", "appraisal.horizon = 10: unknown field"),
])
def test_a_bad_appraisal_table_exits_2_naming_file_field_value_and_rule(capsys, write_override, body,
                                                                       expected):
    path = write_override(body, "bad_appraisal.toml")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {expected}" in err
    assert "Traceback" not in err
    assert main(["appraise", str(path), str(THREE_YEAR), "--runs", "2", "--workers", "1"]) == 2
    assert expected in capsys.readouterr().err


def test_a_held_tail_may_reach_past_the_horizon(write_override):
    s = load_scenario(write_override('[appraisal]\nyears = 12\ntail = "hold"'))
    assert s.appraisal_settings.period(s.horizon.years) == 12


def test_an_inherited_optimism_bias_for_a_disabled_capability_is_no_error(write_override):
    s = load_scenario(write_override("[capabilities.covert_surveillance]\nenabled = false"))
    assert "covert_surveillance" not in s.capabilities
    assert "covert_surveillance" not in s.appraisal_settings.optimism_bias
    assert "digital_forensics" in s.appraisal_settings.optimism_bias


def test_the_appraisal_table_changes_no_run_and_an_absent_one_no_fingerprint():
    with_table = load_scenario(SCENARIOS / "baseline.toml")
    data = with_table.to_dict()
    del data["appraisal"]
    without = scenario_from_dict(data)
    assert without.appraisal is None and "appraisal" not in without.to_dict()
    assert scenario_from_dict(without.to_dict()).sha256() == without.sha256()
    found = evaluate([with_table, without], 8, 4, ProcessExecutor(1), year_metrics=FLOWS)
    assert np.array_equal(found.runs[0], found.runs[1])
    assert found.years is not None and np.array_equal(found.years[0], found.years[1])


def test_scenarios_appraised_under_different_rules_are_refused(capsys, write_override):
    other = write_override("[appraisal]\ndiscount_rate = 0.05", "other_rate.toml")
    assert main(["appraise", str(ANNUAL), str(other), "--runs", "2", "--workers", "1"]) == 2
    assert "appraisal.discount_rate differs" in capsys.readouterr().err


# --------------------------------------------------------------------------- the command


RUNS, SEED = 200, 11


@pytest.fixture(scope="module")
def shipped_json() -> dict:
    """annual against three_year, 200 runs, as `--json` prints it."""
    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main(["appraise", str(ANNUAL), str(THREE_YEAR), "--runs", str(RUNS), "--seed",
                     str(SEED), "--workers", "1", "--json"])
    assert code == 0
    return json.loads(buffer.getvalue())


def test_appraise_json_has_the_structure_the_report_reads(shipped_json):
    d = shipped_json
    assert (d["a"], d["b"], d["runs"], d["seed"]) == ("annual", "three_year", RUNS, SEED)
    assert d["settings"]["discount_rate"] == 0.035 and d["settings"]["years"] == 6
    assert set(d["present_values"]) == {"annual", "three_year"}
    for key in ("disruptions_total", "spent_m", "lapsed_funds_m", "overrun_cost_m", "capability_spend_m",
                "optimism_bias_m", "cost_m"):
        for name in ("annual", "three_year"):
            assert set(d["present_values"][name][key]) == {"mean", "ci_low", "ci_high", "se"}
        assert key in d["difference"]
    assert "npsv_m" not in d["difference"]  # no social value is shipped
    assert d["bcr"]["verdict"] == "no social value" and d["bcr"]["ratio"] is None
    assert [row["years"] for row in d["horizon"]] == list(range(1, 7))
    assert d["sentence"].startswith("Over 6 years at a 3.5% discount rate, three_year against annual")


def test_the_paired_difference_agrees_with_the_two_means(shipped_json):
    d = shipped_json
    for key, diff in d["difference"].items():
        a, b = d["present_values"]["annual"][key], d["present_values"]["three_year"][key]
        assert diff["mean"] == pytest.approx(b["mean"] - a["mean"], rel=1e-9, abs=1e-9)
        if diff["se"] > 0:
            assert diff["ci_low"] <= b["mean"] - a["mean"] <= diff["ci_high"]
            # the interval is the mean +- 1.96 standard errors
            assert diff["ci_high"] - diff["ci_low"] == pytest.approx(2 * 1.96 * diff["se"], rel=1e-9)
    # common random numbers: the paired interval of disruptions is narrower than unpaired ones
    a = d["present_values"]["annual"]["disruptions_total"]["se"]
    b = d["present_values"]["three_year"]["disruptions_total"]["se"]
    assert d["difference"]["disruptions_total"]["se"] < math.hypot(a, b)


def test_the_horizon_tables_last_row_is_the_full_appraisal(shipped_json):
    last = shipped_json["horizon"][-1]
    for key in ("disruptions_total", "cost_m", "lapsed_funds_m"):
        assert last[key] == shipped_json["difference"][key]


def test_pv_lies_between_the_discounted_and_undiscounted_totals(shipped_json):
    """Each year's mean disruptions is discounted by a factor between D_5 and 1, so the PV of
    the total is within those bounds of the undiscounted total (from the same runs)."""
    found = evaluate([load_scenario(ANNUAL)], RUNS, SEED, ProcessExecutor(1),
                     metrics=("disruptions_total",))
    total = found.of("disruptions_total")[0].mean()
    pv = shipped_json["present_values"]["annual"]["disruptions_total"]["mean"]
    assert discount_factors(6)[-1] * total < pv < total


def test_appraise_prints_a_table_and_the_sentence(capsys):
    assert main(["appraise", str(ANNUAL), str(THREE_YEAR), "--runs", "20", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "three_year against annual: present values over 6 years at 3.5%" in out
    assert "The conclusion by appraisal period" in out
    assert "switching value" in out
    assert "Over 6 years at a 3.5% discount rate" in out


def test_a_held_tail_is_numbered_as_year_0_is(capsys, tmp_path):
    # "Year 0 is the first simulated year ... years 7 to 40 repeat" counted two ways; and the
    # title left out the 3.0% after year 30
    (tmp_path / "a.toml").write_text(f'base = "{ANNUAL.as_posix()}"\n[appraisal]\nyears = 40\n'
                                     'tail = "hold"\n')
    (tmp_path / "b.toml").write_text(f'base = "{THREE_YEAR.as_posix()}"\n[appraisal]\n'
                                     'years = 40\ntail = "hold"\n')
    assert main(["appraise", str(tmp_path / "a.toml"), str(tmp_path / "b.toml"), "--runs", "4",
                 "--workers", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "present values over 40 years at 3.5% (3.0% after year 30)" in out
    assert "Year 0 is the first simulated year" in out
    assert "years 6 to 39 repeat the flows of year 5, the last simulated" in out


def test_a_scenario_against_itself_shows_no_difference(capsys):
    assert main(["appraise", str(ANNUAL), str(ANNUAL), "--runs", "10", "--workers", "1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["difference"]["disruptions_total"]["mean"] == 0.0
    assert "the same in present value" in d["sentence"]


@pytest.mark.parametrize("command", [
    ["appraise", "scenarios/annual.toml", "scenarios/three_year.toml"],
    ["value", "scenarios/annual.toml", "scenarios/three_year.toml"],
    ["sensitivity", "scenarios/three_year.toml", "--against", "scenarios/annual.toml"],
])
def test_one_run_is_refused_where_the_answer_is_a_paired_interval(capsys, monkeypatch, command):
    # one run gives a standard error of NaN: "(95% CI nan to nan)" and "£nanm" were printed
    monkeypatch.chdir(ROOT)
    assert main([*command, "--runs", "1"]) == 2
    captured = capsys.readouterr()
    assert "must be at least 2" in captured.err and captured.out == ""


def test_the_switching_value_is_the_same_threshold_read_either_way_round():
    # B saves (costs less, disrupts less): the threshold below which the saving is worth it is
    # the one above which A's extra cost pays off; it was "n/a" once A and B were swapped
    from simulator.appraisal import Settings, switching_value

    assert switching_value(4.0, 20.0) == switching_value(-4.0, -20.0) == pytest.approx(200.0)
    assert math.isnan(switching_value(4.0, -20.0)) and math.isnan(switching_value(-4.0, 20.0))
    assert math.isnan(switching_value(0.0, 0.0))
    rng = np.random.default_rng(3)
    runs, sim = 50, 5
    base = rng.normal(2000, 50, (runs, sim))
    spent = rng.normal(700, 10, (runs, sim))
    more = _streams(runs, sim, base + 30 + rng.normal(0, 5, (runs, sim)), spent + 4.0)
    less = _streams(runs, sim, base, spent)
    forward = appraise_years(less, more, Settings(), sim)
    backward = appraise_years(more, less, Settings(), sim)
    assert backward.switching_value_k() == pytest.approx(forward.switching_value_k(), rel=1e-12)
    assert "it pays off if a disruption is worth more than £" in forward.sentence()
    assert ("its saving is worth the disruptions forgone if a disruption is worth less than £"
            in backward.sentence())

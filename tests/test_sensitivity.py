"""`fundsim sensitivity` against answers known in advance (issue 11).

* Sobol on a flat scenario (no capability uplifts, no legacy decay, nothing drawn per run) where a
  run's mean priority disruptions are (disruptions per FTE-year) x (priority share) x (FTE-years):
  a product of two uniform factors, whose first- and total-order indices are known in closed form.
  The real model runs every point; the indices must match within SALib's bootstrap intervals.
* A tornado bar points the way the lever-direction property test says its lever moves output.
* The cost is said first and --budget refuses a larger design; --resume finishes an interrupted
  study with the same numbers; the number of workers changes nothing; a bad ranges file exits 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import load_scenario
from simulator.cli import main
from simulator.executors import ProcessExecutor
from simulator.sensitivity import check_factors, factors_from_file, make_design
from simulator.sensitivity_folder import Study, run_study

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "sensitivity"
ANNUAL = ROOT / "scenarios" / "annual.toml"
THREE_YEAR = ROOT / "scenarios" / "three_year.toml"


def _json(capsys) -> dict:
    captured = capsys.readouterr()
    return json.loads(captured.out)


def _product_indices(a: tuple[float, float], b: tuple[float, float]) -> dict[str, tuple[float, float]]:
    """S1 and ST of Y = X1 X2 with X1 ~ U(a), X2 ~ U(b) independent: V1 = Var X1 (E X2)^2,
    V2 = Var X2 (E X1)^2, V12 = Var X1 Var X2."""
    var1, var2 = (a[1] - a[0]) ** 2 / 12, (b[1] - b[0]) ** 2 / 12
    mean1, mean2 = sum(a) / 2, sum(b) / 2
    v1, v2, v12 = var1 * mean2**2, var2 * mean1**2, var1 * var2
    total = v1 + v2 + v12
    return {"x1": (v1 / total, (v1 + v12) / total), "x2": (v2 / total, (v2 + v12) / total)}


RATE, SHARE = "operations.disruptions_per_fte_year", "operations.priority_share_base"
IRRELEVANT = "capabilities.it_modernisation.reprofile_premium"
"""A money-only parameter: it cannot change disruptions, so its indices must be zero."""


@pytest.fixture(scope="module")
def flat_sobol(tmp_path_factory) -> Path:
    """The flat scenario's Sobol study over the two product factors and the irrelevant one."""
    out = tmp_path_factory.mktemp("flat")
    code = main(["sensitivity", str(DATA / "flat.toml"), "--ranges", str(DATA / "product-ranges.toml"),
                 "--method", "sobol", "--samples", "256", "--runs", "10", "--metric",
                 "priority_disruptions", "--workers", "2", "--out", str(out), "--quiet"])
    assert code == 0
    return out / "flat-sobol-priority_disruptions"  # another metric than the default: named


def test_sobol_indices_of_a_product_of_two_uniforms_match_the_closed_form(flat_sobol):
    got = {row["factor"]: row for row in pd.read_parquet(flat_sobol / "indices.parquet").to_dict("records")}
    known = _product_indices((0.3, 0.6), (0.2, 0.5))
    for name, path in (("x1", RATE), ("x2", SHARE)):
        s1, st = known[name]
        row = got[path]
        assert abs(row["S1"] - s1) <= row["S1_conf"], (path, row, s1)
        assert abs(row["ST"] - st) <= row["ST_conf"], (path, row, st)
    # not a test any answer passes: the two factors' intervals do not overlap (0.61 against 0.37)
    assert got[SHARE]["S1"] - got[SHARE]["S1_conf"] > got[RATE]["S1"] + got[RATE]["S1_conf"]
    assert abs(got[IRRELEVANT]["ST"]) <= got[IRRELEVANT]["ST_conf"] + 1e-12


def test_discovery_finds_the_low_corner_of_the_product_and_ignores_the_irrelevant_factor(
        flat_sobol, capsys):
    """Cases: points whose mean priority disruptions are at most 1,000 (a small product of rate
    and share). The box can only cap the two product factors from above."""
    assert main(["discover", str(flat_sobol), "--below", "1000", "--json"]) == 0
    found = _json(capsys)
    box = found["box"]
    assert 0 < found["cases"] < found["points"]
    assert box["density"] >= 0.8 and box["coverage"] > 0.5, box
    assert box["limits"] and set(box["limits"]) <= {RATE, SHARE}, box["limits"]
    for path, (low, high) in box["limits"].items():
        assert low == box["sampled"][path][0] and high < box["sampled"][path][1], (path, box)
    assert found["sentence"].startswith("Where operations.")
    assert "priority_disruptions of flat is at most 1000 at" in found["sentence"]
    assert found["box"]["found"]


@pytest.mark.parametrize(("option", "value"), [("--below", "nan"), ("--above", "inf"),
                                               ("--below", "-inf")])
def test_discovery_refuses_a_level_that_is_not_a_finite_number(flat_sobol, capsys, option, value):
    # "is above nan at all 576 of them" was printed with exit 0
    assert main(["discover", str(flat_sobol), f"{option}={value}"]) == 2
    assert "must be a finite number" in capsys.readouterr().err


def test_discovery_says_so_when_no_point_is_a_case(flat_sobol, capsys):
    assert main(["discover", str(flat_sobol), "--below", "100"]) == 0
    printed = capsys.readouterr().out
    assert ("No sampled point is such a case: priority_disruptions of flat is above 100 at all "
            "1280 of them") in printed
    assert "Each point's mean is known to about ±" in printed


def test_discovery_claims_no_region_when_cases_are_scattered():
    """Cases drawn independently of the factors (5% of 600 points): no box can hold mostly cases,
    so none is claimed, and never "everywhere" (a reviewer saw an unrestricted box, the whole
    sample at 1% density, said as "everywhere in the sampled ranges")."""
    from simulator.discovery import discover

    rng = np.random.default_rng(7)
    x = pd.DataFrame(rng.uniform(size=(600, 3)), columns=["a", "b", "c"])
    y = rng.uniform(size=600) < 0.05
    box = discover(x, y, threshold=0.8)
    assert box is not None and not box.found
    sentence = box.words("the gain is small")
    assert sentence.startswith("No region of the sampled ranges holds mostly such points: the gain "
                               f"is small at {int(y.sum())} of the 600 sampled points")
    assert "everywhere" not in sentence


def test_discovery_follows_the_metric_where_lower_is_better(tmp_path, capsys):
    """Lapsed money: three-year lapses less, so it beats annual at every point (a reviewer saw
    the opposite said when "does not beat" was taken as "gain at most 0")."""
    assert main(["sensitivity", str(THREE_YEAR), "--against", str(ANNUAL), "--method", "morris",
                 "--samples", "8", "--runs", "20", "--metric", "lapsed_funds_m", "--workers", "2",
                 "--out", str(tmp_path), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["discover", str(tmp_path / "three_year-vs-annual-morris-lapsed_funds_m")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("No sampled point is such a case: three_year beats annual in "
                              "lapsed_funds_m at all 64 of them"), printed


def test_sobol_of_a_product_is_what_salib_gives_for_the_exact_function():
    """The same design and estimator on the exact product (no model): the closed form holds, so
    a mismatch above would be the model's, not the estimator's wiring."""
    scenario = load_scenario(DATA / "flat.toml")
    factors = factors_from_file(DATA / "product-ranges.toml", scenario)
    design = make_design("sobol", factors, 1024, seed=1)
    from simulator.sensitivity import sobol_indices

    rows = {r["factor"]: r for r in sobol_indices(design, design.values[:, 0] * design.values[:, 1], 1)}
    known = _product_indices((0.3, 0.6), (0.2, 0.5))
    assert abs(rows["operations.disruptions_per_fte_year"]["S1"] - known["x1"][0]) <= \
        rows["operations.disruptions_per_fte_year"]["S1_conf"]
    assert abs(rows["operations.priority_share_base"]["ST"] - known["x2"][1]) <= \
        rows["operations.priority_share_base"]["ST_conf"]


# Which way a planner expects each factor to move output (tests/test_lever_directions.py holds the
# same directions as property tests on paired runs): +1 if a higher value never lowers output.
EXPECTED = {"operations.legacy_decay_per_year": -1, "organisation.late_spend_value": +1,
            "organisation.legacy_it_cost_m_per_year": -1,
            "workforce.attrition_uplift_unconfirmed": -1}


def test_tornado_bars_point_the_way_the_property_tests_do(tmp_path, capsys):
    code = main(["sensitivity", str(ANNUAL), "--method", "oat", "--runs", "200", "--workers", "2",
                 "--out", str(tmp_path), "--json"])
    assert code == 0
    rows = {r["factor"]: r for r in _json(capsys)["factors"]}
    checked = 0
    for path, sign in EXPECTED.items():
        row = rows[path]
        for end, direction in (("low", -sign), ("high", +sign)):
            low, high = row[f"{end}_ci_low"], row[f"{end}_ci_high"]
            if low > 0 or high < 0:  # the bar end is clearly not zero: its sign must match
                assert np.sign(row[f"{end}_effect"]) == direction, (path, end, row)
                checked += 1
    assert checked >= 4, rows  # not vacuous: most bar ends are clearly away from zero


def test_the_cost_is_said_and_the_budget_refuses_a_larger_design(tmp_path, capsys):
    code = main(["sensitivity", str(THREE_YEAR), "--against", str(ANNUAL), "--method", "morris",
                 "--samples", "10", "--runs", "100", "--budget", "10000", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "--budget 10,000: this study needs morris over 7 factors: 80 points x 100 runs x 2 " \
           "scenarios = 16,000 model runs" in err
    assert not any(tmp_path.iterdir())


def _study(workers: int) -> tuple[Study, ProcessExecutor]:
    scenario, other = load_scenario(THREE_YEAR), load_scenario(ANNUAL)
    from simulator.sensitivity import declared_factors

    factors = declared_factors(scenario)
    check_factors(factors, [("three_year", scenario), ("annual", other)], "test")
    return (Study(scenario, other, make_design("morris", factors, 4, seed=3), "lapsed_funds_m", 30, 3),
            ProcessExecutor(workers))


def test_resume_finishes_an_interrupted_study_with_the_same_numbers(tmp_path, monkeypatch):
    import simulator.sensitivity_folder as folder_module

    monkeypatch.setattr(folder_module, "RUNS_PER_BATCH", 600)  # 10 points a batch: 4 batches
    study, executor = _study(2)
    try:
        run_study(study, tmp_path / "whole", executor, workers=2)
        seen = []

        def stop_after_two_batches(runs: int) -> None:
            seen.append(runs)
            if sum(seen) >= 2 * 600:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_study(study, tmp_path / "cut", executor, workers=2, progress=stop_after_two_batches)
        batches = sorted(p.name for p in (tmp_path / "cut.partial" / "batches").iterdir())
        assert batches and len(batches) < 4, batches
        resumed = run_study(study, tmp_path / "cut", executor, workers=2, resume=True)
    finally:
        executor.close()
    assert resumed.resumed and resumed.ran == study.cost() - 600 * len(batches)
    for name in ("runs", "points", "indices"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cut" / f"{name}.parquet"),
                                      pd.read_parquet(tmp_path / "whole" / f"{name}.parquet"))
    assert not (tmp_path / "cut.partial").exists()


def test_the_number_of_workers_changes_nothing(tmp_path):
    outs = []
    for workers in (1, 2):
        study, executor = _study(workers)
        try:
            outs.append(run_study(study, tmp_path / f"w{workers}", executor, workers=workers))
        finally:
            executor.close()
    assert outs[0].rows == outs[1].rows
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "w1" / "runs.parquet"),
                                  pd.read_parquet(tmp_path / "w2" / "runs.parquet"))


@pytest.mark.parametrize(("text", "message"), [
    ('"organisation.legacy_it_cost_m_per_year" = { low = 60, high = 20 }',
     "organisation.legacy_it_cost_m_per_year: low = 60 must be below high = 20"),
    ('"organisation.no_such_field" = { low = 1, high = 2 }',
     '"organisation.no_such_field": names no field of the scenario'),
    ('"workforce.attrition_per_year" = { low = 0.5, high = 1.5 }',
     "workforce.attrition_per_year = 1.5"),
    ('"funding.streams.core.share" = { low = 0.5, high = 0.9 }',
     "stream shares must sum to 1"),
])
def test_a_bad_ranges_file_exits_2_naming_the_file_entry_value_and_rule(tmp_path, capsys, text, message):
    ranges = tmp_path / "ranges.toml"
    ranges.write_text(text + "\n")
    code = main(["sensitivity", str(ANNUAL), "--ranges", str(ranges), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert str(ranges) in err and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_force_replaces_only_a_sensitivity_folder(tmp_path, capsys):
    target = tmp_path / "annual-oat"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    code = main(["sensitivity", str(ANNUAL), "--runs", "5", "--out", str(tmp_path), "--force"])
    assert code == 2
    assert "has no fundsim manifest.json" in capsys.readouterr().err
    assert (target / "notes.txt").read_text() == "mine"


def test_a_study_on_a_dask_local_cluster_gives_the_process_pools_numbers(tmp_path):
    argv = ["sensitivity", str(THREE_YEAR), "--against", str(ANNUAL), "--method", "morris",
            "--samples", "2", "--runs", "20", "--quiet"]
    assert main([*argv, "--cluster", "local", "--workers", "2", "--out", str(tmp_path / "dask")]) == 0
    assert main([*argv, "--workers", "1", "--out", str(tmp_path / "pool")]) == 0
    for name in ("runs", "indices"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "dask" / "three_year-vs-annual-morris" / f"{name}.parquet"),
            pd.read_parquet(tmp_path / "pool" / "three_year-vs-annual-morris" / f"{name}.parquet"))


def test_discovery_reads_a_sweep_too(tmp_path, capsys):
    """A Latin hypercube sweep of one scenario is a sample as well: a level is needed (one
    scenario has no winner), and the box restricts only the swept fields."""
    assert main(["sweep", str(DATA / "flat.toml"), "--vary", f"{RATE}=0.3:0.6", "--vary",
                 f"{IRRELEVANT}=1.5:2.9", "--lhs", "60", "--runs", "5", "--workers", "1",
                 "--out", str(tmp_path), "--quiet"]) == 0
    folder = tmp_path / "flat-sweep"
    assert main(["discover", str(folder)]) == 2
    assert "one-scenario study has no winner" in capsys.readouterr().err
    assert main(["discover", str(folder), "--metric", "priority_disruptions", "--below", "1500",
                 "--json"]) == 0
    found = _json(capsys)
    assert found["box"]["found"] and list(found["box"]["limits"]) == [RATE], found
    low, high = found["box"]["limits"][RATE]
    assert low == found["box"]["sampled"][RATE][0] and high < 0.6


def test_a_box_prim_gave_back_as_the_whole_sample_is_not_called_its_densest():
    # EMA's PRIM returns the whole sample when no box reaches the threshold; its density is then
    # the share of cases, which was quoted as "the densest box PRIM finds has only 4%"
    from simulator.discovery import Box

    whole = Box({}, {"x": (0.0, 1.0)}, 1.0, 23 / 576, 1.0, 23, 576, 0.8)
    text = whole.words("the metric is above 350")
    assert "at 23 of the 576 sampled points (4%)" in text
    assert "PRIM finds no box in which at least 80% of the points are such cases" in text
    assert "densest" not in text
    peeled = Box({"x": (0.2, 1.0)}, {"x": (0.0, 1.0)}, 0.5, 0.67, 0.1, 23, 576, 0.8)
    assert "the densest box PRIM finds has only 67%" in peeled.words("the metric is above 350")


def test_a_study_of_another_metric_takes_its_own_folder():
    from simulator.sensitivity_folder import folder_name

    assert folder_name("three_year", "annual", "oat") == "three_year-vs-annual-oat"
    assert folder_name("three_year", "annual", "oat", "disruptions_total") == (
        "three_year-vs-annual-oat")
    assert folder_name("three_year", "annual", "oat", "lapsed_funds_m") == (
        "three_year-vs-annual-oat-lapsed_funds_m")
    assert folder_name("annual", None, "sobol", "priority_disruptions") == (
        "annual-sobol-priority_disruptions")


def test_the_tornado_design_is_on_the_probability_scale_like_the_others():
    # design.parquet's u_* for a 5th-percentile value was its linear position in the range
    from simulator.sensitivity import declared_factors, make_design

    factors = declared_factors(load_scenario(THREE_YEAR))
    design = make_design("oat", factors, 0, 1)
    for k, factor in enumerate(factors):
        back = factor.values(design.unit[:, k])
        assert np.allclose(back, design.values[:, k], rtol=1e-9, atol=1e-12), factor.path
    assert np.allclose(design.unit[1:3, 0], [0.05, 0.95])  # the tornado's ends are quantiles

"""Calibration: the shipped baseline meets its published targets, verdicts follow the bands, bad
targets files are refused clearly, and `--fit` finds a parameter a target pins down."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from simulator import calibration
from simulator.cli import main
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"


def test_the_shipped_baseline_meets_every_target(capsys):
    # The test that fails if the baseline drifts out of tolerance (issue 9): the CLI's own verdict.
    code = main(["calibrate", str(BASELINE), "--runs", "400", "--workers", "2", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert payload["missed"] == [], payload["missed"]
    assert code == 0
    ids = {t["id"] for t in payload["targets"]}
    assert ids == {t.id for t in calibration.load_targets().target}
    for t in payload["targets"]:
        assert t["model_ci_low"] <= t["model_mean"] <= t["model_ci_high"]
        assert t["source"] and t["date"]


def test_a_missed_target_exits_1_and_names_it(tmp_path, capsys):
    targets = tmp_path / "targets.toml"
    targets.write_text("""version = 1
[[target]]
id = "too_many"
title = "Disruptions a year"
measure = "disruptions_per_year"
published = "an impossible figure"
low = 90000.0
high = 100000.0
tolerance = 10.0
source = "a test"
date = "2026"
""")
    code = main(["calibrate", str(BASELINE), "--runs", "50", "--workers", "1",
                 "--targets", str(targets)])
    out = capsys.readouterr().out
    assert code == 1
    assert "misses" in out and "too_many" in out


@pytest.mark.parametrize("body, words", [
    ('version = 1\n[[target]]\nid = "a"\ntitle = "t"\nmeasure = "nonsense"\npublished = "p"\n'
     'low = 1.0\ntolerance = 0.1\nsource = "s"\ndate = "d"\n', ["target[a].measure", "nonsense"]),
    ('version = 1\n[[target]]\nid = "a"\ntitle = "t"\nmeasure = "priority_share"\npublished = "p"\n'
     'low = 0.6\nhigh = 0.4\ntolerance = 0.1\nsource = "s"\ndate = "d"\n', ["low (0.6)", "high (0.4)"]),
    ('version = 1\n[[target]]\nid = "a"\ntitle = "t"\nmeasure = "priority_share"\npublished = "p"\n'
     'tolerance = 0.1\nsource = "s"\ndate = "d"\n', ["give low, high or both"]),
    ("version = 1\ntarget = [\n", ["not valid TOML"]),
])
def test_a_bad_targets_file_exits_2_naming_file_field_and_rule(tmp_path, capsys, body, words):
    targets = tmp_path / "bad.toml"
    targets.write_text(body)
    code = main(["calibrate", str(BASELINE), "--runs", "10", "--targets", str(targets)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(targets) in err and "Traceback" not in err
    for w in words:
        assert w in err


def _target(low, high, tolerance):
    return calibration.Target(id="x", title="x", measure="priority_share", published="p",
                              low=low, high=high, tolerance=tolerance, source="s", date="d")


def test_verdicts_follow_band_and_tolerance():
    t = _target(0.35, 0.50, 0.03)
    assert calibration.verdict(t, 0.40) == "meets"
    assert calibration.verdict(t, 0.35) == "meets"
    assert calibration.verdict(t, 0.52) == "within tolerance"
    assert calibration.verdict(t, 0.33) == "within tolerance"
    assert calibration.verdict(t, 0.54) == "misses"
    assert calibration.verdict(t, math.nan) == "misses"
    one_sided = _target(1.0, None, 0.02)
    assert calibration.verdict(one_sided, 5.0) == "meets"
    assert calibration.verdict(one_sided, 0.97) == "misses"


def test_measures_agree_with_the_outputs_they_are_built_from():
    from simulator.memory import run_batch

    batch = run_batch(load_scenario(BASELINE), 30, 3, workers=1)
    runs, years = batch.runs, batch.years
    t = _target(0.0, 1.0, 0.0)
    share = calibration.measure_values(t, runs, years)
    expected = (runs.priority_disruptions / runs.disruptions_total).to_numpy()
    np.testing.assert_allclose(share, expected, rtol=1e-12)
    # Capital lapsed is part of all money lapsed, and capital received part of money received.
    assert (years.capital_lapsed_m <= years.lapsed_funds_m + 1e-9).all()
    assert (years.capital_received_m <= years.received_m + 1e-9).all()
    assert (years.staff_pay_m <= years.spent_m + 1e-9).all()


def test_fit_recovers_a_parameter_that_one_target_pins_down(tmp_path, capsys):
    # Disruptions a year scale with disruptions_per_fte_year; a band around the output at 0.45
    # (the baseline's value) must lead the fit back near 0.45 from a range of 0.2 to 0.9.
    from simulator.memory import run_batch

    scenario = load_scenario(BASELINE)
    batch = run_batch(scenario, 60, 1, workers=1)
    level = float(batch.runs.disruptions_total.mean()) / scenario.horizon.years
    targets = tmp_path / "targets.toml"
    targets.write_text(f"""version = 1
[[target]]
id = "level"
title = "Disruptions a year"
measure = "disruptions_per_year"
published = "the baseline's own level"
low = {level * 0.99}
high = {level * 1.01}
tolerance = 0.0
source = "test"
date = "2026"
""")
    out_file = tmp_path / "fitted.toml"
    code = main(["calibrate", str(BASELINE), "--targets", str(targets), "--runs", "60",
                 "--workers", "1", "--fit", "operations.disruptions_per_fte_year=0.2:0.9",
                 "--fit-runs", "60", "--generations", "6", "--out", str(out_file), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0, payload
    value = payload["fit"]["parameters"][0]["value"]
    assert abs(value - 0.45) < 0.45 * 0.02
    fitted = load_scenario(out_file)  # the written file inherits the baseline and loads
    assert fitted.operations.disruptions_per_fte_year == pytest.approx(value)
    assert fitted.funding == scenario.funding


def test_fit_refuses_whole_number_fields_and_bad_ranges(capsys):
    code = main(["calibrate", str(BASELINE), "--runs", "10", "--fit", "horizon.years=3:9"])
    assert code == 2 and "whole-number" in capsys.readouterr().err
    code = main(["calibrate", str(BASELINE), "--runs", "10", "--fit", "organisation.nothing=0:1"])
    assert code == 2 and "organisation.nothing" in capsys.readouterr().err


def _fit(scenario: Path, out: Path, *extra: str) -> list[str]:
    return ["calibrate", str(scenario), "--runs", "10", "--workers", "1", "--fit",
            "organisation.contract_cover=0.05:0.5", "--fit-runs", "10", "--generations", "1",
            "--out", str(out), *extra]


def test_fit_out_never_replaces_a_file_fundsim_did_not_write(tmp_path, capsys):
    """--force replaces only a calibrated file fundsim wrote, and the check comes before any run:
    a user's own file, the scenario being fitted (which the calibrated file would inherit) and a
    folder are refused with exit 2 and left as they were."""
    own = tmp_path / "mine.toml"
    own.write_text("# my notes\n")
    scenario = tmp_path / "annual.toml"
    scenario.write_text(f'base = "{(ROOT / "scenarios" / "annual.toml").as_posix()}"\n')
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    for out, words in ((own, "replaces only a calibrated scenario fundsim wrote"),
                       (scenario, "a file it inherits"),
                       (ROOT / "scenarios" / "baseline.toml", "a file it inherits"),
                       (folder, "is a folder")):
        before = out.read_bytes() if out.is_file() else None
        code = main(_fit(scenario, out, "--force"))
        captured = capsys.readouterr()
        assert code == 2, captured.err
        assert words in captured.err and str(out) in captured.err
        assert captured.out == ""  # refused before any run: no table of the scenario's runs
        assert (out.read_bytes() if out.is_file() else None) == before
    code = main(_fit(scenario, own))  # without --force: refused too
    assert code == 2 and "already exists" in capsys.readouterr().err


def test_fit_out_makes_its_folder_and_force_replaces_its_own_file(tmp_path, capsys):
    out = tmp_path / "new" / "folder" / "fitted.toml"
    assert main(_fit(BASELINE, out, "--json")) in (0, 1)
    capsys.readouterr()
    first = out.read_text()
    assert first.startswith("# Written by fundsim calibrate --fit\n# From baseline.toml against")
    assert load_scenario(out).name == "baseline-calibrated"
    assert main(_fit(BASELINE, out, "--json")) == 2  # exists: needs --force
    assert "already exists" in capsys.readouterr().err
    assert main(_fit(BASELINE, out, "--json", "--force")) in (0, 1)  # its own file: replaced
    capsys.readouterr()
    assert load_scenario(out).name == "baseline-calibrated"

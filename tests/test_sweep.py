"""Sweeps: --vary parsing and its errors, grid and Latin hypercube designs, one results set with
points.parquet and a results folder per point, the same seeds at every point, bad points refused
before anything runs, and a real SIGKILL of a sweep resumed to the same bytes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import UsageError, load_results, load_scenario
from simulator.analysis import MAIN_METRICS
from simulator.cli import main
from simulator.sweep import Vary, bind, design_points, parse_vary, plan_sweep

ROOT = Path(__file__).resolve().parent.parent
ANNUAL_TOML = ROOT / "scenarios" / "annual.toml"
ANNUAL = load_scenario(ANNUAL_TOML)
MODE = "funding.streams.core.confirmation_delay_months.mode"
YEARS = "funding.streams.core.settlement_years"
FUNDSIM = [sys.executable, "-m", "simulator.cli"]


# ------------------------------------------------------------------ --vary


def test_parse_vary_reads_path_range_and_steps():
    assert parse_vary(f"{MODE}=0:4:3") == Vary(MODE, 0.0, 4.0, 3)
    assert parse_vary(f"{MODE}=-1.5:2.5") == Vary(MODE, -1.5, 2.5, 5)


@pytest.mark.parametrize(("text", "message"), [
    (f"{MODE}=4:1", rf"--vary '{MODE}=4:1': LOW = 4 is above HIGH = 1; give the range from low to high"),
    (f"{MODE}=a:1", r"LOW = 'a' is not a number"),
    (f"{MODE}=0:4:0", r"STEPS = '0' must be a whole number of at least 1"),
    (f"{MODE}=0:4:2.5", r"STEPS = '2.5' must be a whole number"),
    (f"{MODE}:0:4", r"expected PATH=LOW:HIGH or PATH=LOW:HIGH:STEPS"),
])
def test_a_bad_vary_names_the_option_the_value_and_the_rule(text, message):
    with pytest.raises(UsageError, match=message):
        parse_vary(text)


def test_vary_paths_are_checked_against_the_scenario():
    assert bind(ANNUAL, parse_vary(f"{YEARS}=1:3")).integer
    assert not bind(ANNUAL, parse_vary(f"{MODE}=0:4")).integer
    with pytest.raises(UsageError, match=r"is a distribution \(triangular\); vary one of its numbers "
                                         r"\(min, mode, max\), e\.g\. .*months\.min"):
        bind(ANNUAL, parse_vary("funding.streams.core.confirmation_delay_months=0:4"))
    with pytest.raises(UsageError, match=r"holds whole numbers; give a whole-number range"):
        bind(ANNUAL, parse_vary(f"{YEARS}=1:2.5"))


def test_grid_is_every_combination_with_whole_numbers_where_the_field_needs_them():
    varies = [bind(ANNUAL, parse_vary(f"{MODE}=0:4:3")), bind(ANNUAL, parse_vary(f"{YEARS}=1:3:5"))]
    points = design_points(varies, None, seed=1)
    assert [p[MODE] for p in points] == [0.0] * 3 + [2.0] * 3 + [4.0] * 3
    assert [p[YEARS] for p in points] == [1, 2, 3] * 3
    assert all(type(p[YEARS]) is int for p in points)


def test_a_whole_number_grid_with_fewer_values_than_steps_is_said(capsys, tmp_path):
    # 4 steps of settlement length from 1 to 2 are the whole numbers 1 and 2: two points, said
    design = plan_sweep(ANNUAL, [parse_vary(f"{YEARS}=1:2:4"), parse_vary(f"{MODE}=0:4:3")], None, 1)
    assert design.notes() == [f"--vary {YEARS}: 4 steps from 1 to 2 give 2 whole numbers (1, 2), "
                              "so the sweep has 6 points"]
    assert plan_sweep(ANNUAL, [parse_vary(f"{YEARS}=1:3:3")], None, 1).notes() == []
    assert main(["sweep", str(ROOT / "scenarios" / "annual.toml"), "--vary", f"{YEARS}=1:2:4",
                 "--runs", "10", "--workers", "1", "--out", str(tmp_path), "--quiet"]) == 0
    assert "give 2 whole numbers (1, 2)" in capsys.readouterr().err


def test_latin_hypercube_puts_one_point_in_every_stratum_of_every_range():
    varies = [bind(ANNUAL, parse_vary(f"{MODE}=-1:5")),
              bind(ANNUAL, parse_vary("workforce.attrition_per_year=0.05:0.15"))]
    points = design_points(varies, 8, seed=3)
    assert points == design_points(varies, 8, seed=3)
    assert points != design_points(varies, 8, seed=4)
    for v in varies:
        values = np.array([p[v.path] for p in points])
        strata = np.floor((values - v.low) / (v.high - v.low) * 8).astype(int)
        assert sorted(strata) == list(range(8)), v.path


# ------------------------------------------------------------------ fundsim sweep


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep")
    assert main(["sweep", str(ANNUAL_TOML), "--vary", f"{MODE}=0:4:3", "--vary", f"{YEARS}=1:3:2",
                 "--runs", "12", "--seed", "9", "--workers", "1", "--out", str(out), "--quiet"]) == 0
    return out / "annual-sweep"


def test_a_sweep_writes_points_parquet_and_a_results_folder_per_point(swept):
    assert sorted(p.name for p in swept.iterdir()) == ["manifest.json", "points", "points.parquet"]
    points = pd.read_parquet(swept / "points.parquet")
    assert list(points["point"]) == [f"p{i:04d}" for i in range(6)]
    assert list(points.columns[:4]) == ["point", MODE, YEARS, "runs"]
    for metric in MAIN_METRICS:
        assert {f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high"} <= set(points.columns)
    for row in points.to_dict(orient="records"):
        results = load_results(swept / "points" / row["point"])
        assert len(results.runs) == 12 and results.seed == 9
        core = results.scenario.to_dict()["funding"]["streams"]["core"]
        assert core["confirmation_delay_months"]["mode"] == row[MODE]
        assert core["settlement_years"] == row[YEARS]
        assert results.runs["disruptions_total"].mean() == pytest.approx(row["disruptions_total_mean"])
    manifest = json.loads((swept / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["design"] == "grid"
    assert [p["values"] for p in manifest["points"]][1] == {MODE: 0.0, YEARS: 3}


def test_every_point_uses_the_same_seeds_as_a_plain_run(swept, tmp_path):
    """Point p0002 (mode 2, one-year) is annual.toml itself: the same runs, bit for bit."""
    assert main(["run", str(ANNUAL_TOML), "--runs", "12", "--seed", "9", "--workers", "1",
                 "--out", str(tmp_path), "--quiet"]) == 0
    plain = load_results(tmp_path / "annual")
    point = load_results(swept / "points" / "p0002")
    assert point.scenario == ANNUAL
    pd.testing.assert_frame_equal(point.runs, plain.runs, check_exact=True)


def test_a_point_that_makes_the_scenario_invalid_is_refused_before_anything_runs(capsys, tmp_path):
    assert main(["sweep", str(ANNUAL_TOML), "--vary", f"{MODE}=0:6:4", "--runs", "5",
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert f"sweep point p0003 ({MODE} = 6.0) is not a valid scenario" in err
    assert "mode (6.0) must lie between min (-1.0) and max (5.0)" in err and "nothing was run" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("vary", "message"), [
    (f"{MODE}x=0:4", rf"--vary: {MODE}x: no such field"),
    (f"{MODE}=5:1", r"LOW = 5 is above HIGH = 1"),
    ("scenario.name=0:1", r"--vary scenario.name = 'annual': only numeric fields can be varied"),
])
def test_sweep_bad_input_exits_2_with_the_message(capsys, tmp_path, vary, message):
    assert main(["sweep", str(ANNUAL_TOML), "--vary", vary, "--out", str(tmp_path / "x")]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "x").exists()


def test_sweep_json_is_one_strict_object(capsys, tmp_path):
    capsys.readouterr()
    assert main(["sweep", str(ANNUAL_TOML), "--vary", f"{MODE}=0:4", "--lhs", "3", "--runs", "4",
                 "--workers", "1", "--out", str(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["command"] == "sweep" and summary["design"] == "lhs"
    assert len(summary["points"]) == 3 and summary["points"][0]["runs"] == 4
    assert captured.err == ""


def test_sweep_quiet_prints_nothing(capsys, tmp_path):
    capsys.readouterr()
    assert main(["sweep", str(ANNUAL_TOML), "--vary", f"{MODE}=0:4:2", "--runs", "2", "--workers", "1",
                 "--out", str(tmp_path), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_sweep_shows_progress_over_points_and_runs_on_a_terminal(tmp_path, on_terminal):
    drawn = on_terminal([*FUNDSIM, "sweep", str(ANNUAL_TOML), "--vary", f"{MODE}=0:4:2", "--runs", "20",
                         "--workers", "1", "--out", str(tmp_path)])
    assert "points" in drawn and "point 1" in drawn and "20/20" in drawn


def _finished_points(partial: Path) -> int:
    return sum(1 for p in (partial / "points").glob("p*") if not p.name.endswith(".partial"))


def test_a_killed_sweep_resumes_to_the_same_bytes(tmp_path):
    args = ["sweep", str(ANNUAL_TOML), "--vary", f"{MODE}=0:4:4", "--runs", "150", "--chunk-size",
            "25", "--seed", "2", "--workers", "1", "--quiet"]
    ref = tmp_path / "ref"
    assert main([*args, "--out", str(ref)]) == 0
    out = tmp_path / "cut"
    proc = subprocess.Popen([*FUNDSIM, *args, "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = out / "annual-sweep.partial"
    while not (partial.is_dir() and _finished_points(partial) >= 1):
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (out / "annual-sweep").exists()
    assert main([*args, "--out", str(out)]) == 2  # a leftover sweep needs --resume or --force
    assert main([*args, "--out", str(out), "--resume"]) == 0
    a, b = ref / "annual-sweep", out / "annual-sweep"
    pd.testing.assert_frame_equal(pd.read_parquet(a / "points.parquet"),
                                  pd.read_parquet(b / "points.parquet"), check_exact=True)
    for i in range(4):
        for name in ("runs.parquet", "years.parquet", "bands.parquet"):
            assert (a / "points" / f"p{i:04d}" / name).read_bytes() == (
                b / "points" / f"p{i:04d}" / name).read_bytes()


def test_a_sweep_killed_before_its_first_manifest_starts_afresh_on_resume(capsys, tmp_path):
    (tmp_path / "annual-sweep.partial" / "points").mkdir(parents=True)
    assert main(["sweep", str(ANNUAL_TOML), "--vary", f"{MODE}=0:4:2", "--runs", "3", "--workers", "1",
                 "--out", str(tmp_path), "--quiet", "--resume"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annual-sweep"]

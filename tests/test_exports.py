"""Issue 12's analyst: `fundsim run`, `sweep` and `report` write CSV and xlsx files whose numbers
are numbers (read back with pandas and openpyxl); a sweep's table has each point's paired
difference from a reference point; shares can be swept; `fundsim fields` lists every path `--vary`
accepts; the help texts say what every argument is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from simulator import load_results, load_scenario
from simulator.analysis import MAIN_METRICS, mean_ci
from simulator.cli import build_parser, main
from simulator.fields import fields
from simulator.sweep import bind, parse_vary

ROOT = Path(__file__).resolve().parent.parent
ANNUAL_TOML = ROOT / "scenarios" / "annual.toml"
THREE_TOML = ROOT / "scenarios" / "three_year.toml"
MODE = "funding.streams.core.confirmation_delay_months.mode"
EXTERNAL = "funding.streams.external.share"


# ------------------------------------------------------------------ run --xlsx --csv


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    assert main(["run", str(ANNUAL_TOML), str(THREE_TOML), "--runs", "40", "--seed", "4",
                 "--workers", "1", "--out", str(out), "--quiet", "--xlsx", str(out / "run.xlsx"),
                 "--csv", str(out / "runs.csv")]) == 0
    return out


def test_run_writes_every_run_as_csv_that_pandas_reads_as_numbers(ran):
    back = pd.read_csv(ran / "runs.csv")
    assert list(back.columns[:2]) == ["scenario", "run"]
    for name in ("annual", "three_year"):
        stored = load_results(ran / name).runs
        mine = back[back["scenario"] == name].drop(columns="scenario").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[stored.columns], stored, check_dtype=False)
    for metric in MAIN_METRICS:
        assert pd.api.types.is_numeric_dtype(back[metric]), metric


def test_run_writes_the_reports_workbook_with_numeric_cells(ran):
    book = openpyxl.load_workbook(ran / "run.xlsx")
    assert book.sheetnames[:3] == ["Overview", "Summary", "Paired differences"]
    assert "Runs" in book.sheetnames
    front = " ".join(str(c.value) for c in book["Overview"]["A"] if c.value)
    assert "three_year adds" in front or "three_year loses" in front
    runs = book["Runs"]
    header = [c.value for c in runs[1]]
    column = header.index("lapsed_funds_m") + 1
    values = [runs.cell(row=r, column=column).value for r in range(2, runs.max_row + 1)]
    assert len(values) == 80 and all(isinstance(v, float) for v in values)
    assert runs.cell(row=2, column=column).number_format == "#,##0.0"
    stored = load_results(ran / "annual").runs
    assert values[:40] == pytest.approx(stored["lapsed_funds_m"].tolist())


def test_run_refuses_to_replace_a_spreadsheet_it_did_not_write_before_running(capsys, tmp_path):
    mine = tmp_path / "mine.xlsx"
    mine.write_bytes(b"someone's own workbook")
    assert main(["run", str(ANNUAL_TOML), "--runs", "5", "--out", str(tmp_path / "res"),
                 "--xlsx", str(mine), "--force"]) == 2
    assert "--force replaces only a report fundsim wrote" in capsys.readouterr().err
    assert mine.read_bytes() == b"someone's own workbook"
    assert not (tmp_path / "res").exists()  # refused before anything ran


def test_run_refuses_an_existing_csv_without_force(capsys, tmp_path, ran):
    target = tmp_path / "runs.csv"
    target.write_bytes((ran / "runs.csv").read_bytes())
    assert main(["run", str(ANNUAL_TOML), "--runs", "5", "--workers", "1",
                 "--out", str(tmp_path / "res"), "--csv", str(target)]) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert main(["run", str(ANNUAL_TOML), "--runs", "5", "--workers", "1", "--quiet",
                 "--out", str(tmp_path / "res"), "--csv", str(target), "--force"]) == 0
    assert len(pd.read_csv(target)) == 5  # a CSV fundsim wrote is replaced with --force


# ------------------------------------------------------------------ sweep: paired differences


@pytest.fixture(scope="module")
def delay_sweep(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep")
    assert main(["sweep", str(ANNUAL_TOML), "--vary", f"{MODE}=0:2:3", "--runs", "200",
                 "--seed", "3", "--workers", "1", "--out", str(out), "--quiet",
                 "--xlsx", str(out / "sweep.xlsx"), "--csv", str(out / "points.csv")]) == 0
    return out


def test_each_point_has_its_paired_difference_from_the_first_point(delay_sweep):
    points = pd.read_parquet(delay_sweep / "annual-sweep" / "points.parquet")
    assert list(points["reference"].unique()) == ["p0000"]
    base = load_results(delay_sweep / "annual-sweep" / "points" / "p0000").runs
    for row in points.to_dict(orient="records"):
        runs = load_results(delay_sweep / "annual-sweep" / "points" / row["point"]).runs
        for metric in MAIN_METRICS:
            diff = runs[metric].to_numpy(float) - base[metric].to_numpy(float)
            mean, low, high = mean_ci(diff)
            assert row[f"{metric}_diff_mean"] == pytest.approx(mean, nan_ok=True)
            assert row[f"{metric}_diff_ci_low"] == pytest.approx(low, nan_ok=True)
            assert row[f"{metric}_diff_ci_high"] == pytest.approx(high, nan_ok=True)
    assert points.loc[0, "disruptions_total_diff_mean"] == 0.0


def test_the_paired_interval_is_narrower_than_the_points_own(delay_sweep):
    """Why the paired difference is there: runs of two points share their random numbers, so the
    paired interval is much narrower than each point's own (seed 3, 200 runs; the half-widths
    differ by a factor of about three here, far beyond the few per cent a re-seed moves them)."""
    points = pd.read_parquet(delay_sweep / "annual-sweep" / "points.parquet").set_index("point")
    last = points.loc["p0002"]
    own = (last["disruptions_total_ci_high"] - last["disruptions_total_ci_low"]) / 2
    paired = (last["disruptions_total_diff_ci_high"] - last["disruptions_total_diff_ci_low"]) / 2
    assert paired < own / 2


def test_the_sweep_csv_and_workbook_hold_the_points_as_numbers(delay_sweep):
    back = pd.read_csv(delay_sweep / "points.csv")
    stored = pd.read_parquet(delay_sweep / "annual-sweep" / "points.parquet")
    pd.testing.assert_frame_equal(back, stored, check_dtype=False)
    book = openpyxl.load_workbook(delay_sweep / "sweep.xlsx")
    assert book.sheetnames == ["Overview", "Points", "Runs"]
    front = " ".join(str(c.value) for c in book["Overview"]["A"] if c.value)
    assert "compared with p0000" in front and MODE in front
    # the Points sheet has no spread columns, so the note says where the runs' spread is
    assert "Each point's interval is the 95% CI of its mean" in front
    assert "the runs' spread, 5-95%" not in front
    sheet = book["Points"]
    header = [c.value for c in sheet[1]]
    diff = header.index("disruptions_total_diff_mean") + 1
    assert isinstance(sheet.cell(row=3, column=diff).value, float)
    assert sheet.cell(row=3, column=diff).number_format.startswith("+")
    assert sheet.freeze_panes == "B2" and all(c.font.bold for c in sheet[1])
    runs = pd.read_excel(delay_sweep / "sweep.xlsx", sheet_name="Runs")
    assert len(runs) == 600 and list(runs.columns[:3]) == ["point", MODE, "run"]


def test_reference_chooses_the_point_others_are_compared_with(capsys, tmp_path):
    assert main(["sweep", str(ANNUAL_TOML), "--vary", f"{MODE}=0:2:3", "--runs", "10",
                 "--workers", "1", "--out", str(tmp_path), "--reference", "p0002"]) == 0
    out = capsys.readouterr().out
    assert "paired difference from p0002" in out
    points = pd.read_parquet(tmp_path / "annual-sweep" / "points.parquet")
    assert list(points["reference"].unique()) == ["p0002"]
    assert points.loc[2, "disruptions_total_diff_mean"] == 0.0
    assert main(["sweep", str(ANNUAL_TOML), "--vary", f"{MODE}=0:2:3", "--runs", "10",
                 "--out", str(tmp_path / "x"), "--reference", "p0009"]) == 2
    err = capsys.readouterr().err
    assert "--reference 'p0009': give a point of this sweep, p0000 to p0002" in err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ sweep: shares


def test_a_share_can_be_swept_and_the_others_are_rescaled_in_proportion(capsys, tmp_path):
    assert main(["sweep", str(ANNUAL_TOML), "--vary", f"{EXTERNAL}=0.05:0.25:3", "--runs", "8",
                 "--workers", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (f"{EXTERNAL} is varied, so the other streams' shares (funding.streams.core.share) are "
            "rescaled in proportion") in " ".join(out.split())
    points = pd.read_parquet(tmp_path / "annual-sweep" / "points.parquet")
    assert points[EXTERNAL].tolist() == pytest.approx([0.05, 0.15, 0.25])
    assert points["funding.streams.core.share"].tolist() == pytest.approx([0.95, 0.85, 0.75])
    for row in points.to_dict(orient="records"):
        streams = load_results(tmp_path / "annual-sweep" / "points" / row["point"]).scenario
        shares = {n: s.share for n, s in streams.funding.streams.items()}
        assert shares == pytest.approx({"core": 1 - row[EXTERNAL], "external": row[EXTERNAL]})


def test_three_streams_keep_their_proportions(tmp_path):
    from simulator.scenario import scenario_from_dict
    from simulator.sweep import plan_sweep, rescaled_shares

    data = load_scenario(ANNUAL_TOML).to_dict()
    core = data["funding"]["streams"]["core"]
    data["funding"]["streams"] = {"core": {**core, "share": 0.6},
                                  "ring": {**core, "share": 0.3},
                                  "external": {**data["funding"]["streams"]["external"],
                                               "share": 0.1}}
    three = scenario_from_dict(data, source="test")
    assert rescaled_shares(three, {EXTERNAL: 0.4}) == pytest.approx(
        {"funding.streams.core.share": 0.4, "funding.streams.ring.share": 0.2})
    design = plan_sweep(three, [parse_vary(f"{EXTERNAL}=0.1:0.4:4")], None, 1)
    for scenario in design.scenarios:
        streams = scenario.funding.streams
        assert sum(s.share for s in streams.values()) == pytest.approx(1.0)
        assert streams["core"].share / streams["ring"].share == pytest.approx(2.0)


def test_a_share_above_one_is_refused_naming_the_point(capsys, tmp_path):
    assert main(["sweep", str(ANNUAL_TOML), "--vary", f"{EXTERNAL}=0.5:1.2:2", "--runs", "5",
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "sweep point p0001" in err and "nothing was run" in err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ fundsim fields


def test_fields_lists_every_path_vary_accepts_with_value_and_bounds(capsys):
    scenario = load_scenario(ANNUAL_TOML)
    found = fields(scenario)
    paths = [f.path for f in found]
    assert len(paths) == len(set(paths)) > 50
    for f in found:  # every listed path is one --vary takes, with the scenario's value
        bound = bind(scenario, parse_vary(f"{f.path}=0:1"))
        assert bound.integer == f.integer, f.path
        node = scenario.to_dict()
        for part in f.path.split("."):
            node = node[part]
        assert node == f.value, f.path
    # and the bounds are the validator's: one step beyond each finite bound is refused
    from simulator.errors import ScenarioError

    checked = 0
    for f in found:
        for bound, open_, step in ((f.high, f.high_open, 1), (f.low, f.low_open, -1)):
            if bound is None or "min below max" in f.note or "share" in f.path:
                continue
            beyond = bound if open_ else bound + step * max(1e-6, abs(bound) * 1e-6)
            if f.integer:
                beyond = int(bound) + step if not open_ else int(bound)
            with pytest.raises(ScenarioError):
                scenario.with_changes({f.path: beyond})
            checked += 1
    assert checked > 40
    assert main(["fields", str(ANNUAL_TOML)]) == 0
    out = capsys.readouterr().out
    assert "funding.streams.core.settlement_years" in out and "1 to 10 (whole numbers)" in out
    assert main(["fields", str(ANNUAL_TOML), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    share = next(r for r in rows if r["path"] == EXTERNAL)
    assert share["value"] == 0.1 and (share["min"], share["max"]) == (0.0, 1.0)
    assert "rescaled in proportion" in share["rule"]


def test_fields_of_a_bad_file_exits_2(capsys, tmp_path):
    assert main(["fields", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err


# ------------------------------------------------------------------ help


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_argument_is_described_and_no_percent_is_doubled(capsys, command):
    sub = _subparsers()[command]
    for action in sub._actions:
        assert action.help, f"{command} {action.dest} has no help"
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "%%" not in text
    if command == "sweep":
        assert "--target-ci" not in text  # sweep has no such option
    if command in ("compare", "report"):
        assert re.search(r"95%\s+confidence|95%\s+CI", text)


def test_report_and_compare_on_a_sweep_folder_say_what_it_is(capsys, delay_sweep, tmp_path):
    folder = delay_sweep / "annual-sweep"
    for argv in (["report", str(folder), "--out", str(tmp_path / "r.html")],
                 ["compare", str(folder), str(folder / "points" / "p0000")]):
        assert main(argv) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"{folder}: is a sweep of 3 points over confirmation_delay_months.mode" in err
        assert str(folder / "points" / "p0000") in err and str(folder / "points" / "p0002") in err
    assert not (tmp_path / "r.html").exists()


def test_numbers_written_are_finite_or_empty(delay_sweep):
    """No NaN or inf text in the CSV (an empty cell instead), so Excel and pandas agree."""
    text = (delay_sweep / "points.csv").read_text()
    assert "inf" not in text.lower() and "nan" not in text.lower()
    assert np.isfinite(pd.read_csv(delay_sweep / "points.csv").select_dtypes("number")
                       .to_numpy(float)).all()

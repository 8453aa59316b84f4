"""The `fundsim` command, run for real: in-process through `simulator.cli.main` and once as a
separate process, checking exit codes (0 done, 2 bad input, 1 anything else), what is written and
that a user never sees a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from simulator import __version__, load_results, load_scenario, native
from simulator.analysis import MAIN_METRICS
from simulator.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))
RESULT_FILES = {"manifest.json", "scenario.toml", "runs.parquet", "years.parquet", "bands.parquet"}
RUNS = 20
SEED = 5


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory) -> Path:
    """baseline, annual and three_year run once for the module (20 runs, one worker)."""
    out = tmp_path_factory.mktemp("results")
    code = main(["run", str(BASELINE), str(SCENARIOS / "annual.toml"), str(SCENARIOS / "three_year.toml"),
                 "--runs", str(RUNS), "--seed", str(SEED), "--workers", "1", "--out", str(out), "--quiet"])
    assert code == 0
    return out


@pytest.fixture
def bad_scenario(write_override) -> Path:
    return write_override("[workforce]\nattrition_per_year = 1.5", "bad_attrition.toml")


def _no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text
        assert 'File "' not in text


# --------------------------------------------------------------------------- validate


def test_validate_prints_ok_for_every_shipped_scenario(capsys):
    assert main(["validate", *map(str, SHIPPED)]) == 0
    captured = capsys.readouterr()
    for path in SHIPPED:
        assert f"{path}: ok ({path.stem})" in captured.out
    assert captured.err == ""


def test_validate_exits_2_naming_file_field_value_and_rule(capsys, bad_scenario):
    assert main(["validate", str(bad_scenario)]) == 2
    captured = capsys.readouterr()
    assert f"{bad_scenario}: workforce.attrition_per_year = 1.5: input should be less than 1" in captured.err
    assert "ok" not in captured.out
    _no_traceback(captured.out, captured.err)


def test_validate_checks_every_file_and_reports_each(capsys, bad_scenario, tmp_path):
    missing = tmp_path / "missing.toml"
    assert main(["validate", str(BASELINE), str(bad_scenario), str(missing)]) == 2
    captured = capsys.readouterr()
    assert f"{BASELINE}: ok (baseline)" in captured.out
    assert "bad_attrition.toml: workforce.attrition_per_year" in captured.err
    assert f"{missing}: (file): file not found" in captured.err


def test_validate_as_a_separate_process_exits_2_without_a_traceback(bad_scenario):
    argv = [sys.executable, "-m", "simulator.cli", "validate", str(BASELINE), str(bad_scenario)]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2
    assert f"{BASELINE}: ok (baseline)" in proc.stdout
    assert "bad_attrition.toml" in proc.stderr
    assert "workforce.attrition_per_year = 1.5" in proc.stderr
    assert "input should be less than 1" in proc.stderr
    _no_traceback(proc.stdout, proc.stderr)


# --------------------------------------------------------------------------- run


@pytest.mark.parametrize("stem", ["baseline", "annual", "three_year"])
def test_run_writes_one_complete_results_folder_per_scenario(results_dir, stem):
    folder = results_dir / stem
    assert {p.name for p in folder.iterdir()} == RESULT_FILES
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["scenario_name"] == stem
    assert manifest["seed"] == SEED
    assert manifest["runs"] == RUNS
    scenario = load_scenario(SCENARIOS / f"{stem}.toml")
    assert manifest["scenario_sha256"] == scenario.sha256()
    assert load_scenario(folder / "scenario.toml").sha256() == scenario.sha256()
    runs = pd.read_parquet(folder / "runs.parquet")
    assert list(runs["run"]) == list(range(RUNS))
    years = pd.read_parquet(folder / "years.parquet")
    assert len(years) == RUNS * scenario.horizon.years
    loaded = load_results(folder)
    assert loaded.seed == SEED and len(loaded.runs) == RUNS


def test_run_leaves_no_partial_folders_behind(results_dir):
    assert sorted(p.name for p in results_dir.iterdir()) == ["annual", "baseline", "three_year"]


def test_run_prints_a_summary_table_and_where_it_wrote(capsys, tmp_path):
    out = tmp_path / "res"
    assert main(["run", str(BASELINE), "--runs", "10", "--workers", "1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "10 runs per scenario, seed 1" in captured.out
    # bracketed words print as written, not swallowed as rich markup
    assert "mean [runs 5-95%: what could happen in one six-year stretch]" in captured.out
    for metric in MAIN_METRICS:
        assert metric in captured.out
    assert f"wrote {out / 'baseline'}/ (10 runs)" in captured.out


def test_run_with_two_workers_gives_the_same_numbers_as_one(results_dir, tmp_path):
    out = tmp_path / "two"
    assert main(["run", str(BASELINE), "--runs", str(RUNS), "--seed", str(SEED), "--workers", "2",
                 "--out", str(out), "--quiet"]) == 0
    for name in ("runs.parquet", "years.parquet", "bands.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / "baseline" / name),
                                      pd.read_parquet(results_dir / "baseline" / name))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_run_refuses_an_existing_folder_without_force_and_replaces_it_with_force(capsys, tmp_path):
    out = tmp_path / "res"
    args = ["run", str(BASELINE), "--runs", "10", "--workers", "1", "--out", str(out), "--quiet"]
    assert main([*args, "--seed", "1"]) == 0
    before = _snapshot(out / "baseline")
    capsys.readouterr()

    assert main([*args, "--seed", "2"]) == 2
    captured = capsys.readouterr()
    assert (f"{out / 'baseline'}: results folder already exists; use --force to replace it (nothing was run)"
            in captured.err)
    _no_traceback(captured.err)
    assert _snapshot(out / "baseline") == before

    assert main([*args, "--seed", "2", "--force"]) == 0
    assert json.loads((out / "baseline" / "manifest.json").read_text())["seed"] == 2
    assert _snapshot(out / "baseline")["runs.parquet"] != before["runs.parquet"]
    assert sorted(p.name for p in out.iterdir()) == ["baseline"]


def test_run_checks_every_target_before_running_any(capsys, tmp_path):
    out = tmp_path / "res"
    (out / "annual").mkdir(parents=True)
    code = main(["run", str(BASELINE), str(SCENARIOS / "annual.toml"), "--runs", "10", "--workers", "1",
                 "--out", str(out), "--quiet"])
    assert code == 2
    assert "results folder already exists" in capsys.readouterr().err
    assert not (out / "baseline").exists()


def test_run_with_a_bad_scenario_exits_2_and_writes_nothing(capsys, tmp_path, bad_scenario):
    out = tmp_path / "res"
    code = main(["run", str(BASELINE), str(bad_scenario), "--runs", "10", "--workers", "1",
                 "--out", str(out)])
    assert code == 2
    captured = capsys.readouterr()
    assert "bad_attrition.toml" in captured.err
    assert "workforce.attrition_per_year = 1.5: input should be less than 1" in captured.err
    _no_traceback(captured.out, captured.err)
    assert not out.exists()


def test_run_shows_a_bad_value_that_contains_square_brackets(capsys, tmp_path, write_override):
    bad = write_override('[funding.streams.core]\narrival = "[tranches]"', "bracket.toml")
    assert main(["run", str(bad), "--runs", "10", "--workers", "1", "--out", str(tmp_path / "res")]) == 2
    assert "funding.streams.core.arrival = '[tranches]'" in capsys.readouterr().err


def test_compare_of_a_missing_folder_whose_name_holds_brackets_exits_2(capsys, tmp_path, results_dir):
    missing = tmp_path / "[/]" / "x"
    assert main(["compare", str(results_dir / "baseline"), str(missing)]) == 2  # today: MarkupError escapes
    assert f"{missing}: not a results folder" in capsys.readouterr().err


@pytest.mark.parametrize("runs", ["0", "-3", "ten"])
def test_run_with_a_bad_runs_value_exits_2(capsys, tmp_path, runs):
    assert main(["run", str(BASELINE), "--runs", runs, "--out", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    assert "--runs" in err
    assert "must be at least 1" in err or "is not a whole number" in err
    assert not (tmp_path / "res").exists()


def test_run_with_a_negative_seed_exits_2(capsys, tmp_path):
    assert main(["run", str(BASELINE), "--seed", "-1", "--out", str(tmp_path / "res")]) == 2
    assert "-1 must be 0 or more" in capsys.readouterr().err


# --------------------------------------------------------------------------- compare


def _compare_json(capsys, *args: str):
    capsys.readouterr()
    assert main(["compare", *args, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out)


def _check_report(report: dict, a: str, b: str, metrics) -> None:
    assert list(report) == ["a", "b", "runs", "metrics"]
    assert (report["a"], report["b"], report["runs"]) == (a, b, RUNS)
    assert [m["metric"] for m in report["metrics"]] == list(metrics)
    for m in report["metrics"]:
        assert list(m) == ["metric", "a", "b", "paired_difference", "prob_b_greater"]
        assert list(m["a"]) == list(m["b"]) == ["mean", "p5", "p50", "p95"]
        assert list(m["paired_difference"]) == ["mean", "ci_low", "ci_high"]
        diff = m["paired_difference"]
        assert diff["mean"] == pytest.approx(m["b"]["mean"] - m["a"]["mean"], rel=1e-9, abs=1e-9)
        assert diff["ci_low"] <= diff["mean"] <= diff["ci_high"]
        assert m["a"]["p5"] <= m["a"]["p50"] <= m["a"]["p95"]
        assert 0.0 <= m["prob_b_greater"] <= 1.0


def test_compare_json_prints_the_interfaces_structure(capsys, results_dir):
    report = _compare_json(capsys, str(results_dir / "baseline"), str(results_dir / "three_year"))
    assert isinstance(report, dict)
    _check_report(report, "baseline", "three_year", MAIN_METRICS)


def test_compare_json_with_chosen_metrics(capsys, results_dir):
    report = _compare_json(capsys, str(results_dir / "baseline"), str(results_dir / "annual"),
                           "--metric", "lapsed_funds_m", "--metric", "disruptions_total")
    _check_report(report, "baseline", "annual", ["lapsed_funds_m", "disruptions_total"])


def test_compare_json_with_three_folders_prints_two_objects_against_the_first(capsys, results_dir):
    reports = _compare_json(capsys, *(str(results_dir / s) for s in ("baseline", "annual", "three_year")))
    assert isinstance(reports, list) and len(reports) == 2
    _check_report(reports[0], "baseline", "annual", MAIN_METRICS)
    _check_report(reports[1], "baseline", "three_year", MAIN_METRICS)


def test_compare_of_a_folder_with_itself_shows_no_difference(capsys, results_dir):
    folder = str(results_dir / "annual")
    report = _compare_json(capsys, folder, folder)
    for m in report["metrics"]:
        assert m["paired_difference"]["mean"] == 0.0
        assert m["prob_b_greater"] == 0.0


def test_compare_prints_a_table_and_a_headline(capsys, results_dir):
    assert main(["compare", str(results_dir / "baseline"), str(results_dir / "annual")]) == 0
    out = capsys.readouterr().out
    assert f"annual against baseline: {RUNS} paired runs, 6-year horizon" in out
    assert "P(B > A)" in out
    assert "disruptions over 6 years against baseline (95% CI" in out
    assert "annual differs from baseline in" in out  # what the headline compares
    assert "Why: Against baseline, annual" in out  # and its explanation


def test_compare_warns_in_words_when_more_than_one_group_of_levers_differs(capsys, results_dir):
    assert main(["compare", str(results_dir / "baseline"), str(results_dir / "three_year")]) == 0
    captured = capsys.readouterr()
    assert "warning: three_year and baseline differ in" in captured.err
    assert "mixes their effects" in captured.err
    capsys.readouterr()
    assert main(["compare", str(results_dir / "baseline"), str(results_dir / "three_year"),
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert "mixes their effects" in captured.err  # also with --json, whose object is unchanged
    assert list(json.loads(captured.out)) == ["a", "b", "runs", "metrics"]


@pytest.mark.parametrize("use_json", [False, True], ids=["table", "json"])
def test_compare_refuses_a_folder_changed_after_writing(capsys, results_dir, tmp_path, use_json):
    tampered = tmp_path / "annual"
    shutil.copytree(results_dir / "annual", tampered)
    runs = pd.read_parquet(tampered / "runs.parquet")
    runs.loc[0, "disruptions_total"] -= 1
    runs.to_parquet(tampered / "runs.parquet", index=False)
    args = ["compare", str(results_dir / "baseline"), str(tampered)] + (["--json"] if use_json else [])
    capsys.readouterr()
    assert main(args) == 2
    captured = capsys.readouterr()
    assert f"{tampered}: runs.parquet does not match its manifest" in captured.err
    assert captured.out == ""
    _no_traceback(captured.err)


def test_compare_refuses_a_folder_that_is_not_a_results_folder(capsys, results_dir, tmp_path):
    assert main(["compare", str(results_dir / "baseline"), str(tmp_path)]) == 2
    assert f"{tmp_path}: not a results folder (manifest.json is missing)" in capsys.readouterr().err


def test_compare_needs_two_folders(capsys, results_dir):
    assert main(["compare", str(results_dir / "baseline")]) == 2
    assert "compare needs at least two results folders" in capsys.readouterr().err


def test_compare_refuses_an_unknown_metric(capsys, results_dir):
    assert main(["compare", str(results_dir / "baseline"), str(results_dir / "annual"),
                 "--metric", "happiness"]) == 2
    assert "invalid choice: 'happiness'" in capsys.readouterr().err


def test_compare_json_is_strict_json_even_with_one_run(capsys, tmp_path):
    out = tmp_path / "one"
    assert main(["run", str(BASELINE), str(SCENARIOS / "annual.toml"), "--runs", "1", "--workers", "1",
                 "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out / "baseline"), str(out / "annual"), "--json"]) == 0

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    json.loads(capsys.readouterr().out, parse_constant=refuse)


# --------------------------------------------------------------------------- help, version, usage


@pytest.mark.parametrize("command", ["validate", "run", "sweep", "compare"])
def test_help_works_for_every_subcommand(capsys, command):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: fundsim {command}")


def test_top_level_help_lists_the_subcommands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("validate", "run", "sweep", "compare"):
        assert command in out


def test_version_prints_the_package_version_and_the_model_in_use(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == (f"fundsim {__version__}; "
                                               f"model: {native.status().describe()}")


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["validate"], ["run", "--runs", "5"]],
                         ids=["nothing", "unknown_command", "validate_without_files", "run_without_files"])
def test_bad_usage_exits_2(capsys, argv):
    assert main(argv) == 2
    assert "usage: fundsim" in capsys.readouterr().err


def test_run_quiet_starts_without_the_libraries_it_does_not_use(tmp_path):
    """Start-up is part of every batch's cost per run (issue 10): `fundsim run --quiet` never
    imports pandas, scipy.stats, openpyxl, rich (consoles, tables, bars), or a process pool's
    modules for one worker (pyarrow's own NumPy conversions would import pandas: the results
    module avoids them)."""
    unused = ["pandas", "scipy.stats", "scipy.optimize", "openpyxl", "rich.console", "rich.progress",
              "rich.table", "concurrent.futures.process"]
    code = (f"import sys\nfrom simulator.cli import main\n"
            f"assert main(['run', {str(SCENARIOS / 'annual.toml')!r}, '--runs', '3', '--workers', '1', "
            f"'--quiet', '--out', {str(tmp_path)!r}]) == 0\n"
            f"print([m for m in {unused!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
    assert load_results(tmp_path / "annual").manifest["runs"] == 3


def test_a_mean_and_its_interval_share_one_number_of_decimals():
    # "1,006 (987.7 - 1,024)" mixed decimals; a difference of 0.008 read "+0.0 (-0.0 to +0.0)"
    from simulator.cli import _together

    assert _together(1006.2, 987.7, 1024.4) == ["1,006", "988", "1,024"]
    assert _together(0.008, -0.0004, 0.016, sign=True) == ["+0.0080", "-0.0004", "+0.0160"]
    assert _together(334.3, 261.9, 406.8, sign=True) == ["+334.3", "+261.9", "+406.8"]
    assert _together(2.77, 0.0, 6.38) == ["2.77", "0.00", "6.38"]
    assert _together(float("nan"), None, 0.0) == ["-", "-", "0.0"]

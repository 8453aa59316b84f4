"""Caps on how much work one command may ask for (issue 13's fourth attack: `--runs 10**12` filled
6 GB in 34 s, `--workers 64` started 64 processes, `--target-ci` with `--max-runs 10**12` ended in
"internal error: MemoryError")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simulator import limits
from simulator.cli import main

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = str(ROOT / "scenarios" / "annual.toml")
VARY = "funding.streams.core.confirmation_delay_months.mode"


@pytest.mark.parametrize("args, message", [
    (["--runs", str(10**12)], "--runs 1,000,000,000,000: at most 100,000,000, even with --allow-large"),
    (["--runs", "2000000"], "--runs 2,000,000: at most 1,000,000 unless you add --allow-large"),
    (["--target-ci", "1", "--max-runs", str(10**12)], "--max-runs 1,000,000,000,000: at most"),
    (["--workers", "64"], f"--workers 64: at most {os.cpu_count()} unless you add --allow-large "
                          f"(this machine has {os.cpu_count()} cores"),
    (["--chunk-size", "50000"], "--chunk-size 50,000: at most 10,000 unless you add --allow-large"),
])
def test_a_run_beyond_a_cap_exits_2_at_once_saying_why(capsys, tmp_path, args, message):
    assert main(["run", ANNUAL, *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_hard_limits_hold_even_with_allow_large(capsys, tmp_path):
    assert main(["run", ANNUAL, "--runs", str(10**9), "--allow-large", "--out", str(tmp_path)]) == 2
    assert "even with --allow-large" in capsys.readouterr().err
    assert main(["run", ANNUAL, "--workers", "5000", "--allow-large", "--out", str(tmp_path)]) == 2
    assert "--workers 5,000: at most 1,024, even with --allow-large" in capsys.readouterr().err


def test_allow_large_lifts_a_soft_cap(tmp_path):
    workers = str(limits.workers_cap() + 1)
    assert main(["run", ANNUAL, "--runs", "4", "--workers", workers, "--allow-large",
                 "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "annual" / "runs.parquet").is_file()


def test_a_target_with_too_many_stages_is_refused(capsys, tmp_path):
    assert main(["run", ANNUAL, "--runs", "1", "--target-ci", "1", "--max-runs", "500000",
                 "--out", str(tmp_path)]) == 2
    assert "more than 100,000 stages" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--vary", f"{VARY}=0:4:1000000", "--vary", "workforce.attrition_per_year=0.01:0.2:1000000"],
     "sweep points 1,000,000,000,000: at most 100,000, even with --allow-large"),
    (["--vary", f"{VARY}=0:4:2000"], "sweep points 2,000: at most 1,000 unless you add --allow-large"),
    (["--vary", f"{VARY}=0:4", "--lhs", "5000"], "sweep points 5,000: at most 1,000"),
])
def test_a_sweep_beyond_its_point_cap_exits_2_before_building_the_design(capsys, tmp_path, args,
                                                                         message):
    assert main(["sweep", ANNUAL, *args, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()

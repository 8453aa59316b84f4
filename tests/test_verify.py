"""Results a reviewer can verify, not just checksum (issue 13, item 8).

The attack: edit a value in runs.parquet and put its new sha256 in the manifest; edit the
manifest's seed; edit the manifest's scenario. All were accepted. Hashes cannot catch an edit
whose author recomputes them; re-simulation can.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import tomli_w

from simulator import ResultsError, load_results, load_scenario, run_batch
from simulator.cli import main
from simulator.verify import RECORD, choose_runs, read_record, verify_folder

ROOT = Path(__file__).resolve().parent.parent
RUNS = 30


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("verify") / "annual"
    run_batch(load_scenario(ROOT / "scenarios" / "annual.toml"), runs=RUNS, seed=11,
              workers=1).save(folder)
    return folder


@pytest.fixture
def folder(pristine, tmp_path) -> Path:
    """A fresh copy of the pristine folder to tamper with."""
    copy = tmp_path / "annual"
    copy.mkdir()
    for path in pristine.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


def _rehash(folder: Path, **changes) -> None:
    """Tamper as someone who knows the format would: change the manifest, recompute every hash."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    manifest["files"] = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
                         for name in manifest["files"]}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def test_an_untouched_folder_verifies_and_records_it(folder, capsys):
    assert main(["verify", str(folder), "--sample", "5", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert f"{folder}: verified: 5 of {RUNS} runs (sample seed 3), re-simulated from the " \
           "folder's own scenario and seed 11, match the stored rows bit for bit" in out
    record = read_record(folder)
    assert record["result"] == "verified" and record["runs_checked"] == choose_runs(RUNS, 5, 3)[0]
    load_results(folder)  # the record does not disturb the folder


def test_an_edited_value_with_a_recomputed_hash_loads_but_fails_verification(folder, capsys):
    runs = pd.read_parquet(folder / "runs.parquet")
    runs.loc[7, "disruptions_total"] += 1
    runs.to_parquet(folder / "runs.parquet", index=False)
    _rehash(folder)
    load_results(folder)  # hashes and layout are consistent: this is what they cannot catch
    assert main(["verify", str(folder), "--all"]) == 1
    err = capsys.readouterr().err
    assert f"{folder}: MISMATCH: 1 difference(s) in all {RUNS} runs" in err
    assert "runs that differ: 7" in err
    stored = int(runs.loc[7, "disruptions_total"])
    assert f"run 7: runs.parquet disruptions_total: stored {stored}, re-simulated {stored - 1}" in err
    assert read_record(folder)["result"] == "mismatch"


def test_an_edited_seed_fails_verification_on_every_run(folder, capsys):
    _rehash(folder, seed=12)
    assert main(["verify", str(folder), "--sample", "4", "--seed", "1", "--no-record"]) == 1
    err = capsys.readouterr().err
    runs = ", ".join(map(str, choose_runs(RUNS, 4, 1)[0]))
    assert "MISMATCH" in err and f"seed 12; runs that differ: {runs}" in err
    assert not (folder / RECORD).exists()


def test_an_edited_manifest_scenario_is_refused_against_scenario_toml(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["scenario"]["funding"]["baseline_budget_m"] = 9999.0
    from simulator.scenario import scenario_from_dict

    manifest["scenario_sha256"] = scenario_from_dict(manifest["scenario"]).sha256()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match=r"scenario\.toml and the scenario in manifest\.json differ"):
        load_results(folder)


def test_an_edited_scenario_everywhere_loads_but_fails_verification(folder, capsys):
    """Change the budget in both the manifest and scenario.toml and recompute every hash: only
    re-simulation can tell the numbers did not come from this scenario."""
    from simulator.scenario import scenario_from_dict

    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["scenario"]["funding"]["baseline_budget_m"] = 9999.0
    (folder / "scenario.toml").write_text(tomli_w.dumps(manifest["scenario"]))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _rehash(folder, scenario_sha256=scenario_from_dict(manifest["scenario"]).sha256())
    assert load_results(folder).scenario.funding.baseline_budget_m == 9999.0
    assert main(["verify", str(folder), "--sample", "3", "--seed", "2"]) == 1
    assert "MISMATCH" in capsys.readouterr().err


def test_a_dropped_row_or_a_run_count_that_disagrees_is_refused_on_load(folder):
    runs = pd.read_parquet(folder / "runs.parquet")
    runs.iloc[:-1].to_parquet(folder / "runs.parquet", index=False)
    _rehash(folder)
    with pytest.raises(ResultsError, match=r"runs\.parquet holds 29 rows, not runs 0 to 29"):
        load_results(folder)


def test_a_different_library_version_is_said_next_to_a_mismatch(folder, capsys):
    manifest = json.loads((folder / "manifest.json").read_text())
    _rehash(folder, versions={**manifest["versions"], "numpy": "0.0.1"}, seed=12)
    assert main(["verify", str(folder), "--sample", "1", "--seed", "1"]) == 1
    assert "note: written with numpy 0.0.1, checked with" in capsys.readouterr().err


def test_a_record_is_ignored_once_the_manifest_changes(folder):
    verify_folder(folder, sample=2, sample_seed=1)
    assert read_record(folder) is not None
    _rehash(folder, created_utc="2020-01-01T00:00:00+00:00")
    assert read_record(folder) is None


def test_the_report_says_which_folders_were_verified(folder, pristine, tmp_path, capsys):
    verify_folder(pristine, sample=3, sample_seed=1)
    out = tmp_path / "r.html"
    assert main(["report", str(pristine), "--out", str(out)]) == 0
    page = out.read_text()
    assert "verified by `fundsim verify` on" in page and "3 of 30 runs re-simulated" in page
    runs = pd.read_parquet(folder / "runs.parquet")
    runs.loc[0, "lapsed_funds_m"] += 0.5
    runs.to_parquet(folder / "runs.parquet", index=False)
    _rehash(folder)
    assert main(["report", str(pristine), str(folder), "--out", str(out), "--force",
                 "--verify", "30"]) == 1
    page = out.read_text()
    assert "verified now: 30 of 30 runs re-simulated" in page
    assert "MISMATCH now: 30 of 30 runs re-simulated (run 0: runs.parquet lapsed_funds_m" in page
    assert "re-simulation does not match the stored rows of" in capsys.readouterr().err


def test_choose_runs_is_repeatable_and_fresh_by_default():
    assert choose_runs(100, 10, 5) == choose_runs(100, 10, 5)
    assert choose_runs(5, 10, None) == ([0, 1, 2, 3, 4], None)
    runs, seed = choose_runs(1000, 20, None)
    assert seed is not None and len(set(runs)) == 20 and runs == sorted(runs)


def test_verify_json_is_one_list(folder, capsys):
    assert main(["verify", str(folder), "--sample", "2", "--seed", "4", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["verified"] is True and entry["seed"] == 11 and len(entry["runs_checked"]) == 2


def test_verify_of_a_folder_that_is_not_one_exits_2(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    assert "manifest.json is missing" in capsys.readouterr().err

"""`--force` replaces only what fundsim wrote: safe folder names, and refusal of anything else.

Issue 13's first attack: a scenario file named `...toml` (stem `..`) with `run --out DIR --force`
deleted the folder above DIR; `..toml` wiped DIR; `docs.toml` deleted an unrelated `DIR/docs/`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.errors import UsageError
from simulator.folders import (
    PARTIAL,
    RESULTS,
    SWEEP,
    check_replaceable,
    kind_of,
    remove,
    safe_name,
)

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"
ANNUAL = ROOT / "scenarios" / "annual.toml"


def _scenario_file(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text(f'base = "{BASELINE.as_posix()}"\n', encoding="utf-8")
    return path


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def precious(tmp_path: Path) -> Path:
    """A user's folder holding --out DIR, with their own files above, beside and inside it."""
    (tmp_path / "keep" / "DIR" / "docs").mkdir(parents=True)
    (tmp_path / "keep" / "p.txt").write_text("precious")
    (tmp_path / "keep" / "DIR" / "docs" / "notes.txt").write_text("notes")
    (tmp_path / "keep" / "DIR" / "mine.txt").write_text("mine")
    return tmp_path / "keep"


@pytest.mark.parametrize("name, says", [
    ("...toml", "'..' cannot be a folder name"),
    ("..toml", "'.' cannot be a folder name"),
    (".hidden.toml", "starts with a dot"),
    ("x.partial.toml", "ends in '.partial'"),
    ("esc\x1b[2J.toml", "control characters"),
])
def test_a_file_whose_stem_is_not_a_safe_folder_name_is_refused_and_nothing_is_deleted(
        precious, tmp_path, capsys, name, says):
    before = _tree(precious)
    scenario = _scenario_file(tmp_path, name)
    code = main(["run", str(scenario), "--runs", "3", "--workers", "1",
                 "--out", str(precious / "DIR"), "--force", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "the results folder is named after the file" in err and says in err
    assert "rename the file (nothing was run)" in err
    assert _tree(precious) == before


def test_force_does_not_replace_a_folder_fundsim_did_not_write(precious, tmp_path, capsys):
    before = _tree(precious)
    scenario = _scenario_file(tmp_path, "docs.toml")
    code = main(["run", str(scenario), "--runs", "3", "--workers", "1",
                 "--out", str(precious / "DIR"), "--force", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{precious / 'DIR' / 'docs'}: --force replaces only a fundsim results folder" in err
    assert "has no fundsim manifest.json; it was left untouched" in err
    assert _tree(precious) == before


def test_force_does_not_replace_a_results_folder_holding_someone_elses_files(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", str(ANNUAL), "--runs", "3", "--workers", "1", "--out", str(out), "--quiet"]
    assert main(args) == 0
    (out / "annual" / "my_analysis.xlsx").write_bytes(b"hours of work")
    assert main([*args, "--force"]) == 2
    assert "holds files fundsim did not write there" in capsys.readouterr().err
    assert (out / "annual" / "my_analysis.xlsx").read_bytes() == b"hours of work"


def test_force_still_replaces_a_results_folder_fundsim_wrote(tmp_path):
    out = tmp_path / "out"
    args = ["run", str(ANNUAL), "--runs", "3", "--workers", "1", "--out", str(out), "--quiet"]
    assert main([*args, "--seed", "1"]) == 0
    assert main([*args, "--seed", "2", "--force"]) == 0
    assert json.loads((out / "annual" / "manifest.json").read_text())["seed"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["annual"]  # no lock file, no partial left


def test_force_does_not_follow_a_symbolic_link(tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.csv").write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / "annual")
    assert main(["run", str(ANNUAL), "--runs", "3", "--workers", "1", "--out", str(out),
                 "--force", "--quiet"]) == 2
    assert "is a symbolic link" in capsys.readouterr().err
    assert (elsewhere / "data.csv").read_text() == "keep"


def test_a_foreign_folder_named_like_an_unfinished_batch_is_not_deleted(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "annual.partial").mkdir(parents=True)
    (out / "annual.partial" / "thesis.docx").write_text("years")
    for flag in ("--force", "--resume"):
        assert main(["run", str(ANNUAL), "--runs", "3", "--workers", "1", "--out", str(out),
                     flag, "--quiet"]) == 2
        assert f"{flag} replaces only an unfinished fundsim batch" in capsys.readouterr().err
    assert (out / "annual.partial" / "thesis.docx").read_text() == "years"


def test_a_sweep_never_replaces_a_results_folder_or_a_foreign_folder(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "annual-sweep").mkdir(parents=True)
    (out / "annual-sweep" / "plan.txt").write_text("mine")
    vary = ["--vary", "funding.streams.core.confirmation_delay_months.mode=0:4:2", "--runs", "2",
            "--workers", "1", "--out", str(out), "--force", "--quiet"]
    assert main(["sweep", str(ANNUAL), *vary]) == 2
    assert "--force replaces only a fundsim sweep folder" in capsys.readouterr().err
    assert (out / "annual-sweep" / "plan.txt").read_text() == "mine"


def test_a_sweep_replaces_its_own_sweep_folder_with_force(tmp_path):
    out = tmp_path / "out"
    vary = ["--vary", "funding.streams.core.confirmation_delay_months.mode=0:4:2", "--runs", "2",
            "--workers", "1", "--out", str(out), "--quiet"]
    assert main(["sweep", str(ANNUAL), *vary]) == 0
    assert kind_of(out / "annual-sweep") == SWEEP
    assert main(["sweep", str(ANNUAL), *vary, "--force", "--seed", "3"]) == 0
    assert json.loads((out / "annual-sweep" / "manifest.json").read_text())["seed"] == 3


def test_a_results_folder_is_not_replaced_by_a_sweep_and_the_reverse(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(ANNUAL), "--runs", "3", "--workers", "1", "--out", str(out),
                 "--quiet"]) == 0
    assert kind_of(out / "annual") == RESULTS
    with pytest.raises(UsageError, match="replaces only a fundsim sweep folder, and this is a "
                                         "fundsim results folder"):
        check_replaceable(out / "annual", (SWEEP,))
    with pytest.raises(UsageError, match="an unfinished fundsim batch, and this is a fundsim "
                                         "results folder"):
        remove(out / "annual", (PARTIAL,))
    assert (out / "annual" / "runs.parquet").is_file()


@pytest.mark.parametrize("name", ["", " ", ".", "..", ".x", "a/b", "a\\b", "x\x00", "x\u202e",
                                  "run.partial", "x" * 121])
def test_safe_name_refuses_what_could_escape_or_collide(name):
    with pytest.raises(UsageError, match="cannot be a folder name"):
        safe_name(name, "f.toml")


@pytest.mark.parametrize("name", ["annual", "three_year", "my scenario", "été-2026", "v1.2"])
def test_safe_name_keeps_ordinary_names(name):
    assert safe_name(name, "f.toml") == name


def test_a_deletion_cut_off_half_way_leaves_a_folder_the_next_force_still_recognises(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(ANNUAL), "--runs", "3", "--workers", "1", "--out", str(out),
                 "--quiet"]) == 0
    (out / "annual" / "runs.parquet").unlink()  # as if a kill stopped the deletion here
    (out / "annual" / "bands.parquet").unlink()
    assert kind_of(out / "annual") == RESULTS
    remove(out / "annual", (RESULTS,))
    assert not (out / "annual").exists()

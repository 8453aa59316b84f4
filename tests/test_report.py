"""`fundsim report`: one offline HTML file and an Excel workbook, from checked results folders."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from simulator import load_scenario, run_batch
from simulator.analysis import headline, paired_comparison
from simulator.cli import main as fundsim
from simulator.report import write_report

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    made = {}
    for name, seed in (("annual", 2), ("three_year", 2), ("three_year_early", 9)):
        scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
        made[name] = run_batch(scenario, runs=80, seed=seed, workers=1).save(root / name)
    return made


def test_report_is_one_offline_html_file_with_the_comparison(folders, tmp_path, capsys):
    out = tmp_path / "report.html"
    code = fundsim(["report", str(folders["annual"]), str(folders["three_year"]),
                    "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    page = out.read_text()
    assert not re.search(r"<script[^>]*\bsrc=", page)  # nothing fetched from a network
    assert page.count("window.PlotlyConfig") == 1  # plotly.js embedded once
    a = pd.read_parquet(folders["annual"] / "runs.parquet")
    b = pd.read_parquet(folders["three_year"] / "runs.parquet")
    sentence = headline("annual", "three_year", paired_comparison(a, b, "disruptions_total"), 6)
    assert sentence in page
    assert "funding.streams.core.settlement_years" in page  # parameter differences
    manifest = (folders["annual"] / "manifest.json").read_text()
    sha = re.search(r'"scenario_sha256": "([0-9a-f]+)"', manifest).group(1)
    assert sha in page  # manifest facts
    assert "Paired differences" in page
    assert "<h2>Why</h2>" in page and "permanent FTE" in page  # the headline's explanation
    assert "three_year differs from annual in settlement length" in page
    assert "mixes their effects" not in page  # one group of levers: no warning
    assert "opens in any browser" in capsys.readouterr().out


def test_xlsx_holds_the_same_tables(folders, tmp_path):
    xlsx = tmp_path / "tables.xlsx"
    write_report([folders["annual"], folders["three_year"]], tmp_path / "r.html", xlsx)
    book = openpyxl.load_workbook(xlsx, read_only=True)
    assert book.sheetnames == ["Summary", "Paired differences", "Why", "Parameters", "Sources"]
    summary = pd.read_excel(xlsx, sheet_name="Summary")
    a = pd.read_parquet(folders["annual"] / "runs.parquet")
    assert summary.loc[0, "annual: mean"] == pytest.approx(a["disruptions_total"].mean())
    paired = pd.read_excel(xlsx, sheet_name="Paired differences")
    b = pd.read_parquet(folders["three_year"] / "runs.parquet")
    diff = (b["disruptions_total"] - a["disruptions_total"]).mean()
    assert paired.loc[0, "mean difference"] == pytest.approx(diff)


def test_results_with_other_seeds_are_reported_without_paired_statistics(folders, tmp_path):
    out = tmp_path / "r.html"
    write_report([folders["annual"], folders["three_year_early"]], out)
    page = out.read_text()
    assert "different seeds" in page
    assert "Paired differences" not in page


def test_a_folder_that_does_not_match_its_manifest_is_refused_and_nothing_is_written(
        folders, tmp_path, capsys):
    import shutil

    bad = tmp_path / "tampered"
    shutil.copytree(folders["three_year"], bad)
    runs = pd.read_parquet(bad / "runs.parquet")
    runs.loc[0, "lapsed_funds_m"] = 0.0
    runs.to_parquet(bad / "runs.parquet", index=False)
    out = tmp_path / "report.html"
    assert fundsim(["report", str(folders["annual"]), str(bad), "--out", str(out)]) == 2
    assert "does not match its manifest" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".report.html*"))


def test_an_existing_report_is_kept_without_force_and_replaced_with_it(folders, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert fundsim(["report", str(folders["annual"]), "--out", str(out)]) == 0
    first = out.read_bytes()
    assert fundsim(["report", str(folders["annual"]), "--out", str(out)]) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert out.read_bytes() == first
    assert fundsim(["report", str(folders["three_year"]), "--out", str(out), "--force"]) == 0
    assert "three_year" in out.read_text() and out.read_bytes() != first


@pytest.mark.parametrize("name", ["report.html", "book.xlsx"])
def test_force_never_replaces_a_file_fundsim_did_not_write(folders, tmp_path, capsys, name):
    """Issue 13: `report --force` once overwrote any file at --out, a finance team's own workbook
    included. Now only a report carrying fundsim's generator mark is replaced."""
    theirs = tmp_path / name
    theirs.write_bytes(b"a finance team's own file")
    option = "--xlsx" if name.endswith(".xlsx") else "--out"
    args = ["report", str(folders["annual"]), "--out", str(tmp_path / "r.html"), "--force"]
    if option == "--out":
        args[3] = str(theirs)
    else:
        args += ["--xlsx", str(theirs)]
    assert fundsim(args) == 2
    assert "--force replaces only a report fundsim wrote" in capsys.readouterr().err
    assert theirs.read_bytes() == b"a finance team's own file"


def test_a_workbook_fundsim_wrote_is_replaced_with_force(folders, tmp_path):
    book = tmp_path / "t.xlsx"
    args = ["report", str(folders["annual"]), "--out", str(tmp_path / "r.html"), "--xlsx", str(book)]
    assert fundsim(args) == 0
    assert openpyxl.load_workbook(book).properties.creator == "fundsim"
    assert fundsim([*args, "--force"]) == 0


def test_out_and_xlsx_on_one_file_is_bad_input(folders, tmp_path, capsys):
    same = str(tmp_path / "same")
    assert fundsim(["report", str(folders["annual"]), "--out", same, "--xlsx", same]) == 2
    assert "are the same file" in capsys.readouterr().err


def test_an_unwritable_report_path_is_a_clear_error(folders, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert fundsim(["report", str(folders["annual"]), "--out", str(blocker / "r.html")]) == 2
    assert "cannot write" in capsys.readouterr().err

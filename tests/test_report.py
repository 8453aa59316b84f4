"""`fundsim report`: one offline HTML file and an Excel workbook, from checked results folders."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from simulator import assumptions, calibration, load_scenario, run_batch, uncertain
from simulator.analysis import headline, paired_comparison
from simulator.cli import main as fundsim
from simulator.files import sha256_file
from simulator.report import CALIBRATION_TITLE, write_report
from simulator.results import load_results
from simulator.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    made = {}
    for name, seed in (("annual", 2), ("three_year", 2), ("three_year_early", 9), ("baseline", 2)):
        scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
        made[name] = run_batch(scenario, runs=80, seed=seed, workers=1).save(root / name)
    data = load_scenario(ROOT / "scenarios" / "annual.toml").to_dict()
    data["scenario"]["name"] = "annual unsure"
    data["uncertain"] = {UNSURE: {"dist": "triangular", "min": 20.0, "mode": 40.0, "max": 60.0}}
    made["unsure"] = run_batch(scenario_from_dict(data, source="test"), runs=40, seed=2,
                               workers=1).save(root / "unsure")
    return made


UNSURE = "organisation.legacy_it_cost_m_per_year"


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
    assert book.sheetnames == ["Summary", "Paired differences", "Why", "Calibration", "Parameters",
                               "Sources", "Assumptions"]
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


# ------------------------------------------------------------------ calibration and assumptions


def _calibration_rows(page: str) -> list[list[str]]:
    """The calibration table's rows as cell texts, with each verdict cell's class appended."""
    section = page[page.index(f"<h2>{CALIBRATION_TITLE}</h2>"):]
    table = section[section.index("<table class='calibration'>"):section.index("</table>")]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table[table.index("<tbody>"):]):
        cells = re.findall(r"<td(?: class='([^']*)')?>(.*?)</td>", row)
        rows.append([text for _, text in cells] + [next(c for c, _ in cells if c)])
    return rows


def _expected(folder: Path) -> list[calibration.Result]:
    return calibration.check(calibration.load_targets(), pd.read_parquet(folder / "runs.parquet"),
                             pd.read_parquet(folder / "years.parquet"))


def test_the_report_checks_the_baseline_against_the_published_figures(folders, tmp_path):
    out = tmp_path / "r.html"
    write_report([folders["annual"], folders["baseline"]], out)
    page = out.read_text()
    assert f"<h2>{CALIBRATION_TITLE}</h2>" in page
    # the scenario named baseline is checked, though it is not the first
    assert "Computed on the 80 runs of baseline (seed 2)" in page
    expected = _expected(folders["baseline"])
    rows = _calibration_rows(page)
    assert len(rows) == len(calibration.load_targets().target) == len(expected)
    classes = {"meets": "verdict-meets", "within tolerance": "verdict-within",
               "misses": "verdict-misses"}
    for row, result in zip(rows, expected, strict=True):
        assert row[0] == result.target.title
        assert row[1] == calibration.fmt(result.mean, result.target.measure)
        assert row[5] == result.verdict and row[-1] == classes[result.verdict]
        assert row[6] == html.escape(f"{result.target.source} ({result.target.date})")
    assert assumptions.PRECISION_LABEL in page  # the table's interval says what it is


def test_without_a_baseline_the_first_scenario_is_checked_and_the_report_says_so(folders, tmp_path):
    out = tmp_path / "r.html"
    write_report([folders["three_year"], folders["annual"]], out)
    page = out.read_text()
    assert "Computed on the 80 runs of three_year (seed 2), the report&#x27;s first scenario" in page
    assert "a variant such as three_year may legitimately differ from them" in page
    verdicts = [row[5] for row in _calibration_rows(page)]
    assert verdicts == [r.verdict for r in _expected(folders["three_year"])]


def _without_calibration_outputs(folder: Path, to: Path) -> Path:
    """A results folder as fundsim wrote it before staff_pay_m, capital_received_m and
    capital_lapsed_m existed: the columns dropped and the manifest's hash updated to match."""
    shutil.copytree(folder, to)
    years = pd.read_parquet(to / "years.parquet")
    years.drop(columns=["staff_pay_m", "capital_received_m", "capital_lapsed_m"]).to_parquet(
        to / "years.parquet", index=False)
    manifest = json.loads((to / "manifest.json").read_text())
    manifest["files"]["years.parquet"] = sha256_file(to / "years.parquet")
    (to / "manifest.json").write_text(json.dumps(manifest))
    return to


def test_a_folder_from_before_the_calibration_outputs_gets_one_sentence(folders, tmp_path):
    old = _without_calibration_outputs(folders["baseline"], tmp_path / "old")
    out, xlsx = tmp_path / "r.html", tmp_path / "r.xlsx"
    write_report([folders["annual"], old], out, xlsx)  # no error
    page = out.read_text()
    section = page[page.index(f"<h2>{CALIBRATION_TITLE}</h2>"):page.index("<div class='box'>")]
    sentences = re.findall(r"<p class='note'>(.*?)</p>", section)
    assert len(sentences) == 1, sentences
    assert "written by an earlier fundsim version" in sentences[0]
    assert "staff_pay_m, capital_received_m, capital_lapsed_m" in sentences[0]
    assert "re-run it with this version" in sentences[0]
    assert "<table class='calibration'>" not in page
    sheet = pd.read_excel(xlsx, sheet_name="Calibration", header=None)
    assert "re-run it with this version" in " ".join(sheet[0].dropna().astype(str))


def test_the_workbook_has_the_calibration_table_as_numbers_and_the_assumptions(folders, tmp_path):
    xlsx = tmp_path / "t.xlsx"
    write_report([folders["baseline"], folders["annual"]], tmp_path / "r.html", xlsx)
    expected = _expected(folders["baseline"])
    sheet = pd.read_excel(xlsx, sheet_name="Calibration", nrows=len(expected))
    assert list(sheet["target"]) == [r.target.title for r in expected]
    assert list(sheet["verdict"]) == [r.verdict for r in expected]
    assert sheet["model (mean)"].to_numpy() == pytest.approx([r.mean for r in expected])
    assert sheet[f"{assumptions.PRECISION_LABEL}: low"].to_numpy() == pytest.approx(
        [r.ci_low for r in expected])
    assert list(sheet["source"]) == [f"{r.target.source} ({r.target.date})" for r in expected]
    cells = openpyxl.load_workbook(xlsx)["Calibration"]
    underspend = next(i for i, r in enumerate(expected, start=2)
                      if r.target.measure == "capital_underspend")
    assert cells.cell(underspend, 2).number_format == "0.0%"  # a share shown as a percentage
    notes = pd.read_excel(xlsx, sheet_name="Calibration", header=None)[0].dropna().astype(str)
    assert any(n.startswith("Computed on the 80 runs of baseline") for n in notes)
    kept = pd.read_excel(xlsx, sheet_name="Assumptions")
    column = assumptions.KEY_ASSUMPTIONS_TITLE.lower()
    assert list(kept[column].iloc[:len(assumptions.KEY_ASSUMPTIONS)]) == list(
        assumptions.KEY_ASSUMPTIONS)
    assert any("docs/model.md" in str(v) for v in kept[column])
    summary = pd.read_excel(xlsx, sheet_name="Summary", nrows=3)
    assert f"baseline: {assumptions.SPREAD_LABEL}" in summary.columns


def test_the_report_shows_the_key_assumptions_and_what_each_interval_is(folders, tmp_path):
    out = tmp_path / "r.html"
    write_report([folders["annual"], folders["three_year"]], out)
    page = out.read_text()
    box = page[page.index("<div class='box'>"):]
    box = box[:box.index("</div>")]
    assert f"<h2>{assumptions.KEY_ASSUMPTIONS_TITLE}</h2>" in box
    assert re.findall(r"<li>(.*?)</li>", box) == [html.escape(a) for a in assumptions.KEY_ASSUMPTIONS]
    assert "<a href='docs/model.md'>docs/model.md</a>" in box
    assert f"annual: {assumptions.SPREAD_LABEL}" in html.unescape(page)
    assert f"three_year: {assumptions.PRECISION_LABEL}" in html.unescape(page)
    assert "Monte Carlo precision" in html.unescape(page) and "what could happen" in page


def test_a_scenario_with_uncertain_parameters_says_so_beside_its_summary(folders, tmp_path):
    out = tmp_path / "r.html"
    write_report([folders["unsure"], folders["annual"]], out)
    page = html.unescape(out.read_text())
    sentence = uncertain.describe(load_results(folders["unsure"]).scenario)
    assert sentence.startswith("annual unsure draws 1 uncertain parameter") and UNSURE in sentence
    summary = page[page.index("<h2>Summary</h2>"):page.index("<h2>Paired differences</h2>")]
    assert sentence in summary
    # it is the first scenario and not named baseline: the calibration is computed on its runs
    assert "Computed on the 40 runs of annual unsure" in page

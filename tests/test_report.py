"""`fundsim report`: one offline HTML file and an Excel workbook, from checked results folders."""

from __future__ import annotations

import html
import json
import re
import shutil
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from simulator import assumptions, calibration, load_scenario, run_batch, uncertain
from simulator.analysis import headline, mean_ci, paired_comparison
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


def test_with_three_scenarios_every_one_is_explained_against_the_first(folders, tmp_path):
    # the headlines are every scenario against the first; the title, money sentence, "Why" and
    # its table once covered only two of them
    xlsx = tmp_path / "three.xlsx"
    out = tmp_path / "three.html"
    write_report([folders["annual"], folders["three_year"], folders["baseline"]], out, xlsx)
    page = html.unescape(out.read_text())
    assert "fundsim report: three_year, baseline against annual" in page
    for name in ("three_year", "baseline"):
        assert f"Against annual, {name} changes lapsed funds" in page
        assert f"<p>{name} against annual:</p>" in page
    why = pd.read_excel(xlsx, sheet_name="Why")
    assert set(why["scenario"]) == {"three_year", "baseline"}
    assert list(why.columns[:3]) == ["scenario", "driver", "metric"]


def test_xlsx_holds_the_same_tables(folders, tmp_path):
    xlsx = tmp_path / "tables.xlsx"
    write_report([folders["annual"], folders["three_year"]], tmp_path / "r.html", xlsx)
    book = openpyxl.load_workbook(xlsx, read_only=True)
    assert book.sheetnames == ["Overview", "Summary", "Paired differences", "Why", "Calibration",
                               "Parameters", "Sources", "Runs"]
    summary = pd.read_excel(xlsx, sheet_name="Summary")
    a = pd.read_parquet(folders["annual"] / "runs.parquet")
    first = summary[(summary["metric"] == "disruptions_total") & (summary["scenario"] == "annual")]
    assert first["mean"].item() == pytest.approx(a["disruptions_total"].mean())
    _, lo, hi = mean_ci(a["disruptions_total"].to_numpy(float))
    assert first["95% CI of mean: low"].item() == pytest.approx(lo)
    assert first["95% CI of mean: high"].item() == pytest.approx(hi)
    paired = pd.read_excel(xlsx, sheet_name="Paired differences")
    b = pd.read_parquet(folders["three_year"] / "runs.parquet")
    diff = (b["disruptions_total"] - a["disruptions_total"]).mean()
    assert paired.loc[0, "mean difference"] == pytest.approx(diff)
    runs = pd.read_excel(xlsx, sheet_name="Runs")
    assert list(runs["scenario"].unique()) == ["annual", "three_year"]
    assert runs[runs["scenario"] == "annual"]["disruptions_total"].tolist() == (
        a["disruptions_total"].tolist())


def test_the_workbook_is_for_excel_numbers_formats_headers_and_the_headline_first(folders, tmp_path):
    """Issue 12: intervals were text, means unrounded, no header styling, widths or frozen panes,
    no runs sheet, no headline."""
    xlsx = tmp_path / "t.xlsx"
    write_report([folders["annual"], folders["three_year"]], tmp_path / "r.html", xlsx)
    book = openpyxl.load_workbook(xlsx)
    front = [c.value for c in book["Overview"]["A"] if c.value]
    a = pd.read_parquet(folders["annual"] / "runs.parquet")
    b = pd.read_parquet(folders["three_year"] / "runs.parquet")
    sentence = headline("annual", "three_year", paired_comparison(a, b, "disruptions_total"), 6)
    assert sentence in front and assumptions.KEY_ASSUMPTIONS[0] in front
    for name in ("Summary", "Paired differences", "Runs"):
        sheet = book[name]
        header = sheet[1]
        assert all(c.font.bold for c in header if c.value is not None), name
        assert sheet.freeze_panes is not None and sheet.freeze_panes.endswith("2"), name
        assert all(sheet.column_dimensions[c.column_letter].width >= 8 for c in header), name
    summary = book["Summary"]
    columns = [c.value for c in summary[1]]
    for row in summary.iter_rows(min_row=2, max_row=summary.max_row):
        cells = dict(zip(columns, row, strict=True))
        if cells["metric"].value is None:
            break  # the notes below the table
        for column in ("mean", "95% CI of mean: low", "95% CI of mean: high",
                       "runs' 5th percentile", "runs' 95th percentile"):
            value = cells[column].value
            assert isinstance(value, int | float) and not isinstance(value, bool), (column, value)
            assert cells[column].number_format != "General", column
    disruptions = next(r for r in summary.iter_rows(min_row=2) if r[-1].value == "disruptions_total")
    assert disruptions[2].number_format == "#,##0.0"  # thousands separators, one decimal
    shares = [c for c in book["Paired differences"]["G"][1:] if c.value is not None]
    assert shares and all(c.number_format == "0.0%" for c in shares)
    runs = book["Runs"]
    assert [c.value for c in runs[1]][:3] == ["scenario", "run", "disruptions_total"]
    assert isinstance(runs["C2"].value, int) and runs["C2"].number_format == "#,##0"
    # the calibration rows as `fundsim calibrate` prints them: the trend as a signed percentage a
    # year, shares as percentages, counts with thousands separators (the trend was General)
    calibration_sheet = book["Calibration"]
    columns = [c.value for c in calibration_sheet[1]]
    formats = {}
    for row in calibration_sheet.iter_rows(min_row=2):
        cells = dict(zip(columns, row, strict=False))
        if cells["measure"].value:
            formats[cells["measure"].value] = {cells[c].number_format for c in
                                               ("model (mean)", "published low", "tolerance")}
    assert formats["output_trend"] == {"+0.00%;-0.00%;0.00%"}
    # the Why sheet's share as a fraction shown as a percentage, as every other share (it was
    # 49.06 with unit "%" in the format #,##0.000)
    why = book["Why"]
    columns = [c.value for c in why[1]]
    share = next(dict(zip(columns, r, strict=True)) for r in why.iter_rows(min_row=2)
                 if r[columns.index("metric")].value == "final_priority_share")
    assert share["unit"].value == "share"
    assert -1 < share["difference"].value < 1
    assert 0 < next(c for n, c in share.items() if n.endswith(" mean")).value < 1
    assert share["difference"].number_format == "0.0%"
    assert formats["disruptions_per_year"] == {"#,##0"}
    assert formats["priority_share"] == {"0.0%"}


def test_the_workbook_is_the_same_bytes_for_the_same_results(folders, tmp_path):
    """Written a second apart (openpyxl stamps the clock's time into the file unless fixed), the
    same results give the same bytes, dated by the newest manifest."""
    one, two = tmp_path / "one.xlsx", tmp_path / "two.xlsx"
    write_report([folders["annual"], folders["three_year"]], tmp_path / "1.html", one)
    time.sleep(1.1)
    write_report([folders["annual"], folders["three_year"]], tmp_path / "2.html", two)
    assert one.read_bytes() == two.read_bytes()
    created = json.loads((folders["three_year"] / "manifest.json").read_text())["created_utc"]
    book = openpyxl.load_workbook(one)
    assert book.properties.modified.isoformat()[:19] == created[:19]


def test_report_writes_every_run_as_csv(folders, tmp_path):
    csv = tmp_path / "runs.csv"
    assert fundsim(["report", str(folders["annual"]), str(folders["three_year"]), "--out",
                    str(tmp_path / "r.html"), "--csv", str(csv)]) == 0
    back = pd.read_csv(csv)
    a = pd.read_parquet(folders["annual"] / "runs.parquet")
    mine = back[back["scenario"] == "annual"].drop(columns="scenario").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[a.columns], a, check_dtype=False)
    assert pd.api.types.is_numeric_dtype(back["lapsed_funds_m"])


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
    front = [c.value for c in openpyxl.load_workbook(xlsx)["Overview"]["A"] if c.value]
    assert all(line in front for line in assumptions.KEY_ASSUMPTIONS)
    assert any("docs/model.md" in line for line in front)
    assert assumptions.INTERVALS_NOTE in front


def test_the_report_shows_the_key_assumptions_and_what_each_interval_is(folders, tmp_path):
    out = tmp_path / "r.html"
    write_report([folders["annual"], folders["three_year"]], out)
    page = out.read_text()
    box = page[page.index("<div class='box'>"):]
    box = box[:box.index("</div>")]
    assert f"<h2>{assumptions.KEY_ASSUMPTIONS_TITLE}</h2>" in box
    assert re.findall(r"<li>(.*?)</li>", box) == [html.escape(a) for a in assumptions.KEY_ASSUMPTIONS]
    assert "<a href='docs/model.md'>docs/model.md</a>" in box
    summary = html.unescape(page[page.index("<h2>Summary</h2>"):page.index("<h2>Paired")])
    assert assumptions.INTERVALS_NOTE in summary
    assert "95% CI of mean: low" in summary and "runs' 5th percentile" in summary
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


# ------------------------------------------------------------------ issue 12: reading the report


def test_provenance_shows_short_hashes_with_the_full_value_on_hover(folders, tmp_path):
    out = tmp_path / "r.html"
    write_report([folders["annual"], folders["three_year"]], out)
    page = out.read_text()
    manifest = json.loads((folders["annual"] / "manifest.json").read_text())
    full = manifest["scenario_sha256"]
    assert f"<abbr class='hash' title='{full}'>{full[:12]}…</abbr>" in page
    assert f">{full}<" not in page  # the full value is never a cell's text
    assert "td.nowrap { white-space: nowrap" in page


def test_text_cells_are_left_aligned_and_numbers_right_aligned(folders, tmp_path):
    out = tmp_path / "r.html"
    write_report([folders["annual"], folders["three_year"]], out)
    page = out.read_text()
    section = page[page.index("<h2>Paired differences</h2>"):]
    table = section[section.index("<table>"):section.index("</table>")]
    first = re.search(r"<tbody><tr>(.*?)</tr>", table).group(1)
    cells = re.findall(r"<td(?: class='([^']*)')?>(.*?)</td>", first)
    assert cells[0] == ("", "three_year") and cells[1] == ("", "annual")  # text: left
    assert all(cls == "num" for cls, _ in cells[3:])  # numbers and shares: right
    assert "th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left;" in page


@pytest.mark.parametrize(("share", "text"), [(0.9998, "99.98%"), (1.0, "100%"), (0.0, "0%"),
                                             (0.0004, "0.04%"), (0.842, "84%"), (0.996, "99.6%")])
def test_a_near_certain_share_is_never_rounded_to_a_certainty(share, text):
    from simulator.comparison import share_text

    assert share_text(share) == text

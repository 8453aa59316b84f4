"""The report's decision sections (issue 11): the appraisal a report computes from two results
folders is the one `fundsim appraise` computes by running the scenarios; the tornado, the value
sentence and the appraisal table are in the HTML a reviewer receives; bad inputs exit 2 and write
nothing."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from simulator import load_results, load_scenario
from simulator.appraisal import appraise
from simulator.cli import main
from simulator.decision_report import appraisal_of
from simulator.executors import ProcessExecutor

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = ROOT / "scenarios" / "annual.toml"
THREE_YEAR = ROOT / "scenarios" / "three_year.toml"
RUNS, SEED = 120, 5


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """Results of annual and three_year, a tornado of the gain, and a value file."""
    out = tmp_path_factory.mktemp("decision")
    assert main(["run", str(ANNUAL), str(THREE_YEAR), "--runs", str(RUNS), "--seed", str(SEED),
                 "--workers", "2", "--out", str(out), "--quiet"]) == 0
    assert main(["sensitivity", str(THREE_YEAR), "--against", str(ANNUAL), "--runs", "40",
                 "--workers", "2", "--out", str(out), "--quiet"]) == 0
    assert main(["value", str(ANNUAL), str(THREE_YEAR), "--runs", "60", "--workers", "2",
                 "--save", str(out / "value.json"), "--json"]) == 0
    assert main(["value", str(THREE_YEAR), str(ROOT / "scenarios" / "three_year_early.toml"),
                 "--runs", "30", "--workers", "2", "--save", str(out / "other-pair.json"),
                 "--json"]) == 0
    return out


def test_the_report_appraisal_is_the_appraise_command_without_new_runs(made):
    stored = appraisal_of(load_results(made / "annual"), load_results(made / "three_year"))
    executor = ProcessExecutor(2)
    try:
        fresh = appraise(load_scenario(ANNUAL), load_scenario(THREE_YEAR), RUNS, SEED, executor,
                         workers=2)
    finally:
        executor.close()
    assert json.dumps(stored.to_dict(), default=str, sort_keys=True) == \
        json.dumps(fresh.to_dict(), default=str, sort_keys=True)


def test_the_report_shows_the_tornado_the_value_sentence_and_the_appraisal(made, capsys):
    report = made / "report.html"
    assert main(["report", str(made / "annual"), str(made / "three_year"), "--sensitivity",
                 str(made / "three_year-vs-annual-oat"), "--value", str(made / "value.json"),
                 "--out", str(report)]) == 0
    text = report.read_text()
    for heading in ("What drives this?", "What is certainty worth?", "Green Book appraisal"):
        assert f"<h2>{heading}</h2>" in text
    saved = json.loads((made / "value.json").read_text())
    assert html.escape(saved["sentence"]) in text
    assert "Tornado of the gain in disruptions_total of three_year over annual" in text
    assert "Tornado: gain in disruptions_total of three_year over annual" in text  # the chart
    stored = appraisal_of(load_results(made / "annual"), load_results(made / "three_year"))
    assert html.escape(stored.sentence()) in text
    assert text.count("plotly.js v") == 1  # Plotly embedded once, whatever sections there are


def test_a_value_answer_about_another_pair_is_refused(made, tmp_path, capsys):
    report = tmp_path / "report.html"
    code = main(["report", str(made / "annual"), str(made / "three_year"), "--value",
                 str(made / "other-pair.json"), "--out", str(report)])
    assert code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "it answers 'three_year' against 'three_year_early'" in err, err
    assert not report.exists()


@pytest.mark.parametrize(("option", "content", "message"), [
    ("--value", '{"command": "run"}', "not the JSON `fundsim value --json` prints"),
    ("--value", "not json", "cannot read it as JSON"),
    ("--sensitivity", None, "not a finished sensitivity folder"),
])
def test_a_bad_decision_input_exits_2_and_writes_nothing(made, tmp_path, capsys, option, content,
                                                         message):
    if content is None:
        target = tmp_path / "empty-folder"
        target.mkdir()
    else:
        target = tmp_path / "value.json"
        target.write_text(content)
    report = tmp_path / "report.html"
    code = main(["report", str(made / "annual"), str(made / "three_year"), option, str(target),
                 "--out", str(report)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{option} {target}" in err and message in err, err
    assert not report.exists()

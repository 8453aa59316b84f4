"""The dashboard through Streamlit's AppTest: every page, every interaction free of exceptions, and
the numbers shown are the runner's numbers."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from dashboard_pages.view import VIEWS
from simulator import assumptions, calibration, changes, comparison, load_scenario, run_batch, uncertain
from simulator.analysis import headline, mean_ci, paired_comparison
from simulator.cli import main
from simulator.planner import settings_from, three_year_counterpart

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard.py")
COMPARE = "dashboard_pages/compare.py"
ANNUAL = load_scenario(ROOT / "scenarios" / "annual.toml")
TIMEOUT = 180


@pytest.fixture(autouse=True)
def folders(tmp_path, monkeypatch):
    """Saved scenarios and results go to temporary folders, never into the repository."""
    monkeypatch.setenv("FUNDSIM_SAVED_DIR", str(tmp_path / "saved"))
    monkeypatch.setenv("FUNDSIM_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("FUNDSIM_RESULTS_DIRS", raising=False)
    monkeypatch.delenv("FUNDSIM_BATCH_SECONDS", raising=False)
    return tmp_path


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    return at


def _apply(at: AppTest, **values) -> AppTest:
    """Set sidebar controls by key (a dotted key as `core__settlement_years`) and press Run with
    these settings, as a planner does: the form applies every change in one rerun."""
    for key, value in values.items():
        key = key.replace("__", ".")
        widget = next((w for kind in ("slider", "number_input", "radio")
                       for w in at.get(kind) if w.key == key), None)
        assert widget is not None, key
        widget.set_value(value)
    at.button(key="apply").click().run()
    assert not at.exception
    return at


def _unescaped(markdown: str) -> str:
    """What the reader sees of Markdown written by `common.plain`: the text without its escapes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _errors(at: AppTest) -> str:
    """The page's error messages as read (no escapes, no bold markers)."""
    return " ".join(_unescaped(e.value.replace("**", "")) for e in at.error)


def _headline(at: AppTest) -> str:
    found = [m.value for m in at.markdown if m.value.startswith("### ")]
    assert len(found) == 1, found
    return _unescaped(found[0][4:])


def _chart(at: AppTest, key: str) -> dict:
    """The spec of the chart in the container keyed `key` (each chart has a place of its own, so a
    partial answer's chart can be replaced by the full one's)."""
    for node in at.main:
        if isinstance(node, Block) and node.key == key:
            found = node.get("plotly_chart")
            assert len(found) == 1, (key, len(found))
            return json.loads(found[0].proto.spec)
    raise AssertionError(f"no chart with key {key}")


def _array(value) -> np.ndarray:
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


@pytest.fixture(scope="module")
def expected_default():
    """What the runner gives for the page's opening state: annual against its three-year
    counterpart, 1,000 runs, seed 1."""
    a = run_batch(ANNUAL, runs=1000, seed=1)
    b = run_batch(three_year_counterpart(ANNUAL), runs=1000, seed=1)
    return a, b


def test_explore_opens_on_annual_and_says_there_is_nothing_to_compare_yet(expected_default):
    """Issue 12: the comparator is where you started, so before any change there is one scenario,
    said in words (never a zero headline), with the runner's numbers."""
    at = _app()
    a, _ = expected_default
    values = a.runs["disruptions_total"].to_numpy(float)
    p5, p95 = np.quantile(values, (0.05, 0.95))
    assert _headline(at) == (f"annual: {values.mean():,.0f} disruptions over 6 years on average "
                             f"(runs 5-95%: {p5:,.0f} to {p95:,.0f})")
    info = " ".join(_unescaped(i.value) for i in at.info)
    assert "annual is the scenario you started from" in info and "Settlement length" in info
    assert at.selectbox(key="start").value == "annual (shipped)"
    assert at.selectbox(key="comparator").value == "Where you started (before your edits)"
    assert at.slider(key="core.settlement_years").value == 1
    # the fan chart's median is the runner's monthly median
    at.radio(key="explore_view").set_value("Over time").run()
    assert not at.exception
    spec = _chart(at, "explore_fan_cumulative_disruptions")
    median = next(t for t in spec["data"] if t.get("name") == "annual (median)")
    expected = a.bands[a.bands["metric"] == "cumulative_disruptions"].sort_values("month")["p50"]
    assert np.array_equal(_array(median["y"]), expected.to_numpy())
    # the summary table's numbers are the runner's, each interval two numeric columns
    at.radio(key="explore_view").set_value("Summary table").run()
    assert not at.exception
    summary = at.dataframe[0].value.set_index("metric")
    row = summary.loc["disruptions_total"]
    assert row["mean"] == pytest.approx(values.mean())
    _, lo, hi = mean_ci(values)
    assert (row["95% CI of mean: low"], row["95% CI of mean: high"]) == pytest.approx((lo, hi))
    assert (row["runs' 5th percentile"], row["runs' 95th percentile"]) == pytest.approx((p5, p95))
    for column in ("mean", "95% CI of mean: low", "95% CI of mean: high", "runs' 5th percentile",
                   "runs' 95th percentile"):
        assert pd.api.types.is_float_dtype(summary[column]), column
    assert assumptions.INTERVALS_NOTE in [_unescaped(c.value) for c in at.caption]


def test_settlement_length_to_three_gives_a_headline_naming_the_change(expected_default):
    """The planner's flow: start from annual, move Settlement length to 3, press Run: the headline
    says what the change does, with the runner's paired numbers."""
    at = _apply(_app(), core__settlement_years=3)
    a, b = expected_default
    edited = "annual with three-year core settlements"
    results = {"annual": a, edited: b}
    expected = comparison.change_headline("three-year core settlements instead of one-year", True,
                                          results)
    assert _headline(at) == expected
    assert expected.startswith("Three-year core settlements instead of one-year add ")
    diff = (b.runs["disruptions_total"] - a.runs["disruptions_total"]).mean()
    assert f"{abs(diff):,.0f} disruptions" in expected and round(abs(diff)) > 0
    captions = " ".join(_unescaped(c.value) for c in at.caption)
    assert f"{edited} differs from annual in settlement length" in captions
    assert not at.info and not at.error
    # the histograms are two scenarios in two colours
    spec = _chart(at, "explore_dist_disruptions_total")
    assert [t["name"] for t in spec["data"]] == ["annual", edited]
    assert len({t["marker"]["line"]["color"] for t in spec["data"]}) == 2


def _texts(at: AppTest) -> str:
    """Everything the page says in words, as read."""
    shown = [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.subheader]
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = [spec["layout"]["title"]["text"] for spec in specs]
    return " ".join([*(_unescaped(e.value) for e in shown), *titles])


def test_partial_answers_are_replaced_by_the_full_ones_in_every_view(monkeypatch,
                                                                    expected_default):
    """With every partial answer drawn (FUNDSIM_PARTIAL_SECONDS=0), each view draws its first
    runs and then the full answer in the same places: no widget or key is written twice, and what
    stays on the page is the full answer, with nothing labelled partial."""
    monkeypatch.setenv("FUNDSIM_PARTIAL_SECONDS", "0")
    at = _apply(_app(), core__settlement_years=3)
    a, b = expected_default
    assert _headline(at) == comparison.change_headline(
        "three-year core settlements instead of one-year", True,
        {"annual": a, "annual with three-year core settlements": b})
    assert "first 200" not in _texts(at).lower()
    for view, percent in zip(VIEWS[1:], (31, 32, 33), strict=True):  # values no other test runs
        at.radio(key="explore_view").set_value(view).run()
        _apply(at, core__settlement_years=1, core__amount_volatility=percent / 100)
        assert not at.exception and not at.error, view
        assert "first 200" not in _texts(at).lower(), view
        assert _headline(at).startswith(f"Core amount volatility of {percent}% instead of 5%"), view


def test_a_comparator_with_the_same_settings_is_said_in_words():
    at = _apply(_app(), core__settlement_years=3)
    for comparator, words in (("Same settings, three-year settlements",
                               "already has three-year settlements"),
                              ("three_year (shipped)", "has the same settings as your scenario")):
        at.selectbox(key="comparator").set_value(comparator).run()
        assert not at.exception
        assert words in " ".join(_unescaped(i.value) for i in at.info)
        assert " adds 0 " not in _headline(at) and "95% CI +0 to +0" not in _headline(at)
        assert _headline(at).startswith("annual with three-year core settlements: ")
    at.selectbox(key="comparator").set_value("baseline (shipped)").run()
    assert not at.exception and not at.info
    assert _headline(at).startswith("annual with three-year core settlements ")
    assert "against baseline" in _headline(at)


def test_the_headline_says_what_it_compares_and_why(expected_default):
    """Issue 8 item 6: the page names the parameters that differ and explains the headline from
    the same paired runs, as the CLI and the report do."""
    at = _apply(_app(), core__settlement_years=3)
    a, b = expected_default
    captions = " ".join(c.value for c in at.caption)
    assert "differs from annual in settlement length" in captions
    why = next(e for e in at.expander if "Why" in e.label)
    assert not why.markdown  # worked out only once opened (a rerun from the cache)
    charts = len(at.get("plotly_chart"))
    at.session_state["explore_why"] = True
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == charts
    why = next(e for e in at.expander if "Why" in e.label)
    text = " ".join(m.value for m in why.markdown)
    lapsed = (b.runs["lapsed_funds_m"] - a.runs["lapsed_funds_m"]).mean()
    assert f"£{abs(lapsed):,.1f}m less" in text.replace("\\", "")
    assert not at.warning  # one group of levers: no warning


def test_explore_checks_the_shipped_baseline_and_shows_the_key_assumptions():
    """Issue 9: the shipped baseline's calibration table (at the page's runs and seed) and the key
    assumptions, in the report's words, below the comparison."""
    at = _app()
    headings = [h.value for h in at.subheader]
    assert "Does the baseline match the published figures?" in headings
    assert headings.index("Does the baseline match the published figures?") < headings.index(
        assumptions.KEY_ASSUMPTIONS_TITLE)
    baseline = run_batch(load_scenario(ROOT / "scenarios" / "baseline.toml"), runs=1000, seed=1)
    expected = calibration.check(calibration.load_targets(), baseline.runs, baseline.years)
    table = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert list(table["target"]) == [r.target.title for r in expected]
    assert list(table["verdict"]) == [r.verdict for r in expected]
    assert list(table["model"]) == [calibration.fmt(r.mean, r.target.measure) for r in expected]
    assert assumptions.PRECISION_LABEL in table.columns
    captions = [_unescaped(c.value) for c in at.caption]
    assert any(c.startswith("Computed on the 1,000 runs of baseline (seed 1)") for c in captions)
    bullets = next(_unescaped(m.value) for m in at.markdown
                   if assumptions.KEY_ASSUMPTIONS[0] in _unescaped(m.value))
    assert bullets == "\n".join(f"- {line}" for line in assumptions.KEY_ASSUMPTIONS)
    assert any("Read more in docs/model.md" in c for c in captions)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download docs/model.md" in labels


@pytest.fixture
def ran(monkeypatch) -> list[list[str]]:
    """For every batch the dashboard submits to its pool, in order, the names of the scenarios it
    simulates (a test clears it once the page has opened, to count what its own changes run)."""
    from simulator.executors import FairPool

    batches: list[list[str]] = []
    real = FairPool.submit

    def counting(self, session, tasks, *args, **kwargs):
        batches.append(list(dict.fromkeys(task[0].name for task in tasks)))
        return real(self, session, tasks, *args, **kwargs)

    monkeypatch.setattr(FairPool, "submit", counting)
    return batches


def test_a_slider_move_does_not_run_the_baseline_again(ran):
    at = _app()
    ran.clear()
    _apply(at, core__settlement_years=2)
    assert ran == [["annual with two-year core settlements"]]  # annual and the baseline: cached
    assert "Does the baseline match the published figures?" in [h.value for h in at.subheader]


def test_uncertain_parameters_are_named_beside_the_results():
    from simulator.planner import scenario_toml
    from simulator.scenario import scenario_from_dict

    data = ANNUAL.to_dict()
    data["scenario"]["name"] = "unsure"
    data["uncertain"] = {"organisation.legacy_it_cost_m_per_year": {
        "dist": "uniform", "min": 30.0, "max": 50.0}}
    unsure = scenario_from_dict(data, source="test")
    at = _app()
    at.number_input(key="runs").set_value(100).run()
    at.file_uploader(key="upload").set_value(
        ("unsure.toml", scenario_toml(unsure).encode(), "text/plain")).run()
    assert not at.exception
    captions = [_unescaped(c.value) for c in at.caption]
    assert uncertain.describe(unsure) in captions
    assert not [c for c in captions if c.startswith("annual draws")]  # only where declared


def test_several_changes_are_applied_together_in_one_rerun(ran):
    """Issue 12: each box re-ran the model through invalid intermediate combinations; now the
    controls are a form and one press of Run runs the edited scenario once."""
    at = _app()
    ran.clear()
    _apply(at, core__settlement_years=2, core__delay_window=(0.0, 4.0), contract_cover=0.5)
    assert ran == [["annual with 3 changes"]]  # three changes, one batch
    edited = ANNUAL.with_changes({"funding.streams.core.settlement_years": 2,
                                  "funding.streams.core.confirmation_delay_months": {
                                      "dist": "triangular", "min": 0.0, "mode": 2.0, "max": 4.0},
                                  "organisation.contract_cover": 0.5})
    a = run_batch(ANNUAL, runs=1000, seed=1)
    b = run_batch(edited, runs=1000, seed=1)
    found = changes.describe(settings_from(ANNUAL), settings_from(edited))
    assert _headline(at) == comparison.change_headline(*changes.subject(found),
                                                       {"annual": a, "edited": b})
    assert _headline(at).startswith("These 3 changes (two-year core settlements instead of "
                                    "one-year; core money confirmed between the start of the year and "
                                    "4 months after it")


def test_a_known_confirmation_date_becomes_a_fixed_delay(folders):
    at = _apply(_app(), core__delay_kind="A known date", core__delay_mode=3.0)
    assert _headline(at).startswith("Core money confirmed on a known date, 3 months after the "
                                    "year starts, instead of confirmed between 1 month before")
    a = run_batch(ANNUAL, runs=1000, seed=1)
    known = ANNUAL.with_changes({"funding.streams.core.confirmation_delay_months":
                                 {"dist": "fixed", "value": 3.0}})
    b = run_batch(known, runs=1000, seed=1)
    diff = (b.runs["disruptions_total"] - a.runs["disruptions_total"]).mean()
    assert f"{abs(diff):,.0f} disruptions over 6 years" in _headline(at)
    # the saved file says what it is: name and description follow the settings
    at.button(key="save_button").click().run()
    assert not at.exception
    saved = load_scenario(next((folders / "saved").glob("*.toml")))
    assert saved.funding.streams["core"].confirmation_delay_months.dist == "fixed"
    assert saved.name == "annual with known core date (month 3)"
    assert saved.scenario.description.startswith("As annual, with core money confirmed on a "
                                                 "known date, 3 months after the year starts")


def test_a_most_likely_month_outside_the_window_is_moved_and_said():
    at = _apply(_app(), core__delay_window=(0.0, 3.0), core__delay_mode=8.0)
    info = " ".join(_unescaped(i.value) for i in at.info)
    assert "Most likely month 8 lies outside the window 0 to 3 under Core funding, so 3" in info
    assert not at.error
    assert "most likely 3 months after" in _headline(at)


def test_the_delay_controls_offer_only_months_the_model_accepts():
    at = _app()
    window = at.slider(key="core.delay_window")
    assert (window.min, window.max) == (-12.0, 11.0)
    mode = at.slider(key="core.delay_mode")
    assert (mode.min, mode.max) == (-12.0, 11.0)
    at.slider(key="core.settlement_years").set_value(1)
    _apply(at, core__delay_window=(-12.0, 11.0), core__delay_mode=11.0)
    assert not at.error and "instead of" in _headline(at)


def test_ecdf_toggle_and_difference_metric():
    at = _apply(_app(), core__settlement_years=3)
    at.toggle(key="explore_ecdf").set_value(True).run()
    assert not at.exception
    spec = _chart(at, "explore_dist_lapsed_funds_m")
    assert all(t["type"] == "scatter" for t in spec["data"])
    at.radio(key="explore_view").set_value("Run-by-run difference").run()
    at.selectbox(key="explore_diff_metric").set_value("overrun_cost_m").run()
    assert not at.exception
    assert _chart(at, "explore_diff_1")["layout"]["xaxis"]["title"]["text"] == (
        "Difference in overrun cost (£m)")


def test_settings_the_model_refuses_are_said_in_the_planners_words(monkeypatch):
    """Whatever the model refuses is named by the control to change, never by a field path or a
    made-up file name ("annual (changed)")."""
    from simulator import changes
    from simulator.errors import ScenarioError, problem

    def refuse(_base, _settings):
        raise ScenarioError("annual (changed)", [problem(
            "funding.streams.core.confirmation_delay_months", "min (9.0) must be below max (5.0)")])

    at = _app()
    monkeypatch.setattr(changes, "apply_named", refuse)
    _apply(at, core__settlement_years=2)
    message = _errors(at)
    assert "These settings cannot be run" in message
    assert "Confirmation date under Core funding: min (9.0) must be below max (5.0)" in message
    assert "annual (changed)" not in message and "funding.streams" not in message
    assert not [m for m in at.markdown if m.value.startswith("### ")]


def test_runs_outside_the_allowed_range_is_a_clear_message():
    at = _apply(_app(), runs=0)
    assert "choose between 100 and 5,000 under Monte Carlo" in _unescaped(at.error[0].value)


@pytest.mark.parametrize(("values", "words"), [
    ({"budget_m": 99_999_999.0}, "Budget is £99,999,999m a year: choose more than 0 and at most "
                                 "£1,000,000m under Budget and contracting"),
    ({"budget_m": 0.0}, "Budget is £0m a year: choose more than 0"),
    ({"real_growth_pct": 150.0}, "Real growth is 150% a year: choose from -50% to 100%"),
])
def test_a_budget_or_growth_out_of_range_is_a_clear_message_not_the_old_value_run(values, words):
    # with a min and max on the box, Streamlit kept the typed value on show but sent the old one,
    # and the page ran the old budget without a word
    at = _apply(_app(), **values)
    assert words in _errors(at)
    assert not [m for m in at.markdown if m.value.startswith("### ")]  # no headline: nothing ran


def test_save_writes_a_scenario_and_never_overwrites_without_confirmation(folders):
    at = _apply(_app(), core__settlement_years=2)
    assert at.text_input(key="save_title").value == "annual with two-year core settlements"
    at.text_input(key="save_title").set_value("Two-year core").run()
    at.button(key="save_button").click().run()
    assert not at.exception
    path = folders / "saved" / "two_year_core.toml"
    assert path.is_file() and "Saved as" in _unescaped(at.success[0].value)
    assert load_scenario(path).funding.streams["core"].settlement_years == 2
    # the saved scenario is offered as a starting point
    assert "two_year_core (saved)" in at.selectbox(key="start").options
    before = path.read_text()
    _apply(at, core__settlement_years=3)
    assert at.text_input(key="save_title").value == "Two-year core"  # typed: kept
    at.button(key="save_button").click().run()
    assert "already exists" in _errors(at)
    assert path.read_text() == before
    at.checkbox(key="save_replace").check().run()
    at.button(key="save_button").click().run()
    assert not at.exception
    assert load_scenario(path).funding.streams["core"].settlement_years == 3


def test_a_broken_upload_is_a_clear_message_and_a_good_one_loads():
    at = _app()
    at.file_uploader(key="upload").set_value(("broken.toml", b"[scenario\nname=", "text/plain")).run()
    assert not at.exception
    assert "broken.toml" in _errors(at)
    assert _headline(at)  # the rest of the page keeps working
    good = (ROOT / "scenarios" / "three_year.toml").read_text()  # has a base: refused clearly
    at.file_uploader(key="upload").set_value(("three_year.toml", good.encode(), "text/plain")).run()
    assert "must be complete" in _errors(at)
    from simulator.planner import scenario_toml

    complete = scenario_toml(ANNUAL.with_changes({"scenario.name": "uploaded one"})).encode()
    at.file_uploader(key="upload").set_value(("mine.toml", complete, "text/plain")).run()
    assert not at.exception
    assert "uploaded one (uploaded)" in at.selectbox(key="start").options
    at.selectbox(key="start").set_value("uploaded one (uploaded)").run()
    assert not at.exception and _headline(at)


def _write_results(folder: Path, scenario, seed: int = 3, runs: int = 120) -> Path:
    return run_batch(scenario, runs=runs, seed=seed, workers=1).save(folder)


def test_compare_page_shows_results_folders_side_by_side(folders):
    annual = _write_results(folders / "results" / "demo" / "annual", ANNUAL)
    three = load_scenario(ROOT / "scenarios" / "three_year.toml")
    _write_results(folders / "results" / "demo" / "three_year", three)
    at = _app()
    at.switch_page(COMPARE).run()
    assert not at.exception
    assert at.multiselect(key="compare_results").value == ["demo/annual", "demo/three_year"]
    facts = at.dataframe[0].value  # where each result came from
    assert list(facts["seed"]) == [3, 3] and list(facts["runs"]) == [120, 120]
    params = at.dataframe[1].value.set_index("parameter")  # how the scenarios differ
    assert "funding.streams.core.settlement_years" in params.index
    a = run_batch(ANNUAL, runs=120, seed=3, workers=1)
    b = run_batch(three, runs=120, seed=3, workers=1)
    comparison = paired_comparison(a.runs, b.runs, "disruptions_total")
    assert _headline(at) == headline("annual", "three_year", comparison, 6)
    assert annual.is_dir()


def test_compare_page_refuses_a_folder_that_does_not_match_its_manifest(folders):
    good = _write_results(folders / "results" / "good", ANNUAL)
    bad = folders / "results" / "tampered"
    shutil.copytree(good, bad)
    runs = pd.read_parquet(bad / "runs.parquet")
    runs.loc[0, "disruptions_total"] += 1
    runs.to_parquet(bad / "runs.parquet", index=False)
    at = _app()
    at.switch_page(COMPARE).run()
    assert not at.exception
    # the page opens on what opens: the tampered folder, though newest, is not picked by default
    assert at.multiselect(key="compare_results").value == ["good"]
    assert not at.error
    at.multiselect(key="compare_results").set_value(["good", "tampered"]).run()
    message = _errors(at)
    assert "Refused" in message and "does not match its manifest" in message


def test_compare_page_runs_saved_scenarios_on_demand_and_warns_about_other_seeds(folders):
    _write_results(folders / "results" / "seed3", ANNUAL, seed=3)
    at = _app()
    at.switch_page(COMPARE).run()
    at.number_input(key="compare_runs").set_value(100).run()
    at.multiselect(key="compare_scenarios").set_value(["three_year (shipped)"]).run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "different seeds" in warning  # folder seed 3, run here with seed 1
    at.number_input(key="compare_seed").set_value(3).run()
    assert not at.exception and not at.warning
    assert _headline(at).startswith("three_year ")


def test_compare_page_says_when_two_results_are_one_simulation(folders):
    # the same folder picked twice (once by another path): a zero difference by construction is
    # said in words, not shown as a headline of "+0 (95% CI +0 to +0)"
    _write_results(folders / "results" / "demo" / "annual", ANNUAL)
    at = _app()
    at.switch_page(COMPARE).run()
    at.multiselect(key="compare_results").set_value(["demo/annual"]).run()
    at.text_input(key="compare_path").set_value(str(folders / "results" / "demo" / "x" / ".."
                                                    / "annual")).run()
    assert not at.exception
    infos = " ".join(i.value for i in at.info)
    assert "are the same simulation (the same settings and seed)" in _unescaped(infos)
    assert not [m for m in at.markdown if m.value.startswith("### ")]


def test_compare_page_says_over_which_runs_results_of_different_sizes_are_paired(folders):
    _write_results(folders / "results" / "demo" / "annual", ANNUAL, runs=120)
    three = load_scenario(ROOT / "scenarios" / "three_year.toml")
    _write_results(folders / "results" / "demo" / "three_year", three, runs=150)
    at = _app()
    at.switch_page(COMPARE).run()
    assert not at.exception
    infos = _unescaped(" ".join(i.value for i in at.info))
    assert "different numbers of runs (120, 150)" in infos and "(the first 120)" in infos
    assert _headline(at).startswith("three_year ")


def _serve(command: list[str], log: Path) -> tuple[subprocess.Popen, int]:
    """Start a dashboard server on a free port (appended as --port/--server.port by the caller's
    `command` template) and wait until it answers its health check on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = log.open("w")
    server = subprocess.Popen([part.replace("PORT", str(port)) for part in command], cwd=ROOT,
                              stdout=out, stderr=subprocess.STDOUT)
    out.close()
    deadline = time.monotonic() + 60
    body = b""
    while time.monotonic() < deadline and server.poll() is None and body != b"ok":
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                        timeout=2) as response:
                body = response.read()
        except OSError:
            time.sleep(0.3)
    if body != b"ok":
        server.kill()
        server.wait()
        pytest.fail(f"the server did not start: {log.read_text()}")
    return server, port


def _listening(pid: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process(pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN}


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def test_fundsim_dashboard_serves_the_app_on_127_0_0_1_with_its_results_dir(tmp_path):
    """`fundsim dashboard` starts the real server on 127.0.0.1 and stops on SIGTERM;
    --results-dir becomes the server's FUNDSIM_RESULTS_DIR."""
    fundsim = Path(sys.executable).with_name("fundsim")
    server, port = _serve([str(fundsim), "dashboard", "--port", "PORT", "--results-dir",
                           str(tmp_path)], tmp_path / "server.log")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
        assert _listening(server.pid) == {"127.0.0.1"}
        assert psutil.Process(server.pid).environ()["FUNDSIM_RESULTS_DIR"] == str(tmp_path.resolve())
    finally:
        _stop(server)
    assert server.returncode is not None
    assert main(["dashboard", "--results-dir", str(tmp_path / "missing")]) == 2


def test_a_bare_streamlit_run_listens_on_127_0_0_1_only(tmp_path):
    """Issue 13: `streamlit run dashboard.py` as the README says listened on all interfaces; the
    repository's .streamlit/config.toml now binds it to this machine."""
    server, _ = _serve([sys.executable, "-m", "streamlit", "run", "dashboard.py",
                        "--server.headless", "true", "--server.port", "PORT"],
                       tmp_path / "server.log")
    try:
        assert _listening(server.pid) == {"127.0.0.1"}
    finally:
        _stop(server)


def test_a_server_started_without_the_repositorys_settings_shows_only_how_to_start_it(monkeypatch):
    import streamlit

    monkeypatch.setattr(streamlit, "get_option", lambda key, _real=streamlit.get_option: (
        None if key == "server.address" else _real(key)))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "listens on every network interface" in _errors(at)
    assert not [m for m in at.markdown if m.value.startswith("### ")]


# ------------------------------------------------------------------ what the dashboard exposes


def _outside_paths(folders: Path) -> dict[str, str]:
    """Paths outside the results directory: a real results folder, one that does not exist, a
    climb out with `..`, and a link inside the results directory that points outside."""
    elsewhere = _write_results(folders / "elsewhere" / "annual", ANNUAL)
    link = folders / "results" / "link"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere, target_is_directory=True)
    return {"existing": str(elsewhere), "missing": str(folders / "elsewhere" / "nothing"),
            "climb": "../elsewhere/annual", "link": "link", "system": "/etc"}


def test_compare_page_opens_nothing_outside_the_results_directory(folders):
    paths = _outside_paths(folders)
    at = _app()
    at.switch_page(COMPARE).run()
    messages = {}
    for kind, typed in paths.items():
        at.text_input(key="compare_path").set_value(typed).run()
        assert not at.exception
        assert len(at.error) == 1, kind
        messages[kind] = _errors(at).replace(typed, "PATH")
        assert not at.dataframe, kind  # nothing of the folder is shown
    # the same words whether or not the path exists: nothing is revealed about the server's disk
    assert len(set(messages.values())) == 1, messages
    message = messages["existing"]
    assert message.startswith("Refused PATH: the Compare page opens results folders under ")
    assert str((folders / "results").resolve()) in message and "FUNDSIM_RESULTS_DIRS" in message


def test_fundsim_results_dirs_widens_what_the_compare_page_may_open(folders, monkeypatch):
    paths = _outside_paths(folders)
    monkeypatch.setenv("FUNDSIM_RESULTS_DIRS", f"{folders / 'elsewhere'}:{folders / 'other'}")
    at = _app()
    at.switch_page(COMPARE).run()
    at.text_input(key="compare_path").set_value(paths["existing"]).run()
    assert not at.exception and not at.error
    facts = at.dataframe[0].value
    assert list(facts["runs"]) == [120]
    at.text_input(key="compare_path").set_value(paths["missing"]).run()
    assert "Refused" in _errors(at) and "results directory" not in _errors(at)


MARKDOWN_NAME = "![b](http://127.0.0.1:9/x.png) <img src=x onerror=alert(1)> **bold** `code` $x$"


def _rendered(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(markdown)


def test_a_scenario_name_with_markdown_and_html_is_shown_as_text():
    from simulator.planner import scenario_toml

    upload = scenario_toml(ANNUAL.with_changes({
        "scenario.name": MARKDOWN_NAME,
        "scenario.description": "[click](http://127.0.0.1:9/) <script>x</script>"})).encode()
    at = _app()
    at.file_uploader(key="upload").set_value(("md.toml", upload, "text/plain")).run()
    assert not at.exception
    at.radio(key="explore_view").set_value("Run-by-run difference").run()
    assert not at.exception
    shown = [*at.markdown, *at.caption, *at.success, *at.error]
    with_name = [el.value for el in shown if "x.png" in _unescaped(el.value)]
    assert len(with_name) >= 3  # loaded message, headline, its money sentence, the difference
    for value in with_name:
        html = _rendered(value)
        assert "<img" not in html and "<a " not in html and "<code>" not in html, value
        assert "<strong>bold" not in html, value
        assert MARKDOWN_NAME in _unescaped(value)
    assert _headline(at).startswith(MARKDOWN_NAME)


@pytest.mark.parametrize("text", [
    MARKDOWN_NAME, "# heading", "1. item", "- item", "> quote", "***", "a | b\n|---|", "&amp; &lt;",
    "~~gone~~", ":red[red] :smile: :material/home:", "back\\slash", "under_score_", "line\nbreak",
    "[link][ref]\n\n[ref]: http://127.0.0.1:9/", "<http://127.0.0.1:9/>", "%{y} {{x}}",
])
def test_plain_text_survives_markdown_unchanged(text):
    from dashboard_pages.common import plain

    html = _rendered(plain(text))
    assert "<img" not in html and "<a " not in html and "<h1" not in html
    inner = html.strip().removeprefix("<p>").removesuffix("</p>")
    assert "<" not in inner.replace("&lt;", "")
    assert unescape(inner) == " ".join(text.split())


def test_plain_text_round_trips_any_printable_text():
    from hypothesis import given, settings
    from hypothesis import strategies as hs

    from dashboard_pages.common import plain

    @settings(max_examples=150, deadline=None)
    @given(hs.text(alphabet=hs.characters(min_codepoint=32, max_codepoint=126), min_size=1))
    def check(text: str) -> None:
        html = _rendered(plain(text)).strip()
        inner = html.removeprefix("<p>").removesuffix("</p>")
        expected = " ".join(text.split())
        if not expected:
            return
        assert unescape(inner) == expected, (text, plain(text), html)

    check()


# ------------------------------------------------------------------ the error boundary


def test_an_internal_error_is_a_plain_message_without_details(monkeypatch):
    from simulator import charts

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret /etc/shadow details")

    monkeypatch.setattr(charts, "distribution_figure", broken)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    message = _errors(at)
    assert "Running the scenarios failed because of an internal error (RuntimeError)" in message
    assert "secret" not in message and "Traceback" not in message


def test_an_error_anywhere_on_a_page_is_caught_by_its_boundary(monkeypatch):
    from simulator import planner

    monkeypatch.setattr(planner, "settings_from", lambda _base: {}["no such key"])
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "The Explore page failed because of an internal error (KeyError)" in _errors(at)


def test_compare_page_loading_errors_are_plain(folders, monkeypatch):
    _write_results(folders / "results" / "demo" / "annual", ANNUAL)
    from simulator import results

    def broken(_folder):
        raise KeyError("files")

    monkeypatch.setattr(results, "load_results", broken)
    at = _app()
    at.switch_page(COMPARE).run()
    assert not at.exception
    assert ("Refused demo/annual: reading it failed because of an internal error (KeyError); the "
            "details are in the server's log.") in _errors(at)


def test_a_batch_past_the_time_budget_is_a_plain_message(monkeypatch):
    at = _app()
    monkeypatch.setenv("FUNDSIM_BATCH_SECONDS", "0.3")
    _apply(at, runs=5000)  # 5,000 runs take seconds on any machine
    assert not at.exception
    message = _errors(at)
    assert "Running the scenarios: stopped after 0.3 s: annual takes longer than the dashboard " \
           "allows one batch" in message
    assert "fundsim run" in message


def test_pool_workers_that_import_the_app_as_mp_main_do_not_load_streamlit():
    """Streamlit runs dashboard.py as __main__, so every spawned pool worker imports it again as
    __mp_main__: guarded, a worker starts in under a second instead of loading the whole app."""
    done = subprocess.run(
        [sys.executable, "-c", "import runpy, sys; runpy.run_path('dashboard.py', "
         "run_name='__mp_main__'); print(sorted(m for m in sys.modules if m.startswith('streamlit')"
         " or m.startswith('dashboard_pages')))"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------------------ issue 12: Compare, icons


def test_compare_after_a_sweep_lists_its_points_and_opens_the_newest_pair(folders):
    """The README's sweep example made Compare open on "Refused .../annual-sweep: runs.parquet is
    missing"; a sweep is now listed as its points and the newest pair is compared."""
    results = folders / "results"
    _write_results(results / "demo" / "annual", ANNUAL)
    assert main(["sweep", str(ROOT / "scenarios" / "annual.toml"), "--vary",
                 "funding.streams.core.confirmation_delay_months.mode=0:4:3", "--runs", "100",
                 "--workers", "1", "--quiet", "--out", str(results)]) == 0
    at = _app()
    at.switch_page(COMPARE).run()
    assert not at.exception and not at.error
    options = at.multiselect(key="compare_results").options
    assert "annual-sweep" not in options
    assert "annual-sweep/p0001 (confirmation_delay_months.mode = 2)" in options
    assert at.multiselect(key="compare_results").value == [
        "annual-sweep/p0001 (confirmation_delay_months.mode = 2)",
        "annual-sweep/p0002 (confirmation_delay_months.mode = 4)"]
    assert " disruptions over 6 years against " in _headline(at)
    # the sweep's own folder, typed, is said to be a sweep, with where its points are
    at.text_input(key="compare_path").set_value("annual-sweep").run()
    assert not at.exception
    message = _errors(at)
    assert "annual-sweep is a sweep, not one result." in message and "points/p0000" in message


def test_compare_gives_each_scenario_its_headline_against_the_first(folders):
    for name in ("annual", "three_year", "three_year_early"):
        _write_results(folders / "results" / name, load_scenario(ROOT / "scenarios" / f"{name}.toml"))
    at = _app()
    at.switch_page(COMPARE).run()
    at.multiselect(key="compare_results").set_value(["annual", "three_year", "three_year_early"])
    at.run()
    assert not at.exception
    headlines = [_unescaped(m.value[4:]) for m in at.markdown if m.value.startswith("### ")]
    assert len(headlines) == 2
    assert headlines[0].startswith("three_year ") and headlines[1].startswith("three_year_early ")
    assert all("against annual" in h for h in headlines)


EMOJI = [(0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0xFE0F, 0xFE0F)]


def test_the_dashboard_uses_no_emoji_icons():
    """Emoji render as empty boxes without an emoji font; icons are Material Symbols, which
    Streamlit serves with the app."""
    for path in [ROOT / "dashboard.py", *sorted((ROOT / "dashboard_pages").glob("*.py"))]:
        text = path.read_text()
        found = [ch for ch in text if any(lo <= ord(ch) <= hi for lo, hi in EMOJI)]
        assert not found, (path.name, found)
        assert ":material/" in text or "import streamlit" not in text, path.name


def test_the_decision_views_show_the_runners_numbers(expected_default):
    """Issue 11 under a comparison: the appraisal sentence is `appraisal_of` on the runs shown;
    the tornado (on request) is the sensitivity module's on the same 3,000 paired runs; the value
    sentence (on request) is `value_of_certainty`'s."""
    import dataclasses

    from dashboard_pages.decision import TORNADO_RUNS, VALUE_RUNS
    from simulator.decision_report import appraisal_of
    from simulator.evaluate import evaluate
    from simulator.executors import ProcessExecutor
    from simulator.sensitivity import declared_factors, indices, make_design
    from simulator.sensitivity_folder import Study
    from simulator.value import value_of_certainty

    at = _apply(_app(), core__settlement_years=3)
    a, b = expected_default
    # the page's edited scenario: the three-year counterpart under the name the page gives it
    edited = three_year_counterpart(ANNUAL).with_changes(
        {"scenario.name": "annual with three-year core settlements"})
    b = dataclasses.replace(b, scenario=edited)
    texts = _texts(at)
    assert appraisal_of(a, b).sentence() in texts
    assert "Show what drives this" in [w.label for w in at.button]
    at.button(key="decision_tornado_go").click().run()
    assert not at.exception
    spec = _chart(at, "decision_tornado")
    factors = declared_factors(ANNUAL)
    study = Study(edited, ANNUAL, make_design("oat", factors, 0, 1), "disruptions_total",
                  TORNADO_RUNS, 1)
    executor = ProcessExecutor(2)
    try:
        got = evaluate(study.variants(0, study.design.points), TORNADO_RUNS, 1, executor,
                       metrics=("disruptions_total",), workers=2).of("disruptions_total")
        value = value_of_certainty(ANNUAL, edited, "disruptions_total", VALUE_RUNS, 1, executor,
                                   workers=2)
    finally:
        executor.close()
    points = study.design.points
    rows = indices(study.design, got[:points] - got[points:], 1)
    shown = dict(zip(spec["data"][1]["y"], _array(spec["data"][1]["x"]), strict=True))
    for row in rows:
        assert shown[row["factor"]] == pytest.approx(row["high_effect"], abs=1e-9), row["factor"]
    at.button(key="decision_value_go").click().run()
    assert not at.exception
    assert value.sentence() in _texts(at)


def test_a_finished_sensitivity_folder_in_results_can_be_drawn(folders):
    assert main(["sensitivity", str(ROOT / "scenarios" / "three_year.toml"), "--against",
                 str(ROOT / "scenarios" / "annual.toml"), "--method", "morris", "--samples", "2",
                 "--runs", "5", "--workers", "1", "--out", str(folders / "results"), "--quiet"]) == 0
    at = _apply(_app(), core__settlement_years=3)
    picker = next(s for s in at.selectbox if s.key == "decision_saved_study")
    assert picker.options == ["(none)", "three_year-vs-annual-morris"]
    picker.set_value("three_year-vs-annual-morris").run()
    assert not at.exception
    spec = _chart(at, "decision_saved_chart")
    assert spec["layout"]["title"]["text"].startswith(
        "Morris screening: gain in disruptions_total of three_year over annual")
    assert "Morris screening of the gain in disruptions_total of three_year over annual" in _texts(at)

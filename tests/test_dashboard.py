"""The dashboard through Streamlit's AppTest: every page, every interaction free of exceptions, and
the numbers shown are the runner's numbers."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from simulator import load_scenario, run_batch
from simulator.analysis import headline, paired_comparison
from simulator.planner import three_year_counterpart

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
    return tmp_path


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    return at


def _headline(at: AppTest) -> str:
    found = [m.value for m in at.markdown if m.value.startswith("### ")]
    assert len(found) == 1, found
    return found[0][4:]


def _chart(at: AppTest, key: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if chart.proto.id and key in chart.proto.id:
            return spec
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


def test_explore_opens_on_annual_against_three_year_with_the_runners_numbers(expected_default):
    at = _app()
    a, b = expected_default
    comparison = paired_comparison(a.runs, b.runs, "disruptions_total")
    assert _headline(at) == headline("annual", "annual with three-year settlements", comparison, 6)
    assert at.selectbox(key="start").value == "annual (shipped)"
    assert at.slider(key="core.settlement_years").value == 1
    # the fan chart's median is the runner's monthly median
    at.radio(key="explore_view").set_value("Over time").run()
    assert not at.exception
    spec = _chart(at, "explore_fan_cumulative_disruptions")
    median = next(t for t in spec["data"] if t.get("name") == "annual (median)")
    expected = a.bands[a.bands["metric"] == "cumulative_disruptions"].sort_values("month")["p50"]
    assert np.array_equal(_array(median["y"]), expected.to_numpy())
    # the summary table's means are the runner's
    at.radio(key="explore_view").set_value("Summary table").run()
    assert not at.exception
    summary = at.dataframe[0].value
    assert summary.iloc[0]["annual: mean"] == pytest.approx(a.runs["disruptions_total"].mean())


def test_moving_the_settlement_slider_reruns_and_changes_the_headline():
    at = _app()
    before = _headline(at)
    at.slider(key="core.settlement_years").set_value(2).run()
    assert not at.exception
    after = _headline(at)
    assert after != before
    edited = ANNUAL.with_changes({"funding.streams.core.settlement_years": 2})
    a = run_batch(edited, runs=1000, seed=1)
    b = run_batch(three_year_counterpart(ANNUAL), runs=1000, seed=1)
    comparison = paired_comparison(a.runs, b.runs, "disruptions_total")
    assert after == headline("annual (edited)", "annual (edited) with three-year settlements", comparison, 6)


def test_ecdf_toggle_and_difference_metric():
    at = _app()
    at.toggle(key="explore_ecdf").set_value(True).run()
    assert not at.exception
    spec = _chart(at, "explore_dist_lapsed_funds_m")
    assert all(t["type"] == "scatter" for t in spec["data"])
    at.radio(key="explore_view").set_value("Run-by-run difference").run()
    at.selectbox(key="explore_diff_metric").set_value("overrun_cost_m").run()
    assert not at.exception
    assert _chart(at, "explore_diff_1")["layout"]["xaxis"]["title"]["text"] == (
        "Difference in overrun cost (£m)")


def test_a_minimum_above_the_maximum_is_a_clear_message_and_the_page_recovers():
    at = _app()
    at.number_input(key="core.delay_min").set_value(9.0).run()
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert "confirmation_delay_months" in message and "min" in message
    assert not [m for m in at.markdown if m.value.startswith("### ")]
    at.number_input(key="core.delay_min").set_value(-1.0).run()
    assert not at.exception and not at.error
    assert _headline(at)


def test_runs_outside_the_allowed_range_is_a_clear_message():
    at = _app()
    at.number_input(key="runs").set_value(0).run()
    assert not at.exception
    assert "choose between 100 and 5,000" in at.error[0].value


def test_save_writes_a_scenario_and_never_overwrites_without_confirmation(folders):
    at = _app()
    at.slider(key="core.settlement_years").set_value(2).run()
    at.text_input(key="save_title").set_value("Two-year core").run()
    at.button(key="save_button").click().run()
    assert not at.exception
    path = folders / "saved" / "two_year_core.toml"
    assert path.is_file() and "Saved as" in at.success[0].value
    assert load_scenario(path).funding.streams["core"].settlement_years == 2
    # the saved scenario is offered as a starting point
    assert "two_year_core (saved)" in at.selectbox(key="start").options
    before = path.read_text()
    at.slider(key="core.settlement_years").set_value(3).run()
    at.button(key="save_button").click().run()
    assert "already exists" in " ".join(e.value for e in at.error)
    assert path.read_text() == before
    at.checkbox(key="save_replace").check().run()
    at.button(key="save_button").click().run()
    assert not at.exception
    assert load_scenario(path).funding.streams["core"].settlement_years == 3


def test_a_broken_upload_is_a_clear_message_and_a_good_one_loads():
    at = _app()
    at.file_uploader(key="upload").set_value(("broken.toml", b"[scenario\nname=", "text/plain")).run()
    assert not at.exception
    assert "broken.toml" in " ".join(e.value for e in at.error)
    assert _headline(at)  # the rest of the page keeps working
    good = (ROOT / "scenarios" / "three_year.toml").read_text()  # has a base: refused clearly
    at.file_uploader(key="upload").set_value(("three_year.toml", good.encode(), "text/plain")).run()
    assert "must be complete" in " ".join(e.value for e in at.error)
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
    message = " ".join(e.value for e in at.error)
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


def test_fundsim_dashboard_serves_the_app(tmp_path):
    """`fundsim dashboard` starts the real server on 127.0.0.1 and stops on SIGTERM."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fundsim = Path(sys.executable).with_name("fundsim")
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([str(fundsim), "dashboard", "--port", str(port)], stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        body = b""
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                            timeout=2) as response:
                    body = response.read()
                    break
            except OSError:
                time.sleep(0.3)
        assert body == b"ok", (tmp_path / "server.log").read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    assert server.returncode is not None

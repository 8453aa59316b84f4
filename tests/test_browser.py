"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a real
`streamlit run dashboard.py` on 127.0.0.1. Moves the settlement slider the way a planner does (focus
and arrow key), waits for the rerun, and checks that the charts changed and no exception shows."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api", reason="make test installs playwright")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARTEFACTS = ROOT / "test-artefacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LIVE = '[data-testid="stElementContainer"]:not([data-stale="true"])'
CHART = ".st-key-explore_dist_disruptions_total .js-plotly-plot"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    ARTEFACTS.mkdir(exist_ok=True)
    folder = tmp_path_factory.mktemp("dashboard")
    port = _free_port()
    env = {**os.environ, "FUNDSIM_SAVED_DIR": str(folder / "saved"),
           "FUNDSIM_RESULTS_DIR": str(folder / "results")}
    log = (ARTEFACTS / "streamlit.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start; see {ARTEFACTS / 'streamlit.log'}")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_until_idle(page: Page, timeout_ms: float = 120_000) -> None:
    """The rerun has finished and nothing on the page is a stale copy any more."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute('data-test-script-state') === 'notRunning'
                && document.querySelectorAll('[data-stale="true"]').length === 0;
        }""", timeout=timeout_ms)


def _chart_data(page: Page) -> str:
    return page.locator(CHART).first.evaluate(
        "el => JSON.stringify(el.data.map(t => [t.name, t.y]))")


def test_moving_the_settlement_slider_updates_the_charts(app_url):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(app_url)
            headline = page.locator(f"{LIVE} h3").filter(has_text="disruptions over 6 years")
            expect(headline).to_be_visible(timeout=180_000)
            expect(page.locator(CHART)).to_be_visible(timeout=60_000)
            _wait_until_idle(page)
            before_text = headline.inner_text()
            before_chart = _chart_data(page)
            assert before_text.startswith("annual with three-year settlements adds")

            slider = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").first
            expect(slider).to_contain_text("Settlement length")
            thumb = slider.get_by_role("slider")
            thumb.focus()
            started = time.perf_counter()
            thumb.press("ArrowRight")
            changed = page.locator(f"{LIVE} h3").filter(has_text="annual (edited)")
            expect(changed).to_be_visible(timeout=120_000)
            _wait_until_idle(page)
            elapsed = time.perf_counter() - started
            print(f"\nslider to updated charts: {elapsed:.2f} s (1,000 runs, one scenario re-run)")

            assert thumb.evaluate("el => el.value ?? el.getAttribute('aria-valuenow')") == "2"
            assert _chart_data(page) != before_chart
            assert page.get_by_test_id("stException").count() == 0
            page.screenshot(path=str(ARTEFACTS / "dashboard-after-slider.png"), full_page=True)
            (ARTEFACTS / "dashboard-timing.json").write_text(json.dumps(
                {"slider_to_updated_charts_s": round(elapsed, 3), "runs": 1000}))
        finally:
            browser.close()

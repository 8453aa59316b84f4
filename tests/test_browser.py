"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a real
`streamlit run dashboard.py` on 127.0.0.1. Issue 12's planner: moves Settlement length to 3 the
way a planner does (focus and arrow keys), presses Run with these settings, reads the headline
naming the change, checks the summary table fits 1440 px, sets a known confirmation date, and
opens Compare after a sweep; screenshots go to test-artefacts/.

Issue 13 on a shared server: two browser contexts are two sessions; one uploads a scenario whose
runs are about thirty times heavier and the other's change still finishes; a change stops the stale
batch's chunks being scheduled (read from the pool's stats file, FUNDSIM_POOL_STATS, never from
wall-clock speed); SIGTERM of the server stops its busy workers; a Markdown image in a scenario
name is never fetched."""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

playwright = pytest.importorskip("playwright.sync_api", reason="make test installs playwright")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tools import dashboard_browser as harness  # noqa: E402
from tools.dashboard_browser import CHROMIUM, CHROMIUM_ARGS, LIVE, ChartProbe  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARTEFACTS = ROOT / "test-artefacts"
CHART = ".st-key-explore_dist_disruptions_total .js-plotly-plot"

pytestmark = pytest.mark.browser


class Server(harness.Server):
    """The dashboard on 127.0.0.1 (`tools/dashboard_browser.py`), with its log in test-artefacts/
    and helpers that follow its pool's batches by label. A batch of several scenarios is labelled
    "the batch of 2 scenarios (a, b)", so a label matches any batch that names it."""

    def __init__(self, folder: Path, log_name: str, env: dict[str, str] | None = None) -> None:
        # A long time budget: these tests cancel heavy batches themselves and check how.
        try:
            super().__init__(folder, ARTEFACTS / log_name,
                             {"FUNDSIM_BATCH_SECONDS": "600", **(env or {})})
        except RuntimeError as exc:
            pytest.fail(str(exc))

    def batch(self, label: str, after: int = 0) -> dict | None:
        """The newest batch naming this label, with an id above `after`."""
        found = [b for b in self.batches() if label in b["label"] and b["id"] > after]
        return found[-1] if found else None

    def batch_by_id(self, batch_id: int) -> dict | None:
        return next((b for b in self.batches() if b["id"] == batch_id), None)

    def last_id(self) -> int:
        return max((b["id"] for b in self.batches()), default=0)

    def wait_for(self, label: str, condition, what: str, after: int = 0,
                 timeout: float = 120, batch_id: int | None = None) -> dict:
        """The newest batch naming this label (or the batch `batch_id`) once `condition` holds."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.batch(label, after) if batch_id is None else self.batch_by_id(batch_id)
            if found is not None and condition(found):
                return found
            assert self.proc.poll() is None, f"the server stopped; see {self.log_path}"
            assert time.monotonic() < deadline, f"{label}: gave up waiting for {what}: {found}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("dashboard"), "streamlit.log")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def eager_server(tmp_path_factory):
    """A server that draws every partial answer (FUNDSIM_PARTIAL_SECONDS=0), whatever the
    machine's speed, so the tests see one without depending on how long the runs take."""
    running = Server(tmp_path_factory.mktemp("eager"), "streamlit-eager.log",
                     {"FUNDSIM_PARTIAL_SECONDS": "0"})
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


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


def _apply(page: Page) -> None:
    """Press Run with these settings: the sidebar's form applies every change at once."""
    page.locator(".st-key-apply button").click()


def _fits(page: Page, index: int) -> tuple[int, int]:
    """(content width, visible width) of the main area's index-th table: equal when nothing is
    cut off on the right."""
    table = page.get_by_test_id("stMain").get_by_test_id("stDataFrame").nth(index)
    return table.locator(".dvn-scroller").first.evaluate("el => [el.scrollWidth, el.clientWidth]")


def test_the_planners_flow_in_a_browser(server, browser):
    """Issue 12's planner, as they meet it: start from annual, move Settlement length to 3 and
    press Run: a headline naming the change with a real difference, charts in two colours, a
    summary table that fits 1440 px; then a known confirmation date; then Compare after the
    README's sweep."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        page = context.new_page()
        page.goto(server.url)
        opening = page.locator(f"{LIVE} h3").filter(has_text="disruptions over 6 years on average")
        expect(opening).to_be_visible(timeout=180_000)
        expect(page.locator(CHART)).to_be_visible(timeout=60_000)
        _wait_until_idle(page)
        assert opening.inner_text().startswith("annual: ")
        before_chart = _chart_data(page)

        slider = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").first
        expect(slider).to_contain_text("Settlement length")
        thumb = slider.get_by_role("slider")
        thumb.focus()
        thumb.press("ArrowRight")
        thumb.press("ArrowRight")
        started = time.perf_counter()
        _apply(page)
        changed = page.locator(f"{LIVE} h3").filter(
            has_text="Three-year core settlements instead of one-year add")
        expect(changed).to_be_visible(timeout=120_000)
        _wait_until_idle(page)
        elapsed = time.perf_counter() - started
        print(f"\nsettlement change to updated charts: {elapsed:.2f} s (1,000 runs, one re-run)")
        headline = changed.inner_text()
        added = int(headline.split(" add ")[1].split(" disruptions")[0].replace(",", ""))
        assert added > 0 and "95% CI +0 to +0" not in headline, headline
        assert thumb.evaluate("el => el.value ?? el.getAttribute('aria-valuenow')") == "3"
        after_chart = _chart_data(page)
        assert after_chart != before_chart
        names = [name for name, _ in json.loads(after_chart)]
        assert names == ["annual", "annual with three-year core settlements"]
        colours = page.locator(CHART).first.evaluate(
            "el => el.data.map(t => t.marker.line.color)")
        assert len(set(colours)) == 2
        assert page.get_by_test_id("stException").count() == 0
        assert page.get_by_test_id("stAlertContentError").count() == 0
        page.screenshot(path=str(ARTEFACTS / "explore-settlement-3.png"), full_page=True)
        (ARTEFACTS / "dashboard-timing.json").write_text(json.dumps(
            {"settlement_change_to_updated_charts_s": round(elapsed, 3), "runs": 1000}))

        # the summary table: numbers in numeric columns, nothing cut off at 1440 px
        page.get_by_test_id("stMain").get_by_text("Summary table", exact=True).click()
        tables = page.get_by_test_id("stMain").get_by_test_id("stDataFrame")
        expect(tables.nth(1)).to_be_visible(timeout=60_000)  # the summary, then the differences
        _wait_until_idle(page)
        for index in (0, 1):
            content, visible = _fits(page, index)
            assert content <= visible, (index, content, visible)
        page.screenshot(path=str(ARTEFACTS / "explore-summary-table.png"), full_page=True)

        # a known confirmation date: the most likely month becomes the date itself
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_text("A known date", exact=True).first.click()  # under Core funding
        mode = sidebar.get_by_test_id("stSlider").filter(
            has_text="Most likely month, or the known date").first.get_by_role("slider")
        mode.focus()
        mode.press("ArrowRight")
        mode.press("ArrowRight")
        _apply(page)
        known = page.locator(f"{LIVE} h3").filter(has_text="confirmed on a known date, 3 months "
                                                           "after the year starts")
        expect(known).to_be_visible(timeout=120_000)
        _wait_until_idle(page)
        assert page.get_by_test_id("stException").count() == 0
        assert page.get_by_test_id("stAlertContentError").count() == 0
    finally:
        context.close()


def test_compare_after_the_readmes_sweep(server, browser):
    """`fundsim sweep` into the results directory, then the Compare page: its points are listed,
    the newest pair is compared with a headline, and nothing is refused."""
    done = subprocess.run(  # this checkout's simulator (cwd), whatever the environment installed
        [sys.executable, "-m", "simulator.cli", "sweep",
         str(ROOT / "scenarios" / "annual.toml"), "--vary",
         "funding.streams.core.confirmation_delay_months.mode=0:4:3", "--runs", "100",
         "--workers", "1", "--out", str(server.results), "--force", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        page = context.new_page()
        page.goto(server.url)
        expect(page.locator(f"{LIVE} h3").first).to_be_visible(timeout=180_000)
        _wait_until_idle(page)
        page.get_by_test_id("stSidebarNav").get_by_text("Compare results").click()
        headline = page.locator(f"{LIVE} h3").filter(has_text="disruptions over 6 years against")
        expect(headline).to_be_visible(timeout=120_000)
        _wait_until_idle(page)
        picked = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").first
        expect(picked).to_contain_text("annual-sweep/p0001", timeout=30_000)
        expect(picked).to_contain_text("annual-sweep/p0002", timeout=30_000)
        assert "Refused" not in page.get_by_test_id("stMain").inner_text()
        assert page.get_by_test_id("stException").count() == 0
        assert page.get_by_test_id("stAlertContentError").count() == 0
        page.screenshot(path=str(ARTEFACTS / "compare-after-sweep.png"), full_page=True)
    finally:
        context.close()


# ------------------------------------------------------------------ answers within a second (issue 10)

_RECORD_JS = r"""
() => {
  window.__seen = [];
  const live = '[data-testid="stMain"] [data-testid="stElementContainer"]:not([data-stale="true"])';
  const look = () => {
    const heads = [...document.querySelectorAll(live + ' h3')].map(h => h.innerText);
    const charts = [...document.querySelectorAll(live + ' .js-plotly-plot')].filter(c => c._fullLayout)
      .map(c => [String(c._fullLayout.title.text).replace(/<\/?b>/g, ''),
                 c._fullData.map(t => Array.from(t.y).reduce((a, b) => a + b, 0))]);
    const notes = [...document.querySelectorAll(live + ' [data-testid="stAlertContentInfo"]')]
      .map(n => n.innerText);
    const state = JSON.stringify([heads, charts, notes]);
    const last = window.__seen[window.__seen.length - 1];
    if (!last || last.state !== state) { window.__seen.push({state, heads, charts, notes}); }
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true,
                                                     attributes: true, characterData: true});
}
"""
"""Records, in the page, every state of the live headlines, chart titles and data, and notices:
a partial answer on screen for a tenth of a second is seen however slowly the test polls."""


def test_a_partial_answer_is_labelled_and_then_replaced(eager_server, browser):
    """The planner's change with partial answers on: first the first 200 of 5,000 runs of each
    scenario, said in a notice, the headline and every chart title; then the full answer in the
    same places, with other numbers and no such label left anywhere on the page.

    5,000 runs, not the default 1,000: a partial answer helps only while the rest takes longer
    than drawing it, and the browser may skip drawing one the full answer overtakes. At 1,000 runs
    the rest (about 0.4 s of both workers) is as long as Chromium's drawing of four charts on a
    loaded machine, so the whole partial answer was sometimes never on screen at once (a CI run
    saw one chart of four). 4,800 more runs of each scenario are ten times that drawing."""
    context, page = _open(browser, eager_server.url)
    try:
        probe = ChartProbe(page)
        probe.arm()
        page.evaluate(_RECORD_JS)
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_label("Runs per scenario (100-5,000)").fill("5000")
        thumb = sidebar.get_by_test_id("stSlider").first.get_by_role("slider")
        thumb.focus()
        thumb.press("ArrowRight")
        thumb.press("ArrowRight")
        _apply(page)  # both changes at once: both scenarios run 5,000 runs afresh
        probe.wait_until_idle()
        seen = page.evaluate("() => window.__seen")
        change = "Three-year core settlements instead of one-year add"
        partial = [s for s in seen if any(h.startswith(f"First 200 of 5,000 runs: {change}")
                                          for h in s["heads"])]
        shown = [s for s in partial if len(s["charts"]) == 4 and all(
            title.endswith("(first 200 of 5,000 runs)") for title, _ in s["charts"])]
        assert shown, [(s["heads"], s["charts"]) for s in seen]
        first = shown[0]  # the whole partial answer on the page
        assert any("Partial answer: the first 200 of 5,000 runs of each scenario" in n
                   for n in first["notes"]), first["notes"]
        final = seen[-1]
        assert seen.index(first) < len(seen) - 1
        assert [h for h in final["heads"] if change in h] == [
            h for h in final["heads"] if h.startswith(change)] != []
        assert len(final["charts"]) == 4
        assert not any("first 200" in title for title, _ in final["charts"])
        assert [y for _, y in final["charts"]] != [y for _, y in first["charts"]]
        assert "first 200 of 5,000" not in page.get_by_test_id("stMain").inner_text().lower()
        # nothing of the partial answer is left behind the full one (Streamlit keeps a
        # container's children when it is filled again: the two answers write the same elements)
        captions = page.locator(f"{LIVE} [data-testid='stCaptionContainer']").all_inner_texts()
        assert len(captions) == len(set(captions)), captions
        assert probe.drawn(4).first < probe.drawn(4).last
        assert page.get_by_test_id("stException").count() == 0
    finally:
        context.close()


def test_several_quick_edits_run_one_full_batch(eager_server, browser):
    """Three edits in a row, each pressed while the last one's 5,000 runs are still going: the
    first two batches are cancelled with chunks never run, one batch runs to the end, and the
    page answers the last edit. Each press waits only until its batch is on the pool (read from
    the pool's stats file), never for a time."""
    context, page = _open(browser, eager_server.url)
    try:
        probe = ChartProbe(page)
        probe.arm()
        page.get_by_test_id("stSidebar").get_by_label("Runs per scenario (100-5,000)").fill("5000")
        _apply(page)
        probe.wait_until_idle()  # annual and the baseline at 5,000 runs: cached from here on
        after = eager_server.last_id()
        volatility = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(
            has_text="Amount volatility").first.get_by_role("slider")
        for percent in (6, 7, 8):
            volatility.focus()
            volatility.press("ArrowRight")
            _apply(page)
            label = f"annual with core volatility {percent}%"
            eager_server.wait_for(label, lambda b: b["state"] == "running", "its batch", after)
        _wait_until_idle(page)
        batches = [b for b in eager_server.batches() if b["id"] > after]
        assert [b["label"] for b in batches] == [
            f"annual with core volatility {p}%" for p in (6, 7, 8)], batches
        assert [b["state"] for b in batches] == ["cancelled", "cancelled", "done"], batches
        assert all(b["submitted"] < b["tasks"] for b in batches[:2]), batches
        headline = page.locator(f"{LIVE} h3").first.inner_text()
        assert headline.startswith("Core amount volatility of 8% instead of 5%"), headline
        assert page.get_by_test_id("stException").count() == 0
    finally:
        context.close()


# ------------------------------------------------------------------ what drives this (issue 11)


def test_what_drives_this_is_drawn_within_a_minute_with_progress(server, browser):
    """Issue 11's planner: after a change, the Green Book appraisal of the comparison is on the
    page at once, and pressing "Show what drives this" draws the tornado of the headline gain
    (3,000 paired runs on the shared pool) within a minute, with a progress bar while it runs."""
    context, page = _open(browser, server.url)
    try:
        # both steps in one apply, on the slider found by its label (pressing twice raced the
        # first rerun: the second press once landed on the volatility slider)
        thumb = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(
            has_text="Settlement length").first.get_by_role("slider")
        thumb.focus()
        thumb.press("ArrowRight")
        thumb.press("ArrowRight")
        _apply(page)
        changed = page.locator(f"{LIVE} h3").filter(
            has_text="Three-year core settlements instead of one-year add")
        expect(changed).to_be_visible(timeout=120_000)
        _wait_until_idle(page)
        main = page.get_by_test_id("stMain")
        expect(main.get_by_text("Green Book appraisal")).to_be_visible()
        expect(main.get_by_text("disruptions in present value for", exact=False)).to_be_visible()
        page.evaluate("""() => { window.__progress = false;
            new MutationObserver(() => { if (document.querySelector(
                '[data-testid="stProgress"]')) window.__progress = true; })
            .observe(document.body, {subtree: true, childList: true}); }""")
        started = time.perf_counter()
        main.get_by_role("button", name="Show what drives this").click()
        chart = page.locator(".st-key-decision_tornado:not([data-stale=\"true\"]) .js-plotly-plot")
        expect(chart).to_be_visible(timeout=60_000)
        elapsed = time.perf_counter() - started
        print(f"\ntornado of the gain: {elapsed:.1f} s from the press to the chart")
        assert elapsed < 60
        assert page.evaluate("() => window.__progress"), "no progress bar was shown"
        title = chart.evaluate("el => String(el._fullLayout.title.text).replace(/<\\/?b>/g, '')")
        assert title.startswith("Tornado: gain in disruptions_total of annual with three-year"), title
        bars = chart.evaluate("el => el.data.map(t => t.y.length)")
        assert bars == [7, 7], bars  # the seven declared uncertain parameters, low and high ends
        expect(main.get_by_text("Tornado of the gain in disruptions_total", exact=False)).to_be_visible()
        page.screenshot(path=str(ARTEFACTS / "what-drives-this.png"), full_page=True)
        assert page.get_by_test_id("stException").count() == 0
    finally:
        context.close()


# ------------------------------------------------------------------ a shared server (issue 13)

HEAVY = "heavy upload"


def _scenario_file(name: str, **changes) -> bytes:
    from simulator import load_scenario
    from simulator.planner import scenario_toml

    annual = load_scenario(ROOT / "scenarios" / "annual.toml")
    return scenario_toml(annual.with_changes({"scenario.name": name, **changes})).encode()


def _heavy_file() -> bytes:
    """Weekly recruitment campaigns for 30 years: about 15 times the events of a shipped run and
    30 times its time (a 1,000-run batch is about a minute of both workers), yet inside every
    bound (intervals below a week are refused)."""
    return _scenario_file(HEAVY, **{"workforce.recruitment_interval_months": 0.25,
                                    "horizon.years": 30})


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(url)
    expect(page.locator(f"{LIVE} h3").first).to_be_visible(timeout=180_000)
    _wait_until_idle(page)
    return context, page


def _upload(page: Page, name: str, data: bytes) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Load a scenario file").click()
    sidebar.locator('input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "application/toml", "buffer": data}])


def _press_settlement_slider(page: Page) -> None:
    thumb = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").first.get_by_role("slider")
    thumb.focus()
    thumb.press("ArrowRight")
    _apply(page)


def test_a_shared_server_with_a_heavy_upload(tmp_path, browser):
    """Issue 13's shared-dashboard attack, on a server of its own, in the order a person meets it:

    1. session A uploads a scenario whose runs are about thirty times heavier: its batch runs;
    2. session B's change still finishes, while A's heavy batch is still running;
    3. A changes a setting: its stale batch is cancelled and not one more of its chunks is
       scheduled while the new batch gets ten;
    4. SIGTERM of the server, with both workers busy: the server exits and so do its workers.
    """
    own = Server(tmp_path, "streamlit-shared.log")
    try:
        other, page_b = _open(browser, own.url)
        mine, page_a = _open(browser, own.url)
        try:
            # 1. the heavy upload
            _upload(page_a, "heavy.toml", _heavy_file())
            heavy = own.wait_for(HEAVY, lambda b: b["state"] == "running" and b["finished"] >= 2,
                                 "the heavy batch to be running")

            # 2. the other session asks for two new batches (300 runs: a count never run here)
            before = page_b.locator(f"{LIVE} h3").first.inner_text()
            runs = page_b.get_by_test_id("stSidebar").get_by_label("Runs per scenario (100-5,000)")
            runs.fill("300")
            runs.press("Enter")
            expect(page_b.locator(f"{LIVE} h3").first).not_to_have_text(before, timeout=120_000)
            _wait_until_idle(page_b)
            theirs = own.batch("annual", after=heavy["id"])
            assert theirs is not None and theirs["state"] == "done", theirs
            now = own.batch(HEAVY)
            assert now["id"] == heavy["id"] and now["state"] == "running", (
                f"the other session's change waited for the heavy batch: {now}")
            assert now["finished"] < now["tasks"]
            assert page_b.get_by_test_id("stException").count() == 0

            # 3. a change in the heavy session while its batch runs (its comparator is where it
            #    started, the heavy upload itself, so the new batches are that and the edit)
            running = own.batch(HEAVY)
            assert running["state"] == "running", running
            _press_settlement_slider(page_a)
            stale = own.wait_for(HEAVY, lambda b: b["state"] == "cancelled",
                                 "the stale batch to be cancelled", timeout=60,
                                 batch_id=running["id"])
            fresh = own.wait_for(HEAVY, lambda b: b["submitted"] >= 1, "the new batch",
                                 after=stale["id"])
            own.wait_for(HEAVY, lambda b: b["submitted"] >= fresh["submitted"] + 10,
                         "ten more chunks of the new batch", after=stale["id"])
            assert own.batch_by_id(stale["id"])["submitted"] == stale["submitted"] < stale["tasks"], (
                "chunks of the stale batch were scheduled after the change")
            assert page_a.get_by_test_id("stException").count() == 0

            # 4. stop the server while the new heavy batch keeps both workers busy
            assert own.batch(HEAVY, after=stale["id"])["state"] == "running"
            workers = own.workers()
            assert len(workers) == 2, workers
            own.proc.send_signal(signal.SIGTERM)
            try:
                own.proc.wait(timeout=60)  # it exits without waiting for the running chunks
            except subprocess.TimeoutExpired:  # every thread's stack into the log, then fail
                own.proc.send_signal(signal.SIGABRT)
                own.proc.wait()
                pytest.fail(f"the server did not exit on SIGTERM; see {own.log_path}")
        finally:
            mine.close()
            other.close()
    finally:
        if own.proc.poll() is None:
            own.stop()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, f"workers {workers} outlived the server"
        time.sleep(0.05)


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_markdown_image_in_a_scenario_name_is_never_fetched(server, browser):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    name = f"![b]({base}/name.png) <img src={base}/html.png>"
    context, page = _open(browser, server.url)
    try:
        _upload(page, "named.toml", _scenario_file(
            name, **{"scenario.description": f"![d]({base}/description.png)"}))
        expect(page.get_by_test_id("stSidebar").get_by_text(name[:20]).first).to_be_visible(
            timeout=60_000)
        headline = page.locator(f"{LIVE} h3").filter(has_text=f"![b]({base}/name.png)")
        expect(headline).to_be_visible(timeout=120_000)
        _wait_until_idle(page)
        assert page.locator(f'img[src^="{base}"]').count() == 0
        page.wait_for_timeout(500)  # a stray image request would have been sent by now
        assert _Counter.hits == []
        # the counter works: an image the test itself adds is fetched
        page.evaluate(f"() => {{ const i = new Image(); i.src = '{base}/control.png'; }}")
        deadline = time.monotonic() + 30
        while "/control.png" not in _Counter.hits and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _Counter.hits == ["/control.png"]
    finally:
        context.close()
        httpd.shutdown()


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return False

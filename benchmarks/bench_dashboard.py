"""Dashboard seconds from a slider change to the last chart drawn, in Chromium, 1,000 runs a scenario.

Starts the real app (`streamlit run dashboard.py`) and drives Debian's Chromium with Playwright, as
`tests/test_browser.py` does (`tools/dashboard_browser.py`). Each change moves a slider in the
sidebar to a value not run before (core amount volatility, one keyboard step) and presses Run with
these settings: the sidebar is one form, so that press is when the change reaches the app. The
page's own clock times it from the click to the moment the last of the four distribution charts is
drawn with its final data ("last chart"), and to the moment every chart first shows an answer
("first answer": the labelled partial answer when the page draws one, else the last chart). Three
cases: only your scenario re-runs (the comparator is where you started), both re-run (the
comparator is your scenario with three-year settlements, which changes with it), and 5,000 runs,
where the rest of the runs takes long enough for a partial answer.

Seconds depend on the machine and on what else it is doing, so each change is followed, moments
apart, by the same runs of the same scenarios on a pool of the same size in this process, through
the dashboard's own runner (`dashboard_pages.running`) without Streamlit or a browser: the ratio of
the two holds on a noisy machine and says what the dashboard adds. So does the CPU each change
costs the server, its workers and the browser (all on the same cores).

    .venv/bin/python benchmarks/bench_dashboard.py [--trials N] [--profile]

`--profile` adds where the browser's main thread spends a change (your scenario re-running),
from Chromium's own sampling profiler: Plotly, Streamlit's React code, the browser's style,
layout and paint, and DOM calls that force a layout. Chromium draws the page on that one thread,
so its busy time per change bounds how soon the last chart can be drawn however fast the runs.
"""

from __future__ import annotations

import argparse
import collections
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # dashboard_pages and tools are not installed packages

from tools.dashboard_browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    LIVE,
    ChartProbe,
    Drawn,
    Server,
)

RUNS = 1000
CHARTS = 4  # the Distributions view's four histograms
VOLATILITY = "Amount volatility"
START_VOLATILITY = 0.05  # annual's core amount volatility; each trial adds 0.01
THREE_YEAR = "Same settings, three-year settlements"


def _idle(page: Any) -> None:
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'", timeout=600_000, polling=100)


def _press(page: Any, steps: int = 1) -> None:
    """Move core amount volatility by `steps` keyboard steps (the arrow keys release at once, as
    a planner's do) and press Run with these settings."""
    slider = (page.get_by_test_id("stSidebar").get_by_test_id("stSlider")
              .filter(has_text=VOLATILITY).first.get_by_role("slider").first)
    slider.focus()
    for _ in range(steps):
        slider.press("ArrowRight")
    page.locator(".st-key-apply button").click()


def _comparator(page: Any, label: str) -> None:
    box = (page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox")
           .filter(has_text="Comparator"))
    box.click()
    page.get_by_role("option", name=label, exact=True).click()
    page.wait_for_timeout(300)
    _idle(page)


class InProcess:
    """The same runs on a pool of the dashboard's size in this process, through the dashboard's
    runner, for the ratio."""

    def __init__(self) -> None:
        from simulator import load_scenario
        from simulator.executors import FairPool

        self.annual = load_scenario(ROOT / "scenarios" / "annual.toml")
        self.pool = FairPool(start_method="spawn")
        self.seconds(0.5, both=False, runs=100)  # start the workers

    def seconds(self, volatility: float, both: bool, runs: int) -> float:
        from dashboard_pages import running
        from simulator.planner import three_year_counterpart

        edited = self.annual.with_changes({"funding.streams.core.amount_volatility": volatility})
        scenarios = [edited, three_year_counterpart(edited)] if both else [edited]
        requests = [running.Request(s.name, s, (running.simulation_key(s), 1, runs)) for s in scenarios]
        start = time.perf_counter()
        for _ in running.answers(self.pool, "bench", requests, running.ResultsCache(),
                                 running.ChunkStore(), partial_after=math.inf):
            pass
        return time.perf_counter() - start


def _set_runs(page: Any, runs: int) -> None:
    box = page.get_by_test_id("stSidebar").get_by_label("Runs per scenario (100-5,000)")
    box.fill(str(runs))


class Cpu:
    """CPU seconds of the server process, its pool's workers and this benchmark's Chromium: what a
    change costs each, which a busy machine hardly changes (unlike wall-clock seconds)."""

    def __init__(self, server_pid: int) -> None:
        import psutil

        self.psutil = psutil
        self.server = psutil.Process(server_pid)

    def _seconds(self, processes: list[Any]) -> float:
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except self.psutil.Error:  # a process that ended in between
                continue
            total += times.user + times.system
        return total

    def now(self) -> tuple[float, float, float]:
        """(server, workers, browser) CPU seconds so far."""
        chromium = [p for p in self.psutil.Process().children(recursive=True)
                    if "chrom" in p.name()]
        return (self._seconds([self.server]), self._seconds(self.server.children(recursive=True)),
                self._seconds(chromium))


@dataclass
class Trial:
    drawn: Drawn
    simulated: float
    cpu: tuple[float, float, float]


CASES = (("your scenario re-runs", None, RUNS),
         ("both scenarios re-run", THREE_YEAR, RUNS),
         ("your scenario re-runs, 5,000 runs", "Where you started (before your edits)", 5000))
"""(what re-runs, the comparator to pick first, runs a scenario): the comparator where you
started re-runs only your scenario; its three-year counterpart changes with it, so both re-run;
5,000 runs show the partial answer (drawn when the rest of the runs takes a second or more)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="slider changes per case (default 5)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the browser's main thread over --trials changes")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"dashboard seconds from slider to charts: skipped, {CHROMIUM} is missing "
              "(`make test` installs it)")
        return 0
    from playwright.sync_api import expect, sync_playwright

    from simulator import native

    reference = InProcess()
    results: dict[str, list[Trial]] = {}
    volatility = START_VOLATILITY
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), Path(tmp) / "streamlit.log")
        try:
            cpu = Cpu(server.proc.pid)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
                started = time.perf_counter()
                page.goto(server.url)
                expect(page.locator(f"{LIVE} .js-plotly-plot").nth(CHARTS - 1)).to_be_visible(
                    timeout=600_000)
                _idle(page)
                print(f"dashboard first page load (pool start, annual and the baseline): "
                      f"{time.perf_counter() - started:.1f} s")
                probe = ChartProbe(page)
                if args.profile:
                    profile = main_thread_profile(page, probe, args.trials)
                    # the profile's warm-up press and its trials moved the slider too
                    volatility = round(volatility + 0.01 * (args.trials + 1), 2)
                for case, comparator, runs in CASES:
                    if comparator:
                        _comparator(page, comparator)
                    if runs != RUNS:
                        _set_runs(page, runs)
                    probe.arm()
                    trials = []
                    for trial in range(args.trials + 1):  # the first is a warm-up
                        before = cpu.now()
                        _press(page)
                        volatility = round(volatility + 0.01, 2)
                        probe.wait_until_idle(timeout_ms=600_000)
                        after = cpu.now()
                        spent = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
                        drawn = probe.drawn(CHARTS)
                        simulated = reference.seconds(volatility, comparator == THREE_YEAR, runs)
                        if trial:
                            trials.append(Trial(drawn, simulated, spent))
                    results[case] = trials
                browser.close()
        finally:
            server.stop()
            reference.pool.close()
    report(results, native.status().describe())
    if args.profile:
        print(f"the browser's main thread per change (your scenario re-runs, mean of {args.trials} "
              f"changes, Chromium's sampling profiler, which itself slows the page a little):")
        for what, seconds in profile.items():
            print(f"    {what:<58}{seconds * 1000:>7.0f} ms")
    return 0


PROFILE_PARTS = {
    "plotly": "Plotly (drawing the charts)",
    "script": "Streamlit's own scripts (React, styling, markdown)",
    "program": "the browser's own work (style, layout, paint)",
    "dom": "DOM calls from scripts (forced layouts, attributes)",
    "(garbage collector)": "JavaScript garbage collection",
}


def main_thread_profile(page: Any, probe: ChartProbe, changes: int) -> dict[str, float]:
    """Seconds a change keeps the browser's main thread busy, by what it does: Chromium's
    sampling profiler (Chrome DevTools Protocol) over `changes` slider changes, each after the
    last has settled, the first change before it a warm-up."""
    probe.arm()
    _press(page)
    probe.wait_until_idle(timeout_ms=600_000)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 500})  # microseconds
    cdp.send("Profiler.start")
    for _ in range(changes):
        _press(page)
        probe.wait_until_idle(timeout_ms=600_000)
    profile = cdp.send("Profiler.stop")["profile"]
    cdp.detach()
    frames = {node["id"]: node["callFrame"] for node in profile["nodes"]}
    spent: collections.Counter[str] = collections.Counter()
    for node, microseconds in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = frames[node]
        name, url = frame["functionName"], frame["url"]
        if "PlotlyChart" in url:
            part = "plotly"
        elif url:
            part = "script"
        elif name == "(program)":
            part = "program"
        elif name in ("(idle)", "(root)"):
            continue
        elif name in PROFILE_PARTS:
            part = name
        else:  # a native DOM method a script called (getBoundingClientRect, setAttribute, ...)
            part = "dom"
        spent[part] += microseconds / 1e6 / changes
    parts = {PROFILE_PARTS[k]: spent[k] for k in PROFILE_PARTS}
    parts["busy in all"] = sum(spent.values())
    return parts


def report(results: dict[str, list[Trial]], model: str) -> None:
    m = statistics.median
    print(f"dashboard seconds from slider to charts (Chromium, from pressing Run to the last chart "
          f"drawn; median of {len(next(iter(results.values())))} changes; model: {model}):")
    for case, trials in results.items():
        last, first = m(t.drawn.last for t in trials), m(t.drawn.first for t in trials)
        partial = sum(t.drawn.first < t.drawn.last for t in trials)
        print(f"  {case}: last chart {last:.2f} s (each: "
              f"{', '.join(f'{t.drawn.last:.2f}' for t in trials)}); first answer {first:.2f} s "
              f"({partial} of {len(trials)} changes drew a partial answer first); page settled "
              f"{m(t.drawn.settled for t in trials):.2f} s")
        print(f"    same runs in this process on a pool of the same size "
              f"{m(t.simulated for t in trials):.2f} s; ratio last chart / simulation "
              f"{m(t.drawn.last / t.simulated for t in trials):.2f}; CPU per change: server "
              f"{m(t.cpu[0] for t in trials):.2f} s, workers {m(t.cpu[1] for t in trials):.2f} s, "
              f"browser {m(t.cpu[2] for t in trials):.2f} s")


if __name__ == "__main__":
    sys.exit(main())

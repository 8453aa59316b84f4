"""How long the dashboard takes from a slider change to finished charts, at 1,000 runs a scenario.

Drives the real app with Streamlit's AppTest (same script, same cache, same process pool as a
browser session; no browser rendering). Prints, for each kind of change, the median seconds from
setting the widget to the end of the rerun, and the share of it spent simulating, so the figure can
be read on a noisy machine: the rerun's cost against the same runs on the same pool in this process.

    .venv/bin/python benchmarks/bench_dashboard.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # dashboard_pages is not an installed package


def main() -> None:
    from streamlit.testing.v1 import AppTest

    from dashboard_pages import common
    from simulator import load_scenario

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=300)
    started = time.perf_counter()
    at.run()
    assert not at.exception, at.exception
    print(f"first page load (pool start, 2 x 1,000 runs): {time.perf_counter() - started:.2f} s")

    def change(kind: str, key: str, values: list, widget: str) -> list[float]:
        times = []
        for value in values:
            t = time.perf_counter()
            getattr(at, widget)(key=key).set_value(value).run()
            times.append(time.perf_counter() - t)
            assert not at.exception, at.exception
        print(f"{kind}: median {statistics.median(times):.2f} s "
              f"(each of {', '.join(f'{x:.2f}' for x in times)})")
        return times

    # The settlement slider changes only the edited scenario: its three-year comparator is cached.
    settle = change("settlement slider (1 scenario re-run)", "core.settlement_years", [2, 4, 5, 2],
                    "slider")
    at.slider(key="core.settlement_years").set_value(1).run()
    # A carry-over change moves both the scenario and its derived three-year comparator.
    change("carry-over slider (2 scenarios re-run)", "core.carry_over_within_settlement",
           [0.05, 0.1, 0.15], "slider")
    at.slider(key="core.carry_over_within_settlement").set_value(0.0).run()
    cached = change("rerun with nothing to simulate (cache hit)", "core.settlement_years",
                    [2, 4, 5], "slider")

    # The same 1,000 runs on the same warm pool, without Streamlit: the simulation's share.
    scenario = load_scenario(ROOT / "scenarios" / "annual.toml").with_changes(
        {"funding.real_growth": 0.0123})

    class _Bar:
        def progress(self, *_args, **_kwargs) -> None:
            pass

    executor = common.FairPool(start_method="spawn")
    common.run_on_pool(executor, scenario, 100, 1, _Bar(), "warm-up")
    sims = []
    for i in range(3):
        t = time.perf_counter()
        common.run_on_pool(executor, scenario.with_changes({"funding.real_growth": 0.01 + i / 1000}),
                           1000, 1, _Bar(), "bench")
        sims.append(time.perf_counter() - t)
    sim = statistics.median(sims)
    render = statistics.median(cached)
    print(f"1,000 runs on the dashboard's pool alone: median {sim:.2f} s")
    print(f"ratio: settlement-slider rerun / (simulation + cached rerun) = "
          f"{statistics.median(settle) / (sim + render):.2f}")


if __name__ == "__main__":
    main()

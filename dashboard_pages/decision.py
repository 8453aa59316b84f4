"""The Explore page's decision views (issue 11), under the comparison of two scenarios:

* **Is it worth it?** The Green Book appraisal of the comparison, from the runs already on screen
  (their yearly outputs are paired run by run), so it costs nothing to show.
* **What drives this?** The tornado of the headline gain (the other scenario minus the reference,
  run by run) over the reference scenario's declared uncertain parameters, run on the shared pool
  when the planner asks, with a progress bar: 1 + 2 x factors points of TORNADO_RUNS runs of each
  scenario, well within a minute on two cores. Sobol or Morris charts of any finished
  `fundsim sensitivity` folder in the results directory are one choice away.
* **What is certainty worth?** `fundsim value`'s sentence for the same pair, on request.

Answers are kept in the session by the two scenarios' simulation keys, runs and seed, so moving to
another page and back does not run them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard_pages import common as ui
from dashboard_pages.running import simulation_key
from simulator.analysis import possessive
from simulator.errors import FundsimError, UsageError
from simulator.executors import SessionExecutor
from simulator.results import BatchResults
from simulator.scenario import Scenario

TORNADO_RUNS = 100
"""Runs a point of the dashboard's tornado: its bars' intervals are paired, so 100 runs separate
every shipped factor's effect from zero (docs/sensitivity.md) at 3,000 runs in all."""
VALUE_RUNS = 500


def render(reference: Scenario, other: Scenario, results: Mapping[str, BatchResults], runs: int,
           seed: int) -> None:
    """The three views for this comparison (reference first, as on the page)."""
    labels = list(results)
    st.header("Is it worth it, and what drives it?", divider="gray")
    _appraisal(results[labels[0]], results[labels[1]])
    key = (simulation_key(reference), simulation_key(other), runs, seed)
    _tornado(reference, other, seed, key)
    _value(reference, other, seed, key)
    _saved_studies()


def _appraisal(a: BatchResults, b: BatchResults) -> None:
    from simulator.appraisal import horizon_table
    from simulator.decision_report import appraisal_of

    st.subheader("Green Book appraisal")
    try:
        found = appraisal_of(a, b)
    except UsageError as exc:
        st.info(ui.plain(f"No appraisal of this pair: {exc}"), icon=":material/info:")
        return
    st.markdown(f"**{ui.plain(found.sentence())}**")
    rows = pd.DataFrame([{"present value": r["label"], found.a: round(r[found.a], 1),
                          found.b: round(r[found.b], 1), "B minus A": round(r["difference"], 1),
                          "95% interval": f"{r['difference_ci'][0]:,.1f} to {r['difference_ci'][1]:,.1f}"}
                         for r in found.rows()])
    st.dataframe(rows, hide_index=True, key="decision_appraisal")
    with st.expander("By appraisal period"):
        horizon = pd.DataFrame([{k: (round(v, 1) if isinstance(v, float) else v)
                                 for k, v in r.items()
                                 if not k.endswith("_ci") and k not in ("verdict", "ratio")}
                                for r in horizon_table(found)])
        st.dataframe(horizon, hide_index=True)
    st.caption("Present values at the scenarios' [appraisal] discount rate (Green Book 3.5%), cost "
               "with optimism bias on capability spend; lapsed money returns to the Treasury. "
               "docs/appraisal.md explains every convention.")


def _executor(label: str, bar: Any, total: int) -> tuple[SessionExecutor, Any]:
    done = [0]

    def progress(runs: int) -> None:
        done[0] += runs
        bar.progress(min(done[0] / total, 1.0), text=f"{label}: {done[0]:,} of {total:,} runs")

    return SessionExecutor(ui._pool(), ui.session_id(), label), progress


def _tornado(reference: Scenario, other: Scenario, seed: int, key: tuple) -> None:
    from simulator.decision_charts import tornado_figure
    from simulator.decision_report import chart_title
    from simulator.sensitivity import check_factors, declared_factors, make_design
    from simulator.sensitivity_command import summarise
    from simulator.sensitivity_folder import Study

    st.subheader("What drives this?")
    factors = declared_factors(reference)
    if not factors:
        st.info(f"{ui.plain(reference.name)} declares no uncertain parameters, so there is nothing "
                "to move; `fundsim sensitivity --ranges FILE` moves any you choose.")
        return
    study = Study(other, reference, make_design("oat", factors, 0, seed), "disruptions_total",
                  TORNADO_RUNS, seed)
    points, cost = study.design.points, study.cost()
    store = st.session_state.setdefault("_fundsim_tornado", {})
    if key not in store:
        st.caption(f"Moves each of {possessive(reference.name)} {len(factors)} uncertain parameters to its "
                   f"low and high end and measures the gain of {other.name} over {reference.name} "
                   f"({points} points x {TORNADO_RUNS} paired runs of each = {cost:,} runs).")
        if not st.button("Show what drives this", key="decision_tornado_go", icon=":material/tornado:"):
            return
        try:
            check_factors(factors, [(reference.name, reference), (other.name, other)],
                          f"{reference.name} [uncertain]")
            bar = st.progress(0.0, text="What drives this?")
            executor, progress = _executor("What drives this?", bar, cost)
            from simulator.sensitivity import indices

            got = study.measure(0, points, executor, executor.workers, progress)
            rows = indices(study.design, study.per_point(got), seed)
            bar.empty()
        except FundsimError as exc:
            ui.show_problem(exc, "The tornado")
            return
        store[key] = (rows, summarise(study, rows),
                      chart_title("oat", "disruptions_total", other.name, reference.name))
    rows, sentence, title = store[key]
    st.markdown(ui.plain(sentence))
    with st.container(key="decision_tornado"):
        st.plotly_chart(tornado_figure(rows, title, "disruptions"))


def _value(reference: Scenario, other: Scenario, seed: int, key: tuple) -> None:
    from simulator.value import value_of_certainty
    from simulator.value_command import TYPICAL_SEARCH, UP_FRONT

    st.subheader("What is certainty worth?")
    store = st.session_state.setdefault("_fundsim_value", {})
    if key not in store:
        st.caption(f"The extra core money a year {reference.name} would need to match "
                   f"{possessive(other.name)} disruptions, found by root-finding on {VALUE_RUNS} paired runs "
                   "an evaluation (about a dozen evaluations), with its 95% interval.")
        if not st.button("Work out what it is worth", key="decision_value_go", icon=":material/payments:"):
            return
        bar = st.progress(0.0, text="What is certainty worth?")
        executor, progress = _executor("What is certainty worth?", bar,
                                       (UP_FRONT + TYPICAL_SEARCH) * VALUE_RUNS)
        try:
            found = value_of_certainty(reference, other, "disruptions_total", VALUE_RUNS, seed,
                                       executor, workers=executor.workers, progress=progress)
        except FundsimError as exc:
            bar.empty()
            ui.show_problem(exc, "The value of certainty")
            return
        bar.empty()
        store[key] = found.sentence()
    st.markdown(f"**{ui.plain(store[key])}**")
    st.caption("docs/value.md explains the method (brentq on common random numbers, delta-method "
               "interval).")


def _saved_studies() -> None:
    """Charts of finished `fundsim sensitivity` folders under the results directory."""
    from simulator import folders
    from simulator.decision_charts import figure_for
    from simulator.decision_report import chart_title
    from simulator.sensitivity_command import summary_of_folder
    from simulator.sensitivity_folder import load_study

    root = ui.results_dir()
    found: dict[str, Path] = {}
    if root.is_dir():
        found = {m.parent.name: m.parent for m in sorted(root.glob("*/manifest.json"))
                 if folders.kind_of(m.parent) == folders.SENSITIVITY}
    if not found:
        return
    picked = st.selectbox("Saved sensitivity studies (fundsim sensitivity)", ["(none)", *found],
                          key="decision_saved_study")
    if picked == "(none)":
        return
    try:
        study = load_study(found[picked])
    except FundsimError as exc:
        ui.show_problem(exc, f"The study {picked}")
        return
    manifest = study["manifest"]
    rows = study["indices"].to_dict(orient="records")
    st.markdown(ui.plain(summary_of_folder(manifest, rows)))
    with st.container(key="decision_saved_chart"):
        st.plotly_chart(figure_for(manifest["method"], rows, chart_title(
            manifest["method"], manifest["metric"], manifest["scenario_name"],
            manifest.get("other_name"))))

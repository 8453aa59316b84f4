"""Explore page: move settlement sliders and watch what the funding shape does to output and money.

The sidebar edits scenario A (started from a shipped, saved or uploaded scenario); the comparator B
is, by default, the same settings with three-year settlements. Both run with the same seeds, so
their run-by-run difference is the policy's and not noise.
"""

from __future__ import annotations

import streamlit as st

from dashboard_pages import common as ui
from simulator import charts, comparison
from simulator.errors import FundsimError
from simulator.files import parquet_bytes
from simulator.planner import (
    PlannerSettings,
    StreamSettings,
    apply_settings,
    save_scenario,
    scenario_toml,
    settings_from,
    three_year_counterpart,
)
from simulator.scenario import Scenario

DEFAULT_START = "annual (shipped)"
THREE_YEAR = "Same settings, three-year settlements"


def _reset_settings() -> None:
    """A new starting scenario: forget the edited values so the sliders show its own."""
    for key in st.session_state.get("_setting_keys", []):
        st.session_state.pop(key, None)


def _stream_inputs(name: str, s: StreamSettings) -> StreamSettings:
    keys = st.session_state.setdefault("_setting_keys", set())
    k = {field: f"{name}.{field}" for field in (
        "settlement_years", "delay_min", "delay_mode", "delay_max", "amount_volatility",
        "carry_over_within_settlement", "carry_over_across_settlements")}
    keys.update(k.values())
    with st.expander(f"{ui.plain(name.replace('_', ' ').capitalize())} funding",
                     expanded=name == "core"):
        years = st.slider("Settlement length (years)", 1, max(5, s.settlement_years),
                          s.settlement_years, key=k["settlement_years"],
                          help="How many years one settlement confirms at a time.")
        st.markdown("Confirmation delay (months after the year starts; negative = before)")
        c1, c2, c3 = st.columns(3)
        lo = c1.number_input("earliest", value=float(s.delay_min), step=0.5, key=k["delay_min"])
        mode = c2.number_input("most likely", value=float(s.delay_mode), step=0.5,
                               key=k["delay_mode"])
        hi = c3.number_input("latest", value=float(s.delay_max), step=0.5, key=k["delay_max"])
        vol = st.slider("Amount volatility (sd of the amount, share)", 0.0,
                        max(0.5, s.amount_volatility), float(s.amount_volatility), 0.01,
                        key=k["amount_volatility"])
        within = st.slider("Carry-over within a settlement (share)", 0.0, 1.0,
                           float(s.carry_over_within_settlement), 0.05,
                           key=k["carry_over_within_settlement"])
        across = st.slider("Carry-over across settlements (share)", 0.0, 1.0,
                           float(s.carry_over_across_settlements), 0.05,
                           key=k["carry_over_across_settlements"])
    return StreamSettings(years, lo, mode, hi, vol, within, across)


def _settings_inputs(base: Scenario) -> PlannerSettings:
    start = settings_from(base)
    keys = st.session_state.setdefault("_setting_keys", set())
    keys.update({"in_year_share", "budget_m", "real_growth_pct", "contract_cover"})
    streams = {name: _stream_inputs(name, s) for name, s in start.streams.items()}
    with st.expander("Budget and contracting", expanded=True):
        share = start.in_year_share
        if share is not None:
            share = st.slider("Share of external in-year money", 0.0, max(0.9, share), float(share), 0.05,
                              key="in_year_share",
                              help="Money bid for and paid in tranches during the year.")
        budget = st.number_input("Budget (£m a year, all streams)", min_value=1.0,
                                 value=float(start.baseline_budget_m), step=10.0, key="budget_m")
        growth = st.number_input("Real growth (% a year)", min_value=-50.0, max_value=100.0,
                                 value=round(start.real_growth * 100, 6), step=0.5,
                                 key="real_growth_pct")
        cover = st.slider("Contract cover (share of a project's cost confirmed money must cover)",
                          0.0, 1.0, float(start.contract_cover), 0.05, key="contract_cover")
    return PlannerSettings(streams, share, budget, growth / 100.0, cover)


def _take_upload() -> None:
    """Read a newly uploaded file before the sidebar is drawn, so Start from can offer it (and
    switch to it) in the same rerun; the outcome is shown beside the uploader."""
    file = st.session_state.get("upload")
    if file is None or st.session_state.get("_upload_seen") == file.file_id:
        return
    st.session_state["_upload_seen"] = file.file_id
    try:
        scenario = ui.scenario_from_upload(file.name, file.getvalue())
    except FundsimError as exc:
        st.session_state["_upload_outcome"] = exc
        return
    st.session_state.setdefault("uploaded", {})[scenario.name] = scenario
    st.session_state["_upload_outcome"] = (f"Loaded “{ui.plain(scenario.name)}”: now under Start "
                                           "from.")
    st.session_state["start"] = f"{scenario.name} (uploaded)"
    _reset_settings()


def _upload() -> None:
    with st.expander("Load a scenario file", expanded="_upload_outcome" in st.session_state):
        st.file_uploader("A complete scenario (.toml)", type=["toml"], key="upload")
        outcome = st.session_state.get("_upload_outcome")
        if isinstance(outcome, FundsimError):
            ui.show_problem(outcome, "The uploaded file")
        elif outcome:
            st.success(outcome)


def _sidebar() -> tuple[Scenario, PlannerSettings, str, int, int] | None:
    _take_upload()
    with st.sidebar:
        st.header("Scenario")
        entries = ui.catalogue()
        labels = list(entries)
        start_label = st.selectbox(
            "Start from", labels, index=labels.index(DEFAULT_START) if DEFAULT_START in labels
            else 0, key="start", on_change=_reset_settings)
        try:
            base = ui.resolve(entries[start_label])
        except FundsimError as exc:
            ui.show_problem(exc, start_label)
            _upload()
            return None
        settings = _settings_inputs(base)
        st.header("Compare with")
        comparator = st.selectbox("Comparator", [THREE_YEAR, *labels], key="comparator",
                                  help="Runs with the same random numbers as the scenario above.")
        st.header("Monte Carlo")
        runs = st.number_input(f"Runs per scenario ({ui.MIN_RUNS:,}-{ui.MAX_RUNS:,})", value=1000,
                               step=100, key="runs")
        seed = st.number_input("Seed", value=1, min_value=0, step=1, key="seed")
        _upload()
    return base, settings, comparator, int(runs), int(seed)


def _save_and_download(a: Scenario, results: dict) -> None:
    st.subheader("Save and download")
    left, right = st.columns(2)
    with left:
        title = st.text_input("Save these settings as a scenario named", value=a.name,
                              key="save_title")
        replace = st.checkbox("Replace a saved scenario of the same name", key="save_replace")
        if st.button("Save scenario", key="save_button"):
            try:
                path = save_scenario(a, ui.saved_dir(), title, overwrite=replace)
            except FundsimError as exc:
                ui.show_problem(exc, "Saving")
            else:
                # Rerun so Start from lists the new file; the message survives the rerun.
                st.session_state["saved_message"] = (
                    f"Saved as {ui.plain(path)}. Run it headless with fundsim run "
                    f"{ui.plain(path)}; it is now under Start from.")
                st.rerun()
        if "saved_message" in st.session_state:
            st.success(st.session_state.pop("saved_message"))
    with right:
        table = comparison.runs_table(results)
        st.download_button("Runs (CSV)", lambda: table.to_csv(index=False), "fundsim-runs.csv",
                           "text/csv", key="download_csv", on_click="ignore")
        st.download_button("Runs (Parquet)", lambda: parquet_bytes(table),
                           "fundsim-runs.parquet", "application/vnd.apache.parquet",
                           key="download_parquet", on_click="ignore")
        st.download_button("Charts (HTML, opens offline)",
                           lambda: charts.figures_html(list(comparison.figures(results).values()),
                                                       " against ".join(results)),
                           "fundsim-charts.html", "text/html", key="download_html",
                           on_click="ignore")
        st.download_button("This scenario (TOML)", scenario_toml(a), "scenario.toml",
                           "application/toml", key="download_toml", on_click="ignore")


def main() -> None:
    st.title("What does the shape of funding do to delivery?")
    st.caption("Move the settlement settings on the left. Every run of both scenarios shares its "
               "random numbers, so differences come from the funding shape, not from chance.")
    picked = _sidebar()
    if picked is None:
        st.info("Pick another scenario under Start from, or load a corrected file.")
        return
    base, settings, comparator, runs, seed = picked
    if not ui.MIN_RUNS <= runs <= ui.MAX_RUNS:
        st.error(f"**Runs per scenario = {runs:,}:** choose between {ui.MIN_RUNS:,} and "
                 f"{ui.MAX_RUNS:,}.", icon="⚠️")
        return
    try:
        a = apply_settings(base, settings)
    except FundsimError as exc:
        ui.show_problem(exc, "These settings")
        return
    try:
        b = (three_year_counterpart(a) if comparator == THREE_YEAR
             else ui.resolve(ui.catalogue()[comparator]))
    except FundsimError as exc:
        ui.show_problem(exc, f"The comparator {comparator}")
        return
    with ui.guarded("Running the scenarios"):
        labels = comparison.unique_labels([a.name, b.name])
        results = {labels[0]: ui.batch(a, runs, seed, labels[0]),
                   labels[1]: ui.batch(b, runs, seed, labels[1])}
        ui.render_comparison(results, prefix="explore")
        _save_and_download(a, results)
    with ui.guarded("Checking the baseline against the published figures"):
        ui.render_baseline_check(runs, seed)
    ui.render_assumptions()


with ui.guarded("The Explore page"):
    main()

"""Explore page: change the settlement settings and see what your change does to output and money.

The sidebar edits a scenario started from a shipped, saved or uploaded one. The edits are made in a
form and applied together with one button, so several changes cost one re-run and no invalid
combination is ever run on the way. By default the comparator is the scenario you started from,
before your edits, and the headline says what your change does ("Three-year core settlements
instead of one-year add ..."); the edited scenario's name and description are generated from what
differs (`simulator.changes`). The same settings with three-year settlements, or any shipped,
saved or uploaded scenario, are one choice away. A comparator with the same settings as your
scenario is said in words, never shown as a zero difference. Every run of both scenarios shares its
random numbers, so their run-by-run difference is the change's and not noise.

The confirmation date is a window of months (a range slider, within what the model accepts: a
year before the year starts to 11 months after) with its most likely month, or a known date, which
becomes a fixed distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard_pages import common as ui
from dashboard_pages import decision
from dashboard_pages.view import AnswerView
from simulator import changes, charts, comparison
from simulator.bounds import MAX_MONEY_M
from simulator.errors import FundsimError, ScenarioError
from simulator.files import parquet_bytes
from simulator.planner import (
    PlannerSettings,
    StreamSettings,
    save_scenario,
    scenario_toml,
    settings_from,
    three_year_counterpart,
)
from simulator.scenario import MAX_CONFIRMATION_DELAY_MONTHS, Scenario

DEFAULT_START = "annual (shipped)"
START = "Where you started (before your edits)"
THREE_YEAR = "Same settings, three-year settlements"
# The earliest confirmation the window offers: a year ahead, the most a one-year settlement may be
# confirmed early (`scenario.Stream`); the latest is MAX_CONFIRMATION_DELAY_MONTHS (11). (A comment,
# not a docstring: Streamlit's magic would show a bare string in the page.)
EARLIEST_MONTH = -12.0
WINDOW, KNOWN = "A window of months", "A known date"
# The real growth a scenario accepts, in per cent a year (`real_growth` from -0.5 to 1).
GROWTH_PCT = (-50.0, 100.0)


def _reset_settings() -> None:
    """A new starting scenario: forget the edited values so the controls show its own."""
    for key in st.session_state.get("_setting_keys", []):
        st.session_state.pop(key, None)


@dataclass(frozen=True)
class Adjustment:
    """A control's value the page had to change to make the settings valid, said in words."""

    message: str


def _delay_inputs(name: str, s: StreamSettings, keys: dict[str, str]
                  ) -> tuple[float, float, float, Adjustment | None]:
    """The confirmation date: a window (earliest to latest month) and its most likely month, or a
    known date. Every value offered is one the model accepts; a most likely month outside the
    window is moved to its nearest end, and the page says so."""
    low_end = min(EARLIEST_MONTH, s.delay_min)
    high_end = max(MAX_CONFIRMATION_DELAY_MONTHS, s.delay_max)
    known_now = s.delay_min == s.delay_max
    kind = st.radio("Confirmation date", (WINDOW, KNOWN), index=1 if known_now else 0,
                    key=keys["delay_kind"], horizontal=True,
                    help="When the settlement is confirmed, in months from the start of each "
                         "period (negative: before it starts).")
    lo, hi = st.slider("Window: earliest to latest month", low_end, high_end,
                       (float(s.delay_min), float(s.delay_max)), 0.5, key=keys["delay_window"],
                       help="Months after the period starts; negative = before. Used for a window.")
    mode = st.slider("Most likely month, or the known date", low_end, high_end,
                     float(s.delay_mode), 0.5, key=keys["delay_mode"],
                     help="For a window: the month confirmation most likely comes. For a known "
                          "date: the month it comes, every time.")
    if kind == KNOWN:
        return mode, mode, mode, None
    if lo == hi:
        return lo, lo, lo, None
    if not lo <= mode <= hi:
        moved = min(max(mode, lo), hi)
        return lo, moved, hi, Adjustment(
            f"Most likely month {mode:g} lies outside the window {lo:g} to {hi:g} under "
            f"{name.capitalize()} funding, so {moved:g} (the nearest end) was used: move “Most "
            "likely month” into the window, or choose “A known date”.")
    return lo, mode, hi, None


def _stream_inputs(name: str, s: StreamSettings) -> tuple[StreamSettings, Adjustment | None]:
    keys = st.session_state.setdefault("_setting_keys", set())
    k = {field: f"{name}.{field}" for field in (
        "settlement_years", "delay_kind", "delay_window", "delay_mode", "amount_volatility",
        "carry_over_within_settlement", "carry_over_across_settlements")}
    keys.update(k.values())
    with st.expander(f"{ui.plain(name.replace('_', ' ').capitalize())} funding",
                     expanded=name == "core"):
        years = st.slider("Settlement length (years)", 1, max(5, s.settlement_years),
                          s.settlement_years, key=k["settlement_years"],
                          help="How many years one settlement confirms at a time.")
        lo, mode, hi, adjusted = _delay_inputs(name, s, k)
        vol = st.slider("Amount volatility (sd of the amount, share)", 0.0,
                        max(0.5, s.amount_volatility), float(s.amount_volatility), 0.01,
                        key=k["amount_volatility"])
        within = st.slider("Carry-over within a settlement (share)", 0.0, 1.0,
                           float(s.carry_over_within_settlement), 0.05,
                           key=k["carry_over_within_settlement"])
        across = st.slider("Carry-over across settlements (share)", 0.0, 1.0,
                           float(s.carry_over_across_settlements), 0.05,
                           key=k["carry_over_across_settlements"])
    return StreamSettings(years, lo, mode, hi, vol, within, across), adjusted


def _settings_inputs(base: Scenario) -> tuple[PlannerSettings, list[Adjustment]]:
    start = settings_from(base)
    keys = st.session_state.setdefault("_setting_keys", set())
    keys.update({"in_year_share", "budget_m", "real_growth_pct", "contract_cover"})
    streams, adjusted = {}, []
    for name, s in start.streams.items():
        streams[name], note = _stream_inputs(name, s)
        adjusted += [note] if note else []
    with st.expander("Budget and contracting", expanded=True):
        share = start.in_year_share
        if share is not None:
            share = st.slider("Share of external in-year money", 0.0, max(0.9, share), float(share),
                              0.05, key="in_year_share",
                              help="Money bid for and paid in tranches during the year; the "
                                   "settled streams keep their proportions of the rest.")
        # No min or max on these two: Streamlit keeps a typed value outside them in the box but
        # sends the old one, so the page ran the old budget without a word. `_out_of_range` says.
        budget = st.number_input("Budget (£m a year, all streams)",
                                 value=float(start.baseline_budget_m), step=10.0, key="budget_m")
        growth = st.number_input(f"Real growth (% a year, {GROWTH_PCT[0]:g} to {GROWTH_PCT[1]:g})",
                                 value=round(start.real_growth * 100, 6), step=0.5,
                                 key="real_growth_pct")
        cover = st.slider("Contract cover (share of a project's cost confirmed money must cover)",
                          0.0, 1.0, float(start.contract_cover), 0.05, key="contract_cover")
    return PlannerSettings(streams, share, budget, growth / 100.0, cover), adjusted


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


@dataclass(frozen=True)
class Picked:
    """What the sidebar asks for: the starting scenario, the applied settings (and any value the
    page adjusted), the comparator, runs and seed."""

    base: Scenario
    settings: PlannerSettings
    adjusted: list[Adjustment]
    comparator: str
    runs: int
    seed: int


def _sidebar() -> Picked | None:
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
        # One form: every change is applied together with one button, so several changes cost
        # one re-run and no half-made combination is ever run.
        with st.form("settings", border=False, enter_to_submit=True):
            settings, adjusted = _settings_inputs(base)
            st.header("Monte Carlo")
            runs = st.number_input(f"Runs per scenario ({ui.MIN_RUNS:,}-{ui.MAX_RUNS:,})",
                                   value=1000, step=100, key="runs")
            seed = st.number_input("Seed", value=1, min_value=0, step=1, key="seed")
            st.form_submit_button("Run with these settings", type="primary", key="apply",
                                  icon=":material/play_arrow:", width="stretch")
        st.header("Compare with")
        comparator = st.selectbox(
            "Comparator", [START, THREE_YEAR, *labels], key="comparator",
            help="Runs with the same random numbers as your scenario, so the difference is the "
                 "change's and not chance.")
        _upload()
    return Picked(base, settings, adjusted, comparator, int(runs), int(seed))


def _save_and_download(a: Scenario, results: dict) -> None:
    st.subheader("Save and download")
    left, right = st.columns(2)
    with left:
        # The title follows the generated name until the planner types one of their own.
        if st.session_state.get("save_title") in (None, st.session_state.get("_save_default")):
            st.session_state["save_title"] = a.name
        st.session_state["_save_default"] = a.name
        title = st.text_input("Save these settings as a scenario named", key="save_title")
        replace = st.checkbox("Replace a saved scenario of the same name", key="save_replace")
        if st.button("Save scenario", key="save_button", icon=":material/save:"):
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


def _comparison(picked: Picked, a: Scenario, found: list[changes.Change]
                ) -> tuple[Scenario, Scenario, tuple[str, bool] | None, str | None]:
    """(reference, other, the headline's subject and whether its verb is plural if the headline
    is about your change, a sentence if the two have the same settings). The reference is shown
    first and every difference is other minus reference: your scenario against where you started
    or against another scenario, or the three-year version of your scenario against yours."""
    if picked.comparator == START:
        before, after = picked.base, a
        same = None if found else (
            f"{a.name} is the scenario you started from: change a setting in the sidebar (for "
            "example “Settlement length” under Core funding), then press “Run with these "
            "settings” to see what your change does, or choose another scenario under “Compare "
            "with”.")
        subject = changes.subject(found) if found else None
        return before, after, subject, same
    if picked.comparator == THREE_YEAR:
        other = three_year_counterpart(a)
        same = (f"{a.name} already has three-year settlements, so “{THREE_YEAR}” is the same "
                "scenario: choose another comparator under “Compare with”, such as where you "
                "started." if ui.simulation_key(other) == ui.simulation_key(a) else None)
        return a, other, None, same
    other = ui.resolve(ui.catalogue()[picked.comparator])
    same = (f"{picked.comparator} has the same settings as your scenario ({a.name}), so there is "
            "no difference to show: change a setting, or choose another comparator under "
            "“Compare with”." if ui.simulation_key(other) == ui.simulation_key(a) else None)
    return other, a, None, same


def _out_of_range(settings: PlannerSettings) -> str | None:
    """The budget or growth typed outside what the model takes, in the planner's words."""
    budget, growth = settings.baseline_budget_m, settings.real_growth * 100.0
    if not 0.0 < budget <= MAX_MONEY_M:
        return (f"**Budget is £{budget:,.10g}m a year:** choose more than 0 and at most "
                f"£{MAX_MONEY_M:,.0f}m under Budget and contracting, then press Run with these "
                "settings.")
    if not GROWTH_PCT[0] <= growth <= GROWTH_PCT[1]:
        return (f"**Real growth is {growth:,.10g}% a year:** choose from {GROWTH_PCT[0]:g}% to "
                f"{GROWTH_PCT[1]:g}% under Budget and contracting, then press Run with these "
                "settings.")
    return None


def main() -> None:
    st.title("What does the shape of funding do to delivery?")
    st.caption("Change the settlement settings on the left and press Run with these settings. "
               "Every run of both scenarios shares its random numbers, so differences come from "
               "your change, not from chance.")
    picked = _sidebar()
    if picked is None:
        st.info("Pick another scenario under Start from, or load a corrected file.")
        return
    if not ui.MIN_RUNS <= picked.runs <= ui.MAX_RUNS:
        st.error(f"**Runs per scenario is {picked.runs:,}:** choose between {ui.MIN_RUNS:,} and "
                 f"{ui.MAX_RUNS:,} under Monte Carlo, then press Run with these settings.",
                 icon=":material/warning:")
        return
    problem = _out_of_range(picked.settings)
    if problem:
        st.error(problem, icon=":material/warning:")
        return
    for note in picked.adjusted:
        st.info(ui.plain(note.message), icon=":material/info:")
    try:
        a, found = changes.apply_named(picked.base, picked.settings)
    except ScenarioError as exc:
        ui.show_settings_problem(exc)
        return
    try:
        reference, other, subject, same = _comparison(picked, a, found)
    except FundsimError as exc:
        ui.show_problem(exc, f"The comparator {picked.comparator}")
        return
    answer = None
    with ui.guarded("Running the scenarios"):
        if same is not None:
            scenarios = [(a.name, a)]
            view = AnswerView("explore", same=same)
        else:
            labels = comparison.unique_labels([reference.name, other.name])
            scenarios = [(labels[0], reference), (labels[1], other)]
            view = AnswerView("explore", subject=subject)
        answer = None
        try:
            for answer in ui.answers(scenarios, picked.runs, picked.seed):
                view.draw(answer)
        except FundsimError:
            view.clear()  # a partial answer whose runs could not finish is not left standing
            raise
        if answer is not None:
            _save_and_download(a, answer.results)
    if answer is not None and same is None:
        with ui.guarded("The decision views"):
            decision.render(reference, other, answer.results, picked.runs, picked.seed)
    with ui.guarded("Checking the baseline against the published figures"):
        ui.render_baseline_check(picked.runs, picked.seed)
    ui.render_assumptions()


with ui.guarded("The Explore page"):
    main()

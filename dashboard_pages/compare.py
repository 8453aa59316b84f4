"""Compare page: reviewers put results folders (written by `fundsim run`) and saved scenarios side
by side: the same charts and paired statistics as Explore, each scenario's headline against the
first, the scenarios' parameter differences, and the manifest facts. A folder whose files do not
match its manifest is refused, not shown.

Folders are listed as a reader expects (`simulator.listing`): finished results, oldest first, a
sweep as its points (`annual-sweep/p0002 (mode = 4)`), never the sweep's own folder as a result;
the newest two are picked at first. A typed folder that cannot be opened gets a message saying
why (a sweep: where its points are).

Only folders under the results directory (FUNDSIM_RESULTS_DIR, plus any in FUNDSIM_RESULTS_DIRS)
can be opened: a typed path is resolved and refused if it lies outside, with the same message
whether or not it exists.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard_pages import common as ui
from dashboard_pages.view import render_comparison
from simulator import comparison
from simulator.errors import FundsimError
from simulator.listing import Entry, is_sweep, newest_pair, results_entries, sweep_message
from simulator.planner import parameter_differences
from simulator.results import BatchResults, load_results


@st.cache_data(show_spinner=False, max_entries=32)
def _load(folder: str, stamp: tuple[float, ...]) -> BatchResults:
    del stamp  # cache key only: a rewritten folder is read (and checked) again
    return load_results(folder)


def _stamp(folder: Path) -> tuple[float, ...]:
    return tuple(p.stat().st_mtime for p in sorted(folder.iterdir()) if p.is_file())


def _newest_that_open(entries: list[Entry], tries: int = 8) -> list[str]:
    """The labels of the two newest results that open (checked against their manifests), in the
    order they were written: a tampered or unreadable folder among the newest is passed over, so
    the page does not open on a refusal and "Pick at least two". It is still listed, and refused
    with its reason if picked."""
    found = []
    for entry in reversed(entries[-tries:]):
        try:
            _load(str(entry.folder), _stamp(entry.folder))
        except Exception:  # any failure: `_open` says which, if it is picked
            continue
        found.append(entry.label)
        if len(found) == 2:
            break
    return found[::-1] if found else [e.label for e in newest_pair(entries)]


def _open(folder: Path, shown: str) -> BatchResults | None:
    """A results folder, checked against its manifest, or None after a plain message."""
    if is_sweep(folder):
        st.error(f"**{ui.plain(shown)} is a sweep, not one result.** "
                 f"{ui.plain(sweep_message(folder).split(': ', 1)[-1])} Pick its points in the "
                 "list above.", icon=":material/info:")
        return None
    try:
        return _load(str(folder), _stamp(folder) if folder.is_dir() else ())
    except FundsimError as exc:
        st.error(f"**Refused {ui.plain(shown)}:** {ui.plain(exc)}", icon=":material/block:")
    except (OSError, ValueError) as exc:  # unreadable files: say which, not how Python failed
        st.error(f"**Refused {ui.plain(shown)}:** it cannot be read as a results folder "
                 f"({ui.plain(type(exc).__name__)}).", icon=":material/block:")
    except Exception as exc:
        traceback.print_exc()
        st.error(f"**Refused {ui.plain(shown)}:** reading it failed because of an internal error "
                 f"({ui.plain(type(exc).__name__)}); the details are in the server's log.",
                 icon=":material/block:")
    return None


def _facts(label: str, source: str, res: BatchResults) -> dict:
    manifest = res.manifest
    return {"scenario": label, "from": source, "seed": res.seed, "runs": len(res.runs),
            "fundsim": manifest.get("versions", {}).get("fundsim", "this dashboard"),
            "written (UTC)": manifest.get("created_utc", "now"),
            "scenario sha256": res.scenario.sha256()[:16]}


def main() -> None:
    st.title("Compare saved results side by side")
    st.caption("Pick results folders written by `fundsim run`, or saved scenarios to run here. "
               "Every scenario is compared with the first one you pick, run by run.")
    root = ui.results_dir()
    entries = results_entries(root)
    labels = {e.label: e.folder for e in entries}
    with st.sidebar:
        st.header("Results folders")
        picked = st.multiselect(f"Found under {ui.plain(root)} (newest last)", list(labels),
                                default=_newest_that_open(entries),
                                key="compare_results",
                                help="Every finished results folder; a sweep is listed as its "
                                     "points. The first you pick is the reference.")
        extra = st.text_input("…or a results folder's path", key="compare_path")
        st.header("Scenarios to run here")
        entries = ui.catalogue()
        run_here = st.multiselect("Shipped or saved scenarios", list(entries),
                                  key="compare_scenarios")
        runs = st.number_input(f"Runs per scenario ({ui.MIN_RUNS:,}-{ui.MAX_RUNS:,})",
                               value=1000, step=100, key="compare_runs")
        seed = st.number_input("Seed", value=1, min_value=0, step=1, key="compare_seed")

    chosen: list[tuple[str, str, BatchResults]] = []
    typed = [extra.strip()] if extra.strip() else []
    for shown in [*picked, *typed]:
        folder = ui.allowed_folder(str(labels.get(shown, shown)))
        if folder is None:
            st.error(f"**Refused {ui.plain(shown)}:** the Compare page opens results folders under "
                     f"{ui.plain(', '.join(map(str, ui.results_roots())))} only (an operator can "
                     f"add folders with {ui.plain('FUNDSIM_RESULTS_DIRS')}).", icon=":material/block:")
            continue
        res = _open(folder, shown)
        if res is not None:
            chosen.append((res.name, str(folder), res))
    if run_here:
        if not ui.MIN_RUNS <= runs <= ui.MAX_RUNS:
            st.error(f"**Runs per scenario = {runs:,}:** choose between {ui.MIN_RUNS:,} and "
                     f"{ui.MAX_RUNS:,}.", icon=":material/warning:")
        else:
            scenarios = []
            for label in run_here:
                try:
                    scenarios.append(ui.resolve(entries[label]))
                except FundsimError as exc:
                    ui.show_problem(exc, label)
            if scenarios:  # one batch for all of them (a session's new batch cancels its last)
                names = comparison.unique_labels([s.name for s in scenarios])
                try:
                    done = ui.finished(list(zip(names, scenarios, strict=True)), int(runs),
                                       int(seed))
                except FundsimError as exc:
                    ui.show_problem(exc, f"Running {', '.join(names)}")
                else:
                    chosen += [(s.name, "run here", done[name])
                               for name, s in zip(names, scenarios, strict=True)]
    if len(chosen) < 2:
        st.info("Pick at least two results (folders or scenarios). To make some: "
                "`fundsim run scenarios/annual.toml scenarios/three_year.toml --out results/demo`.")
        if len(chosen) == 1:
            st.dataframe(pd.DataFrame([_facts(*chosen[0])]), hide_index=True)
        return

    names = comparison.unique_labels([name for name, _, _ in chosen])
    results = {name: res for name, (_, _, res) in zip(names, chosen, strict=True)}
    st.subheader("Where each result came from")
    st.dataframe(pd.DataFrame([_facts(name, source, res) for name, (_, source, res)
                               in zip(names, chosen, strict=True)]),
                 hide_index=True, key="compare_facts")
    seeds = {res.seed for res in results.values()}
    if len(seeds) > 1:
        st.warning(f"These results use different seeds ({', '.join(map(str, sorted(seeds)))}): "
                   "their runs do not share random numbers, so run-by-run differences would be "
                   "noise. Only the distributions are shown; re-run them with one seed.",
                   icon=":material/warning:")
    if len(seeds) == 1:
        counts = sorted({len(res.runs) for res in results.values()})
        if len(counts) > 1:
            st.info(f"These results have different numbers of runs ({', '.join(f'{n:,}' for n in counts)}): "
                    f"run by run, each is compared with the first over the runs both have (the first "
                    f"{counts[0]:,}); the distributions show every run.", icon=":material/info:")
    same = _same_simulations(results)
    for group in same:
        st.info(f"{' and '.join(ui.plain(n) for n in group)} are the same simulation (the same "
                "settings and seed): run by run they are identical, so their difference is zero "
                "by construction, not a finding.", icon=":material/info:")
    if same and len(same[0]) == len(results):
        return
    st.subheader("How the scenarios differ")
    diffs = parameter_differences({name: res.scenario for name, res in results.items()})
    if diffs.empty:
        st.write("The scenarios have the same parameters.")
    else:
        st.dataframe(diffs, hide_index=True, key="compare_parameters")
    with ui.guarded("Comparing"):
        render_comparison(results, prefix="compare", paired=len(seeds) == 1)


def _same_simulations(results: dict[str, BatchResults]) -> list[list[str]]:
    """Groups of results that are one simulation (the same settings, less names, and seed)."""
    groups: dict[tuple[str, int], list[str]] = {}
    for name, res in results.items():
        groups.setdefault((ui.simulation_key(res.scenario), res.seed), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


with ui.guarded("The Compare page"):
    main()

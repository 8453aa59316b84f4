"""What both dashboard pages share: where scenarios live, a results cache, a warm process pool,
error display, and the comparison view (headline, charts, tables).

Speed: a slider change re-runs only the scenario whose resolved form changed. Results are cached by
(scenario sha256, seed, runs) in one process-wide store, so every session and both pages reuse them,
and runs go to a process pool that stays up between reruns (starting one costs about a second).

Safety on a shared server: the pool is a `FairPool`, which takes chunks from the browser sessions in
turn, cancels a session's stale batch when that session starts a new one, and stops a batch that
runs past FUNDSIM_BATCH_SECONDS (120 s). Anything a scenario file or a user typed is shown as plain
text (`plain`), never as Markdown or HTML; the Compare page opens folders under the results
directories only (`allowed_folder`); every page runs inside an error boundary (`guarded`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import threading
import tomllib
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from simulator import assumptions, calibration, charts, comparison, report, uncertain
from simulator.analysis import describe, mean_ci
from simulator.errors import FundsimError, ScenarioError, problem
from simulator.executors import FairPool, WorkerLost, quick_chunk_size
from simulator.memory import run_batch
from simulator.results import BatchResults
from simulator.runner import default_workers
from simulator.scenario import Scenario, load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DIR = ROOT / "scenarios"
BASELINE = SHIPPED_DIR / "baseline.toml"
CACHE_ENTRIES = 24
MIN_RUNS, MAX_RUNS = 100, 5000


def saved_dir() -> Path:
    """Where the dashboard saves scenarios (FUNDSIM_SAVED_DIR, else saved_scenarios/)."""
    return Path(os.environ.get("FUNDSIM_SAVED_DIR", ROOT / "saved_scenarios"))


def results_dir() -> Path:
    """Where the compare page looks for results folders (FUNDSIM_RESULTS_DIR, else results/)."""
    return Path(os.environ.get("FUNDSIM_RESULTS_DIR", ROOT / "results"))


def results_roots() -> list[Path]:
    """Every folder the Compare page may open results under: the results directory, and the
    folders listed in FUNDSIM_RESULTS_DIRS (separated by ':'), each resolved."""
    roots = [results_dir()]
    roots += [Path(p) for p in os.environ.get("FUNDSIM_RESULTS_DIRS", "").split(os.pathsep)
              if p.strip()]
    resolved = []
    for root in roots:
        try:
            resolved.append(root.expanduser().resolve())
        except (OSError, RuntimeError, ValueError):
            continue
    return resolved


def allowed_folder(text: str) -> Path | None:
    """The folder a user typed, resolved (symbolic links and `..` followed), if it lies under one
    of `results_roots()`; else None. A relative path is taken from the results directory. The
    answer never depends on whether the folder exists, so a refusal reveals nothing about paths
    outside."""
    try:
        path = Path(text.strip()).expanduser()
        if not path.is_absolute():
            path = results_dir() / path
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL byte, an odd ~user
        return None
    if any(resolved == root or resolved.is_relative_to(root) for root in results_roots()):
        return resolved
    return None


# ------------------------------------------------------------------------ plain text

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^\"'])")


def plain(text: object) -> str:
    """Text that Streamlit's Markdown shows exactly as written: every character Markdown, HTML,
    LaTeX or Streamlit's `:color[...]` and `:emoji:` syntax could act on is backslash-escaped
    (CommonMark lets any ASCII punctuation be escaped), and runs of spaces and line breaks become
    one space (so no line can start a heading, a list or an indented code block). A scenario
    named `![b](http://host/x.png)` is then the text `![b](http://host/x.png)`, not an image the
    viewer's browser fetches."""
    flat = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


# ------------------------------------------------------------------------ scenarios


def catalogue() -> dict[str, Path | Scenario]:
    """Every scenario a planner can start from: shipped, saved, and uploaded this session."""
    entries: dict[str, Path | Scenario] = {}
    for path in sorted(SHIPPED_DIR.glob("*.toml")):
        entries[f"{path.stem} (shipped)"] = path
    folder = saved_dir()
    if folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            entries[f"{path.stem} (saved)"] = path
    for name, scenario in st.session_state.get("uploaded", {}).items():
        entries[f"{name} (uploaded)"] = scenario
    return entries


def resolve(entry: Path | Scenario) -> Scenario:
    """A catalogue entry as a validated scenario (`ScenarioError` if its file is wrong)."""
    return entry if isinstance(entry, Scenario) else _load_file(str(entry), _mtime(entry))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(show_spinner=False, max_entries=64)
def _load_file(path: str, mtime: float) -> Scenario:
    del mtime  # part of the cache key only: an edited file is read again
    return load_scenario(path)


def scenario_from_upload(name: str, data: bytes) -> Scenario:
    """An uploaded scenario file, validated. It must be complete: a `base` cannot be resolved
    from an upload (save a resolved scenario from the dashboard or use a results folder's
    scenario.toml)."""
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(name, [problem("", "not UTF-8 text; save the file as UTF-8")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(name, [problem("", f"not valid TOML: {exc}")]) from None
    if "base" in parsed:
        raise ScenarioError(name, [problem(
            "base", "an uploaded file must be complete: upload a scenario saved from this "
                    "dashboard or a results folder's scenario.toml", parsed["base"])])
    return scenario_from_dict(parsed, source=name)


# ------------------------------------------------------------------------ running


class ResultsCache:
    """The last few batches, keyed by (scenario sha256, seed, runs); shared by every session."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._data: OrderedDict[tuple[str, int, int], BatchResults] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, int]) -> BatchResults | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            return None

    def put(self, key: tuple[str, int, int], value: BatchResults) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _results_cache() -> ResultsCache:
    return ResultsCache(CACHE_ENTRIES)


@st.cache_resource(show_spinner=False)
def _pool() -> FairPool:
    # spawn, not fork: the Streamlit server is multi-threaded, and forking it can deadlock.
    return FairPool(default_workers(), start_method="spawn")


def session_id() -> str:
    """This browser session's id: Streamlit's own (the same for every rerun of one tab, also the
    fast reruns that start a new script thread before the stale one has stopped), else one kept
    in session_state."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx(suppress_warning=True)
    except ImportError:  # pragma: no cover - an older or newer Streamlit layout
        ctx = None
    if ctx is not None and getattr(ctx, "session_id", None):
        return str(ctx.session_id)
    return st.session_state.setdefault("_fundsim_session", uuid.uuid4().hex)


def simulation_key(scenario: Scenario) -> str:
    """A fingerprint of what the simulation reads: the resolved scenario less its name and
    description, so renaming (or an edited copy identical to its comparator) never re-runs."""
    data = scenario.to_dict()
    data.pop("scenario", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def batch(scenario: Scenario, runs: int, seed: int, label: str) -> BatchResults:
    """The batch for (scenario, seed, runs): from the cache, or run now with a progress bar."""
    key = (simulation_key(scenario), seed, runs)
    cache = _results_cache()
    found = cache.get(key)
    if found is not None:
        return dataclasses.replace(found, scenario=scenario)
    bar = st.progress(0.0, text=f"Running {plain(label)}: 0 of {runs:,} runs")
    session = session_id()
    try:
        result = run_on_pool(_pool(), scenario, runs, seed, bar, label, session)
    except WorkerLost:  # a worker died (killed, out of memory): the pool starts new workers
        result = run_on_pool(_pool(), scenario, runs, seed, bar, label, session)
    bar.empty()
    cache.put(key, result)
    return result


def run_on_pool(pool: FairPool, scenario: Scenario, runs: int, seed: int, bar, label: str,
                session: str = "dashboard") -> BatchResults:
    """A batch in memory as `session`'s batch on the shared pool, in chunks of about 0.2 s (so the
    pool can switch sessions and drop a cancelled batch quickly) that still keep the bar moving.

    While the batch waits for a worker the bar is redrawn every half second: each redraw is a
    point where Streamlit can stop a stale script run (a newer change, a closed tab), and
    stopping it here cancels the batch. `BatchTooLong` or `BatchCancelled` come out as plain
    errors."""
    done = 0

    def show() -> None:
        bar.progress(min(done / runs, 1.0), text=f"Running {plain(label)}: {done:,} of {runs:,} runs")

    def advance(finished: int) -> None:
        nonlocal done
        done += finished
        show()

    executor = pool.session(session, label, on_wait=show)
    try:
        return run_batch(scenario, runs, seed,
                         chunk_size=quick_chunk_size(scenario, runs, pool.workers),
                         progress=advance, executor=executor)
    finally:
        executor.cancel()  # whatever stopped this call (an error, a rerun), no chunk is left queued


# ------------------------------------------------------------------------ errors


def show_problem(exc: BaseException, what: str) -> None:
    """A user's mistake as a clear message in the page (never a traceback); every part that came
    from a file or a user is plain text."""
    if isinstance(exc, ScenarioError):
        lines = "\n".join(f"- {plain(p.render())}" for p in exc.problems)
        st.error(f"**{plain(what)} cannot be used.** In {plain(exc.file)}:\n\n{lines}",
                 icon=":material/warning:")
    else:
        st.error(f"**{plain(what)}:** {plain(exc)}", icon=":material/warning:")


def show_settings_problem(exc: ScenarioError) -> None:
    """Settings the model cannot take, in the planner's words: which control to change and the
    rule, never a file name or a field path."""
    from simulator.changes import control_for

    lines = "\n".join(f"- {plain(control_for(p.path))}: {plain(p.rule)}" for p in exc.problems)
    st.error(f"**These settings cannot be run.** Change the control named below, then press Run "
             f"with these settings:\n\n{lines}", icon=":material/warning:")


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """The error boundary: any error inside becomes a plain message and the rest of the page keeps
    working. Streamlit's own stop and rerun signals are BaseExceptions and pass through."""
    try:
        yield
    except FundsimError as exc:
        show_problem(exc, what)
    except Exception as exc:  # a bug: say so plainly; the traceback goes to the server log only
        traceback.print_exc()
        st.error(f"**{plain(what)} failed** because of an internal error "
                 f"({plain(type(exc).__name__)}); the details are in the server's log. The rest of "
                 "the page still works; please report this.", icon=":material/error:")


# ------------------------------------------------------------------------ the comparison view


VIEWS = ("Distributions", "Over time", "Run-by-run difference", "Summary table")


def render_comparison(results: Mapping[str, BatchResults], prefix: str,
                      paired: bool = True, subject: tuple[str, bool] | None = None) -> None:
    """Headlines (each scenario against the first), then one view at a time (only its charts are
    built and sent, which keeps a rerun quick): distributions, fan charts, run-by-run differences
    or tables. The first scenario is the reference; `paired=False` (results that do not share
    random numbers) leaves out run-by-run differences. `subject` (what a change is, and whether
    its verb is plural) makes the one headline say what the change does."""
    if paired and len(results) > 1:
        (a_name, a), *others = results.items()
        for b_name, b in others:
            pair = {a_name: a, b_name: b}
            sentence = (comparison.change_headline(*subject, pair) if subject is not None
                        else comparison.headline_text(pair))
            st.markdown(f"### {plain(sentence)}")
            st.caption(plain(comparison.money_sentence(pair)) + " Intervals are the "
                       f"{plain(assumptions.PRECISION_LABEL)}; single runs spread much wider (see "
                       "the distributions, and the runs' spread in the summary table).")
    if len(results) > 1:
        # What the headline compares, a warning when it mixes groups of levers, and why.
        for line in comparison.what_differs(results):
            st.caption(plain(line))
        for warning in comparison.mixed_warnings(results):
            st.warning(plain(warning), icon=":material/warning:")
    for line in _uncertain_lines(results):  # parameters drawn per run widen the spread
        st.caption(plain(line))
    why = comparison.explanation(results) if paired else []
    if why:
        with st.expander("Why: what the difference is made of"):
            for line in why:
                st.markdown(plain(line))
            frame = comparison.attribution_frame(results)
            a_col, b_col = frame.columns[3], frame.columns[4]
            st.caption("Each line: the reference, the scenario, and the paired mean difference "
                       "with its 95% interval.")
            st.markdown("\n".join(
                f"- {plain(row['driver'])}: {row[a_col]:,.2f} → {row[b_col]:,.2f}; "
                f"{row['difference']:+,.2f} ({row['95% CI low']:+,.2f} to "
                f"{row['95% CI high']:+,.2f})" for _, row in frame.iterrows()))
    render_views(results, prefix, paired)


def _uncertain_lines(results: Mapping[str, BatchResults]) -> list[str]:
    """Which uncertain parameters each scenario draws, said once for scenarios that draw the
    same ones ("annual and annual with ... each draw 7 uncertain parameters ...")."""
    groups: dict[str, list[str]] = {}
    first: dict[str, tuple[str, str]] = {}
    for name, res in results.items():
        drawn = uncertain.describe(res.scenario)
        if not drawn:
            continue
        key = json.dumps(res.scenario.to_dict()["uncertain"], sort_keys=True, default=str)
        groups.setdefault(key, []).append(name)
        first.setdefault(key, (res.scenario.name, drawn))
    lines = []
    for key, names in groups.items():
        own, drawn = first[key]
        if len(names) > 1 and drawn.startswith(f"{own} draws "):
            drawn = f"{' and '.join(names)} each draw " + drawn[len(f"{own} draws "):]
        lines.append(drawn)
    return lines


def render_single(results: Mapping[str, BatchResults], message: str, prefix: str) -> None:
    """One scenario on its own (its comparator has the same settings): what it gives, the reason
    no comparison is shown, in words, and its charts and table."""
    name, res = next(iter(results.items()))
    values = res.runs["disruptions_total"].to_numpy(dtype=float)
    d = describe(values)
    st.markdown(f"### {plain(name)}: {d['mean']:,.0f} disruptions over "
                f"{res.scenario.horizon.years} years on average (runs 5-95%: {d['p5']:,.0f} to "
                f"{d['p95']:,.0f})")
    st.info(plain(message), icon=":material/info:")
    drawn = uncertain.describe(res.scenario)
    if drawn:
        st.caption(plain(drawn))
    render_views(results, prefix, paired=False)


_NUMBER = "%,.1f"
_SIGNED = "%+,.1f"


def _summary_config() -> dict:
    """One format per column (thousands separators, one decimal), intervals as two numeric
    columns, widths that fit a 1440-pixel screen beside the sidebar."""
    number = {"width": 96}
    return {
        "output": st.column_config.TextColumn("output", width=270),
        "scenario": st.column_config.TextColumn("scenario", width=200),
        comparison.MEAN: st.column_config.NumberColumn("mean", format=_NUMBER, **number),
        comparison.CI_LOW: st.column_config.NumberColumn(
            "95% CI low", format=_NUMBER, help=assumptions.PRECISION_LABEL, **number),
        comparison.CI_HIGH: st.column_config.NumberColumn(
            "95% CI high", format=_NUMBER, help=assumptions.PRECISION_LABEL, **number),
        comparison.P5: st.column_config.NumberColumn(
            "runs 5%", format=_NUMBER, help=assumptions.SPREAD_LABEL, **number),
        comparison.P95: st.column_config.NumberColumn(
            "runs 95%", format=_NUMBER, help=assumptions.SPREAD_LABEL, **number),
    }


def _differences_config() -> dict:
    number = {"width": 100}
    return {
        "scenario": st.column_config.TextColumn("scenario", width=190),
        "against": st.column_config.TextColumn("against", width=130),
        "output": st.column_config.TextColumn("output", width=230),
        "mean difference": st.column_config.NumberColumn("mean difference", format=_SIGNED,
                                                         **number),
        "95% CI low": st.column_config.NumberColumn("95% CI low", format=_SIGNED, **number),
        "95% CI high": st.column_config.NumberColumn("95% CI high", format=_SIGNED, **number),
        "share of runs better": st.column_config.TextColumn(
            "runs better", width=90, alignment="right",
            help="Share of paired runs where the scenario has more output or loses less money; "
                 "n/a where neither is better (capability spend)."),
    }


def render_views(results: Mapping[str, BatchResults], prefix: str, paired: bool = True) -> None:
    """The view picker and the chosen view's charts or tables."""
    view = st.radio("View", VIEWS, horizontal=True, key=f"{prefix}_view",
                    label_visibility="collapsed")
    others = list(results.items())[1:] if paired else []
    if view == "Distributions":
        ecdf = st.toggle("Show cumulative distributions (ECDF) instead of histograms",
                         key=f"{prefix}_ecdf")
        figures = comparison.distribution_figures(results, ecdf)
        cols = st.columns(2)
        for i, metric in enumerate(charts.DISTRIBUTION_METRICS):
            with cols[i % 2]:
                st.plotly_chart(figures[f"dist_{metric}"], key=f"{prefix}_dist_{metric}")
    elif view == "Over time":
        figures = comparison.fan_figures(results)
        cols = st.columns(len(charts.FAN_METRICS))
        for col, metric in zip(cols, charts.FAN_METRICS, strict=True):
            with col:
                st.plotly_chart(figures[f"fan_{metric}"], key=f"{prefix}_fan_{metric}")
        st.caption("Lines are medians; dark bands hold the middle half of runs, light bands 90%.")
    elif view == "Run-by-run difference":
        if not others:
            st.write("Run-by-run differences need results that share a seed.")
            return
        metric = st.selectbox("Output", charts.DISTRIBUTION_METRICS, format_func=charts.label,
                              key=f"{prefix}_diff_metric")
        figures = comparison.difference_figures(results, metric)
        a_name, a = next(iter(results.items()))
        for i, (b_name, b) in enumerate(others, start=1):
            diff = charts.paired_differences(a.runs, b.runs, metric)
            mean, lo, hi = mean_ci(diff)
            better = charts.better_share(diff, metric)
            st.markdown(f"**{plain(b_name)} against {plain(a_name)}:** mean difference "
                        f"{plain(f'{mean:+,.1f}')} (95% CI {plain(f'{lo:+,.1f} to {hi:+,.1f}')}); "
                        f"{plain(b_name)} is better in **{better:.0%}** of paired runs.")
            st.plotly_chart(figures[f"diff_{i}"], key=f"{prefix}_diff_{i}")
    else:
        summary = comparison.summary_frame(results)
        st.caption(plain(assumptions.INTERVALS_NOTE))
        config = _summary_config()
        st.dataframe(summary, hide_index=True, key=f"{prefix}_summary", column_config=config,
                     column_order=list(config))
        if others:
            differences = comparison.differences_frame(results)
            differences["share of runs better"] = [
                comparison.share_text(x) for x in differences["share of runs better"]]
            config = _differences_config()
            st.dataframe(differences, hide_index=True, key=f"{prefix}_differences",
                         column_config=config, column_order=list(config))


# ------------------------------------------------------------------------ calibration, assumptions

_VERDICT_COLOURS = {"meets": "background-color: #e3f4e1", "within tolerance":
                    "background-color: #fff4d6", "misses": "background-color: #fde2e1"}


@st.cache_resource(show_spinner=False, max_entries=8)
def _calibration(key: tuple[str, int, int], targets_mtime: float,
                 _res: BatchResults) -> report.CalibrationCheck:
    del key, targets_mtime  # the cache key only: the batch's (sha256, seed, runs) and the targets' age
    return report.calibration_check({"baseline": _res})


def render_baseline_check(runs: int, seed: int) -> None:
    """The shipped baseline's calibration table (`report.calibration_check`), from its batch at the
    page's runs and seed through `batch`'s cache, so a slider move neither re-runs nor re-checks
    it. Shown below the comparison, so it never delays the first answer's charts."""
    st.subheader(report.CALIBRATION_TITLE)
    baseline = resolve(BASELINE)
    res = batch(baseline, runs, seed, baseline.name)
    check = _calibration((simulation_key(baseline), seed, runs),
                         _mtime(calibration.DEFAULT_TARGETS), res)
    for note in check.notes:
        st.caption(plain(note))
    if check.results:
        frame = assumptions.label_intervals(calibration.table(check.results))
        styled = frame.style.map(lambda v: _VERDICT_COLOURS.get(v, ""), subset=["verdict"])
        st.dataframe(styled, hide_index=True, key="calibration_table")


def render_assumptions() -> None:
    """The key assumptions and limits (`assumptions.KEY_ASSUMPTIONS`, the report's words) with the
    documents that argue them, offered for download where this dashboard's folder has them."""
    with st.container(border=True, key="assumptions_box"):
        st.subheader(assumptions.KEY_ASSUMPTIONS_TITLE)
        st.markdown("\n".join(f"- {plain(line)}" for line in assumptions.KEY_ASSUMPTIONS))
        for (path, _what), line in zip(assumptions.READ_MORE, assumptions.read_more_lines(),
                                       strict=True):
            file = ROOT / path
            st.caption(plain(line))
            if file.is_file():
                st.download_button(f"Download {path}", lambda file=file: file.read_bytes(), file.name,
                                   "text/markdown", key=f"doc_{file.stem}", on_click="ignore")

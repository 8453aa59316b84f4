"""What both dashboard pages share: where scenarios live, the shared runs (a results cache and a
warm process pool, through `running`), error display, the baseline's calibration check and the key
assumptions. The comparison view itself is `view.py`.

Speed: a change re-runs only the scenarios whose resolved form changed (`running.simulation_key`);
finished batches are cached by (simulation key, seed, runs) in one process-wide store, so every
session and both pages reuse them; what a page needs runs as one batch on a process pool that
stays up between reruns (starting one costs about a second), the first runs of each scenario
first, so a slow batch can show a labelled partial answer. The progress bar appears only for a
batch that takes more than half a second.

Safety on a shared server: the pool is a `FairPool`, which takes chunks from the browser sessions in
turn, cancels a session's stale batch when that session starts a new one, and stops a batch that
runs past FUNDSIM_BATCH_SECONDS (120 s). Anything a scenario file or a user typed is shown as plain
text (`plain`), never as Markdown or HTML; the Compare page opens folders under the results
directories only (`allowed_folder`); every page runs inside an error boundary (`guarded`).
"""

from __future__ import annotations

import math
import os
import re
import time
import tomllib
import traceback
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard_pages import running
from dashboard_pages.running import simulation_key
from simulator import assumptions, calibration, report
from simulator.errors import FundsimError, ScenarioError, problem
from simulator.executors import FairPool, WorkerLost
from simulator.results import BatchResults
from simulator.runner import default_workers
from simulator.scenario import Scenario, load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DIR = ROOT / "scenarios"
BASELINE = SHIPPED_DIR / "baseline.toml"
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
        parsed = tomllib.loads(data.decode("utf-8-sig"))
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


@st.cache_resource(show_spinner=False)
def _results_cache() -> running.ResultsCache:
    return running.ResultsCache()


@st.cache_resource(show_spinner=False)
def _chunk_store() -> running.ChunkStore:
    return running.ChunkStore()


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


PROGRESS_SECONDS = 0.5
"""The progress bar appears once a batch has run this long, and is redrawn at most this often: a
quicker batch shows no bar, and every redraw costs the browser a re-render of the page (which, on
two cores, slows the simulation it reports on)."""


def answers(scenarios: Sequence[tuple[str, Scenario]], runs: int, seed: int,
            partial: bool = True) -> Iterator[running.Answer]:
    """The answer for these (label, scenario) pairs at `runs` and `seed`: from the cache, or run
    now as one batch of this session on the shared pool (`running.answers`), with a progress bar
    where this is called; first a partial answer when `partial` and it is worth drawing. A worker
    that dies is replaced and the missing chunks are run once more; `BatchTooLong`,
    `BatchCancelled` and the model's own errors come out as plain errors.

    While the batch runs, the bar is redrawn about every half second, also when no chunk arrives:
    each redraw is a point where Streamlit can stop a stale script run (a closed tab; a newer
    change also cancels the batch on the pool), and stopping it here cancels the batch."""
    requests = [running.Request(label, scenario, (simulation_key(scenario), seed, runs))
                for label, scenario in scenarios]
    what = plain(requests[0].label) if len(requests) == 1 else f"{len(requests)} scenarios"
    bar: Any = None
    started = time.monotonic()
    drawn = started  # no bar before PROGRESS_SECONDS
    count = (0, 1)

    def show() -> None:
        nonlocal bar, drawn
        now = time.monotonic()
        if now - drawn < PROGRESS_SECONDS:
            return
        drawn = now
        done, total = count
        text = f"Running {what}: {done:,} of {total:,} runs"
        if bar is None:
            bar = st.progress(min(done / total, 1.0), text=text)
        else:
            bar.progress(min(done / total, 1.0), text=text)

    def progress(done: int, total: int) -> None:
        nonlocal count
        count = (done, total)
        show()

    drawn_partial = False
    for attempt in (1, 2):
        try:
            for answer in running.answers(_pool(), session_id(), requests, _results_cache(),
                                          _chunk_store(), progress=progress, on_wait=show,
                                          partial_after=None if partial and not drawn_partial
                                          else math.inf):
                drawn_partial = drawn_partial or answer.partial
                if not answer.partial and bar is not None:
                    bar.empty()
                yield answer
            return
        except WorkerLost:  # a worker died (killed, out of memory): the pool starts new workers
            if attempt == 2:
                raise


def batch(scenario: Scenario, runs: int, seed: int, label: str) -> BatchResults:
    """The full batch for (scenario, seed, runs): from the cache, or run now with a progress bar."""
    return finished([(label, scenario)], runs, seed)[label]


def finished(scenarios: Sequence[tuple[str, Scenario]], runs: int,
             seed: int) -> dict[str, BatchResults]:
    """Full results for these (label, scenario) pairs, run as one batch where not cached."""
    *_, answer = answers(scenarios, runs, seed, partial=False)
    return answer.results


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

"""The dashboard's runner (`dashboard_pages/running.py`) on a real pool: a partial answer is
exactly the first runs' batch, the full answer is bit for bit `run_batch`'s, unchanged scenarios
are never run again, and a session's newer request stops its older ones."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from dashboard_pages import running
from simulator import load_scenario, run_batch
from simulator.executors import BatchCancelled, FairPool
from simulator.planner import three_year_counterpart

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = load_scenario(ROOT / "scenarios" / "annual.toml")
SEED, RUNS = 4, 1000


@pytest.fixture(scope="module")
def pool():
    shared = FairPool(2, start_method="spawn")
    yield shared
    shared.close()


def _request(scenario, runs: int = RUNS, label: str | None = None) -> running.Request:
    return running.Request(label or scenario.name, scenario,
                           (running.simulation_key(scenario), SEED, runs))


def _same(a, b) -> None:
    """Two batches hold the same numbers, bit for bit."""
    for table in ("runs", "years", "bands"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table), check_exact=True)


def _answers(pool, requests, session="test", **kwargs) -> list[running.Answer]:
    return list(running.answers(pool, session, requests, kwargs.pop("cache", running.ResultsCache()),
                                kwargs.pop("store", running.ChunkStore()), **kwargs))


def test_a_partial_answer_is_the_first_runs_batch_and_the_full_one_is_run_batchs(pool):
    """Both scenarios of a comparison, one of them already cached: the partial answer pairs the
    first 200 runs of each (the cached one's kept from when it ran), and the full answer is the
    1,000-run batch `fundsim run` gives."""
    other = three_year_counterpart(ANNUAL)
    cache = running.ResultsCache()
    _answers(pool, [_request(ANNUAL)], cache=cache, partial_after=math.inf)
    found = _answers(pool, [_request(ANNUAL, label="before"), _request(other, label="after")],
                     cache=cache, partial_after=0.0)
    assert [(a.partial, a.runs, a.of) for a in found] == [(True, 200, RUNS), (False, RUNS, RUNS)]
    partial, full = found
    assert list(partial.results) == list(full.results) == ["before", "after"]
    for label, scenario in (("before", ANNUAL), ("after", other)):
        _same(partial.results[label], run_batch(scenario, 200, SEED))
        _same(full.results[label], run_batch(scenario, RUNS, SEED))
    assert [b["tasks"] for b in pool.stats()[-2:]] == [
        len(running.plan(ANNUAL, RUNS, 2)), len(running.plan(other, RUNS, 2))]


def test_no_partial_answer_when_the_rest_would_come_soon_or_the_batch_is_small(pool):
    assert [a.partial for a in _answers(pool, [_request(ANNUAL)], partial_after=math.inf)] == [False]
    small = _answers(pool, [_request(ANNUAL, runs=300)], partial_after=0.0)
    assert [a.partial for a in small] == [False]  # fewer than twice the partial answer's runs
    _same(small[0].results[ANNUAL.name], run_batch(ANNUAL, 300, SEED))


def test_cached_scenarios_are_not_run_again_even_renamed(pool):
    cache = running.ResultsCache()
    first = _answers(pool, [_request(ANNUAL)], cache=cache, partial_after=math.inf)
    batches = len(pool.stats())
    renamed = ANNUAL.with_changes({"scenario.name": "annual, renamed"})
    again = _answers(pool, [_request(renamed)], cache=cache, partial_after=0.0)
    assert len(pool.stats()) == batches  # nothing submitted
    assert [a.partial for a in again] == [False]
    result = again[0].results["annual, renamed"]
    assert result.scenario.name == "annual, renamed"
    _same(result, first[0].results[ANNUAL.name])


def test_a_newer_request_of_the_same_session_stops_the_older_ones(pool):
    """Three edits in a row, each before the last one's runs finished: the first two batches are
    cancelled with chunks never run, and only the last runs to the end."""
    edits = [ANNUAL.with_changes({"funding.streams.core.amount_volatility": v})
             for v in (0.21, 0.22, 0.23)]
    started = []
    for scenario in edits:
        answers = running.answers(pool, "edits", [_request(scenario, runs=4000)],
                                  running.ResultsCache(), running.ChunkStore(), partial_after=0.0)
        assert next(answers).partial  # its first runs are in: the rest is still running
        started.append(answers)
    for stale in started[:2]:
        with pytest.raises(BatchCancelled, match="replaced by a newer change"):
            list(stale)
    *_, last = started[2]
    assert not last.partial
    stats = [b for b in pool.stats() if b["session"] == "edits"]
    assert [b["state"] for b in stats] == ["cancelled", "cancelled", "done"]
    assert all(b["submitted"] < b["tasks"] for b in stats[:2])
    _same(last.results[edits[2].name], run_batch(edits[2], 4000, SEED))


def test_a_rerun_runs_only_the_chunks_still_missing(pool):
    """Leaving a batch half-way (a view switched while runs were going) keeps its finished chunks:
    the same request again runs only the rest, and the answer is still bit for bit the same."""
    store, scenario = running.ChunkStore(), ANNUAL.with_changes({"organisation.contract_cover": 0.3})
    answers = running.answers(pool, "resume", [_request(scenario)], running.ResultsCache(), store,
                              partial_after=0.0)
    assert next(answers).partial
    answers.close()  # cancels the batch; the chunks already in are kept
    kept = len(store.chunks(_request(scenario).key))
    assert kept >= 2
    *_, full = _answers(pool, [_request(scenario)], session="resume", store=store,
                        partial_after=math.inf)
    assert pool.stats()[-1]["tasks"] == len(running.plan(scenario, RUNS, 2)) - kept
    _same(full.results[scenario.name], run_batch(scenario, RUNS, SEED))
    assert store.chunks(_request(scenario).key) == {}  # finished: kept in the results cache


def test_the_partial_answer_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(running.PARTIAL_SECONDS_ENV, raising=False)
    assert running.partial_seconds() == running.DEFAULT_PARTIAL_SECONDS
    for text, value in (("0", 0.0), ("2.5", 2.5), ("-1", running.DEFAULT_PARTIAL_SECONDS),
                        ("soon", running.DEFAULT_PARTIAL_SECONDS), ("inf", math.inf)):
        monkeypatch.setenv(running.PARTIAL_SECONDS_ENV, text)
        assert running.partial_seconds() == value, text


def test_plans_put_the_first_runs_first_and_cover_every_run_once():
    three = load_scenario(ROOT / "scenarios" / "three_year.toml")
    for runs in (100, 399, 400, 1000, 5000):
        bounds = running.plan(three, runs, 2)
        assert [r for start, stop in bounds for r in range(start, stop)] == list(range(runs))
        if runs >= 2 * running.PARTIAL_RUNS:
            assert bounds[:2] == [(0, 100), (100, 200)]

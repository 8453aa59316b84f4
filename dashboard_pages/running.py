"""The dashboard's runs: every scenario a page needs, simulated as one batch on the shared pool with
the first runs of each scenario first, so that a first answer can be drawn while the rest run.

No Streamlit here (the pages call it through `common.answers`), so it can be tested on a real pool
without a page.

* **One batch for all the scenarios a rerun needs.** `FairPool` keeps one batch per browser
  session, and a session's new batch cancels its stale one: that is how a newer edit stops an older
  one's runs, whatever the page was doing. Two scenarios run one after the other would make the
  first batch's end leave a worker idle; tasks of both scenarios in one batch keep both busy.
* **The first runs first.** Runs are keyed by (seed, run), so runs 0 to P-1 of a scenario are
  exactly its P-run batch. Runs 0 to P-1 of every scenario are the batch's first tasks, a chunk per
  worker; once they are in, and if the rest is expected to take at least `partial_seconds`, a
  partial `Answer` is yielded: the exact P-run answer, which the page labels as partial and then
  replaces. When the rest would come sooner, no partial answer is drawn: drawing costs the server
  and the browser time that would delay the full answer.
* **Exact full answers.** The full answer is assembled from every chunk in run order by
  `ResultsBuilder`, as `run_batch` does, so it is bit for bit the batch `fundsim run` gives.
* **Nothing run twice.** Finished results are cached by (simulation key, seed, runs) with their
  P-run prefix (`Done`), so an unchanged scenario costs nothing and still has a partial answer to
  pair with a changed one. Finished chunks of an unfinished batch are kept (`ChunkStore`), so a
  rerun that asks for the same scenarios (a view switched while runs were going) simulates only the
  chunks still missing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from simulator.executors import FairPool, quick_chunk_size
from simulator.results import BatchResults, ResultsBuilder
from simulator.runner import Chunk, chunk_bounds
from simulator.scenario import Scenario

Key = tuple[str, int, int]
"""(simulation key, seed, runs): what a batch's numbers depend on."""

PARTIAL_RUNS = 200
"""Runs of each scenario in a partial answer: enough for a headline with an interval a planner can
read (about 2.2 times the full answer's at 1,000 runs), few enough to come in a fraction of the
time. A batch of fewer than twice this many runs has no partial answer."""
PARTIAL_SECONDS_ENV = "FUNDSIM_PARTIAL_SECONDS"
DEFAULT_PARTIAL_SECONDS = 1.0
"""A partial answer is drawn only if the rest of the runs is expected to take at least this long.
Drawing one costs about 0.15 s of the server's CPU and 0.5 s of the browser's (measured in
Chromium on two cores, where the workers want both): the full answer comes that much later, which
is worth it only when it is a second or more away."""
CACHE_ENTRIES = 24
STORE_ENTRIES = 8


def partial_seconds() -> float:
    """FUNDSIM_PARTIAL_SECONDS, else 1 s: 0 draws every partial answer, a large value none."""
    text = os.environ.get(PARTIAL_SECONDS_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_PARTIAL_SECONDS
    except ValueError:
        return DEFAULT_PARTIAL_SECONDS
    return value if value >= 0 else DEFAULT_PARTIAL_SECONDS  # NaN is not >= 0 either


@dataclass(frozen=True)
class Request:
    """One scenario a page shows, under its display label."""

    label: str
    scenario: Scenario
    key: Key

    @property
    def runs(self) -> int:
        return self.key[2]

    @property
    def seed(self) -> int:
        return self.key[1]


@dataclass(frozen=True)
class Done:
    """A finished batch, and its first `PARTIAL_RUNS` runs as a batch of their own (None when the
    batch is too small to have a partial answer)."""

    full: BatchResults
    partial: BatchResults | None


@dataclass(frozen=True)
class Answer:
    """Results for every requested label, each holding `runs` of the `of` runs asked for."""

    results: dict[str, BatchResults]
    runs: int
    of: int

    @property
    def partial(self) -> bool:
        return self.runs < self.of


class ResultsCache:
    """The last few finished batches, keyed by (simulation key, seed, runs); shared by every
    session."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._data: OrderedDict[Key, Done] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Done | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            return None

    def put(self, key: Key, value: Done) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)


class ChunkStore:
    """Finished chunks of batches that have not finished yet, by batch key and first run; shared
    by every session, thread-safe, the least recently used batches forgotten first."""

    def __init__(self, entries: int = STORE_ENTRIES) -> None:
        self.entries = entries
        self._data: OrderedDict[Key, dict[int, Chunk]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: Key, chunk: Chunk) -> None:
        with self._lock:
            self._data.setdefault(key, {})[chunk.start] = chunk
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)

    def chunks(self, key: Key) -> dict[int, Chunk]:
        with self._lock:
            return dict(self._data.get(key, {}))

    def drop(self, key: Key) -> None:
        with self._lock:
            self._data.pop(key, None)


def plan(scenario: Scenario, runs: int, workers: int) -> list[tuple[int, int]]:
    """The chunks of one scenario's batch, in the order they are run: when the batch is large
    enough for a partial answer, runs 0 to PARTIAL_RUNS-1 first, in one chunk per worker, then the
    rest in chunks of about 0.2 s (`quick_chunk_size`). The same arguments always give the same
    chunks, so a rerun finds the chunks an earlier one finished."""
    if runs < 2 * PARTIAL_RUNS:
        return chunk_bounds(runs, quick_chunk_size(scenario, runs, workers))
    first = chunk_bounds(PARTIAL_RUNS, -(-PARTIAL_RUNS // workers))
    rest = runs - PARTIAL_RUNS
    return first + chunk_bounds(runs, quick_chunk_size(scenario, rest, workers), PARTIAL_RUNS)


def simulation_key(scenario: Scenario) -> str:
    """A fingerprint of what the simulation reads: the resolved scenario less its name and
    description, so renaming (or an edited copy identical to its comparator) never re-runs."""
    data = scenario.to_dict()
    data.pop("scenario", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def batch_label(requests: Sequence[Request]) -> str:
    """What the pool calls a batch in its stats and in a time-budget message."""
    if len(requests) == 1:
        return requests[0].label
    return f"the batch of {len(requests)} scenarios ({', '.join(r.label for r in requests)})"


def _named(results: BatchResults, scenario: Scenario) -> BatchResults:
    """Cached results under the scenario asked for: the simulation key leaves out the name and
    description, so the same numbers can belong to a renamed copy."""
    return results if results.scenario is scenario else dataclasses.replace(results, scenario=scenario)


class _Batch:
    """One missing scenario's chunks: planned, finished, and assembled into results."""

    def __init__(self, request: Request, workers: int, store: ChunkStore) -> None:
        self.request = request
        self.bounds = plan(request.scenario, request.runs, workers)
        self.first = [b for b in self.bounds if b[1] <= PARTIAL_RUNS] if (
            request.runs >= 2 * PARTIAL_RUNS) else []
        found = store.chunks(request.key)
        self.chunks = {start: found[start] for start, stop in self.bounds
                       if start in found and found[start].stop == stop}

    def missing(self) -> list[tuple[int, int]]:
        return [(start, stop) for start, stop in self.bounds if start not in self.chunks]

    def done(self) -> int:
        return sum(c.stop - c.start for c in self.chunks.values())

    def has_first(self) -> bool:
        return bool(self.first) and all(start in self.chunks for start, _ in self.first)

    def add(self, chunk: Chunk, store: ChunkStore) -> None:
        """A finished chunk, kept here and in the store (for a rerun, if this run is stopped)."""
        self.chunks[chunk.start] = chunk
        store.add(self.request.key, chunk)

    def results(self, runs: int) -> BatchResults:
        """Runs 0 to runs-1 from the planned chunks, in run order, as `run_batch` assembles them."""
        builder = ResultsBuilder(self.request.scenario, self.request.seed, runs)
        for start, stop in self.bounds:
            if stop <= runs:
                builder.add(self.chunks[start])
        result: BatchResults = builder.finish()
        return result


def answers(pool: FairPool, session: str, requests: Sequence[Request], cache: ResultsCache,
            store: ChunkStore, *, partial_after: float | None = None,
            progress: Callable[[int, int], None] | None = None,
            on_wait: Callable[[], None] | None = None) -> Iterator[Answer]:
    """The answer for `requests` (all with the same seed and runs): at most one partial answer,
    then the full one. Runs what is not cached as one `FairPool` batch of `session`, which cancels
    that session's stale batch; leaving early cancels this one. `partial_after` (seconds; default
    FUNDSIM_PARTIAL_SECONDS) is how long the rest must be expected to take for a partial answer
    to be worth drawing (infinite: never). `progress(done, total)` counts runs; `on_wait` is
    called about every half second while no chunk arrives (Streamlit stops a stale script run
    there)."""
    if not requests:
        return
    job = _Job(requests, cache, store, pool.workers)
    if not job.batches:
        yield job.answer(partial=False)
        return
    wait = partial_seconds() if partial_after is None else partial_after
    offer = math.isfinite(wait) and job.has_partial()
    total, done = job.total(), job.done()
    if progress is not None:
        progress(done, total)
    pending = offer
    if offer and job.first_runs_in():  # a rerun found them: draw them if most work is left
        pending = False
        if total - done >= PARTIAL_RUNS * len(job.batches):
            yield job.answer(partial=True)
    tasks, owners = job.tasks()
    if tasks:
        batch = pool.submit(session, tasks, batch_label([b.request for b in job.batches]))
        started, ran = time.monotonic(), 0
        try:
            for index, chunk in pool.results(batch, on_wait):
                owners[index].add(chunk, store)
                ran += chunk.stop - chunk.start
                done += chunk.stop - chunk.start
                if progress is not None:
                    progress(done, total)
                if pending and job.first_runs_in():
                    pending = False
                    rest = (total - done) * (time.monotonic() - started) / ran
                    if rest >= wait:
                        yield job.answer(partial=True)
        finally:
            pool.cancel(batch)  # whatever stopped this (an error, a rerun), nothing stays queued
    job.finish(cache, store)
    yield job.answer(partial=False)


class _Job:
    """What one page's answer needs: the cached scenarios, and a `_Batch` for each missing one."""

    def __init__(self, requests: Sequence[Request], cache: ResultsCache, store: ChunkStore,
                 workers: int) -> None:
        self.requests = list(requests)
        self.runs = self.requests[0].runs
        found = {r.key: cache.get(r.key) for r in self.requests}
        self.held: dict[Key, Done] = {k: d for k, d in found.items() if d is not None}
        missing = {r.key: r for r in self.requests if r.key not in self.held}
        self.batches = [_Batch(r, workers, store) for r in missing.values()]

    def has_partial(self) -> bool:
        """Large enough for a partial answer, and every cached scenario kept its first runs."""
        return self.runs >= 2 * PARTIAL_RUNS and all(
            d.partial is not None for d in self.held.values())

    def first_runs_in(self) -> bool:
        return all(b.has_first() for b in self.batches)

    def total(self) -> int:
        return self.runs * len(self.batches)

    def done(self) -> int:
        return sum(b.done() for b in self.batches)

    def tasks(self) -> tuple[list[tuple[Scenario, int, int, int]], list[_Batch]]:
        """The chunks still to run, the scenarios in turn (so the first runs of every scenario
        come first), and the batch each belongs to."""
        tasks, owners = [], []
        plans = [b.missing() for b in self.batches]
        for step in range(max(len(p) for p in plans)):
            for b, missing in zip(self.batches, plans, strict=True):
                if step < len(missing):
                    start, stop = missing[step]
                    tasks.append((b.request.scenario, b.request.seed, start, stop))
                    owners.append(b)
        return tasks, owners

    def finish(self, cache: ResultsCache, store: ChunkStore) -> None:
        """Every batch is complete: cache it (with its first runs) and forget its chunks."""
        for b in self.batches:
            self.held[b.request.key] = Done(
                b.results(self.runs), b.results(PARTIAL_RUNS) if b.first else None)
            cache.put(b.request.key, self.held[b.request.key])
            store.drop(b.request.key)

    def answer(self, partial: bool) -> Answer:
        """Every request's results: its first PARTIAL_RUNS runs, or all of them."""
        results = {}
        for r in self.requests:
            held = self.held.get(r.key)
            if held is None:  # only while partial: a finished job has every batch done
                found = next(b for b in self.batches if b.request.key == r.key)
                results[r.label] = found.results(PARTIAL_RUNS)
                continue
            chosen = held.partial if partial else held.full
            assert chosen is not None  # `has_partial` asked for every cached partial answer
            results[r.label] = _named(chosen, r.scenario)
        return Answer(results, PARTIAL_RUNS if partial else self.runs, self.runs)

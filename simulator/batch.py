"""Streaming, resumable batches: the CLI's way to run scenarios (the dashboard keeps `run_batch`).

Each scenario gets a `ChunkStore`; chunks are simulated by any executor (in-process, process pool,
Dask), written to disk the moment they finish, and assembled in run order at the end. All scenarios
share the chunk bounds, the seed and so the random numbers. With a precision `Target`, runs are
added stage by stage until the interval is narrow enough (see `precision.py`).

The chunk size is fixed when a batch starts and recorded in its manifest (by default it depends on
the run count only, never on the workers), so a batch resumed with other workers or on a cluster
produces the same files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RunError, UsageError
from .executors import ChunkExecutor, Task, WorkerLost
from .precision import Target, widest_half_width
from .runner import chunk_bounds
from .scenario import Scenario
from .streaming import ChunkStore, partial_folder

Advance = Callable[[int, int, int | None], None]
"""Progress: called with (scenario index, runs just finished, new total or None)."""


def stream_chunk_size(runs: int) -> int:
    """About 32 chunks a batch, 10 to 500 runs each: small enough to lose little to a kill, large
    enough that per-chunk files stay few (200 at 100,000 runs). Depends on `runs` only."""
    return max(10, min(500, math.ceil(runs / 32)))


@dataclass
class BatchOutcome:
    """What a finished batch wrote and, with a target, why it stopped."""

    folders: list[Path]
    runs: int
    resumed: bool
    stop: dict[str, Any] | None = None
    chunk_size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def preflight(folders: list[Path], resume: bool, force: bool) -> None:
    """Refuse before anything runs: an existing results folder, or an unfinished batch without
    --resume/--force (every target is checked before any scenario starts)."""
    for folder in folders:
        if folder.exists() and not force:
            raise UsageError(f"{folder}: results folder already exists; use --force to replace it "
                             "(nothing was run)")
    for folder in folders:
        if partial_folder(folder).exists() and not resume and not force:
            raise UsageError(f"{partial_folder(folder)}: an unfinished batch is here; add --resume "
                             "to finish it, or --force to start again (nothing was run)")


def run_streaming(jobs: list[tuple[Scenario, Path]], runs: int, seed: int, executor: ChunkExecutor,
                  chunk_size: int | None = None, resume: bool = False, force: bool = False,
                  target: Target | None = None, advance: Advance | None = None) -> BatchOutcome:
    """Run every scenario into its results folder, chunk by chunk, resumably."""
    folders = [folder for _, folder in jobs]
    preflight(folders, resume, force)
    resumed = any(partial_folder(f).exists() for f in folders) and resume
    plan = {"runs": runs, "chunk_size": chunk_size, "target": target.as_plan() if target else None}
    if not resume:
        plan["chunk_size"] = chunk_size or stream_chunk_size(runs)
    stores: list[ChunkStore] = []
    for scenario, folder in jobs:
        if resume and plan["chunk_size"] is None and partial_folder(folder).exists():
            store = ChunkStore.open(folder, scenario, seed, plan, resume=True, force=force)
            plan["chunk_size"] = store.chunk_size
        else:
            if plan["chunk_size"] is None:
                plan["chunk_size"] = stream_chunk_size(runs)
            store = ChunkStore.open(folder, scenario, seed, plan, resume=resume, force=force)
        stores.append(store)
    size = int(plan["chunk_size"])
    settled = next((store.manifest for store in stores if store.assembled), None)
    stop_info: dict[str, Any] | None = None
    if settled is not None:  # killed while assembling: the run count (and stop) is decided
        runs, stop_info = int(settled["runs"]), settled.get("stop")
        stages = [runs]
    else:
        stages = target.stages() if target else [runs]
    first = 0
    for stage_end in stages:
        bounds = chunk_bounds(stage_end, size, first)
        if advance is not None:
            for j, store in enumerate(stores):
                done = sum(b - a for a, b in bounds if b - a and not store.missing([(a, b)]))
                advance(j, done, stage_end)
        _run_stage(stores, seed, bounds, executor, advance)
        if target is not None and settled is None:
            series = [store.metric_values(target.metric, stage_end) for store in stores]
            width = widest_half_width(series)
            reached = width <= target.width
            if reached or stage_end == stages[-1]:
                stop_info = {
                    "reason": "target reached" if reached else "max runs reached",
                    "metric": target.metric, "target_half_width": target.width,
                    "half_width": width if math.isfinite(width) else None,
                    "runs": stage_end, "stage_runs": target.stage_runs,
                    "max_runs": target.max_runs,
                    "of": "paired difference against the first scenario" if len(stores) > 1
                    else "mean",
                }
                runs = stage_end
                break
        first = stage_end
    extra = {"stop": stop_info} if stop_info else {}
    for store in stores:  # every folder assembled before any is renamed: the window is tiny
        store.assemble(runs, extra)
    written = [store.publish(force) for store in stores]
    return BatchOutcome(written, runs, resumed, stop_info, size)


def _run_stage(stores: list[ChunkStore], seed: int, bounds: list[tuple[int, int]],
               executor: ChunkExecutor, advance: Advance | None) -> None:
    tasks: list[Task] = []
    owner: list[int] = []
    for j, store in enumerate(stores):
        for start, stop in store.missing(bounds):
            tasks.append((store.scenario, seed, start, stop))
            owner.append(j)
    try:
        for index, chunk in executor.map_unordered(tasks):
            stores[owner[index]].add(chunk)
            if advance is not None:
                advance(owner[index], chunk.stop - chunk.start, None)
    except WorkerLost as exc:
        kept = "; ".join(store.kept_message() for store in stores)
        raise RunError(f"{exc}. {kept}") from None

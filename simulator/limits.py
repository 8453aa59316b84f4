"""Caps on how much work one command may ask for, and the flag that lifts them.

Why: `--runs 10**12` once filled 6 GB in 34 s (the chunk plan alone is billions of entries),
`--workers 64` started 64 processes and 7.2 GB on a 2-core laptop, and `--max-runs 10**12` ended in
"internal error: MemoryError". A typo should stop at once with a message, not take the machine.
The soft caps sit well above any batch the README describes (100,000 runs take about 3 minutes on
2 cores) and `--allow-large` lifts them for a deliberate large job; the hard limits stay, because
beyond them the plan itself no longer fits in memory or the numbers mean nothing.
"""

from __future__ import annotations

import os

from .errors import UsageError

RUNS_CAP = 1_000_000
"""About half an hour on 2 cores at 500 runs/s; the 95% interval is then already 30x narrower
than at 1,000 runs."""
RUNS_HARD = 100_000_000
"""A streamed batch's manifest lists every chunk; beyond this the plan and manifest stop fitting
comfortably in memory."""
CHUNK_CAP = 10_000
"""A chunk is held in memory until written: 10,000 six-year runs are about 40 MB of arrays."""
CHUNK_HARD = 1_000_000
SWEEP_POINTS_CAP = 1_000
SWEEP_POINTS_HARD = 100_000
WORKERS_HARD = 1_024


def workers_cap() -> int:
    """More worker processes than cores only adds memory (about 110 MB each), never speed."""
    return max(1, os.cpu_count() or 1)


def check(option: str, value: int | None, cap: int, hard: int, allow_large: bool, why: str) -> None:
    """Refuse `value` above `cap` (unless `allow_large`) or above `hard` (always), saying why."""
    if value is None:
        return
    if value > hard:
        raise UsageError(f"{option} {value:,}: at most {hard:,}, even with --allow-large ({why})")
    if value > cap and not allow_large:
        raise UsageError(f"{option} {value:,}: at most {cap:,} unless you add --allow-large ({why}); "
                         "nothing was run")


def check_batch(runs: int, max_runs: int | None, workers: int | None, chunk_size: int | None,
                allow_large: bool) -> None:
    """The caps of `run` and `sweep`."""
    runs_why = "a typo here would take days and fill the memory with the plan"
    check("--runs", runs, RUNS_CAP, RUNS_HARD, allow_large, runs_why)
    check("--max-runs", max_runs, RUNS_CAP, RUNS_HARD, allow_large, runs_why)
    check("--workers", workers, workers_cap(), WORKERS_HARD, allow_large,
          f"this machine has {workers_cap()} cores; more processes than cores add memory, not speed")
    check("--chunk-size", chunk_size, CHUNK_CAP, CHUNK_HARD, allow_large,
          "a chunk is held in memory until it is written")


def check_points(points: int, allow_large: bool) -> None:
    """The cap on a sweep's number of points (each is a whole batch)."""
    check("sweep points", points, SWEEP_POINTS_CAP, SWEEP_POINTS_HARD, allow_large,
          "every point is a whole batch of --runs runs")

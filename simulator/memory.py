"""A batch in memory: `run_batch`, for notebooks and the dashboard (the CLI streams chunks to
disk instead, `batch.run_streaming`, with the same numbers bit for bit).

Its own module so that the layers import one way only: `runner` simulates chunks; `executors`
run them on processes; `results` holds them; this module puts the three together.
"""

from __future__ import annotations

from . import arguments, limits
from .executors import ChunkExecutor, ProcessExecutor
from .results import BatchResults, ResultsBuilder
from .runner import ProgressCallback, chunk_bounds, default_chunk_size
from .scenario import Scenario


def run_batch(scenario: Scenario, runs: int, seed: int, workers: int | None = None,
              chunk_size: int | None = None, progress: ProgressCallback | None = None,
              executor: ChunkExecutor | None = None) -> BatchResults:
    """Monte Carlo of one scenario: `runs` runs with root seed `seed`, as a `BatchResults`.

    In memory, for notebooks and the dashboard (which passes its warm `executor`); the CLI streams
    chunks to disk instead (`batch.run_streaming`), with the same numbers bit for bit. Without an
    executor, a process pool of `workers` is started for this batch and closed after it.
    """
    scenario = arguments.scenario(scenario)
    runs = arguments.whole("runs", runs, 1, limits.RUNS_HARD)
    seed = arguments.whole("seed", seed, 0)
    workers = arguments.optional_whole("workers", workers, 1, limits.WORKERS_HARD)
    chunk_size = arguments.optional_whole("chunk_size", chunk_size, 1, limits.CHUNK_HARD)
    own = executor is None
    pool = ProcessExecutor(workers) if executor is None else executor
    size = chunk_size or default_chunk_size(runs, pool.workers)
    tasks = [(scenario, seed, start, stop) for start, stop in chunk_bounds(runs, size)]
    builder = ResultsBuilder(scenario, seed, runs)
    try:
        for _, chunk in pool.map_unordered(tasks):
            builder.add(chunk)
            if progress is not None:
                progress(chunk.stop - chunk.start)
    finally:
        if own:
            pool.close()
    result: BatchResults = builder.finish()
    return result

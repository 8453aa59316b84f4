"""Many scenario variants, the same runs of each: the per-run outputs that sensitivity analysis,
`fundsim value` and appraisal compute their answers from, without writing a results folder for each.

Every variant runs runs 0..runs-1 with the same seed, so run i of every variant draws the same
random numbers (common random numbers): the difference between two variants, run by run, is the
change's effect and not chance, and a mean over runs is a smooth function of the varied numbers
(what a root-finder and a sensitivity estimator need). Chunks run on any `ChunkExecutor` (this
process, the process pool, a Dask cluster) and are put back by position, so the numbers never
depend on which worker ran what.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import UsageError
from .executors import ChunkExecutor, Task
from .model.records import RUN_OUTPUTS, YEAR_OUTPUTS
from .runner import chunk_bounds
from .scenario import Scenario

Progress = Callable[[int], None]
"""Called with the number of runs just finished."""


def check_metric(metric: str, option: str = "--metric") -> str:
    """A per-run output's name, or a usage error that lists the names there are."""
    if metric not in RUN_OUTPUTS:
        raise UsageError(f"{option} {metric!r}: not an output of a run; choose one of "
                         f"{', '.join(RUN_OUTPUTS)}")
    return metric


def chunk_size_for(runs: int, variants: int, workers: int) -> int:
    """Chunks large enough that a chunk's set-up is small against its runs, small enough that
    every worker has work when there are few variants."""
    per_variant = max(1, -(-runs * variants // (4 * max(1, workers))))
    return max(1, min(runs, 500, per_variant))


@dataclass(frozen=True)
class Evaluation:
    """Per-run outputs of each variant: `runs[v, i, k]` is output `metrics[k]` of run i of
    variant v; `years[v, i, y, k]` (when asked for) is year output `year_metrics[k]` in year y."""

    metrics: tuple[str, ...]
    runs: np.ndarray
    year_metrics: tuple[str, ...] = ()
    years: np.ndarray | None = None

    def of(self, metric: str) -> np.ndarray:
        """(variants, runs) array of one per-run output."""
        return self.runs[:, :, self.metrics.index(metric)]

    def year_of(self, metric: str) -> np.ndarray:
        """(variants, runs, years) array of one yearly output."""
        if self.years is None:
            raise ValueError("this evaluation kept no yearly outputs")
        return self.years[:, :, :, self.year_metrics.index(metric)]


def evaluate(variants: Sequence[Scenario], runs: int, seed: int, executor: ChunkExecutor,
             metrics: Sequence[str] = RUN_OUTPUTS, year_metrics: Sequence[str] = (),
             workers: int = 1, progress: Progress | None = None) -> Evaluation:
    """Runs 0..runs-1 of every variant with `seed`; only the asked outputs are kept."""
    metrics = tuple(metrics)
    year_metrics = tuple(year_metrics)
    columns = [RUN_OUTPUTS.index(m) for m in metrics]
    year_columns = [YEAR_OUTPUTS.index(m) for m in year_metrics]
    size = chunk_size_for(runs, len(variants), workers)
    bounds = chunk_bounds(runs, size)
    tasks: list[Task] = [(v, seed, start, stop) for v in variants for start, stop in bounds]
    out = np.empty((len(variants), runs, len(metrics)))
    years: np.ndarray | None = None
    for index, chunk in executor.map_unordered(tasks):
        v = index // len(bounds)
        out[v, chunk.start:chunk.stop] = chunk.runs[:, columns]
        if year_columns:
            if years is None:
                years = np.empty((len(variants), runs, chunk.years.shape[1], len(year_columns)))
            years[v, chunk.start:chunk.stop] = chunk.years[:, :, year_columns]
        if progress is not None:
            progress(chunk.stop - chunk.start)
    return Evaluation(metrics, out, year_metrics, years)

"""Precision targets: run more until the 95% CI half-width of a metric is small enough.

Deterministic by construction: runs are added in stages of a fixed size (`--runs`), which depends
on nothing random and on no worker; the rule is checked only when a whole stage is done, on runs
0..n-1 in run order, so the stopping point is a function of scenario, seed and options alone, not
of which chunk finished first. With two or more scenarios the rule applies to the paired run-by-run
difference of each against the first (the widest of those intervals must be narrow enough), which
is what a reviewer reads off `fundsim compare`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .analysis import mean_ci

DEFAULT_MAX_RUNS = 100_000


@dataclass(frozen=True)
class Target:
    """Stop once the 95% CI half-width of `metric` is at most `width` (or at `max_runs`)."""

    width: float
    metric: str
    stage_runs: int
    max_runs: int = DEFAULT_MAX_RUNS

    def stages(self) -> list[int]:
        """Run counts at which the rule is checked: stage_runs, 2 x stage_runs, ..., max_runs."""
        stops = list(range(self.stage_runs, self.max_runs, self.stage_runs))
        return [*stops, self.max_runs]

    def as_plan(self) -> dict[str, Any]:
        return {"width": self.width, "metric": self.metric, "stage_runs": self.stage_runs,
                "max_runs": self.max_runs}


def half_width(values: np.ndarray) -> float:
    """Half-width of the 95% t interval of the mean (infinite when it cannot be computed yet)."""
    _, low, high = mean_ci(values)
    if math.isnan(low) or math.isnan(high):
        return math.inf
    return (high - low) / 2


def widest_half_width(series: list[np.ndarray]) -> float:
    """One scenario: its own interval. Several: the widest paired interval against the first."""
    if len(series) == 1:
        return half_width(series[0])
    return max(half_width(other - series[0]) for other in series[1:])

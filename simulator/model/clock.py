"""The run's clock: the SimPy environment, the current fiscal year, timed actions, and the one
closed-form integral every component uses."""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

TINY = 1e-9
"""£m (or £m a month) below which an amount is treated as nothing (rounding, not money)."""


class Clock:
    """Months since the run began (`now`), the fiscal year in progress, and `at` to run an action
    at a later time as a SimPy timeout (events at equal times run in the order they were set)."""

    def __init__(self) -> None:
        self.env = simpy.Environment()
        self.year = 0

    @property
    def now(self) -> float:
        return self.env.now

    def year_end(self) -> float:
        """When the fiscal year in progress ends (months since the start)."""
        return 12.0 * (self.year + 1)

    def at(self, when: float, action: Callable[[], object]) -> None:
        event = self.env.timeout(when - self.env.now)
        event.callbacks.append(lambda _e: action())


def decayed_span(rate: float, dt: float) -> float:
    """Integral of exp(-rate * s) for s in [0, dt]: the span an exponentially decaying level
    contributes (dt itself when nothing decays)."""
    if rate * dt < 1e-12:
        return dt
    return -math.expm1(-rate * dt) / rate

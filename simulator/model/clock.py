"""The run's clock: the SimPy environment, the current fiscal year, timed actions, and the one
closed-form integral every component uses."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

import simpy

TINY: Final = 1e-9
"""£m (or £m a month) below which an amount is treated as nothing (rounding, not money)."""


_TIMEOUT: Final = simpy.Timeout
"""What `env.timeout(delay)` makes, called directly: `Timeout(env, delay)`, without looking up the
environment's bound method and calling through it for each of a run's ~98 events."""


class Clock:
    """Months since the run began (`now`), the fiscal year in progress, and `at` to run an action
    at a later time as a SimPy timeout (events at equal times run in the order they were set).

    `now` is the SimPy time of the event being handled, kept as a plain float: every timed action
    sets it as it fires. Read through SimPy's
    `Environment.now` property it cost an interpreted call several hundred times a run."""

    def __init__(self) -> None:
        self.env = simpy.Environment()
        self.year = 0
        self.now = 0.0

    def year_end(self) -> float:
        """When the fiscal year in progress ends (months since the start)."""
        return 12.0 * (self.year + 1)

    def at(self, when: float, action: Callable[[], None]) -> float:
        """Run `action` at `when` (a SimPy timeout whose callback sets `now` first); returns the
        time SimPy gives it: its clock plus the delay, rounded as SimPy rounds it."""
        return self._after(when - self.now, action)

    def close(self) -> None:
        """Let reference counting free a finished run. SimPy's `Environment` binds its event
        constructors to itself (a reference cycle), and its queue holds the timeouts still pending
        past the horizon, whose callbacks hold the components: left so, every run was garbage only
        the cyclic collector could free, about a tenth of a compiled run's time. Emptied, a run is
        freed as soon as it is dropped. The environment cannot be used afterwards."""
        env = self.env
        env._queue.clear()
        vars(env).clear()

    def _after(self, delay: float, action: Callable[[], None]) -> float:
        fires = self.now + delay
        event = _TIMEOUT(self.env, delay)
        event.callbacks.append(Timed(self, fires, action))
        return fires


class Timed:
    """A timed action: the callback of its SimPy timeout."""

    def __init__(self, clock: Clock, fires: float, action: Callable[[], None]) -> None:
        self.clock = clock
        self.fires = fires
        self.action = action

    def __call__(self, _event: simpy.Event) -> None:
        self.clock.now = self.fires
        self.action()


_expm1: Final = math.expm1
"""math.expm1 held in a constant: mypyc has no native expm1, and a constant spares the look-up of
`math.expm1` at each of a run's ~550 calls (about a third of the call's cost; the same function)."""


def decayed_span(rate: float, dt: float) -> float:
    """Integral of exp(-rate * s) for s in [0, dt]: the span an exponentially decaying level
    contributes (dt itself when nothing decays)."""
    if rate * dt < 1e-12:
        return dt
    return -_expm1(-rate * dt) / rate


def least(a: float, b: float, c: float) -> float:
    """`min(a, b, c)` as Python computes it (the first of the least, by `<`), without boxing three
    floats for the built-in: mypyc compiles `min` of two floats natively, not of three."""
    m = a
    if b < m:
        m = b
    if c < m:
        m = c
    return m

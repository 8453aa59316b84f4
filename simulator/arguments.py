"""What the Python API checks about its arguments before any work.

A notebook that passes a path where a scenario belongs, zero runs, a negative seed or a float run
number gets a fundsim error naming the argument, the value and the rule, as the CLI does for its
options, and nothing is run. Before these checks such calls ended in a traceback from deep inside
(pathlib, concurrent.futures, numpy), and a negative seed never returned: SeedSequence reads a
seed as 32-bit words, and splitting a negative number into words never ends.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    from .scenario import Scenario


def whole(name: str, value: Any, low: int, high: int | None = None) -> int:
    """A whole number (a Python or numpy integer, not a bool, float or string) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name} = {_show(value)}: must be a whole number")
    number = int(value)
    if number < low:
        raise UsageError(f"{name} = {number}: must be {low} or more")
    if high is not None and number > high:
        raise UsageError(f"{name} = {number:,}: must be at most {high:,}")
    return number


def optional_whole(name: str, value: Any, low: int, high: int) -> int | None:
    """`whole`, or None where None means "the default"."""
    return None if value is None else whole(name, value, low, high)


def scenario(value: Any) -> Scenario:
    """A `Scenario`, as `load_scenario` or `scenario_from_dict` give one."""
    from .scenario import Scenario

    if not isinstance(value, Scenario):
        raise UsageError(f"scenario = {_show(value)}: must be a Scenario; read a file with "
                         "load_scenario(path), or a dict with scenario_from_dict(data)")
    return value


def path(name: str, value: Any) -> Path:
    """A file or folder path: a string or an `os.PathLike` such as `pathlib.Path`."""
    if not isinstance(value, (str, os.PathLike)) or value == "":
        raise UsageError(f"{name} = {_show(value)}: must be a path (a str or pathlib.Path)")
    return Path(value)


def _show(value: Any) -> str:
    text = repr(value)
    kind = type(value).__name__
    shown = text if len(text) <= 60 else text[:57] + "..."
    return shown if kind in ("str", "int", "float", "NoneType", "bool") else f"{shown} ({kind})"

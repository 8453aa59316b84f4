"""What every `fundsim` command shares at its edges: argument types that refuse bad numbers with
argparse's own exit code 2, and strict JSON for `--json` output. Its own module so that the
sub-commands kept outside `cli.py` (`calibrate_command.py`) use the same pieces without importing
the CLI that imports them."""

from __future__ import annotations

import argparse
import math
from typing import Any


def positive_int(text: str) -> int:
    """A whole number of at least 1 (runs, workers, generations)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def seed(text: str) -> int:
    """A root seed: a whole number of 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def json_safe(value: Any) -> Any:
    """Strict JSON for jq and JavaScript: a statistic that cannot be computed is null, not NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value

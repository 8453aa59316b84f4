"""What every `fundsim` command shares at its edges: argument types that refuse bad numbers with
argparse's own exit code 2, and strict JSON for `--json` output. Its own module so that the
sub-commands kept outside `cli.py` (`calibrate_command.py`) use the same pieces without importing
the CLI that imports them."""

from __future__ import annotations

import argparse
import math
from typing import Any


def _whole_number(text: str, least: int, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} {rule}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1 (runs, workers, generations)."""
    return _whole_number(text, 1, "must be at least 1")


def finite_float(text: str) -> float:
    """A number that is neither NaN nor infinite (a level to compare outputs with)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number")
    return value


def paired_runs(text: str) -> int:
    """Runs of a comparison with 95% intervals: a paired interval needs at least two runs (one
    gives a standard error of NaN, printed as "nan" intervals)."""
    return _whole_number(text, 2, "must be at least 2 for a 95% interval")


def seed(text: str) -> int:
    """A root seed: a whole number of 0 or more."""
    return _whole_number(text, 0, "must be 0 or more")


def json_safe(value: Any) -> Any:
    """Strict JSON for jq and JavaScript: a statistic that cannot be computed is null, not NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    """Where the runs go besides the local pool: an existing Dask cluster, or a LocalCluster
    (`run`, `sweep` and `sensitivity` alike; `cli._executor` reads them)."""
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786")
    where.add_argument("--cluster", choices=["local"], default=None,
                       help="start a Dask LocalCluster on 127.0.0.1 (--workers processes)")

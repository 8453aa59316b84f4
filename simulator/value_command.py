"""`fundsim value A B`: the value of certainty in money (issue 11). The extra core money a year
scenario A needs for its mean of a metric to match scenario B's, found by root-finding on common
random numbers with a delta-method 95% CI, and the value of each month earlier that A's core money
is confirmed, as one sentence (`value.py`, docs/value.md).

Exit codes: 0 answered, 2 bad input (a scenario file, an unknown metric, an option) or a question
with no answer within the searched limits (A cannot match B with any amount of core money).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import limits
from .errors import UsageError
from .options import json_safe, paired_runs, positive_int, seed

if TYPE_CHECKING:  # imported when the command runs (scipy.optimize costs start-up, issue 10)
    from rich.console import Console

    from .value import ValueResult

EXIT_OK = 0
UP_FRONT = 5
"""Evaluations before the search: A, B, A at +-step, A one month earlier."""
TYPICAL_SEARCH = 6
"""Bracket and brentq evaluations of a typical search, plus two at the root."""


def add_parser(sub: Any) -> None:
    """The `value` sub-command's options."""
    p = sub.add_parser(
        "value", help="the value of certainty in money: extra core money A needs to match B",
        description="Find the extra core money a year scenario A would need for its mean of a "
                    "metric to match scenario B's (root-finding with scipy.optimize.brentq on "
                    "common random numbers: every evaluation runs the same runs), with a 95% "
                    "confidence interval by the delta method, and the value of each month earlier "
                    "that A's core money is confirmed. Prints one sentence and a table "
                    "(docs/value.md).")
    p.add_argument("a", metavar="A", help="the scenario given the extra money (e.g. "
                   "scenarios/annual.toml)")
    p.add_argument("b", metavar="B", help="the scenario to match (e.g. scenarios/three_year.toml)")
    p.add_argument("--metric", default="disruptions_total", metavar="M",
                   help="the per-run output whose mean A must match (disruptions_total)")
    p.add_argument("--runs", type=paired_runs, default=2000,
                   help="runs per evaluation, at least 2 (2000); every evaluation runs the same runs")
    p.add_argument("--seed", type=seed, default=1, help="root seed (1)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes (default: all cores); results do not depend on it")
    p.add_argument("--json", action="store_true", help="print one JSON object, no table")
    p.add_argument("--save", metavar="FILE", default=None,
                   help="also write that JSON object to FILE, for `fundsim report --value FILE`")


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Carry out `fundsim value` (see the module docstring for exit codes)."""
    from .evaluate import check_metric
    from .executors import ProcessExecutor
    from .scenario import load_scenario
    from .value import value_of_certainty

    check_metric(args.metric)
    if args.runs > limits.RUNS_CAP:
        raise UsageError(f"--runs is capped at {limits.RUNS_CAP:,}")
    if args.workers is not None and args.workers > limits.workers_cap():
        raise UsageError(f"--workers {args.workers}: must be from 1 to {limits.workers_cap()}")
    if args.save is not None:
        _check_save(Path(args.save))
    a = load_scenario(args.a)
    b = load_scenario(args.b)
    typical = UP_FRONT + TYPICAL_SEARCH
    if not args.json:
        err.print(f"cost: about {typical} evaluations of {args.runs:,} runs (about "
                  f"{typical * args.runs:,} model runs; {UP_FRONT} up front, then the search, which "
                  "takes more when the answer is far from a straight line)", markup=False)
    executor = ProcessExecutor(args.workers)
    bar = _bar(err) if not args.json and err.is_terminal else None
    try:
        if bar is None:
            result = value_of_certainty(a, b, args.metric, args.runs, args.seed, executor,
                                        workers=executor.workers)
        else:
            with bar:
                task = bar.add_task("value: runs", total=typical * args.runs)

                def progress(done: int) -> None:
                    current = bar.tasks[0]
                    if current.completed + done > (current.total or 0):
                        bar.update(task, total=(current.total or 0) + args.runs)
                    bar.advance(task, done)

                result = value_of_certainty(a, b, args.metric, args.runs, args.seed, executor,
                                            workers=executor.workers, progress=progress)
                bar.update(task, total=bar.tasks[0].completed)  # the estimate was only that
    finally:
        executor.close()
    payload = {"command": "value", "a_file": str(args.a), "b_file": str(args.b),
               "a_sha256": a.sha256(), "b_sha256": b.sha256(), **result.to_dict()}
    text = json.dumps(json_safe(payload), indent=2, allow_nan=False)
    if args.save is not None:
        from .files import write_atomic

        write_atomic(Path(args.save), (text + "\n").encode())
    if args.json:
        out.print(text, markup=False)
        return EXIT_OK
    out.print(result.sentence(), markup=False)
    _table(out, result)
    return EXIT_OK


def _check_save(path: Path) -> None:
    """Before anything runs: the folder must exist, and an existing file may be replaced only if
    it is an earlier `fundsim value` answer (never someone's other file)."""
    from .decision_report import read_value

    if not path.parent.is_dir():
        raise UsageError(f"--save {path}: the folder {path.parent} does not exist (nothing was run)")
    if path.exists() or path.is_symlink():
        try:
            if path.is_symlink() or not path.is_file():
                raise UsageError("not a plain file")
            read_value(path)
        except UsageError:
            raise UsageError(f"--save {path}: a file is there that `fundsim value` did not write; "
                             "it was left untouched: choose another name (nothing was run)") from None


def _bar(err: Console) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=getattr(err, "console", err))


def _table(out: Console, r: ValueResult) -> None:
    from rich.table import Table

    from .value import money

    table = Table(title=f"{r.b} against {r.a}: mean {r.metric}, {r.runs:,} paired runs (seed "
                        f"{r.seed})", title_justify="left")
    table.add_column("quantity", overflow="fold")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_row(f"mean {r.metric}: {r.a} / {r.b}", f"{r.mean_a:,.1f} / {r.mean_b:,.1f}", "")
    table.add_row(f"break-even extra {r.stream} money X* (£m a year)", money(r.value_m),
                  f"{money(r.ci_low)} to {money(r.ci_high)}")
    table.add_row(f"mean {r.metric} of {r.a} at X*", f"{r.mean_a_at_value:,.1f}", "")
    table.add_row(f"slope at X* ({r.metric} per £m a year)", f"{r.slope:,.2f}", "")
    if r.month is not None:
        m = r.month
        table.add_row(f"one month earlier {r.stream} confirmation of {r.a} ({r.metric})",
                      f"{m.slope:+,.1f}", f"{m.slope_low:+,.1f} to {m.slope_high:+,.1f}")
        table.add_row("  ... in £m a year of core money", money(m.value_m),
                      f"{money(m.value_low)} to {money(m.value_high)}")
    table.add_row("search bracket (£m a year)", f"{money(r.bracket[0])} to {money(r.bracket[1])}",
                  "")
    table.add_row("evaluations (model runs)", f"{len(r.evaluations)} ({len(r.evaluations) * r.runs:,})",
                  "")
    out.print(table)
    if r.month_note:
        out.print(r.month_note, markup=False)
    out.print("X*: brentq on common random numbers (the same runs every evaluation); CI by the "
              "delta method, Var(X*) = Var(a_i(X*) - b_i) / n / slope^2 (plus brentq's £0.05m tolerance), "
              "the slope from A at X* "
              "+- £2m; Monte Carlo precision given these scenario files, not a range over other "
              "assumptions (docs/value.md).", markup=False)

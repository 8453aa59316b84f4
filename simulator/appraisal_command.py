"""`fundsim appraise A.toml B.toml`: a Green Book appraisal of settlement B against A.

Present values over the appraisal period at the Green Book discount rate, with optimism bias on
capital spend, of each scenario and of their paired difference B - A (the same runs of each), the
net present social value and benefit-cost ratio when a social value per disruption is given, and
how the conclusion moves with the appraisal period (docs/appraisal.md).

Exit codes: 0 done, 2 bad input (a scenario file, an `[appraisal]` table or an option).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from . import limits
from .errors import ScenarioError, UsageError
from .options import json_safe, paired_runs, positive_int, seed
from .scenario import load_scenario

if TYPE_CHECKING:
    from rich.console import Console

    from .appraisal import Appraisal

EXIT_OK = 0


def add_parser(sub: Any) -> None:
    """The `appraise` sub-command's options."""
    p = sub.add_parser(
        "appraise", help="Green Book appraisal of settlement B against A (present values, NPSV, BCR)",
        description="Run both scenarios with the same seed (run i of each shares its random "
                    "numbers) and print, in present value at the Green Book discount rate over "
                    "the appraisal period of their [appraisal] tables: disruptions, money spent, "
                    "lapsed and overrun, capability spend with optimism bias, the cost; the "
                    "difference B - A with 95% intervals; net present social value and the "
                    "benefit-cost ratio when a social value per disruption is given, otherwise "
                    "the switching value; and the conclusion for every appraisal period from 1 "
                    "year. See docs/appraisal.md.")
    p.add_argument("a", metavar="A", help="the counterfactual, e.g. scenarios/annual.toml")
    p.add_argument("b", metavar="B", help="the option appraised against it, e.g. "
                   "scenarios/three_year.toml")
    p.add_argument("--runs", type=paired_runs, default=2000,
                   help="runs of each scenario, at least 2 (2000)")
    p.add_argument("--seed", type=seed, default=1, help="root seed (1)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes (default: all cores); results do not depend on it")
    p.add_argument("--json", action="store_true", help="print one JSON object, no table")


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Carry out `fundsim appraise` (see the module docstring for exit codes)."""
    from .appraisal import appraise
    from .executors import ProcessExecutor

    if args.runs > limits.RUNS_CAP:
        raise UsageError(f"--runs is capped at {limits.RUNS_CAP:,}")
    if args.workers is not None and args.workers > limits.workers_cap():
        raise UsageError(f"--workers {args.workers}: must be from 1 to {limits.workers_cap()}")
    problems = []
    scenarios = []
    for file in (args.a, args.b):
        try:
            scenarios.append(load_scenario(file))
        except ScenarioError as exc:
            problems.append(str(exc))
    if problems:
        raise UsageError("\n".join(problems))
    a, b = scenarios
    executor = ProcessExecutor(args.workers)
    chatty = not args.json and sys.stderr.isatty()
    done = [0]

    def progress(runs: int) -> None:
        done[0] += runs
        if chatty:
            err.print(f"\rappraise: {done[0]:,} of {2 * args.runs:,} runs", end="")

    try:
        result = appraise(a, b, args.runs, args.seed, executor, workers=executor.workers,
                          progress=progress)
    finally:
        executor.close()
    if chatty:
        err.print("")
    if args.json:
        payload = {"a_file": args.a, "b_file": args.b, **result.to_dict()}
        out.print(json.dumps(json_safe(payload), indent=2, allow_nan=False), markup=False)
        return EXIT_OK
    _print(out, result)
    return EXIT_OK


def _money(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:,.1f}"


def _pm(mean: float, ci: tuple[float, float], fmt: Any = _money) -> str:
    return f"{fmt(mean)} ({fmt(ci[0])} to {fmt(ci[1])})"


def _print(out: Console, r: Appraisal) -> None:
    from rich.table import Table

    from .appraisal import horizon_table

    s = r.settings
    rates = f"{s.discount_rate:.1%}" + (f" ({s.long_term_discount_rate:.1%} after year 30)"
                                        if r.period > 31 else "")
    title = (f"{r.b} against {r.a}: present values over {r.period} years at {rates} "
             f"({r.runs:,} runs, seed {r.seed})")
    table = Table(title=title, title_justify="left")
    for column in ("measure", r.a, r.b, f"{r.b} - {r.a} (95% CI)"):
        table.add_column(column, overflow="fold", justify="left" if column == "measure" else "right")
    for row in r.rows():
        table.add_row(row["label"], _money(row[r.a]), _money(row[r.b]),
                      _pm(row["difference"], row["difference_ci"]))
    out.print(table)
    keys = ["disruptions_total", "cost_m", "lapsed_funds_m"] + (["npsv_m"] if r.valued else [])
    labels = {"disruptions_total": "extra disruptions", "cost_m": "extra cost £m",
              "lapsed_funds_m": "extra lapsed £m", "npsv_m": "extra NPSV £m"}
    horizon = Table(title="The conclusion by appraisal period (B - A, present values, 95% CI)",
                    title_justify="left")
    horizon.add_column("years", justify="right")
    for key in keys:
        horizon.add_column(labels[key], justify="right")
    horizon.add_column("verdict")
    horizon.add_column("switching value £k", justify="right")
    for row in horizon_table(r):
        horizon.add_row(str(row["years"]), *(_pm(row[k], row[f"{k}_ci"]) for k in keys),
                        row["verdict_words"],
                        _money(row["switching_value_k"]))
    out.print(horizon)
    uplift = ", ".join(f"{name} {u:.0%}" for name, u in r.uplift.items())
    tail = ("nothing is counted after the simulated horizon" if s.tail == "none" or
            r.period <= r.simulated_years else
            f"years {r.simulated_years} to {r.period - 1} repeat the flows of year "
            f"{r.simulated_years - 1}, the last simulated")
    out.print(f"Year 0 is the first simulated year, undiscounted; cost = spent + bid overhead + "
              f"optimism bias on capability spend (capex-weighted uplift: {uplift}); lapsed money "
              f"returns to the Treasury and is not a cost; {tail}.", markup=False)
    out.print(r.sentence(), markup=False)

"""`fundsim calibrate SCENARIO`: the scenario's runs against published figures, target by target;
with `--fit`, the free parameters estimated first and a calibrated scenario file written.

Exit codes: 0 every target met or within tolerance, 1 any target missed (so a test or CI can hold
the shipped baseline to its targets), 2 bad input (scenario, targets file or options).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import limits, uncertain
from .errors import UsageError
from .options import json_safe, positive_int, seed
from .scenario import load_scenario

if TYPE_CHECKING:  # imported when the command runs: every `fundsim` command builds this parser,
    # and calibration and fitting (scipy.optimize, pandas) cost 0.3 s to import (issue 10)
    from rich.console import Console

    from . import calibration
    from .executors import ProcessExecutor

EXIT_OK, EXIT_MISSED = 0, 1


def add_parser(sub: Any) -> None:
    """The `calibrate` sub-command's options."""
    p = sub.add_parser(
        "calibrate", help="check a scenario against published figures (and fit free parameters)",
        description="Run the scenario and print, for every calibration target, the model's mean "
                    "with its 95% Monte Carlo interval and the runs' 5-95% spread, the published "
                    "band, the tolerance, a verdict and the source. Exit 0 if every target is met "
                    "or within tolerance, 1 if any misses, 2 on bad input. With --fit, first "
                    "estimate the named parameters (differential evolution on common random "
                    "numbers), write a calibrated scenario file and check that.")
    p.add_argument("file", metavar="SCENARIO", help="the scenario file to check (e.g. "
                   "scenarios/baseline.toml)")
    p.add_argument("--targets", type=Path, default=None, metavar="FILE",
                   help="calibration targets (calibration/targets.toml)")
    p.add_argument("--runs", type=positive_int, default=1000, help="runs for the check (1000)")
    p.add_argument("--seed", type=seed, default=1, help="root seed (1)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes (default: all cores); results do not depend on it")
    p.add_argument("--json", action="store_true", help="print one JSON object, no table")
    p.add_argument("--fit", action="append", default=None, metavar="PATH=LOW:HIGH",
                   help="a number field to estimate within LOW..HIGH (repeatable)")
    p.add_argument("--fit-runs", type=positive_int, default=200,
                   help="runs per trial point while fitting (200); the check uses --runs")
    p.add_argument("--generations", type=positive_int, default=8,
                   help="differential-evolution generations (8)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="with --fit: the calibrated scenario file to write "
                        "(<scenario>-calibrated.toml beside the scenario)")
    p.add_argument("--force", action="store_true",
                   help="with --fit: replace an existing --out file (only a calibrated scenario "
                        "fundsim wrote)")
    p.add_argument("--list-measures", action="store_true",
                   help="print the measures a targets file may name, and exit")


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Carry out `fundsim calibrate` (see the module docstring for exit codes)."""
    from . import calibration, fitting
    from .executors import ProcessExecutor

    if args.targets is None:
        args.targets = calibration.DEFAULT_TARGETS
    if args.list_measures:
        for name, (_, meaning) in calibration.MEASURES.items():
            out.print(f"{name}: {meaning}", markup=False)
        return EXIT_OK
    if args.runs > limits.RUNS_CAP or args.fit_runs > limits.RUNS_CAP:
        raise UsageError(f"--runs and --fit-runs are capped at {limits.RUNS_CAP:,}")
    if args.workers is not None and args.workers > limits.workers_cap():
        raise UsageError(f"--workers {args.workers}: must be from 1 to {limits.workers_cap()}")
    scenario = load_scenario(args.file)
    targets = calibration.load_targets(args.targets)
    source = Path(args.file)
    params = [fitting.parse_fit(text, scenario) for text in (args.fit or [])]
    out_file = None
    if params:
        out_file = args.out or source.with_name(f"{source.stem}-calibrated.toml")
        fitting.check_out(out_file, source, args.force)  # before any run
    elif args.out is not None:
        raise UsageError("--out names the calibrated scenario file, which only --fit writes")
    chatty = not args.json and sys.stderr.isatty()
    payload: dict[str, Any] = {"scenario": str(source), "targets_file": str(args.targets),
                               "runs": args.runs, "seed": args.seed}
    executor = ProcessExecutor(args.workers)
    try:
        before = calibration.check(targets, *_tables(scenario, args.runs, args.seed, executor))
        payload["before" if params else "targets"] = [r.as_dict() for r in before]
        if not args.json:
            _print(out, f"{scenario.name} against {args.targets}", before, args.runs, args.seed)
            note = uncertain.describe(scenario)
            if note:
                out.print(note, markup=False)
        results = before
        if params:
            def progress(evaluations: int, best: float) -> None:
                if chatty:
                    err.print(f"\rfit: {evaluations} trial points, best misfit {best:.4g}", end="")

            found = fitting.fit(scenario, targets, params, args.fit_runs, args.seed, executor,
                                generations=args.generations, progress=progress)
            if chatty:
                err.print("")
            calibrated_values = {p.path: float(f"{found.values[p.path]:.4g}") for p in params}
            calibrated = scenario.with_changes(calibrated_values)
            results = calibration.check(targets, *_tables(calibrated, args.runs, args.seed, executor))
            note = [f"From {source.name} against "
                    f"{Path(args.targets).name}: differential evolution over "
                    + ", ".join(f"{p.path} in [{p.low:g}, {p.high:g}]" for p in params)
                    + f", {found.evaluations} trial points of {args.fit_runs} runs (seed {args.seed}),"
                    f" misfit {found.misfit:.4g}.",
                    "Targets still missed: " + (", ".join(r.target.id for r in results
                                                          if not r.passed) or "none") + "."]
            fitting.write_calibrated(source, scenario, calibrated_values, out_file, note)
            payload["fit"] = {"method": "scipy.optimize.differential_evolution",
                              "parameters": [{"path": p.path, "low": p.low, "high": p.high,
                                              "value": calibrated_values[p.path]} for p in params],
                              "misfit": found.misfit, "trial_points": found.evaluations,
                              "runs_per_point": args.fit_runs, "written": str(out_file)}
            payload["targets"] = [r.as_dict() for r in results]
            if not args.json:
                out.print("")
                for p in params:
                    out.print(f"fitted {p.path} = {calibrated_values[p.path]:g} "
                              f"(searched {p.low:g} to {p.high:g})", markup=False)
                out.print(f"misfit {found.misfit:.4g} after {found.evaluations} trial points of "
                          f"{args.fit_runs} runs; wrote {out_file}", markup=False)
                _print(out, f"{scenario.name} with the fitted values", results, args.runs, args.seed)
    finally:
        executor.close()
    missed = [r.target.id for r in results if not r.passed]
    payload["passed"] = not missed
    payload["missed"] = missed
    if args.json:
        out.print(json.dumps(json_safe(payload), indent=2, allow_nan=False), markup=False)
    elif missed:
        out.print(f"{len(missed)} of {len(results)} targets missed: {', '.join(missed)}",
                  markup=False)
    else:
        out.print(f"all {len(results)} targets met or within tolerance", markup=False)
    return EXIT_MISSED if missed else EXIT_OK


def _tables(scenario: Any, runs: int, seed: int, executor: ProcessExecutor) -> tuple[Any, Any]:
    from .memory import run_batch

    batch = run_batch(scenario, runs, seed, executor=executor)
    return batch.runs, batch.years


def _print(out: Console, title: str, results: list[calibration.Result], runs: int,
           seed: int) -> None:
    from rich.table import Table
    from rich.text import Text

    from . import calibration

    table = Table(title=f"{title} ({runs:,} runs, seed {seed})", title_justify="left")
    for column in ("target", "model mean (95% CI)", "runs 5-95%", "published", "tolerance",
                   "verdict", "source"):
        table.add_column(column, overflow="fold")
    for r in results:
        m = r.target.measure
        style = {"meets": "green", "within tolerance": "yellow", "misses": "bold red"}[r.verdict]
        table.add_row(r.target.title,
                      f"{calibration.fmt(r.mean, m)} ({calibration.fmt(r.ci_low, m)} to "
                      f"{calibration.fmt(r.ci_high, m)})",
                      f"{calibration.fmt(r.p5, m)} to {calibration.fmt(r.p95, m)}",
                      calibration.band(r.target), calibration.tolerance_text(r.target),
                      Text(r.verdict, style=style), f"{r.target.source} ({r.target.date})")
    out.print(table)
    out.print("The model's value is the mean over runs with its 95% Monte Carlo interval; "
              "'runs 5-95%' is the spread of single runs (what could happen in one six-year "
              "stretch).", markup=False)

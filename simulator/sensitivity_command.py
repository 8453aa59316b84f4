"""`fundsim sensitivity`: which assumptions the answer rests on (sensitivity.py has the method,
sensitivity_folder.py the folder). Says the cost in model runs before it starts, refuses a design
above `--budget`, shows a progress bar on a terminal, and prints the factors most influential first
with one sentence a reviewer can repeat."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import folders, limits, locking
from .errors import UsageError
from .evaluate import check_metric
from .options import add_cluster_options, json_safe, positive_int, seed
from .sensitivity import (
    METHODS,
    check_factors,
    check_samples,
    cost_points,
    declared_factors,
    default_samples,
    factors_from_file,
    make_design,
)
from .sensitivity_folder import DEFAULT_METRIC, Study, folder_name, preflight, run_study

DEFAULT_RUNS = 200


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sensitivity", help="what drives the answer: tornado, Morris or Sobol over ranges",
        description="Vary assumptions over ranges and measure what moves a metric (or, with "
                    "--against, the paired gain of SCENARIO over OTHER): one at a time (tornado), "
                    "Morris screening, or Sobol indices with bootstrap intervals (SALib). Every "
                    "point runs the same runs with the same seed. Writes DIR/<name>-<method>/.")
    p.add_argument("file", metavar="SCENARIO", help="scenario file, e.g. scenarios/three_year.toml")
    p.add_argument("--against", metavar="OTHER", default=None,
                   help="measure SCENARIO minus OTHER, run by run (e.g. scenarios/annual.toml)")
    p.add_argument("--ranges", metavar="FILE", default=None,
                   help="TOML of field path = { low = L, high = H } or a bounded distribution "
                        "(default: the scenario's [uncertain] parameters)")
    p.add_argument("--method", choices=METHODS, default="oat",
                   help="oat (tornado, 1 + 2 x factors points), morris (trajectories x (factors + "
                        "1)), sobol (N x (factors + 2)); default oat")
    p.add_argument("--metric", default=DEFAULT_METRIC,
                   help="a per-run output (disruptions_total); another metric's study is named "
                        "with a -<metric> suffix")
    p.add_argument("--samples", type=positive_int, default=None,
                   help="Morris trajectories (10) or Sobol base sample N, a power of 2 (64)")
    p.add_argument("--runs", type=positive_int, default=DEFAULT_RUNS,
                   help=f"runs per point and scenario ({DEFAULT_RUNS})")
    p.add_argument("--seed", type=seed, default=1, help="root seed (1); also seeds the design")
    p.add_argument("--budget", type=positive_int, default=None, metavar="RUNS",
                   help="refuse a design that needs more model runs than this")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes (default: all cores); results do not depend on it")
    add_cluster_options(p)
    p.add_argument("--out", default="results", metavar="DIR", help="results folder (results/)")
    p.add_argument("--force", action="store_true", help="replace an existing study")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted study (same files and options), keeping its work")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--json", action="store_true", help="print one JSON object, no progress")


def run(args: argparse.Namespace, out: Any, err: Any, load_all: Callable, make_executor: Callable,
        bars: Callable) -> int:
    """The command, with the CLI's own scenario loading, executors and progress bars."""
    metric = check_metric(args.metric)
    if args.method == "oat" and args.runs < 2:
        raise UsageError(f"--runs {args.runs}: must be at least 2 for the tornado's paired 95% "
                         "intervals (Morris and Sobol take 1)")
    limits.check_batch(args.runs, None, args.workers, None, False)
    files = [args.file] + ([args.against] if args.against else [])
    loaded = load_all(files)
    (path, scenario), other = loaded[0], (loaded[1] if len(loaded) > 1 else None)
    if args.ranges is not None:
        factors = factors_from_file(args.ranges, scenario)
        source = f"--ranges {args.ranges}"
    else:
        factors = declared_factors(scenario)
        source = f"{path} [uncertain]"
    check_factors(factors, [(str(p), s) for p, s in loaded], source)
    samples = args.samples if args.samples is not None else default_samples(args.method)
    if args.method == "oat" and args.samples is not None:
        raise UsageError("--samples: one at a time has no samples (it runs 1 + 2 x factors points)")
    check_samples(args.method, samples)
    points = cost_points(args.method, len(factors), samples)
    cost = points * args.runs * len(loaded)
    what = (f"{args.method} over {len(factors)} factors: {points:,} points x {args.runs:,} runs"
            f"{' x 2 scenarios' if other else ''} = {cost:,} model runs")
    if args.budget is not None and cost > args.budget:
        raise UsageError(f"--budget {args.budget:,}: this study needs {what}; lower --samples or "
                         "--runs, or raise --budget (nothing was run)")
    design = make_design(args.method, factors, samples, args.seed)
    study = Study(scenario, other[1] if other else None, design, metric, args.runs, args.seed)
    stem = folders.results_name(path)
    folder = folders.inside(Path(args.out), folder_name(
        stem, folders.results_name(other[0]) if other else None, args.method, metric))
    preflight(folder, args.resume, args.force)
    if not args.quiet and not args.json:
        err.print(f"{what}.", markup=False)
        if args.method == "oat":
            for note in filter(None, (f.base_note() for f in factors)):
                err.print(f"note: {note}.", markup=False)
    executor = make_executor(args)
    try:
        with locking.locked([folder]), bars(args) as progress:
            progress.add(0, f"{args.method} ({points:,} points)", cost)
            advance = progress.advancer()
            outcome = run_study(study, folder, executor, workers=args.workers or 1,
                                resume=args.resume, force=args.force,
                                progress=lambda runs: advance(0, runs, None))
    finally:
        executor.close()
    summary = summarise(study, outcome.rows)
    if args.json:
        payload = {"command": "sensitivity", "folder": str(outcome.folder), "method": args.method,
                   "metric": metric, "against": other[1].name if other else None,
                   "runs": args.runs, "seed": args.seed, "samples": samples, "points": points,
                   "cost_runs": cost, "resumed": outcome.resumed, "summary": summary,
                   "factors": outcome.rows}
        out.print(json.dumps(json_safe(payload), indent=2, allow_nan=False), markup=False)
    elif not args.quiet:
        _print_table(out, args.method, outcome.rows)
        out.print(summary, markup=False)
        out.print(f"wrote {outcome.folder}", markup=False)
    return 0


def what_is_measured(metric: str, scenario: str, other: str | None) -> str:
    """"the gain in disruptions_total of three_year over annual" where more is better, else "the
    difference in lapsed_funds_m, three_year minus annual" (a gain in lapsed money is a loss)."""
    from .analysis import BETTER_WHEN

    if other is None:
        return f"{metric} of {scenario}"
    if BETTER_WHEN.get(metric) == "higher":
        return f"the gain in {metric} of {scenario} over {other}"
    return f"the difference in {metric}, {scenario} minus {other}"


def summarise(study: Study, rows: list[dict[str, Any]]) -> str:
    return summary_sentence(study.design.method, what_is_measured(
        study.metric, study.scenario.name, study.other.name if study.other else None),
        study.runs, rows, paired=study.other is not None)


def summary_of_folder(manifest: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The same sentence from a finished folder's manifest (for reports and the dashboard)."""
    return summary_sentence(manifest["method"], what_is_measured(
        manifest["metric"], manifest["scenario_name"], manifest.get("other_name")),
        manifest["runs"], rows, paired=manifest.get("other_name") is not None)


def summary_sentence(method: str, measured: str, runs: int, rows: list[dict[str, Any]],
                     paired: bool, top: int = 3) -> str:
    """One sentence: the top drivers, in the method's own terms."""
    shown = rows[:top]
    if method == "oat":
        base = shown[0]["base"] if shown else float("nan")
        parts = [f"{r['factor']} ({r['low_value']:.4g} to {r['high_value']:.4g}: "
                 f"{r['low_effect']:+,.1f} to {r['high_effect']:+,.1f})" for r in shown]
        flips = [r["factor"] for r in rows if paired and any(
            (base + r[k] > 0) != (base > 0) for k in ("low_effect", "high_effect"))]
        tail = (f" Within these ranges it changes sign when {', '.join(flips)} moves."
                if flips else (" No single factor within its range changes its sign."
                               if paired else ""))
        at = (f"base {base:,.1f}, 95% CI {shown[0]['base_ci_low']:,.1f} to "
              f"{shown[0]['base_ci_high']:,.1f}" if shown and "base_ci_low" in shown[0]
              else f"base {base:,.1f}")
        return (f"Tornado of {measured} ({at}, every factor at its central value, {runs:,} runs "
                f"a point): it moves most with {'; '.join(parts)}.{tail}")
    if method == "morris":
        parts = [f"{r['factor']} (mu* {r['mu_star']:,.1f} ± {r['mu_star_conf']:,.1f}, sigma "
                 f"{r['sigma']:,.1f})" for r in shown]
        return f"Morris screening of {measured}: the most influential factors are {'; '.join(parts)}."
    parts = [f"{r['factor']} (total {r['ST']:.2f} ± {r['ST_conf']:.2f}, alone {r['S1']:.2f} ± "
             f"{r['S1_conf']:.2f})" for r in shown]
    odd = any(r["S1"] > r["ST"] or r["ST"] > 1 for r in rows)
    caveat = (" Some estimates have the alone share above the total, or above 1: sampling error "
              "within their intervals (more --samples narrow them)." if odd else "")
    return (f"Sobol indices of {measured}: the share of its variance across the ranges each factor "
            f"explains is largest for {'; '.join(parts)}.{caveat}")


def _print_table(out: Any, method: str, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=f"{method}: most influential first")
    table.add_column("factor")
    if method == "oat":
        cols = [("low → high", None), ("effect at low (95% CI)", None), ("effect at high (95% CI)", None)]
    elif method == "morris":
        cols = [("mu*", None), ("± 95%", None), ("mu", None), ("sigma", None)]
    else:
        cols = [("S1", None), ("± 95%", None), ("ST", None), ("± 95%", None)]
    for name, _ in cols:
        table.add_column(name, justify="right")
    for r in rows:
        if method == "oat":
            cells = [f"{r['low_value']:.4g} → {r['high_value']:.4g}",
                     f"{r['low_effect']:+,.1f} ({r['low_ci_low']:+,.1f} to {r['low_ci_high']:+,.1f})",
                     f"{r['high_effect']:+,.1f} ({r['high_ci_low']:+,.1f} to {r['high_ci_high']:+,.1f})"]
        elif method == "morris":
            cells = [f"{r['mu_star']:,.2f}", f"{r['mu_star_conf']:,.2f}", f"{r['mu']:,.2f}",
                     f"{r['sigma']:,.2f}"]
        else:
            cells = [f"{r['S1']:.3f}", f"{r['S1_conf']:.3f}", f"{r['ST']:.3f}", f"{r['ST_conf']:.3f}"]
        table.add_row(r["factor"], *cells)
    out.print(table)

"""The `fundsim` command: validate scenario files, run Monte Carlo batches, compare results.

Exit codes: 0 done, 2 bad input (one message naming the file, the field, the value and the rule;
never a traceback), 1 anything else. Progress bars go to stderr and only on a terminal, so logs
and pipes stay clean; tables go to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .analysis import MAIN_METRICS, compare_runs, describe
from .errors import FundsimError, ScenarioError, UsageError
from .model import RUN_OUTPUTS
from .results import load_results, save_results
from .runner import run_batch
from .scenario import Scenario, load_scenario

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundsim",
        description="Simulate what the shape of funding (settlement length, confirmation timing, "
                    "in-year money) does to delivery, with uncertainty bands.")
    parser.add_argument("--version", action="version", version=f"fundsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check scenario files; print what is wrong or ok",
                       description="Check scenario files completely: print ok, or every problem "
                                   "with its file, field, value and rule (exit 2).")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = sub.add_parser("run", help="Monte Carlo of each scenario with common random numbers",
                       description="Run each scenario with the same seeds (run i of every scenario "
                                   "shares its random numbers) and write DIR/<file stem>/.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--runs", type=_positive_int, default=1000, help="runs per scenario (1000)")
    p.add_argument("--seed", type=_seed, default=1, help="root seed (1)")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes (default: all cores); results do not depend on it")
    p.add_argument("--chunk-size", type=_positive_int, default=None,
                   help="runs per chunk of work; results do not depend on it")
    p.add_argument("--out", default="results", metavar="DIR", help="results folder (results/)")
    p.add_argument("--force", action="store_true", help="replace existing results folders")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")

    p = sub.add_parser("compare", help="paired run-by-run comparison of results folders",
                       description="Distributions side by side and the paired difference B - A "
                                   "(matched by run) with a 95%% confidence interval and the "
                                   "probability that B is greater. With more than two folders, "
                                   "each against the first.")
    p.add_argument("folders", nargs="+", metavar="RESULTS")
    p.add_argument("--metric", action="append", choices=RUN_OUTPUTS, metavar="M",
                   help="a per-run output to compare (repeatable; default: the main ones)")
    p.add_argument("--json", action="store_true", help="print one JSON object (a list for 3+)")

    p = sub.add_parser("report", help="one offline HTML report (and Excel tables) of results",
                       description="Write one self-contained HTML file (charts embedded, opens "
                                   "offline) comparing results folders with the first: headline, "
                                   "paired differences with 95%% CIs, parameter differences and "
                                   "each folder's manifest facts. --xlsx also writes the tables "
                                   "as an Excel workbook.")
    p.add_argument("folders", nargs="+", metavar="RESULTS")
    p.add_argument("--out", default="report.html", metavar="FILE", help="HTML file (report.html)")
    p.add_argument("--xlsx", metavar="FILE", help="also write the tables to this Excel workbook")
    p.add_argument("--force", action="store_true", help="replace existing report files")

    p = sub.add_parser("dashboard", help="open the planners' dashboard in a browser",
                       description="Start the Streamlit dashboard (dashboard.py): Explore moves "
                                   "settlement sliders, Compare puts results folders side by side.")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to serve on (127.0.0.1: this machine only)")
    p.add_argument("--port", type=_positive_int, default=8501, help="port (8501)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints its own message; bad usage is bad input
        return EXIT_BAD_INPUT if exc.code not in (0, None) else EXIT_OK
    try:
        commands = {"validate": cmd_validate, "run": cmd_run, "compare": cmd_compare,
                    "report": cmd_report, "dashboard": cmd_dashboard}
        return commands[args.command](args)
    except FundsimError as exc:
        err.print(f"error: {exc}", markup=False, style="bold red")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        err.print("interrupted: finished results folders are kept; unfinished ones were not written")
        return 130
    except Exception as exc:  # a bug: say so plainly, without a traceback
        err.print(f"fundsim: internal error: {type(exc).__name__}: {exc}", markup=False)
        return EXIT_ERROR


def cmd_validate(args: argparse.Namespace) -> int:
    failed = False
    for file in args.files:
        try:
            scenario = load_scenario(file)
        except ScenarioError as exc:
            failed = True
            err.print(str(exc), markup=False)
            continue
        out.print(f"{file}: ok ({scenario.name})", markup=False)
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _load_all(files: Sequence[str]) -> list[tuple[Path, Scenario]]:
    problems = []
    loaded = []
    for file in files:
        try:
            loaded.append((Path(file), load_scenario(file)))
        except ScenarioError as exc:
            problems.append(str(exc))
    if problems:
        raise UsageError("\n".join(problems))
    stems = [p.stem for p, _ in loaded]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise UsageError(f"two scenario files share the name {dupes[0]!r}: their results folders "
                         "would collide; rename one")
    return loaded


def cmd_run(args: argparse.Namespace) -> int:
    loaded = _load_all(args.files)
    out_dir = Path(args.out)
    targets = [out_dir / path.stem for path, _ in loaded]
    if not args.force:
        existing = [str(t) for t in targets if t.exists()]
        if existing:
            raise UsageError(f"{existing[0]}: results folder already exists; use --force to "
                             "replace it (nothing was run)")
    show_progress = err.is_terminal and not args.quiet
    finished = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, disable=not show_progress) as progress:
        for (path, scenario), target in zip(loaded, targets, strict=True):
            task = progress.add_task(path.stem, total=args.runs)
            results = run_batch(scenario, args.runs, args.seed, workers=args.workers,
                                chunk_size=args.chunk_size,
                                progress=lambda n, task=task: progress.advance(task, n))
            save_results(results, target, force=args.force)
            finished.append((path.stem, results))
    if not args.quiet:
        _print_run_summary(finished, args)
    return EXIT_OK


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _print_run_summary(finished, args) -> None:
    table = Table(title=f"{args.runs} runs per scenario, seed {args.seed} "
                        f"(mean, with 5th-95th percentile)")
    table.add_column("metric")
    for name, _ in finished:
        table.add_column(name, justify="right")
    for metric in MAIN_METRICS:
        cells = []
        for _, results in finished:
            d = describe(results.runs[metric].to_numpy())
            cells.append(f"{_fmt(d['mean'])}  [{_fmt(d['p5'])} - {_fmt(d['p95'])}]")
        table.add_row(metric, *cells)
    out.print(table)
    for name, results in finished:
        out.print(f"wrote {Path(args.out) / name}/ ({len(results.runs)} runs)", markup=False)


def cmd_compare(args: argparse.Namespace) -> int:
    if len(args.folders) < 2:
        raise UsageError("compare needs at least two results folders")
    loaded = [(Path(f).name, load_results(f)) for f in args.folders]
    metrics = tuple(args.metric) if args.metric else MAIN_METRICS
    base_name, base = loaded[0]
    reports = []
    for name, other in loaded[1:]:
        if other.seed != base.seed:
            err.print(f"note: {name} used seed {other.seed} and {base_name} seed {base.seed}: runs "
                      "are matched by index but do not share random numbers, so the interval is "
                      "wider than with common random numbers", markup=False)
        report = compare_runs(base_name, base.runs, name, other.runs, metrics)
        if report["runs"] == 0:
            raise UsageError(f"{base_name} and {name} have no run indices in common")
        reports.append(report)
    if args.json:
        payload = reports[0] if len(reports) == 1 else reports
        out.print(json.dumps(_json_safe(payload), indent=2, allow_nan=False), markup=False)
        return EXIT_OK
    for report, (_, other) in zip(reports, loaded[1:], strict=True):
        _print_comparison(report, base, other)
    return EXIT_OK


def _json_safe(value):
    """Strict JSON for jq and JavaScript: a statistic that cannot be computed is null, not NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _print_comparison(report, base, other) -> None:
    a, b = report["a"], report["b"]
    years = base.scenario.horizon.years
    table = Table(title=f"{b} against {a}: {report['runs']} paired runs, {years}-year horizon")
    table.add_column("metric")
    table.add_column(f"{a} mean [p5 - p95]", justify="right")
    table.add_column(f"{b} mean [p5 - p95]", justify="right")
    table.add_column("B - A (95% CI)", justify="right")
    table.add_column("P(B > A)", justify="right")
    for m in report["metrics"]:
        da, db, d = m["a"], m["b"], m["paired_difference"]
        table.add_row(
            m["metric"],
            f"{_fmt(da['mean'])} [{_fmt(da['p5'])} - {_fmt(da['p95'])}]",
            f"{_fmt(db['mean'])} [{_fmt(db['p5'])} - {_fmt(db['p95'])}]",
            f"{d['mean']:+,.1f} ({d['ci_low']:+,.1f} to {d['ci_high']:+,.1f})",
            f"{m['prob_b_greater']:.0%}",
        )
    out.print(table)
    headline = next((m for m in report["metrics"] if m["metric"] == "disruptions_total"), None)
    if headline is not None:
        d = headline["paired_difference"]
        verb = "adds" if d["mean"] >= 0 else "loses"
        out.print(
            f"{b} {verb} {abs(d['mean']):,.0f} disruptions over {years} years against {a} "
            f"(95% CI {d['ci_low']:+,.0f} to {d['ci_high']:+,.0f}) and gives more in "
            f"{headline['prob_b_greater']:.0%} of paired runs.", markup=False)


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    targets = [Path(args.out)] + ([Path(args.xlsx)] if args.xlsx else [])
    for target in targets:
        if target.exists() and not args.force:
            raise UsageError(f"{target}: already exists; use --force to replace it")
    write_report(args.folders, args.out, args.xlsx)
    size = Path(args.out).stat().st_size / 1e6
    out.print(f"wrote {args.out} ({size:.1f} MB; opens in any browser without a network)"
              + (f" and {args.xlsx}" if args.xlsx else ""), markup=False)
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve dashboard.py with Streamlit until interrupted (Ctrl+C). The process becomes the
    Streamlit server (exec), so signals and the exit code are Streamlit's own."""
    app = Path(__file__).resolve().parent.parent / "dashboard.py"
    if not app.is_file():
        raise UsageError(f"{app}: the dashboard ships with the repository; run fundsim dashboard "
                         "from a clone installed with `pip install -e .` (or `make dashboard`)")
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address",
               args.address, "--server.port", str(args.port), "--browser.gatherUsageStats", "false"]
    err.print(f"fundsim dashboard on http://{args.address}:{args.port} (Ctrl+C stops it)",
              markup=False)
    sys.stderr.flush()
    os.chdir(app.parent)
    os.execv(sys.executable, command)
    return EXIT_ERROR  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())

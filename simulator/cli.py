"""The `fundsim` command: validate scenario files, run Monte Carlo batches and sweeps, compare results.

Exit codes: 0 done, 2 bad input (one message naming the file, the field, the value and the rule;
never a traceback), 1 anything else (a dead worker, a full disk, an unreachable scheduler: the
message says what was kept and to `--resume`). Progress bars go to stderr and only on a terminal,
so logs and pipes stay clean; tables go to stdout; `--json` prints one object and nothing else;
`--quiet` prints nothing but errors. `run` and `sweep` stream to disk through `batch.py`, so they
resume after interruption and hold no whole batch in memory.

Safety (issue 13): a results folder is named only after a safe file stem (`folders.py`), one
command at a time writes it (`locking.py`), `--force` replaces only folders and reports fundsim
wrote, `--runs`/`--max-runs`/`--workers`/`--chunk-size` and sweep sizes are capped unless
`--allow-large` (`limits.py`), everything printed is cleaned of terminal control characters
(`terminal.py`), and `verify` re-simulates stored runs (`verify.py`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import (
    __version__,
    appraisal_command,
    calibrate_command,
    discovery,
    folders,
    limits,
    locking,
    native,
    sensitivity_command,
    value_command,
)
from .analysis import MAIN_METRICS, compare_runs, describe, headline, mean_ci, share_text
from .batch import preflight, run_streaming
from .errors import FundsimError, ModelError, ScenarioError, UsageError
from .executors import ChunkExecutor, ProcessExecutor
from .listing import is_sweep, sweep_message
from .model import RUN_OUTPUTS
from .options import add_cluster_options
from .options import json_safe as _json_safe
from .options import positive_int as _positive_int
from .options import seed as _seed
from .precision import DEFAULT_MAX_RUNS, Target
from .results import load_results
from .scenario import Scenario, load_scenario
from .sweep import (
    DEFAULT_STEPS,
    json_rows,
    parse_vary,
    plan_sweep,
    point_id,
    rescale_note,
    run_sweep,
    sweep_folder,
    sweep_preflight,
)
from .terminal import LazyConsole, SafeArgumentParser

if TYPE_CHECKING:
    from rich.progress import Progress

# Start-up is part of every batch's cost (issue 10: 6,000 runs of a fast model take a few
# seconds), so what only some commands need is imported where it is used: pandas, openpyxl (the
# exports), rich's tables, progress bars and consoles.

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2

# markup=False: text is never read as rich's [style] markup, so "[runs 5-95%]" in a heading and
# a scenario name in brackets print as written (styles are given as `Text`, not in strings).
out = LazyConsole(highlight=False, soft_wrap=True, markup=False,
                  width=None if sys.stdout.isatty() else 160)
err = LazyConsole(stderr=True, highlight=False, soft_wrap=True, markup=False)


def _sample(text: str) -> int:
    value = _positive_int(text)
    if value > limits.RUNS_HARD:
        raise argparse.ArgumentTypeError(f"{value} must be at most {limits.RUNS_HARD:,}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a number above 0")
    return value


def _batch_options(p: argparse.ArgumentParser, staged: bool = False) -> None:
    """Options shared by `run` and `sweep`: how many runs, where they run, where they go.
    `staged`: the command has --target-ci, whose stages --runs sizes."""
    p.add_argument("--runs", type=_positive_int, default=1000,
                   help="runs per scenario (1000); with --target-ci, runs per stage" if staged
                   else "runs per point (1000)")
    p.add_argument("--seed", type=_seed, default=1, help="root seed (1)")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes (default: all cores); results do not depend on it")
    p.add_argument("--chunk-size", type=_positive_int, default=None,
                   help="runs per chunk, written as it finishes (default: from --runs only); "
                        "results do not depend on it")
    add_cluster_options(p)
    p.add_argument("--out", default="results", metavar="DIR", help="results folder (results/)")
    p.add_argument("--force", action="store_true",
                   help="replace existing results, and start over an unfinished batch")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted batch (same files and options), keeping its work")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--json", action="store_true", help="print one JSON summary object, no progress")
    p.add_argument("--xlsx", metavar="FILE", default=None,
                   help="also write an Excel workbook: an Overview sheet (headline, assumptions), "
                        "numeric tables with number formats and frozen headers, and every run")
    p.add_argument("--csv", metavar="FILE", default=None,
                   help="also write a CSV file of " + ("every run of every scenario" if staged
                                                       else "the points table"))
    p.add_argument("--allow-large", action="store_true",
                   help=f"lift the caps on --runs/--max-runs ({limits.RUNS_CAP:,}), --workers (the "
                        f"cores), --chunk-size ({limits.CHUNK_CAP:,}) and sweep points "
                        f"({limits.SWEEP_POINTS_CAP:,}), for a deliberate large job")


def build_parser() -> argparse.ArgumentParser:
    parser = SafeArgumentParser(
        prog="fundsim",
        description="Simulate what the shape of funding (settlement length, confirmation timing, "
                    "in-year money) does to delivery, with uncertainty bands.")
    parser.add_argument("--version", action="version",
                        version=f"fundsim {__version__}; model: {native.status().describe()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check scenario files; print what is wrong or ok",
                       description="Check scenario files completely: print ok, or every problem "
                                   "with its file, field, value and rule (exit 2).")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="scenario files (TOML), e.g. scenarios/annual.toml")

    p = sub.add_parser("run", help="Monte Carlo of each scenario with common random numbers",
                       description="Run each scenario with the same seeds (run i of every scenario "
                                   "shares its random numbers) and write DIR/<file stem>/.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="scenario files (TOML); each gets its results folder DIR/<file stem>/")
    _batch_options(p, staged=True)
    p.add_argument("--target-ci", type=_positive_float, default=None, metavar="WIDTH",
                   help="add --runs runs at a time until the 95%% CI half-width of --metric (with "
                        "two or more scenarios: of the paired difference against the first) is at "
                        "most WIDTH")
    p.add_argument("--metric", choices=RUN_OUTPUTS, default=None, metavar="M",
                   help="the per-run output --target-ci is about (disruptions_total)")
    p.add_argument("--max-runs", type=_positive_int, default=None, metavar="N",
                   help=f"with --target-ci, stop at N runs at most ({DEFAULT_MAX_RUNS})")

    p = sub.add_parser("sweep", help="run a grid or Latin hypercube of scenario variants",
                       description="Vary scenario fields over ranges and run every point with the "
                                   "same seeds; writes DIR/<file stem>-sweep/ with points.parquet "
                                   "(values and summary outputs per point, and each point's paired "
                                   "difference from a reference point) and one results folder per "
                                   "point. Varying a stream's share rescales the other streams' "
                                   "shares in proportion (fundsim fields lists every path).")
    p.add_argument("file", metavar="FILE", help="the scenario file (TOML) to vary")
    p.add_argument("--vary", action="append", required=True, metavar="PATH=LOW:HIGH[:STEPS]",
                   help=f"a scenario field path and its range; STEPS grid values ({DEFAULT_STEPS}) "
                        "(repeatable: the grid is every combination)")
    p.add_argument("--lhs", type=_positive_int, default=None, metavar="N",
                   help="N Latin hypercube points over the ranges instead of a grid")
    p.add_argument("--reference", default=None, metavar="POINT",
                   help="the point every other is compared with run by run, as p0002 or 2 "
                        "(default: the first)")
    _batch_options(p)

    p = sub.add_parser("compare", help="paired run-by-run comparison of results folders",
                       description="Distributions side by side and the paired difference B - A "
                                   "(matched by run) with a 95% confidence interval and the "
                                   "probability that B is greater. With more than two folders, "
                                   "each against the first.")
    p.add_argument("folders", nargs="+", metavar="RESULTS",
                   help="results folders written by fundsim run (or a sweep's points/<id>); "
                        "the first is the reference")
    p.add_argument("--metric", action="append", choices=RUN_OUTPUTS, metavar="M",
                   help="a per-run output to compare (repeatable; default: the main ones)")
    p.add_argument("--json", action="store_true", help="print one JSON object (a list for 3+)")

    p = sub.add_parser("report", help="one offline HTML report (and Excel tables) of results",
                       description="Write one self-contained HTML file (charts embedded, opens "
                                   "offline) comparing results folders with the first: headline, "
                                   "paired differences with 95% CIs, parameter differences and "
                                   "each folder's manifest facts. --xlsx also writes the tables "
                                   "as an Excel workbook, --csv every run as CSV.")
    p.add_argument("folders", nargs="+", metavar="RESULTS",
                   help="results folders written by fundsim run (or a sweep's points/<id>); "
                        "the first is the reference")
    p.add_argument("--out", default="report.html", metavar="FILE", help="HTML file (report.html)")
    p.add_argument("--sensitivity", action="append", default=[], metavar="FOLDER",
                   help="show a `fundsim sensitivity` folder under \"What drives this?\" (repeatable)")
    p.add_argument("--value", action="append", default=[], metavar="FILE",
                   help="show what `fundsim value --save FILE` wrote under \"What is certainty "
                        "worth?\" (repeatable)")
    p.add_argument("--xlsx", metavar="FILE",
                   help="also write an Excel workbook: Overview (headline, assumptions), Summary, "
                        "Paired differences, Why, Calibration, Parameters, Sources and Runs")
    p.add_argument("--csv", metavar="FILE", help="also write every run of every folder as CSV")
    p.add_argument("--force", action="store_true",
                   help="replace existing report files (only reports fundsim wrote)")
    p.add_argument("--verify", type=_sample, nargs="?", const=20, default=None, metavar="N",
                   help="re-simulate N runs (20) of each folder now and say in the report whether "
                        "they match the stored rows bit for bit")

    p = sub.add_parser("verify", help="re-simulate runs of results folders and compare bit for bit",
                       description="Re-simulate a random sample of each folder's runs from its own "
                                   "scenario.toml and seed, and check they are bit for bit the "
                                   "stored rows (runs.parquet and years.parquet). Exit 0 verified, "
                                   "1 on any mismatch (each named), 2 if a folder is refused. "
                                   "Writes verification.json into the folder.")
    p.add_argument("folders", nargs="+", metavar="RESULTS",
                   help="results folders written by fundsim run")
    p.add_argument("--sample", type=_sample, default=20, metavar="N",
                   help="runs to re-simulate per folder (20), chosen at random")
    p.add_argument("--all", action="store_true", help="re-simulate every run")
    p.add_argument("--seed", type=_seed, default=None, metavar="S",
                   help="seed of the random sample (default: a fresh one, printed), to repeat a check")
    p.add_argument("--no-record", action="store_true", help="do not write verification.json")
    p.add_argument("--json", action="store_true", help="print one JSON object per folder, in a list")

    calibrate_command.add_parser(sub)
    sensitivity_command.add_parser(sub)
    discovery.add_parser(sub)
    appraisal_command.add_parser(sub)
    value_command.add_parser(sub)

    p = sub.add_parser("fields", help="list every field path fundsim sweep --vary accepts",
                       description="List every number field of a scenario as the path --vary "
                                   "takes, with its current value, the bounds validation holds it "
                                   "to, and any rule that ties it to other fields.")
    p.add_argument("file", metavar="SCENARIO", help="the scenario file (TOML) to list")
    p.add_argument("--json", action="store_true", help="print one JSON list, no table")

    p = sub.add_parser("dashboard", help="open the planners' dashboard in a browser",
                       description="Start the Streamlit dashboard (dashboard.py): Explore moves "
                                   "settlement sliders, Compare puts results folders side by side.")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to serve on (127.0.0.1: this machine only)")
    p.add_argument("--port", type=_positive_int, default=8501, help="port (8501)")
    p.add_argument("--results-dir", type=Path, default=None, metavar="DIR",
                   help="the folder the Compare page lists and may open results folders under "
                        "(default: results/ beside dashboard.py, or FUNDSIM_RESULTS_DIR)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints its own message; bad usage is bad input
        return EXIT_BAD_INPUT if exc.code not in (0, None) else EXIT_OK
    try:
        commands = {"validate": cmd_validate, "run": cmd_run, "sweep": cmd_sweep,
                    "compare": cmd_compare, "report": cmd_report, "verify": cmd_verify,
                    "calibrate": cmd_calibrate, "dashboard": cmd_dashboard,
                    "fields": cmd_fields, "sensitivity": cmd_sensitivity,
                    "discover": cmd_discover, "appraise": cmd_appraise,
                    "value": cmd_value}
        return commands[args.command](args)
    except FundsimError as exc:
        err.print(f"error: {exc}", markup=False, style="bold red")
        return getattr(exc, "exit_code", EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        err.print("interrupted: finished results folders are kept; an unfinished batch keeps its "
                  "finished chunks in DIR/<name>.partial/: run the same command with --resume")
        return 130
    except MemoryError:
        err.print("error: out of memory; nothing was published (an unfinished batch keeps its "
                  "finished chunks: run the same command with --resume, with fewer --workers)",
                  markup=False)
        return EXIT_ERROR
    except OSError as exc:  # the environment: a disk, a permission, a device
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(f"error: {where}{exc.strerror or exc}", markup=False)
        return EXIT_ERROR
    except Exception as exc:  # a bug: say so plainly, without a traceback
        err.print(f"error: fundsim stopped on an unexpected {type(exc).__name__} ({exc}); this is a "
                  "bug: please report it with the command you ran", markup=False)
        return EXIT_ERROR


def cmd_calibrate(args: argparse.Namespace) -> int:
    return calibrate_command.run(args, out, err)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    return sensitivity_command.run(args, out, err, _load_all, _executor, _Bars)


def cmd_value(args: argparse.Namespace) -> int:
    return value_command.run(args, out, err)


def cmd_appraise(args: argparse.Namespace) -> int:
    return appraisal_command.run(args, out, err)


def cmd_discover(args: argparse.Namespace) -> int:
    return discovery.run(args, out, err)


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
    stems = [folders.results_name(p) for p, _ in loaded]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise UsageError(f"two scenario files share the name {dupes[0]!r}: their results folders "
                         "would collide; rename one")
    return loaded


def _executor(args: argparse.Namespace) -> ChunkExecutor:
    """A process pool (--workers), or a Dask cluster (--scheduler, --cluster local)."""
    if args.scheduler is not None:
        if args.workers is not None:
            raise UsageError(f"--workers {args.workers} with --scheduler {args.scheduler}: the "
                             "cluster's own workers run the chunks; leave out --workers")
        from .distributed import DaskExecutor, check_address

        check_address(args.scheduler)
        return DaskExecutor(scheduler=args.scheduler)
    if args.cluster == "local":
        from .distributed import DaskExecutor

        return DaskExecutor(local_workers=args.workers)
    return ProcessExecutor(args.workers)


class _NoBars:
    """What `_Bars` drives when no bar is shown: nothing, and rich.progress is not imported."""

    def __enter__(self) -> _NoBars:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def add_task(self, name: str, total: int | None = None) -> int:
        return 0

    def update(self, task: int, total: int | None = None) -> None:
        pass

    def advance(self, task: int, runs: float = 1) -> None:
        pass

    def remove_task(self, task: int) -> None:
        pass


class _Bars:
    """Rich progress bars with ETA on stderr, only when it is a terminal (and not --quiet/--json)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.progress: Progress | _NoBars = _NoBars()
        if not args.quiet and not args.json and err.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TimeRemainingColumn(),
                                     console=err.console)
        self.tasks: dict[int, Any] = {}

    def __enter__(self) -> _Bars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def add(self, key: int, name: str, total: int | None) -> None:
        self.tasks[key] = self.progress.add_task(name, total=total)

    def advancer(self, offset: int = 0):
        def advance(job: int, runs: int, total: int | None) -> None:
            task = self.tasks[offset + job]
            if total is not None:
                self.progress.update(task, total=total)
            self.progress.advance(task, runs)
        return advance


def cmd_run(args: argparse.Namespace) -> int:
    loaded = _load_all(args.files)
    limits.check_batch(args.runs, args.max_runs, args.workers, args.chunk_size, args.allow_large)
    out_dir = Path(args.out)
    jobs = [(scenario, folders.inside(out_dir, folders.results_name(path)))
            for path, scenario in loaded]
    target = None
    if args.target_ci is not None:
        max_runs = args.max_runs or max(DEFAULT_MAX_RUNS, args.runs)
        if max_runs // args.runs > limits.SWEEP_POINTS_HARD:
            raise UsageError(f"--max-runs {max_runs:,} with --runs {args.runs:,}: more than "
                             f"{limits.SWEEP_POINTS_HARD:,} stages; give a larger --runs per stage")
        target = Target(args.target_ci, args.metric or "disruptions_total",
                        min(args.runs, max_runs), max_runs)
    elif args.max_runs is not None or args.metric is not None:
        option = f"--max-runs {args.max_runs}" if args.max_runs is not None else f"--metric {args.metric}"
        raise UsageError(f"{option}: only used with --target-ci; to run a fixed number of runs, "
                         "use --runs")
    targets = [folder for _, folder in jobs]
    preflight(targets, args.resume, args.force)  # fail fast, before connecting to anything ...
    _check_replaceable(targets, args.resume, args.force)
    _check_table_files(args)
    executor = _executor(args)
    try:
        with locking.locked(targets):  # ... then again under the locks, which decide
            preflight(targets, args.resume, args.force)
            _check_replaceable(targets, args.resume, args.force)
            with _Bars(args) as bars:
                for j, (path, _) in enumerate(loaded):
                    bars.add(j, folders.results_name(path), args.runs)
                outcome = run_streaming(jobs, args.runs, args.seed, executor, args.chunk_size,
                                        resume=args.resume, force=args.force, target=target,
                                        advance=bars.advancer())
    except ModelError as exc:
        # The scenario cannot be run as it is: its chunks would only fail again on --resume.
        if not args.resume:
            for folder in targets:
                folders.remove(folders.partial_of(folder), (folders.PARTIAL,))
        raise ModelError(f"{exc} (nothing was kept)") from None
    finally:
        executor.close()
    written = _write_run_tables(args, outcome.folders)
    if args.quiet and not args.json:
        return EXIT_OK
    finished = [(folders.results_name(path), folder, _main_metrics(folder))
                for (path, _), folder in zip(loaded, outcome.folders, strict=True)]
    if args.json:
        payload = {"command": "run", "seed": args.seed, "runs": outcome.runs,
                   "chunk_size": outcome.chunk_size, "resumed": outcome.resumed,
                   "stop": outcome.stop,
                   "scenarios": [{"name": name, "folder": str(folder), "runs": len(runs["run"]),
                                  "metrics": _metric_summary(runs)}
                                 for name, folder, runs in finished]}
        out.print(json.dumps(_json_safe(payload), indent=2, allow_nan=False), markup=False)
    elif not args.quiet:
        _print_run_summary(finished, outcome.runs, args.seed)
        _print_uncertain([scenario for _, scenario in loaded])
        if outcome.stop is not None:
            _print_stop(outcome.stop)
        _print_written(written)
    return EXIT_OK


def _main_metrics(folder: Path) -> dict[str, np.ndarray]:
    """The run index and main metrics of a results folder just written (pyarrow: no pandas)."""
    from .results import read_columns

    return read_columns(folder / "runs.parquet", ["run", *MAIN_METRICS])


def _check_table_files(args: argparse.Namespace) -> None:
    """Refuse --xlsx/--csv files that exist (without --force) before anything runs."""
    files = _table_files(args)
    if files:
        from .export import check_targets

        check_targets(files, args.force)


def _table_files(args: argparse.Namespace) -> list[tuple[Path, str]]:
    """The --xlsx and --csv paths asked for, with their option names."""
    return [(Path(value), option) for value, option in ((args.xlsx, "--xlsx"), (args.csv, "--csv"))
            if value is not None]


def _write_run_tables(args: argparse.Namespace, written: Sequence[Path]) -> list[Path]:
    """The workbook (the same as `fundsim report --xlsx` of these folders) and the runs CSV."""
    if args.xlsx is None and args.csv is None:
        return []
    from . import export
    from .report import load_for_report, xlsx_bytes

    results = load_for_report(written)
    files = {}
    if args.xlsx is not None:
        files[Path(args.xlsx)] = xlsx_bytes(results, written)
    if args.csv is not None:
        files[Path(args.csv)] = export.csv_bytes(
            export.runs_frame({name: r.runs for name, r in results.items()}))
    export.write_files(files)
    return list(files)


def _print_written(paths: Sequence[Path]) -> None:
    for path in paths:
        out.print(f"wrote {path}", markup=False)


def _check_replaceable(targets: list[Path], resume: bool, force: bool) -> None:
    """Every folder --force would replace, and every unfinished batch --force or --resume would
    touch, must be one fundsim wrote: checked for all targets before any scenario starts."""
    for folder in targets:
        if force:
            folders.check_replaceable(folder, (folders.RESULTS,))
        if force or resume:
            folders.check_replaceable(folders.partial_of(folder), (folders.PARTIAL,),
                                      "--force" if force else "--resume")


def _metric_summary(runs: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    summary = {}
    for metric in MAIN_METRICS:
        values = np.asarray(runs[metric], dtype=float)
        _, low, high = mean_ci(values)
        summary[metric] = {**describe(values), "ci_low": low, "ci_high": high}
    return summary


def _print_stop(stop: dict) -> None:
    width = stop["half_width"]
    shown = "not computable" if width is None else f"{width:,.3g}"
    out.print(f"stopped at {stop['runs']} runs: {stop['reason']} (95% CI half-width of "
              f"{stop['metric']} {stop['of']}: {shown}; target {stop['target_half_width']:g})",
              markup=False)


def cmd_sweep(args: argparse.Namespace) -> int:
    varies = [parse_vary(text) for text in args.vary]
    paths = [v.path for v in varies]
    dupes = sorted({p for p in paths if paths.count(p) > 1})
    if dupes:
        raise UsageError(f"--vary {dupes[0]}: given twice; vary each field once")
    limits.check_batch(args.runs, None, args.workers, args.chunk_size, args.allow_large)
    points = args.lhs if args.lhs is not None else math.prod(v.steps for v in varies)
    limits.check_points(points, args.allow_large)
    ((path, scenario),) = _load_all([args.file])
    design = plan_sweep(scenario, varies, args.lhs, args.seed, args.reference)
    for note in design.notes():
        err.print(note)
    folder = sweep_folder(Path(args.out), folders.results_name(path))
    _check_sweep_target(args, folder)  # fail fast, before connecting to anything ...
    _check_table_files(args)
    executor = _executor(args)
    try:
        with locking.locked([folder]):  # ... then again under the lock, which decides
            _check_sweep_target(args, folder)
            outcome = _sweep_with_bars(args, design, folder, executor)
    finally:
        executor.close()
    from . import export

    files = {}
    if args.xlsx is not None:
        from .sweep_export import sweep_workbook

        files[Path(args.xlsx)] = sweep_workbook(design, outcome)
    if args.csv is not None:
        files[Path(args.csv)] = export.csv_bytes(outcome.points)
    export.write_files(files)
    return _after_sweep(args, outcome, design, list(files))


def _check_sweep_target(args: argparse.Namespace, folder: Path) -> None:
    sweep_preflight(folder, args.resume, args.force)
    if args.force:
        folders.check_replaceable(folder, (folders.SWEEP,))
    if args.force or args.resume:
        folders.check_replaceable(folders.partial_of(folder), (folders.SWEEP_PARTIAL,),
                                  "--force" if args.force else "--resume")


def _sweep_with_bars(args: argparse.Namespace, design, folder: Path, executor: ChunkExecutor):
    """Run the sweep with a bar over points and one over the current point's runs."""
    with _Bars(args) as bars:
        current: list[int] = []

        def on_point(i: int, total: int) -> None:
            if not current:
                bars.add(-1, "points", total)
            else:
                bars.progress.advance(bars.tasks[-1], 1)
                bars.progress.remove_task(bars.tasks.pop(0))
            bars.add(0, f"point {i}", args.runs)
            current[:] = [i]

        return run_sweep(design, folder, args.runs, args.seed, executor, args.chunk_size,
                         resume=args.resume, force=args.force, on_point=on_point,
                         advance=bars.advancer())


def _after_sweep(args: argparse.Namespace, outcome, design, written: list[Path]) -> int:
    note = rescale_note(design)
    if args.json:
        payload = {"command": "sweep", "folder": str(outcome.folder), "seed": args.seed,
                   "runs": outcome.runs, "resumed": outcome.resumed,
                   "design": "lhs" if args.lhs else "grid",
                   "reference": point_id(design.reference), "rescaled": note,
                   "points": json_rows(outcome.points)}
        out.print(json.dumps(_json_safe(payload), indent=2, allow_nan=False), markup=False)
    elif not args.quiet:
        _print_sweep_summary(outcome, [v.path for v in design.varies], point_id(design.reference))
        if note:
            out.print(note, markup=False)
        _print_written(written)
    return EXIT_OK


def _print_sweep_summary(outcome, paths: list[str], reference: str) -> None:
    from rich.table import Table

    table = Table(title=f"{len(outcome.points)} points, {outcome.runs} runs each: mean (95% CI of "
                        f"mean), and the paired difference from {reference} (95% CI), run by run")
    table.add_column("point")
    for p in paths:
        table.add_column(".".join(p.split(".")[-2:]), justify="right")
    shown = ("disruptions_total", "lapsed_funds_m")
    for metric in shown:
        table.add_column(metric, justify="right")
        table.add_column(f"{metric} - {reference}", justify="right")
    for row in outcome.points.to_dict(orient="records"):
        cells = [row["point"], *(_fmt(row[p]) for p in paths)]
        for metric in shown:
            mean, low, high = _together(*(row[f"{metric}_{k}"] for k in ("mean", "ci_low",
                                                                          "ci_high")))
            cells.append(f"{mean} ({low} - {high})")
            if row["point"] == reference:
                cells.append("reference")
            else:
                mean, low, high = _together(*(row[f"{metric}_{k}"] for k in (
                    "diff_mean", "diff_ci_low", "diff_ci_high")), sign=True)
                cells.append(f"{mean} ({low} to {high})")
        table.add_row(*cells)
    out.print(table)
    out.print(f"wrote {outcome.folder}/ (points.parquet and points/<id>/)", markup=False)


def _together(*values: float | None, sign: bool = False) -> list[str]:
    """Numbers read together (a mean and its interval) with one number of decimals, enough for
    the largest to show three significant digits: "1,006 (988 - 1,024)", not "1,006 (987.7 -
    1,024)", and a difference of 0.008 as "+0.0080", not "+0.0"."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    if top >= 1000:
        decimals = 0
    elif top >= 10 or top == 0:
        decimals = 1
    else:
        decimals = min(6, 2 - math.floor(math.log10(top)))
    style = f"{'+' if sign else ''},.{decimals}f"
    return ["-" if v is None or not math.isfinite(v) else format(v, style) for v in values]


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _print_run_summary(finished, runs: int, seed: int) -> None:
    from rich.table import Table

    table = Table(title=f"{runs} runs per scenario, seed {seed}: mean [runs 5-95%: what could "
                        "happen in one six-year stretch]")
    table.add_column("metric")
    for name, _, _ in finished:
        table.add_column(name, justify="right")
    for metric in MAIN_METRICS:
        cells = []
        for _, _, frame in finished:
            d = describe(frame[metric])
            mean, low, high = _together(d["mean"], d["p5"], d["p95"])
            cells.append(f"{mean}  [{low} - {high}]")
        table.add_row(metric, *cells)
    out.print(table)
    for _, folder, frame in finished:
        out.print(f"wrote {folder}/ ({len(frame['run'])} runs)", markup=False)


def _print_uncertain(scenarios: list[Scenario]) -> None:
    """Say which scenarios draw uncertain parameters, so a reader knows what the spread holds."""
    from .uncertain import describe as describe_uncertain

    said: set[str] = set()
    for scenario in scenarios:
        note = describe_uncertain(scenario)
        key = json.dumps(scenario.to_dict()["uncertain"], sort_keys=True)
        if note and key not in said:
            said.add(key)
            out.print(note, markup=False)


def cmd_compare(args: argparse.Namespace) -> int:
    from .attribution import explanation
    from .levers import describe_differences, mixed_warning

    if len(args.folders) < 2:
        raise UsageError("compare needs at least two results folders")
    for folder in args.folders:
        if is_sweep(Path(folder)):
            raise UsageError(sweep_message(Path(folder)))
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
        # A comparison that mixes groups of levers is warned about on stderr, also with --json
        # (whose object keeps the documented structure).
        warning = mixed_warning(base_name, base.scenario, name, other.scenario)
        if warning:
            err.print(f"warning: {warning}", markup=False)
    if args.json:
        payload = reports[0] if len(reports) == 1 else reports
        out.print(json.dumps(_json_safe(payload), indent=2, allow_nan=False), markup=False)
        return EXIT_OK
    for report, (name, other) in zip(reports, loaded[1:], strict=True):
        _print_comparison(report, base, other)
        # What the comparison compares (`levers.py`) and why the headline is what it is
        # (`attribution.py`).
        out.print(describe_differences(base_name, base.scenario, name, other.scenario),
                  markup=False)
        why = explanation(base_name, base, name, other)
        if why:
            out.print("Why: " + " ".join(why), markup=False)
    return EXIT_OK


def _print_comparison(report, base, other) -> None:
    a, b = report["a"], report["b"]
    years = base.scenario.horizon.years
    from rich.table import Table

    table = Table(title=f"{b} against {a}: {report['runs']} paired runs, {years}-year horizon")
    table.add_column("metric")
    table.add_column(f"{a} mean [runs 5-95%]", justify="right")
    table.add_column(f"{b} mean [runs 5-95%]", justify="right")
    table.add_column("B - A (95% CI of mean)", justify="right")
    table.add_column("P(B > A)", justify="right")
    for m in report["metrics"]:
        da, db, d = m["a"], m["b"], m["paired_difference"]
        a_mean, a_low, a_high = _together(da["mean"], da["p5"], da["p95"])
        b_mean, b_low, b_high = _together(db["mean"], db["p5"], db["p95"])
        diff, low, high = _together(d["mean"], d["ci_low"], d["ci_high"], sign=True)
        table.add_row(m["metric"], f"{a_mean} [{a_low} - {a_high}]",
                      f"{b_mean} [{b_low} - {b_high}]", f"{diff} ({low} to {high})",
                      share_text(m["prob_b_greater"]))
    out.print(table)
    out.print("runs 5-95%: what could happen in one run; 95% CI of mean: how precisely this many "
              "paired runs fix the difference (Monte Carlo precision).", markup=False)
    _print_uncertain([base.scenario, other.scenario])
    disruptions = next((m for m in report["metrics"] if m["metric"] == "disruptions_total"), None)
    if disruptions is not None:
        out.print(headline(a, b, disruptions, years), markup=False)


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    written = write_report(args.folders, args.out, args.xlsx, force=args.force,
                           verify_sample=args.verify, csv=args.csv,
                           sensitivity=args.sensitivity, value=args.value)
    size = Path(args.out).stat().st_size / 1e6
    others = [p for p in (args.xlsx, args.csv) if p]
    out.print(f"wrote {args.out} ({size:.1f} MB; opens in any browser without a network)"
              + (f" and {' and '.join(others)}" if others else ""), markup=False)
    for label, check in written.checks.items():
        out.print(f"{label}: {check.summary()}", markup=False)
    if written.mismatched:
        err.print(f"error: re-simulation does not match the stored rows of "
                  f"{', '.join(written.mismatched)}; the report says so", markup=False)
        return EXIT_ERROR
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import verify_folder

    sample = None if args.all else args.sample
    checks = [verify_folder(folder, sample, args.seed, record=not args.no_record)
              for folder in args.folders]
    if args.json:
        payload = [{"folder": str(c.folder), "verified": c.ok, "seed": c.seed,
                    "runs_checked": c.checked, "total_runs": c.total_runs,
                    "sample_seed": c.sample_seed, "mismatches": c.mismatches,
                    "version_notes": c.version_notes} for c in checks]
        out.print(json.dumps(payload, indent=2), markup=False)
    else:
        for check in checks:
            printer = out if check.ok else err
            printer.print(check.summary(), markup=False)
            for line in check.mismatches[:20]:
                printer.print(f"  {line}", markup=False)
            if len(check.mismatches) > 20:
                printer.print(f"  ... and {len(check.mismatches) - 20} more", markup=False)
            for note in check.version_notes:
                printer.print(f"  note: {note}; a mismatch may come from that change, not from an "
                              "edit", markup=False)
    return EXIT_OK if all(c.ok for c in checks) else EXIT_ERROR


def cmd_fields(args: argparse.Namespace) -> int:
    """Every path --vary accepts, with the value and bounds (`fields.py`)."""
    from .fields import fields, json_rows

    ((_, scenario),) = _load_all([args.file])
    found = fields(scenario)
    if args.json:
        out.print(json.dumps(json_rows(found), indent=2, allow_nan=False), markup=False)
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"{args.file}: fields fundsim sweep --vary accepts (PATH=LOW:HIGH)")
    table.add_column("path", overflow="fold")
    table.add_column("value", justify="right")
    table.add_column("bounds")
    table.add_column("rule", overflow="fold")
    for f in found:
        value = f"{f.value:,}" if f.integer else f"{f.value:g}"
        table.add_row(f.path, value, f.bounds_text() + (" (whole numbers)" if f.integer else ""),
                      f.note)
    out.print(table)
    out.print("Ranges outside the bounds, or points that break a rule, are refused before anything "
              "runs.", markup=False)
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve dashboard.py with Streamlit until interrupted (Ctrl+C). The process becomes the
    Streamlit server (exec), so signals and the exit code are Streamlit's own."""
    app = Path(__file__).resolve().parent.parent / "dashboard.py"
    if not app.is_file():
        raise UsageError(f"{app}: the dashboard ships with the repository; run fundsim dashboard "
                         "from a clone installed with `pip install -e .` (or `make dashboard`)")
    if args.results_dir is not None:
        if not args.results_dir.is_dir():
            raise UsageError(f"{args.results_dir}: --results-dir must be an existing folder")
        os.environ["FUNDSIM_RESULTS_DIR"] = str(args.results_dir.resolve())
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

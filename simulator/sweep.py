"""Parameter sweeps: a grid or a Latin hypercube over scenario field paths, every point run with
the same seeds, into one resumable results set.

    DIR/<stem>-sweep/
        manifest.json     the base scenario, seed, runs, the --vary ranges, every point's values
        points.parquet    one row per point: its parameter values and summary outputs
                          (mean and 95% CI of the main metrics)
        points/<id>/      an ordinary results folder per point (`load_results` accepts it)

While it runs the set lives in `DIR/<stem>-sweep.partial/`; each point is itself a streamed,
resumable batch, so `--resume` skips finished points and finishes a point cut off half-way.

Grid: `--vary PATH=LOW:HIGH[:STEPS]`, STEPS evenly spaced values from LOW to HIGH (default 5), every
combination. Latin hypercube: `--lhs N`, N points from `scipy.stats.qmc.LatinHypercube(d, seed=seed)`
scaled to the ranges (STEPS is then ignored): one point per stratum of every parameter, so N points
cover each range evenly, which a grid needs STEPS^d points for. Fields that hold whole numbers get
whole numbers (rounded; repeated grid values are dropped). Every point is validated before
anything runs: a point that makes the scenario invalid (a mode above its max) is bad input, named
with its values.

Shares: stream shares must sum to 1, so varying one stream's `share` alone could never give a
valid scenario. At every point the streams whose share is not varied are rescaled in proportion to
fill what the varied ones leave (external 0.2 with core 0.9 and ring-fenced 0.1 before: core
0.72, ring-fenced 0.08); the rescaled shares are columns of points.parquet and the command says so.

Paired differences: every point runs with the same seeds, so run i of two points shares its random
numbers and their difference run by run is the parameters' effect, not noise. points.parquet
holds, besides each point's own mean and 95% CI, the paired difference of every main output
against a reference point (the first, or `--reference`) with its 95% CI: two points whose own
intervals overlap can still differ clearly.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import folders, locking
from .analysis import MAIN_METRICS, mean_ci
from .batch import Advance, run_streaming, stream_chunk_size
from .errors import FundsimError, ResultsError, ScenarioError, UsageError
from .executors import ChunkExecutor
from .files import parquet_bytes, write_atomic
from .results import library_versions, load_results
from .scenario import Scenario
from .streaming import partial_folder

if TYPE_CHECKING:  # imported where used: the CLI starts without pandas (issue 10)
    import pandas as pd

DEFAULT_STEPS = 5
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_VARY = re.compile(r"^(?P<path>[^=]+)=(?P<low>[^:]+):(?P<high>[^:]+)(?::(?P<steps>[^:]+))?$")


@dataclass(frozen=True)
class Vary:
    """One varied field: its dotted path, range, grid steps and whether it holds whole numbers."""

    path: str
    low: float
    high: float
    steps: int = DEFAULT_STEPS
    integer: bool = False

    def grid(self) -> list[float | int]:
        values = np.linspace(self.low, self.high, self.steps) if self.steps > 1 else np.array([self.low])
        if self.integer:
            return sorted({round(float(v)) for v in values})
        return [float(v) for v in values]


def parse_vary(text: str) -> Vary:
    """`PATH=LOW:HIGH[:STEPS]`, or a usage error that names the option, the value and the rule."""
    match = _VARY.match(text.strip())
    if not match:
        raise UsageError(f"--vary {text!r}: expected PATH=LOW:HIGH or PATH=LOW:HIGH:STEPS, e.g. "
                         "funding.streams.core.confirmation_delay_months.mode=0:4:5")
    path = match["path"].strip()
    bounds = []
    for label in ("low", "high"):
        raw = match[label].strip()
        if not re.fullmatch(_NUMBER, raw):
            raise UsageError(f"--vary {text!r}: {label.upper()} = {raw!r} is not a number")
        bounds.append(float(raw))
    low, high = bounds
    if low > high:
        raise UsageError(f"--vary {text!r}: LOW = {match['low'].strip()} is above HIGH = "
                         f"{match['high'].strip()}; give the range from low to high")
    steps = DEFAULT_STEPS
    if match["steps"] is not None:
        raw = match["steps"].strip()
        if not raw.isdigit() or int(raw) < 1:
            raise UsageError(f"--vary {text!r}: STEPS = {raw!r} must be a whole number of at least 1")
        steps = int(raw)
    return Vary(path, low, high, steps)


def bind(scenario: Scenario, vary: Vary) -> Vary:
    """Check the path against the scenario; note whether the field holds whole numbers."""
    node: Any = scenario.to_dict()
    for part in vary.path.split("."):
        if not isinstance(node, dict) or part not in node:
            try:  # the scenario's own "no such field", which says how far the path goes
                scenario.with_changes({vary.path: vary.low})
            except ScenarioError as exc:
                raise ScenarioError("--vary", exc.problems) from None
            raise UsageError(f"--vary {vary.path}: no such field")  # pragma: no cover - defensive
        node = node[part]
    if isinstance(node, dict):
        fields = [k for k in node if k != "dist"]
        raise UsageError(f"--vary {vary.path}: this field is a distribution ({node.get('dist')}); "
                         f"vary one of its numbers ({', '.join(fields)}), e.g. {vary.path}.{fields[0]}")
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise UsageError(f"--vary {vary.path} = {node!r}: only numeric fields can be varied")
    integer = isinstance(node, int)
    if integer and (vary.low != int(vary.low) or vary.high != int(vary.high)):
        raise UsageError(f"--vary {vary.path}={vary.low:g}:{vary.high:g}: this field holds whole "
                         "numbers; give a whole-number range")
    return Vary(vary.path, vary.low, vary.high, vary.steps, integer)


def design_points(varies: list[Vary], lhs: int | None, seed: int) -> list[dict[str, float | int]]:
    """The sweep's points, in a fixed order: the grid's product, or `lhs` hypercube samples."""
    if lhs is None:
        return [dict(zip([v.path for v in varies], combo, strict=True))
                for combo in itertools.product(*(v.grid() for v in varies))]
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=len(varies), seed=seed).random(lhs)
    lows = [v.low for v in varies]
    highs = [v.high for v in varies]
    if all(lo < hi for lo, hi in zip(lows, highs, strict=True)):
        scaled = qmc.scale(unit, lows, highs)
    else:  # qmc.scale refuses a zero-width range; a fixed value is the honest answer there
        scaled = np.asarray(lows) + unit * (np.asarray(highs) - np.asarray(lows))
    points = []
    for row in scaled:
        points.append({v.path: (round(float(x)) if v.integer else float(x))
                       for v, x in zip(varies, row, strict=True)})
    return points


_SHARE = re.compile(r"^funding\.streams\.(?P<stream>[^.]+)\.share$")


def rescaled_shares(scenario: Scenario, values: dict[str, Any]) -> dict[str, float]:
    """The shares of the streams not varied at this point, rescaled in proportion so that all
    shares sum to 1 (empty when no share is varied, or every stream's is)."""
    varied = {m["stream"]: float(v) for p, v in values.items() if (m := _SHARE.match(p))}
    streams = scenario.funding.streams
    others = [name for name in streams if name not in varied]
    if not varied or not others:
        return {}
    rest = 1.0 - sum(varied.values())
    old = sum(streams[name].share for name in others)
    return {f"funding.streams.{name}.share":
            round(rest * (streams[name].share / old if old > 0 else 1.0 / len(others)), 12)
            for name in others}


def rescale_note(design: SweepDesign) -> str | None:
    """The sentence that says which shares a sweep rescales, or None."""
    varied = [v.path for v in design.varies if _SHARE.match(v.path)]
    rescaled = sorted({p for adjusted in design.adjusted for p in adjusted})
    if not varied or not rescaled:
        return None
    return (f"{', '.join(varied)} {'is' if len(varied) == 1 else 'are'} varied, so the other "
            f"streams' shares ({', '.join(rescaled)}) are rescaled in proportion at every point to "
            "keep the shares summing to 1; points.parquet has them as columns.")


def point_scenarios(scenario: Scenario, points: list[dict[str, Any]]) -> list[Scenario]:
    """Each point as a validated scenario (other streams' shares rescaled when a share is
    varied); refuse the first invalid one."""
    out = []
    for i, values in enumerate(points):
        adjusted = rescaled_shares(scenario, values)
        try:
            variant = scenario.with_changes({**values, **adjusted})
        except ScenarioError as exc:
            shown = ", ".join(f"{k} = {v}" for k, v in {**values, **adjusted}.items())
            rules = "; ".join(p.render() for p in exc.problems)
            raise UsageError(f"sweep point {point_id(i)} ({shown}) is not a valid scenario: {rules} "
                             "(nothing was run); narrow the --vary range") from None
        out.append(variant)
    return out


def point_id(i: int) -> str:
    return f"p{i:04d}"


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class SweepDesign:
    """A checked sweep: bound ranges, the points' values and their validated scenarios."""

    base: Scenario
    varies: list[Vary]
    lhs: int | None
    points: list[dict[str, Any]]
    scenarios: list[Scenario]
    adjusted: list[dict[str, float]]
    reference: int = 0

    def notes(self) -> list[str]:
        """What the plan changed from what was asked: a whole-number field's grid with fewer
        values than its steps (rounded steps that coincide are run once)."""
        found = []
        for v in self.varies if self.lhs is None else []:
            values = v.grid()
            if v.integer and len(values) < v.steps:
                found.append(f"--vary {v.path}: {v.steps} steps from {v.low:g} to {v.high:g} give "
                             f"{len(values)} whole numbers ({', '.join(map(str, values))}), so the "
                             f"sweep has {len(self.points)} points")
        return found


def plan_sweep(scenario: Scenario, varies: list[Vary], lhs: int | None, seed: int,
               reference: str | None = None) -> SweepDesign:
    """Check every range, every point and the reference point before anything starts (bad input
    exits 2 at once)."""
    bound = [bind(scenario, v) for v in varies]
    points = design_points(bound, lhs, seed)
    scenarios = point_scenarios(scenario, points)
    adjusted = [rescaled_shares(scenario, values) for values in points]
    return SweepDesign(scenario, bound, lhs, points, scenarios, adjusted,
                       reference_index(reference, len(points)))


def reference_index(text: str | None, count: int) -> int:
    """`--reference` as a point's position: a point id (`p0002`) or its number (`2`)."""
    if text is None:
        return 0
    raw = text.strip()
    digits = raw[1:] if raw[:1] in ("p", "P") else raw
    if not digits.isdigit() or int(digits) >= count:
        last = point_id(count - 1)
        raise UsageError(f"--reference {text!r}: give a point of this sweep, {point_id(0)} to {last} "
                         f"(or 0 to {count - 1}); the points are numbered in the order the grid or "
                         "hypercube lists them")
    return int(digits)


def sweep_folder(out: Path, stem: str) -> Path:
    """`out/<stem>-sweep`, with `stem` checked to be a safe folder name (`folders.safe_name`)."""
    return folders.inside(out, folders.safe_name(stem, f"{stem}.toml") + "-sweep")


def sweep_preflight(folder: Path, resume: bool, force: bool) -> None:
    """Refuse an existing sweep without --force, or a leftover one without --resume/--force."""
    if folder.exists() and not force:
        raise UsageError(f"{folder}: sweep folder already exists; use --force to replace it "
                         "(nothing was run)")
    if partial_folder(folder).exists() and not resume and not force:
        raise UsageError(f"{partial_folder(folder)}: an unfinished sweep is here; add --resume to "
                         "finish it, or --force to start again (nothing was run)")


@dataclass
class SweepOutcome:
    folder: Path
    points: pd.DataFrame
    runs: int
    resumed: bool


def run_sweep(design: SweepDesign, folder: Path, runs: int, seed: int, executor: ChunkExecutor,
              chunk_size: int | None = None, resume: bool = False, force: bool = False,
              on_point: Any = None, advance: Advance | None = None) -> SweepOutcome:
    """Run every point of the design with the same seeds; write the sweep folder atomically."""
    scenario, varies, lhs = design.base, design.varies, design.lhs
    size = chunk_size or stream_chunk_size(runs)
    plan = {
        "kind": "sweep", "scenario_sha256": scenario.sha256(), "seed": seed, "runs": runs,
        "chunk_size": size, "design": "lhs" if lhs is not None else "grid", "lhs": lhs,
        "vary": [{"path": v.path, "low": v.low, "high": v.high, "steps": v.steps} for v in varies],
    }
    locking.acquire(folder)  # one writer per sweep folder; re-entrant for the CLI's own hold
    try:
        return _run_sweep_locked(design, folder, runs, seed, executor, chunk_size, resume, force,
                                 on_point, advance, plan, size)
    finally:
        locking.release(folder)


def _run_sweep_locked(design: SweepDesign, folder: Path, runs: int, seed: int,
                      executor: ChunkExecutor, chunk_size: int | None, resume: bool, force: bool,
                      on_point: Any, advance: Advance | None, plan: dict[str, Any],
                      size: int) -> SweepOutcome:
    points = design.points
    partial = partial_folder(folder)
    sweep_preflight(folder, resume, force)
    if folder.exists():
        folders.check_replaceable(folder, (folders.SWEEP,))
    resumed = False
    if partial.exists():
        folders.check_replaceable(partial, (folders.SWEEP_PARTIAL,),
                                  "--resume" if resume and not force else "--force")
        if resume and (partial / "manifest.json").exists():
            _check_resume(partial, plan, chunk_size)
            size = plan["chunk_size"]
            resumed = True
        else:
            shutil.rmtree(partial)
    scenario = design.base
    manifest = {"status": "partial", "written_by": "fundsim", **plan, "scenario": scenario.to_dict(),
                "scenario_name": scenario.name,
                "points": [{"id": point_id(i), "values": p, **({"rescaled": a} if a else {})}
                           for i, (p, a) in enumerate(zip(points, design.adjusted, strict=True))]}
    try:
        (partial / "points").mkdir(parents=True, exist_ok=True)
        write_atomic(partial / "manifest.json", json.dumps(manifest, indent=1).encode())
    except OSError as exc:
        reason = os.strerror(exc.errno or 0)
        raise UsageError(f"--out {folder.parent}: cannot write results there ({reason}); "
                         "choose a folder you can write to (nothing was run)") from None
    rows = []
    for i, (values, variant) in enumerate(zip(points, design.scenarios, strict=True)):
        target = partial / "points" / point_id(i)
        if on_point is not None:
            on_point(i, len(points))
        if not _finished(target):
            folders.remove(target, (folders.RESULTS,))
            run_streaming([(variant, target)], runs, seed, executor, chunk_size=size,
                          resume=True, advance=advance)
        rows.append(_point_row(i, {**values, **design.adjusted[i]}, target))
    import pandas as pd

    table = paired_against(pd.DataFrame(rows), partial / "points", design.reference)
    points_sha256 = write_atomic(partial / "points.parquet", parquet_bytes(table))
    final = {**manifest, "status": "complete", "reference": point_id(design.reference),
             "versions": library_versions(),
             "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
             "files": {"points.parquet": points_sha256}}
    write_atomic(partial / "manifest.json", json.dumps(final, indent=1).encode())
    folders.remove(folder, (folders.SWEEP,))
    os.replace(partial, folder)
    return SweepOutcome(folder, table, runs, resumed)


def _check_resume(partial: Path, plan: dict[str, Any], chunk_size: int | None) -> None:
    try:
        old = json.loads((partial / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{partial}/manifest.json: cannot resume from it ({exc}); use --force to "
                         "start again") from None
    for key, value in plan.items():
        if key == "chunk_size" and chunk_size is None:
            plan[key] = old.get(key, value)
            continue
        if old.get(key) != value:
            raise UsageError(f"{partial}: was started with {key} = {old.get(key)!r}, not {value!r}; "
                             "--resume needs the same scenario and options, or use --force")


def _finished(folder: Path) -> bool:
    if not folder.exists():
        return False
    try:
        load_results(folder)
    except (ResultsError, FundsimError):
        return False
    return True


def _point_row(i: int, values: dict[str, Any], folder: Path) -> dict[str, Any]:
    import pandas as pd

    runs = pd.read_parquet(folder / "runs.parquet", columns=list(MAIN_METRICS))
    row: dict[str, Any] = {"point": point_id(i), **values, "runs": len(runs)}
    for metric in MAIN_METRICS:
        mean, low, high = mean_ci(runs[metric].to_numpy(dtype=float))
        row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = mean, low, high
    return row


def paired_against(table: pd.DataFrame, points_dir: Path, reference: int) -> pd.DataFrame:
    """`table` with, for every main output, each point's paired difference from the reference
    point (matched by run: every point shares its seeds) and its 95% CI: `<metric>_diff_mean`,
    `<metric>_diff_ci_low`, `<metric>_diff_ci_high`. The reference point's own differences are 0."""
    import pandas as pd

    ref_id = point_id(reference)
    base = pd.read_parquet(points_dir / ref_id / "runs.parquet", columns=["run", *MAIN_METRICS])
    extra: dict[str, list[float]] = {f"{m}_diff_{k}": [] for m in MAIN_METRICS
                                     for k in ("mean", "ci_low", "ci_high")}
    for pid in table["point"]:
        runs = pd.read_parquet(points_dir / pid / "runs.parquet", columns=["run", *MAIN_METRICS])
        joined = base.merge(runs, on="run", suffixes=("_ref", ""))
        for metric in MAIN_METRICS:
            diff = (joined[metric].to_numpy(dtype=float)
                    - joined[f"{metric}_ref"].to_numpy(dtype=float))
            mean, low, high = mean_ci(diff)
            extra[f"{metric}_diff_mean"].append(mean)
            extra[f"{metric}_diff_ci_low"].append(low)
            extra[f"{metric}_diff_ci_high"].append(high)
    out = table.copy()
    out["reference"] = ref_id
    for column, values in extra.items():
        out[column] = values
    return out


def json_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """points.parquet as plain JSON-able rows (NaN left for the caller's strict-JSON pass)."""
    rows = []
    for record in table.to_dict(orient="records"):
        rows.append({k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()})
    return rows


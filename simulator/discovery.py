"""Scenario discovery: where in the sampled ranges does SCENARIO not beat OTHER?

Over a Morris or Sobol sample (a `fundsim sensitivity` folder), a point is a *case of interest*
when its metric is at or below a level: by default, with `--against`, a gain of zero or less (the
multi-year settlement does not pay off there). PRIM (the Patient Rule Induction Method, Friedman
and Fisher 1999, as used for scenario discovery by Bryant and Lempert 2010) peels the sample down
to a box, a few ranges of a few factors, that holds mostly cases of interest. Two numbers say how
good a box is: *coverage* (the share of all cases of interest that lie in the box) and *density*
(the share of points in the box that are cases of interest). We take EMA Workbench's
implementation (Kwakkel 2017, maintained with the workbench) rather than writing our own, and
report the box on its peeling trajectory with the most coverage among those with at least the
density threshold (default 0.8), the usual choice.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import UsageError
from .options import finite_float

MIN_POINTS = 50
"""PRIM peels 5% at a time: below about 50 points a box is a handful of points, not a region."""


@dataclass(frozen=True)
class Box:
    """One PRIM box: the factors it restricts (path -> (low, high)), the ranges sampled, its
    coverage, density and mass, and the density threshold it was asked to reach."""

    limits: dict[str, tuple[float, float]]
    sampled: dict[str, tuple[float, float]]
    coverage: float
    density: float
    mass: float
    cases: int
    points: int
    threshold: float

    @property
    def found(self) -> bool:
        """A region that restricts something and holds mostly cases (at least the threshold)."""
        return bool(self.limits) and self.density >= self.threshold

    def words(self, cases_are: str) -> str:
        """The box as a sentence; `cases_are` says what a case is ("three_year does not beat
        annual in disruptions_total ...")."""
        if not self.found and not self.limits:
            # PRIM gave back the whole sample: it found no box that reaches the threshold, and
            # the density of the whole sample is only the share of cases, not a box's
            return (f"No region of the sampled ranges holds mostly such points: {cases_are} at "
                    f"{self.cases} of the {self.points} sampled points "
                    f"({self.cases / self.points:.0%}), and PRIM finds no box in which at least "
                    f"{self.threshold:.0%} of the points are such cases.")
        if not self.found:
            return (f"No region of the sampled ranges holds mostly such points: {cases_are} at "
                    f"{self.cases} of the {self.points} sampled points, and the densest box PRIM "
                    f"finds has only {self.density:.0%} of its points such cases (the threshold is "
                    f"{self.threshold:.0%}); they are spread across the ranges, not in one region.")
        parts = [_range_words(p, lo, hi, self.sampled[p]) for p, (lo, hi) in self.limits.items()]
        return (f"Where {' and '.join(parts)}, {cases_are} at {self.density:.0%} of the sampled "
                f"points (density, against {self.cases / self.points:.0%} across the whole sample); "
                f"this region holds {self.coverage:.0%} of all {self.cases} such points (coverage) "
                f"and {self.mass:.0%} of the sample.")

    def to_dict(self) -> dict[str, Any]:
        return {"found": self.found, "limits": {p: list(v) for p, v in self.limits.items()},
                "sampled": {p: list(v) for p, v in self.sampled.items()},
                "coverage": self.coverage, "density": self.density, "mass": self.mass,
                "cases": self.cases, "points": self.points, "threshold": self.threshold}


def _range_words(path: str, lo: float, hi: float, full: tuple[float, float]) -> str:
    low_cut, high_cut = lo > full[0], hi < full[1]
    if low_cut and high_cut:
        return f"{path} is between {lo:.4g} and {hi:.4g}"
    if low_cut:
        return f"{path} is above {lo:.4g}"
    return f"{path} is below {hi:.4g}"


def discover(x: Any, y: np.ndarray, threshold: float = 0.8) -> Box | None:
    """The PRIM box for cases `y` (booleans) in sample `x` (a DataFrame of factor values), or
    None when there is no case of interest or every point is one."""
    cases = int(np.sum(y))
    if len(x) < MIN_POINTS:
        raise UsageError(f"the sample has {len(x)} points; scenario discovery needs at least "
                         f"{MIN_POINTS} (use a Morris or Sobol study with more --samples)")
    if cases == 0 or cases == len(x):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EMA Workbench warns about optional parallel back-ends
        import logging

        from ema_workbench.analysis import prim

        logging.getLogger("EMA").setLevel(logging.ERROR)
        logging.getLogger("EMA.ema_workbench").setLevel(logging.ERROR)
        run = prim.Prim(x.reset_index(drop=True), np.asarray(y, dtype=bool), threshold=threshold)
        box = run.find_box()
    trajectory = box.peeling_trajectory
    good = trajectory[trajectory["density"] >= threshold]
    chosen = int(good["coverage"].idxmax()) if len(good) else int(trajectory["density"].idxmax())
    limits_frame = box.box_lims[chosen]
    full = {c: (float(x[c].min()), float(x[c].max())) for c in x.columns}
    limits = {}
    for column in x.columns:
        lo, hi = float(limits_frame.loc[0, column]), float(limits_frame.loc[1, column])
        if lo > full[column][0] or hi < full[column][1]:
            limits[column] = (lo, hi)
    row = trajectory.loc[chosen]
    return Box(limits, full, float(row["coverage"]), float(row["density"]), float(row["mass"]),
               cases, len(x), threshold)


# --------------------------------------------------------------------------- the command


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "discover", help="scenario discovery (PRIM): where SCENARIO does not beat OTHER",
        description="Over a Morris or Sobol sample (a `fundsim sensitivity` folder), find the few "
                    "factor ranges where SCENARIO does not beat OTHER (for a study made with "
                    "--against; which way is better follows the metric), or where the metric is "
                    "at most --below or at least --above, with PRIM (EMA Workbench); print the box "
                    "in words with its coverage and density.")
    p.add_argument("folder", metavar="FOLDER", help="a sensitivity folder, e.g. "
                                                    "results/three_year-vs-annual-sobol")
    level = p.add_mutually_exclusive_group()
    level.add_argument("--below", type=finite_float, default=None, metavar="VALUE",
                       help="a case is a point whose metric (or difference) is at most VALUE")
    level.add_argument("--above", type=finite_float, default=None, metavar="VALUE",
                       help="a case is a point whose metric (or difference) is at least VALUE")
    p.add_argument("--metric", default=None,
                   help="for a sweep folder: which main output (disruptions_total); a sensitivity "
                        "folder has its own")
    p.add_argument("--threshold", type=float, default=0.8,
                   help="least density of a box worth reporting (0.8)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


@dataclass(frozen=True)
class Cases:
    """Which points are cases of interest, and how to say it both ways."""

    mask: np.ndarray
    are: str  # what holds at a case
    not_: str  # what holds at every other point
    level: float | None


def cases_of(manifest: dict[str, Any], means: np.ndarray, below: float | None,
             above: float | None, folder: str) -> Cases:
    """The cases: by default (an --against study) the points where SCENARIO does not beat OTHER,
    the way the metric is better (more disruptions, less lapsed money); else a level."""
    from .analysis import BETTER_WHEN
    from .sensitivity_command import what_is_measured

    metric, name, other = manifest["metric"], manifest["scenario_name"], manifest.get("other_name")
    measured = what_is_measured(metric, name, other)
    if below is not None:
        return Cases(means <= below, f"{measured} is at most {below:g}",
                     f"{measured} is above {below:g}", below)
    if above is not None:
        return Cases(means >= above, f"{measured} is at least {above:g}",
                     f"{measured} is below {above:g}", above)
    better = BETTER_WHEN.get(metric)
    if other is None or better is None:
        why = ("a one-scenario study has no winner" if other is None
               else f"neither more nor less {metric} is better")
        raise UsageError(f"{folder}: {why}; give --below VALUE or --above VALUE (a level of "
                         f"{measured})")
    sign = "zero or less" if better == "higher" else "zero or more"
    lose = means <= 0 if better == "higher" else means >= 0
    return Cases(lose, f"{name} does not beat {other} ({measured} is {sign}; {better} "
                       f"{metric} is better)", f"{name} beats {other} in {metric}", 0.0)


def _sample(folder: Any, metric: str | None) -> tuple[dict[str, Any], Any, Any]:
    """(what was measured, the factors' values, each point's mean and CI) of a Morris or Sobol
    sensitivity folder, or of a sweep folder (a grid or Latin hypercube of one scenario)."""
    from . import folders
    from .analysis import MAIN_METRICS
    from .sensitivity_folder import load_study

    if folders.kind_of(folder) == folders.SWEEP:
        import json

        import pandas as pd

        sweep = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        metric = metric or "disruptions_total"
        if metric not in MAIN_METRICS:
            raise UsageError(f"--metric {metric!r}: a sweep's points.parquet holds "
                             f"{', '.join(MAIN_METRICS)}")
        table = pd.read_parquet(folder / "points.parquet")
        paths = [v["path"] for v in sweep["vary"]]
        points = pd.DataFrame({k: table[f"{metric}_{k}"] for k in ("mean", "ci_low", "ci_high")})
        return ({"metric": metric, "scenario_name": sweep["scenario_name"], "other_name": None,
                 "runs": sweep["runs"]}, table[paths], points)
    study = load_study(folder)
    manifest = study["manifest"]
    if manifest["method"] == "oat":
        raise UsageError(f"{folder}: a one-at-a-time study moves one factor at a time, so it "
                         "samples no region; run `fundsim sensitivity --method morris` or `sobol`")
    if metric is not None and metric != manifest["metric"]:
        raise UsageError(f"--metric {metric}: {folder} measured {manifest['metric']}; a "
                         "sensitivity folder answers for its own metric")
    paths = [f["path"] for f in manifest["factors"]]
    return manifest, study["design"][paths], study["points"]


def run(args: Any, out: Any, err: Any) -> int:
    import json
    from pathlib import Path

    from .options import json_safe

    if not 0 < args.threshold <= 1:
        raise UsageError(f"--threshold {args.threshold:g}: a density, between 0 and 1")
    manifest, x, points = _sample(Path(args.folder), args.metric)
    means = points["mean"].to_numpy(dtype=float)
    cases = cases_of(manifest, means, args.below, args.above, args.folder)
    box = discover(x, cases.mask, args.threshold)
    span = f"the mean ranges from {float(means.min()):,.1f} to {float(means.max()):,.1f}"
    if box is None and cases.mask.all():
        sentence = (f"Every sampled point is such a case: {cases.are} at all {len(means)} of them "
                    f"({span}), so there is no region to single out.")
    elif box is None:
        sentence = (f"No sampled point is such a case: {cases.not_} at all {len(means)} of them "
                    f"({span}), so there is no region to single out.")
    else:
        sentence = box.words(cases.are)
    half = (points["ci_high"] - points["ci_low"]).to_numpy(dtype=float) / 2
    precision = (f"Each point's mean is known to about ±{float(np.nanmedian(half)):,.1f} (95%) at "
                 f"{manifest['runs']:,} runs a point, so points that close to {cases.level:g} may "
                 "lie on either side: which points count as cases, and so the box's edges, can "
                 "change with the seed; more --runs sharpen them.")
    if args.json:
        payload = {"command": "discover", "folder": str(args.folder), "below": args.below,
                   "above": args.above, "cases": int(cases.mask.sum()), "points": len(means),
                   "sentence": sentence, "precision": precision,
                   "box": box.to_dict() if box is not None else None}
        out.print(json.dumps(json_safe(payload), indent=2, allow_nan=False), markup=False)
    else:
        out.print(sentence, markup=False)
        out.print(precision, markup=False)
    return 0

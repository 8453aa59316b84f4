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

MIN_POINTS = 50
"""PRIM peels 5% at a time: below about 50 points a box is a handful of points, not a region."""


@dataclass(frozen=True)
class Box:
    """One PRIM box: the factors it restricts (path -> (low, high)), the ranges sampled, and its
    coverage, density and mass."""

    limits: dict[str, tuple[float, float]]
    sampled: dict[str, tuple[float, float]]
    coverage: float
    density: float
    mass: float
    cases: int
    points: int

    def words(self, subject: str) -> str:
        """The box as a sentence: `subject` (e.g. "three_year does not beat annual") when ..."""
        if not self.limits:
            return f"{subject} everywhere in the sampled ranges (no restriction is needed)."
        parts = [_range_words(p, lo, hi, self.sampled[p]) for p, (lo, hi) in self.limits.items()]
        return (f"{subject} when {' and '.join(parts)}: {self.density:.0%} of the sampled points "
                f"in this region are such cases (density), and it holds {self.coverage:.0%} of all "
                f"{self.cases} of them (coverage; {self.mass:.0%} of the sample lies in it).")

    def to_dict(self) -> dict[str, Any]:
        return {"limits": {p: list(v) for p, v in self.limits.items()},
                "sampled": {p: list(v) for p, v in self.sampled.items()},
                "coverage": self.coverage, "density": self.density, "mass": self.mass,
                "cases": self.cases, "points": self.points}


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
               cases, len(x))


# --------------------------------------------------------------------------- the command


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "discover", help="scenario discovery (PRIM): where SCENARIO does not beat OTHER",
        description="Over a Morris or Sobol sample (a `fundsim sensitivity` folder), find the few "
                    "factor ranges where the gain is at or below --below (default 0 for a study "
                    "made with --against: where the multi-year settlement does not pay off), with "
                    "PRIM (EMA Workbench); print the box in words with its coverage and density.")
    p.add_argument("folder", metavar="FOLDER", help="a sensitivity folder, e.g. "
                                                    "results/three_year-vs-annual-sobol")
    p.add_argument("--below", type=float, default=None, metavar="VALUE",
                   help="a case of interest is a point whose metric (or gain) is at most this "
                        "(default 0 with --against; required for a one-scenario study)")
    p.add_argument("--threshold", type=float, default=0.8,
                   help="least density of the box reported (0.8)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def subject(manifest: dict[str, Any], below: float) -> str:
    metric = manifest["metric"]
    if manifest.get("other_name"):
        if below == 0:
            return (f"{manifest['scenario_name']} does not beat {manifest['other_name']} (its gain in "
                    f"{metric} is zero or less)")
        return (f"the gain in {metric} of {manifest['scenario_name']} over {manifest['other_name']} "
                f"is at most {below:g}")
    return f"{metric} of {manifest['scenario_name']} is at most {below:g}"


def _opposite(manifest: dict[str, Any], below: float) -> str:
    """What holds where no point is a case of interest, said positively."""
    metric = manifest["metric"]
    if manifest.get("other_name"):
        if below == 0:
            return f"{manifest['scenario_name']} beats {manifest['other_name']} in {metric}"
        return (f"The gain in {metric} of {manifest['scenario_name']} over "
                f"{manifest['other_name']} is above {below:g}")
    return f"{metric} of {manifest['scenario_name']} is above {below:g}"


def run(args: Any, out: Any, err: Any) -> int:
    import json
    from pathlib import Path

    from .options import json_safe
    from .sensitivity_folder import load_study

    if not 0 < args.threshold <= 1:
        raise UsageError(f"--threshold {args.threshold:g}: a density, between 0 and 1")
    study = load_study(Path(args.folder))
    manifest = study["manifest"]
    if manifest["method"] == "oat":
        raise UsageError(f"{args.folder}: a one-at-a-time study moves one factor at a time, so it "
                         "samples no region; run `fundsim sensitivity --method morris` or `sobol`")
    below = args.below
    if below is None:
        if not manifest.get("other_name"):
            raise UsageError(f"{args.folder}: a one-scenario study has no gain; give --below VALUE "
                             f"(a level of {manifest['metric']})")
        below = 0.0
    paths = [f["path"] for f in manifest["factors"]]
    x = study["design"][paths]
    means = study["points"]["mean"].to_numpy(dtype=float)
    y = means <= below
    box = discover(x, y, args.threshold)
    what = subject(manifest, below)
    if box is None:
        span = f"from {float(means.min()):,.1f} to {float(means.max()):,.1f}"
        if y.all():
            sentence = (f"{what[0].upper() + what[1:]} at every one of the {len(means)} sampled "
                        f"points (the mean ranges {span}): no region to single out.")
        else:
            sentence = (f"{_opposite(manifest, below)} at every one of the {len(means)} sampled "
                        f"points (the mean ranges {span}): there is no region where it does not.")
    else:
        sentence = box.words(what[0].upper() + what[1:])
    if args.json:
        payload = {"command": "discover", "folder": str(args.folder), "below": below,
                   "cases": int(y.sum()), "points": len(means), "sentence": sentence,
                   "box": box.to_dict() if box is not None else None}
        out.print(json.dumps(json_safe(payload), indent=2, allow_nan=False), markup=False)
    else:
        out.print(sentence, markup=False)
    return 0

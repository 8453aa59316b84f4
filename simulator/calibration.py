"""Calibration: does a scenario's output look like the organisation's published figures?

Targets are data (`calibration/targets.toml`): each names a *measure* (a statistic of one run,
computed here from the run's per-run and per-year outputs), the published value or band, a
tolerance, and its source and date. `check` computes every measure on a batch's runs and gives a
verdict per target:

- **meets**: the model's mean lies inside the published band;
- **within tolerance**: outside the band by no more than the tolerance (the slack for definitions
  that differ between the source and the model, stated beside each target);
- **misses**: further out.

Each measure is a statistic of one run (a ratio of its own six-year totals, say), so its mean over
runs has an ordinary Monte Carlo interval, and its spread over runs is what could happen in a year
like the published one. The verdict uses the mean, not the interval: a mean inside the band is what
the published figure (itself an average over years) is compared with.

Why measures live in code and not in the targets file: a target file is user input, and fundsim
never evaluates user text; the file picks measures by name from `MEASURES`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .analysis import describe, mean_ci
from .errors import FundsimError

DEFAULT_TARGETS = Path(__file__).resolve().parent.parent / "calibration" / "targets.toml"


class TargetsError(FundsimError):
    """A targets file that cannot be read or breaks a rule (exit code 2 in the CLI)."""


# --------------------------------------------------------------------------- measures

Measure = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]
"""(runs, years restricted to the target's years) -> one value per run, in run order."""


def _by_run(years: pd.DataFrame, column: str) -> np.ndarray:
    return years.groupby("run", sort=True)[column].sum().to_numpy(dtype=float)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _capital_underspend(runs: pd.DataFrame, years: pd.DataFrame) -> np.ndarray:
    return _ratio(_by_run(years, "capital_lapsed_m"), _by_run(years, "capital_received_m"))


def _underspend(runs: pd.DataFrame, years: pd.DataFrame) -> np.ndarray:
    return _ratio(_by_run(years, "lapsed_funds_m"), _by_run(years, "received_m"))


def _temporary_headcount_share(runs: pd.DataFrame, years: pd.DataFrame) -> np.ndarray:
    temp = _by_run(years, "mean_temporary_fte")
    return _ratio(temp, temp + _by_run(years, "mean_fte"))


def _temporary_spend_share(runs: pd.DataFrame, years: pd.DataFrame) -> np.ndarray:
    return _ratio(_by_run(years, "temporary_spend_m"), _by_run(years, "received_m"))


def _pay_share_of_resource(runs: pd.DataFrame, years: pd.DataFrame) -> np.ndarray:
    resource = (_by_run(years, "received_m") - _by_run(years, "overhead_m")
                - _by_run(years, "capital_received_m"))
    return _ratio(_by_run(years, "staff_pay_m"), resource)


def _disruptions_per_year(runs: pd.DataFrame, years: pd.DataFrame) -> np.ndarray:
    n_years = years["fiscal_year"].nunique()
    return _by_run(years, "disruptions_total") / n_years


def _output_trend(runs: pd.DataFrame, years: pd.DataFrame) -> np.ndarray:
    """Least-squares slope of each run's yearly disruptions, as a share of its mean a year: a trend
    from every year, so one low or high year at either end does not decide it."""
    table = years.pivot(index="run", columns="fiscal_year", values="disruptions_total")
    y = table.to_numpy(dtype=float)
    t = table.columns.to_numpy(dtype=float)
    t = t - t.mean()
    slope = (y - y.mean(axis=1, keepdims=True)) @ t / (t @ t)
    return _ratio(slope, y.mean(axis=1))


def _priority_share(runs: pd.DataFrame, years: pd.DataFrame) -> np.ndarray:
    return _ratio(_by_run(years, "priority_disruptions"), _by_run(years, "disruptions_total"))


MEASURES: dict[str, tuple[Measure, str]] = {
    "capital_underspend": (_capital_underspend,
                           "capital lapsed / net capital allocated, over the years"),
    "underspend": (_underspend, "all money lapsed / money received, over the years"),
    "temporary_headcount_share": (_temporary_headcount_share,
                                  "temporary FTE / (permanent + temporary FTE), mean over the years"),
    "temporary_spend_share": (_temporary_spend_share,
                              "spending on temporary capacity / money received, over the years"),
    "pay_share_of_resource": (_pay_share_of_resource,
                              "permanent pay bill / net resource money received, over the years"),
    "disruptions_per_year": (_disruptions_per_year, "disruptions a year, mean over the years"),
    "output_trend": (_output_trend, "least-squares trend of yearly disruptions, as a share of "
                                    "their mean a year"),
    "priority_share": (_priority_share, "priority-threat disruptions / all disruptions"),
}
"""Every statistic a target may name: the function and what it measures, in words."""


# --------------------------------------------------------------------------- targets file

_CONFIG = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Target(BaseModel):
    """One published figure the baseline should reproduce."""

    model_config = _CONFIG
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    measure: str
    years: tuple[int, int] | None = None
    published: str = Field(min_length=1)
    low: float | None = None
    high: float | None = None
    tolerance: float = Field(ge=0)
    source: str = Field(min_length=1)
    date: str = Field(min_length=1)
    choice: str = ""
    """Where sources disagree or are for other years: which figure was chosen and why."""

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, value: str) -> str:
        if value not in MEASURES:
            raise ValueError(f"must be one of: {', '.join(MEASURES)} (fundsim calibrate "
                             "--list-measures says what each measures)")
        return value

    @model_validator(mode="after")
    def _band(self) -> Target:
        if self.low is None and self.high is None:
            raise ValueError("give low, high or both (the published band)")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if self.years is not None and not 1 <= self.years[0] <= self.years[1]:
            raise ValueError("years = [first, last] counts fiscal years from 1, first <= last")
        return self


class Targets(BaseModel):
    model_config = _CONFIG
    version: int = Field(ge=1)
    description: str = ""
    target: tuple[Target, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Targets:
        ids = [t.id for t in self.target]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"target ids must be unique (repeated: {', '.join(dupes)})")
        return self


def load_targets(path: str | Path = DEFAULT_TARGETS) -> Targets:
    """Read and validate a targets file; `TargetsError` names the file, field and rule."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise TargetsError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetsError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError(f"{path}: not valid TOML: {exc}") from None
    if isinstance(data.get("target"), list):
        data["target"] = tuple(
            {**t, "years": tuple(t["years"])} if isinstance(t, dict) and isinstance(t.get("years"), list)
            else t for t in data["target"])
    try:
        return Targets.model_validate(data)
    except ValidationError as exc:
        lines = []
        errors = exc.errors(include_url=False)
        if len(errors) > 1:  # a refused target also leaves the list "too short": say it once
            errors = [e for e in errors if e["type"] != "too_short"]
        for err in errors:
            where = ".".join(str(p) for p in err["loc"]) or "(file)"
            if where.startswith("target."):
                parts = where.split(".")
                if len(parts) > 1 and parts[1].isdigit():
                    index = int(parts[1])
                    raw = data["target"][index] if index < len(data["target"]) else {}
                    name = raw.get("id", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
                    where = ".".join([f"target[{name}]", *parts[2:]])
            msg = err["msg"]
            if err["type"] == "value_error":
                msg = str(err.get("ctx", {}).get("error", msg))
            value = f" = {err['input']!r}" if err["type"] != "missing" and len(where.split(".")) > 1 \
                and not isinstance(err["input"], dict) else ""
            lines.append(f"{path}: {where}{value}: {msg}")
        raise TargetsError("\n".join(lines)) from None


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Result:
    """One target's verdict on one batch."""

    target: Target
    mean: float
    ci_low: float
    ci_high: float
    p5: float
    p95: float
    verdict: str  # "meets", "within tolerance", "misses"

    @property
    def passed(self) -> bool:
        return self.verdict != "misses"

    def as_dict(self) -> dict[str, Any]:
        t = self.target
        return {"id": t.id, "title": t.title, "measure": t.measure,
                "definition": MEASURES[t.measure][1], "years": list(t.years) if t.years else None,
                "model_mean": self.mean, "model_ci_low": self.ci_low,
                "model_ci_high": self.ci_high, "model_p5": self.p5, "model_p95": self.p95,
                "published": t.published, "low": t.low, "high": t.high,
                "tolerance": t.tolerance, "verdict": self.verdict, "source": t.source,
                "date": t.date, "choice": t.choice}


def verdict(target: Target, value: float) -> str:
    """'meets' inside the band, 'within tolerance' within `tolerance` of it, else 'misses'."""
    if not math.isfinite(value):
        return "misses"
    lo = -math.inf if target.low is None else target.low
    hi = math.inf if target.high is None else target.high
    if lo <= value <= hi:
        return "meets"
    if lo - target.tolerance <= value <= hi + target.tolerance:
        return "within tolerance"
    return "misses"


def measure_values(target: Target, runs: pd.DataFrame, years: pd.DataFrame) -> np.ndarray:
    """The target's measure, one value per run."""
    if target.years is not None:
        first, last = target.years
        years = years[(years["fiscal_year"] >= first) & (years["fiscal_year"] <= last)]
    return MEASURES[target.measure][0](runs, years)


def check(targets: Targets, runs: pd.DataFrame, years: pd.DataFrame) -> list[Result]:
    """Every target's verdict on one batch (its per-run and per-year tables)."""
    out = []
    for t in targets.target:
        values = measure_values(t, runs, years)
        mean, lo, hi = mean_ci(values)
        d = describe(values)
        out.append(Result(t, mean, lo, hi, d["p5"], d["p95"], verdict(t, mean)))
    return out


def misfit(targets: Targets, runs: pd.DataFrame, years: pd.DataFrame) -> float:
    """How far a batch is from the targets, for fitting: the sum over targets of the squared
    distance of the mean from the band's centre, in units of half the band plus the tolerance (a
    one-sided band counts only the distance beyond its bound). Aiming at the centre rather than
    anywhere inside keeps the fitted values away from the edges, where noise would flip a verdict."""
    total = 0.0
    for t in targets.target:
        mean = float(np.nanmean(measure_values(t, runs, years)))
        if not math.isfinite(mean):
            return math.inf
        if t.low is not None and t.high is not None:
            scale = (t.high - t.low) / 2.0 + t.tolerance
            total += ((mean - (t.low + t.high) / 2.0) / scale) ** 2 if scale > 0 else 0.0
        else:
            bound = t.low if t.low is not None else t.high
            beyond = (bound - mean) if t.low is not None else (mean - bound)
            scale = t.tolerance if t.tolerance > 0 else max(abs(bound), 1e-9) * 0.05
            total += (max(0.0, beyond) / scale) ** 2
    return total


def is_share(measure: str) -> bool:
    """Whether a measure is a share of a whole (shown as a percentage)."""
    return measure.endswith("share") or measure in ("capital_underspend", "underspend",
                                                    "pay_share_of_resource")


def fmt(x: float | None, measure: str) -> str:
    """A measure's value as a reader expects it: shares as percentages, counts whole."""
    if x is None or not math.isfinite(x):
        return "—"
    if is_share(measure):
        return f"{100 * x:.1f}%"
    if measure == "output_trend":
        return f"{100 * x:+.2f}% a year"
    return f"{x:,.0f}"


def band(target: Target) -> str:
    """The published band in the measure's own format."""
    lo, hi = target.low, target.high
    if lo is not None and hi is not None:
        return f"{fmt(lo, target.measure)} to {fmt(hi, target.measure)}"
    if lo is not None:
        return f"at least {fmt(lo, target.measure)}"
    return f"at most {fmt(hi, target.measure)}"


def tolerance_text(target: Target) -> str:
    """The tolerance in the measure's units: percentage points for shares."""
    if not target.tolerance:
        return "none"
    if target.measure == "output_trend":
        return f"± {100 * target.tolerance:.2f} points a year"
    text = fmt(target.tolerance, target.measure)
    return "± " + (text.replace("%", " points") if text.endswith("%") else text)


def table(results: list[Result]) -> pd.DataFrame:
    """The "Does the baseline match the published figures?" table: target, model (mean with its
    Monte Carlo interval), published band, tolerance, verdict, source."""
    rows = []
    for r in results:
        m = r.target.measure
        rows.append({
            "target": r.target.title,
            "model": fmt(r.mean, m),
            "95% CI of mean": f"{fmt(r.ci_low, m)} to {fmt(r.ci_high, m)}",
            "published": band(r.target),
            "tolerance": tolerance_text(r.target),
            "verdict": r.verdict,
            "source": f"{r.target.source} ({r.target.date})",
        })
    return pd.DataFrame(rows)

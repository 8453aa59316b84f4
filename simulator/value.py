"""The value of certainty in money (`fundsim value A B`, issue 11): how much extra core money a year
scenario A would need for its mean of a metric to match scenario B's, and what each month of
earlier confirmation of A's core money is worth in the same money.

Method (docs/value.md):

* **Extra money goes to A's core stream only.** `funding.baseline_budget_m` is the total of all
  streams and each stream gets `budget x share`. To add £X m a year of core money the budget
  becomes T + X, the core share (T s_core + X) / (T + X) and every other stream's share
  T s_k / (T + X), so every other stream's amount (T + X) s_k' = T s_k is unchanged (up to
  floating-point rounding, a relative 1e-15) and the shares still sum to 1. With `real_growth`
  the extra money grows each year as the whole budget does: X is year-one money.
* **Common random numbers.** Every evaluation runs runs 0..n-1 of its variants with the same seed
  (`evaluate.evaluate`), so run i of every variant draws the same random numbers and mean_A(X), as
  a function of X, is smooth-ish (it moves with the money, not with fresh chance) and increasing
  for an output that more money buys.
* **Root-finding.** X* solves g(X) = mean_A(X) - mean_B = 0. A first guess comes from the slope
  at X = 0; the bracket is widened from there (doubling) until g changes sign, within
  [-90% of A's core money, +100% of it]; `scipy.optimize.brentq` then finds the root to £0.05m
  (`XTOL_M`). When B is worse than A the root is negative (A matches B with less money), which is
  reported as a negative value, not hidden. When g does not change sign inside the limits (the
  metric does not respond to core money, or not enough) `NoBreakEven` says so.
  A metric where lower is better (`lapsed_funds_m`) is handled the same way: the root of
  mean_A(X) = mean_B, whichever way the metric moves with money; if there is none within the
  limits it is refused with the reason.
* **Confidence interval: the delta method.** X* is the root of an estimating equation
  mean_i(a_i(X) - b_i) = 0, so to first order
  Var(X*) ~ Var(a_i(X*) - b_i) / n / g'(X*)^2, with g'(X*) from a paired central difference
  (A at X* +- `STEP_M`, the same runs). It costs two more evaluations; a bootstrap would re-run the
  whole root-finding on each resample (hundreds of times the cost). Its assumptions: g is close to
  linear within the CI (the central difference spans it when the CI is a few £m wide), n is large
  enough for the mean's normal approximation, and the error of g' itself is negligible (it
  multiplies g(X*) = 0 to first order). The CI is the Monte Carlo precision of the answer given
  the scenario files, including the spread of the `[uncertain]` parameters' draws; it is not a
  range over other assumptions. Its half-width is 1.96 SE plus brentq's tolerance (`XTOL_M`), so
  the search's own numerical error is inside it too (it matters only when SE is tiny, as when B is
  A with a little more money: then the runs agree almost exactly and the root is known to xtol).
* **Each month earlier.** A's core `confirmation_delay_months` distribution shifted one month
  earlier (min, mode and max, or a fixed value, all minus one; the same uniforms map to quantiles
  one month earlier): the slope s = mean over runs of (a_i(shifted) - a_i), with its paired CI,
  is the metric bought by the first month earlier. It is A's months a finance director means:
  "if we stay on A's settlement, what is getting its money confirmed a month sooner worth?", and it
  is converted into A's own core money at A as it is: Y = s / g'(0), g'(0) from A at +- `STEP_M`.
  Its CI is the delta method for a ratio of paired means: per-run influence
  z_i = (d_i - Y e_i) / mean(e), d_i the month difference, e_i the budget central difference of
  run i, SE = sd(z) / sqrt(n), which carries the uncertainty of both slopes and their correlation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import levers
from .analysis import BETTER_WHEN, possessive
from .errors import FundsimError, UsageError
from .evaluate import Progress, check_metric, evaluate
from .executors import ChunkExecutor
from .scenario import Scenario

STEP_M = 2.0
"""Half-width (£m a year) of the paired central differences that give the budget slope g'."""
XTOL_M = 0.05
"""brentq's tolerance on the answer, £m a year: far below its Monte Carlo CI."""
LOW_LIMIT, HIGH_LIMIT = -0.9, 1.0
"""The bracket is searched within these fractions of A's core money a year."""
MAX_ITER = 40
Z95 = 1.959963984540054
HIGHER_IS_BETTER = frozenset(m for m, better in BETTER_WHEN.items() if better == "higher")
"""Metrics where more is better (`analysis.BETTER_WHEN`, which readers' tables use too): of these
the sentence says what B is "worth" in A's money."""
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
                8: "eight", 9: "nine", 10: "ten"}


class NoBreakEven(UsageError):
    """A cannot match B's mean with any amount of core money within the searched limits."""


# --------------------------------------------------------------------------- money and months


def core_money_changes(scenario: Scenario, extra_m: float, stream: str = "core") -> dict[str, float]:
    """The field changes that give `stream` £`extra_m` m a year more (less, if negative) and leave
    every other stream's amount (budget x share) as it was (module docstring)."""
    funding = scenario.funding
    if stream not in funding.streams:
        raise UsageError(f"the scenario {scenario.name!r} has no funding stream {stream!r} to add "
                         f"money to (streams: {', '.join(funding.streams)})")
    total = funding.baseline_budget_m
    new_total = total + extra_m
    core = total * funding.streams[stream].share
    if new_total <= 0 or core + extra_m < 0:
        raise UsageError(f"£{extra_m:+,.2f}m a year would leave {scenario.name!r} with negative "
                         f"{stream} money (it has £{core:,.2f}m)")
    changes = {"funding.baseline_budget_m": new_total}
    for name, s in funding.streams.items():
        amount = total * s.share + (extra_m if name == stream else 0.0)
        changes[f"funding.streams.{name}.share"] = amount / new_total
    return changes


def with_extra_money(scenario: Scenario, extra_m: float, stream: str = "core") -> Scenario:
    """`scenario` with £`extra_m` m a year more `stream` money, other streams' amounts unchanged."""
    if extra_m == 0.0:
        return scenario
    return scenario.with_changes(core_money_changes(scenario, extra_m, stream))


def stream_amounts(scenario: Scenario) -> dict[str, float]:
    """Each stream's year-one amount, £m: budget x share (what the model gives it)."""
    total = scenario.funding.baseline_budget_m
    return {name: total * s.share for name, s in scenario.funding.streams.items()}


def shifted_delay(scenario: Scenario, months: float, stream: str = "core") -> Scenario:
    """`scenario` with `stream`'s confirmation delay distribution moved by `months` (negative:
    earlier): every location field (min, mode, max, value) shifted, the shape kept."""
    spec = scenario.funding.streams[stream]
    dist = spec.confirmation_delay_months.model_dump(mode="python")
    moved = [k for k in ("min", "mode", "max", "value") if k in dist]
    if not moved:
        raise UsageError(f"{stream} confirmation_delay_months is a {dist['dist']} distribution, "
                         "which has no location to shift by a month")
    for key in moved:
        dist[key] = float(dist[key]) + months
    return scenario.with_changes({f"funding.streams.{stream}.confirmation_delay_months": dist})


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class MonthValue:
    """The first month of earlier confirmation of A's core money: metric bought and £m a year."""

    slope: float  # metric per month earlier (mean paired difference)
    slope_low: float
    slope_high: float
    value_m: float  # £m a year of A's core money that buys the same
    value_low: float
    value_high: float
    budget_slope: float  # g'(0): metric per £m a year at A as it is


@dataclass(frozen=True)
class ValueResult:
    """What `value_of_certainty` found; `.sentence()` for people, `.to_dict()` for JSON."""

    a: str
    b: str
    a_label: str  # e.g. "one-year money"
    b_label: str  # e.g. "a three-year settlement"
    metric: str
    years: int
    runs: int
    seed: int
    stream: str
    mean_a: float  # A as it is
    mean_b: float
    value_m: float  # X*
    ci_low: float
    ci_high: float
    se_m: float
    mean_a_at_value: float  # mean of A at X* (the residual is what brentq left)
    slope: float  # g'(X*), metric per £m a year
    bracket: tuple[float, float]
    evaluations: list[dict[str, Any]]
    month: MonthValue | None
    month_note: str | None
    already_matches: bool = False
    methods: dict[str, str] = field(default_factory=dict)

    def sentence(self) -> str:
        """One sentence a finance director can repeat. "Worth" is said only of a metric where more
        is better (`HIGHER_IS_BETTER`); for any other (lapsed_funds_m, costs) the sentence says
        neutrally how much more or less core money A needs to match B's mean."""
        over = f"over {self.years} years ({self.runs:,} paired runs)"
        ci = f"(95% CI {money(self.ci_low)} to {money(self.ci_high)})"
        worth = self.metric in HIGHER_IS_BETTER
        if self.already_matches:
            text = (f"On these assumptions {self.a} already matches {self.b} run by run in "
                    f"{self.metric} {over}: the value is £0m a year {ci}")
        elif worth:
            text = (f"On these assumptions {self.b_label} is worth {money(self.value_m)} a year "
                    f"{ci} of {self.a_label}, measured in mean {self.metric} {over}: that much "
                    f"more core money a year allocated to {self.a} (part of it lapses; `fundsim "
                    "appraise` compares what each costs) buys the same output")
            if self.value_m < 0:
                text += (f"; negative because {self.a} already does better on this measure and "
                         "would match it with that much less money")
        else:
            more = "more" if self.value_m >= 0 else "less"
            ci = _amount_ci(self.value_m, self.ci_low, self.ci_high)
            text = (f"On these assumptions {self.a} would need {money(abs(self.value_m))} a year "
                    f"{more} core money {ci} for its mean {self.metric} {over} to equal "
                    f"{possessive(self.b)}")
        if self.month is not None and math.isfinite(self.month.value_m):
            m = self.month
            mci = f"(95% CI {money(m.value_low)} to {money(m.value_high)})"
            if worth:
                text += (f"; confirming {possessive(self.a)} core money one month earlier every "
                         f"year is worth {money(m.value_m)} a year {mci} (further months are worth "
                         "less each: docs/value.md)")
            else:
                mci = _amount_ci(m.value_m, m.value_low, m.value_high)
                text += (f"; confirming {possessive(self.a)} core money one month earlier every "
                         f"year moves its mean {self.metric} as {money(abs(m.value_m))} a year "
                         f"{'more' if m.value_m >= 0 else 'less'} core money would {mci}")
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: the answer, its interval, how it was found."""
        out: dict[str, Any] = {
            "a": self.a, "b": self.b, "metric": self.metric, "years": self.years,
            "runs": self.runs, "seed": self.seed, "stream": self.stream,
            "mean_a": self.mean_a, "mean_b": self.mean_b,
            "value_m": self.value_m, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "se_m": self.se_m, "mean_a_at_value": self.mean_a_at_value,
            "slope_per_m": self.slope, "already_matches": self.already_matches,
            "bracket": list(self.bracket), "evaluations": self.evaluations,
            "evaluation_count": len(self.evaluations), "model_runs": len(self.evaluations) * self.runs,
            "month_earlier": None if self.month is None else {
                "slope": self.month.slope, "slope_ci_low": self.month.slope_low,
                "slope_ci_high": self.month.slope_high, "value_m": self.month.value_m,
                "ci_low": self.month.value_low, "ci_high": self.month.value_high,
                "budget_slope_per_m": self.month.budget_slope},
            "month_note": self.month_note,
            "methods": self.methods, "sentence": self.sentence(),
        }
        return out


def _amount_ci(value: float, low: float, high: float) -> str:
    """The interval of an amount said as "£X more" or, when negative, "£X less": for "less" the
    interval of the amount less, so it reads the same way round as the words."""
    if value < 0:
        low, high = -high, -low
    return f"(95% CI {money(low)} to {money(high)})"


def money(value: float) -> str:
    """£ millions with a sign only when negative: £12.3m, -£1.5m."""
    if not math.isfinite(value):
        return "£?m"
    shown = f"{abs(value):,.1f}"
    return ("-" if value < 0 and shown != "0.0" else "") + f"£{shown}m"


def settlement_labels(a: Scenario, b: Scenario, stream: str = "core") -> tuple[str, str]:
    """How the sentence names A's money and B: by settlement length when that is all the two
    differ in ("one-year money", "a three-year settlement"), else by scenario name (a three-year
    settlement confirmed early is worth more than one confirmed late, and the sentence must not
    credit the length with the timing)."""
    ya = a.funding.streams[stream].settlement_years
    yb = b.funding.streams[stream].settlement_years if stream in b.funding.streams else ya
    if ya != yb and levers.groups(levers.differences(a, b)) == ["settlement length"]:
        def words(n: int) -> str:
            return NUMBER_WORDS.get(n, str(n))
        return f"{words(ya)}-year money", f"a {words(yb)}-year settlement"
    return f"{possessive(a.name)} core money", b.name


# --------------------------------------------------------------------------- the search


def _ci(mean: float, sd: float, n: int) -> tuple[float, float, float]:
    se = sd / math.sqrt(n) if n > 1 else math.nan
    return se, mean - Z95 * se, mean + Z95 * se


def value_of_certainty(a: Scenario, b: Scenario, metric: str = "disruptions_total",
                       runs: int = 2000, seed: int = 1, executor: ChunkExecutor | None = None,
                       workers: int = 1, progress: Progress | None = None, stream: str = "core",
                       step_m: float = STEP_M, xtol_m: float = XTOL_M,
                       months: bool = True) -> ValueResult:
    """The extra core money a year A needs for mean_A(metric) to equal mean_B, with a delta-method
    95% CI, and the value of each month earlier confirmation of A's core money (module docstring).
    `executor` runs the chunks (default: this process); results do not depend on it."""
    from scipy.optimize import brentq

    from .executors import ProcessExecutor

    check_metric(metric)
    if runs < 2:
        raise UsageError("value needs at least 2 runs for a confidence interval")
    core = stream_amounts(a).get(stream)
    if core is None:
        core_money_changes(a, 0.0, stream)  # raises the message naming the streams
        raise AssertionError
    own = executor is None
    executor = executor or ProcessExecutor(1)
    log: list[dict[str, Any]] = []
    cache: dict[float, np.ndarray] = {}

    def run(variants: list[tuple[str, float, Scenario]]) -> list[np.ndarray]:
        found = evaluate([s for _, _, s in variants], runs, seed, executor, (metric,), (),
                         workers, progress).of(metric)
        for (kind, x, _), values in zip(variants, found, strict=True):
            log.append({"kind": kind, "extra_m": x, "mean": float(values.mean())})
        return list(found)

    def a_at(xs: list[float], kind: str) -> list[np.ndarray]:
        todo = [x for x in dict.fromkeys(xs) if x not in cache]
        if todo:
            for x, values in zip(todo, run([(kind, x, with_extra_money(a, x, stream))
                                            for x in todo]), strict=True):
                cache[x] = values
        return [cache[x] for x in xs]

    try:
        # Up front, in one evaluation call: A, B, A at +-step (the budget slope at 0) and A one
        # month earlier.
        first: list[tuple[str, float, Scenario]] = [
            ("A", 0.0, a), ("B", 0.0, b),
            ("A slope", -step_m, with_extra_money(a, -step_m, stream)),
            ("A slope", step_m, with_extra_money(a, step_m, stream))]
        month_note = None
        earlier: Scenario | None = None
        if months:
            try:
                earlier = shifted_delay(a, -1.0, stream)
                first.append(("A one month earlier", 0.0, earlier))
            except FundsimError as exc:  # an invalid shift leaves the month value out, saying why
                month_note = (f"no month value: shifting {possessive(a.name)} {stream} "
                              f"confirmation one month earlier is not a valid scenario "
                              f"({_reason(exc)})")
        got = run(first)
        a0, b_runs, a_minus, a_plus = got[:4]
        cache.update({0.0: a0, -step_m: a_minus, step_m: a_plus})
        mean_b = float(b_runs.mean())
        mean_a = float(a0.mean())

        def g(x: float) -> float:
            return float(a_at([x], "search")[0].mean()) - mean_b

        slope0_runs = (a_plus - a_minus) / (2 * step_m)
        slope0 = float(slope0_runs.mean())

        month = None
        if earlier is not None:
            d = got[4] - a0
            _, s_lo, s_hi = _ci(float(d.mean()), float(d.std(ddof=1)), runs)
            if slope0 != 0:
                y = float(d.mean()) / slope0
                z = (d - y * slope0_runs) / slope0
                _, y_lo, y_hi = _ci(y, float(z.std(ddof=1)), runs)
            else:
                y = y_lo = y_hi = math.nan
                month_note = f"no month value in money: {metric} does not move with {stream} money"
            month = MonthValue(float(d.mean()), s_lo, s_hi, y, y_lo, y_hi, slope0)

        low_x, high_x = LOW_LIMIT * core, HIGH_LIMIT * core
        g0 = mean_a - mean_b
        already = bool(np.array_equal(a0, b_runs))
        if already or g0 == 0.0:
            root, bracket = 0.0, (0.0, 0.0)
        else:
            if slope0 == 0.0:
                raise NoBreakEven(f"mean {metric} of {a.name} does not move with £{step_m:g}m a "
                                  f"year more or less {stream} money, so no amount of it matches "
                                  f"{b.name}")
            # Move towards the root: against g0's sign along the slope's direction.
            direction = -math.copysign(1.0, g0) * math.copysign(1.0, slope0)
            limit = high_x if direction > 0 else low_x
            guess = min(abs(-g0 / slope0) * 1.5, abs(limit))
            step = max(guess, 2 * step_m)
            inner, x = 0.0, 0.0
            while True:
                x = direction * min(step, abs(limit))
                if math.copysign(1.0, g(x)) != math.copysign(1.0, g0):
                    break
                if abs(x) >= abs(limit):
                    raise NoBreakEven(
                        f"no amount of {stream} money from {money(low_x)} to +{money(high_x)} a "
                        f"year makes {possessive(a.name)} mean {metric} ({mean_a:,.4g}) reach "
                        f"{possessive(b.name)} ({mean_b:,.4g}); at {money(x)} it is "
                        f"{g(x) + mean_b:,.4g}: the metric does not respond enough to money in "
                        f"{a.name}")
                inner, step = x, step * 2
            bracket = (min(inner, x), max(inner, x))
            root = float(brentq(g, bracket[0], bracket[1], xtol=xtol_m, maxiter=MAX_ITER))
        # The slope and the per-run differences at the root, for the delta method.
        at, minus, plus = a_at([root, root - step_m, root + step_m], "at root")
        slope_runs = (plus - minus) / (2 * step_m)
        slope = float(slope_runs.mean())
        diff = at - b_runs
        sd = float(diff.std(ddof=1))
        if already:
            se, lo, hi = 0.0, 0.0, 0.0
        elif slope == 0.0:
            se, lo, hi = math.inf, -math.inf, math.inf
        else:
            se = sd / math.sqrt(runs) / abs(slope)
            # brentq's answer is within xtol of the root of these runs: that numerical error is
            # added to the Monte Carlo half-width, so the interval holds both.
            lo, hi = root - Z95 * se - xtol_m, root + Z95 * se + xtol_m
    finally:
        if own:
            executor.close()
    a_label, b_label = settlement_labels(a, b, stream)
    return ValueResult(
        a=a.name, b=b.name, a_label=a_label, b_label=b_label, metric=metric,
        years=a.horizon.years, runs=runs, seed=seed, stream=stream, mean_a=mean_a, mean_b=mean_b,
        value_m=root, ci_low=lo, ci_high=hi, se_m=se, mean_a_at_value=float(at.mean()),
        slope=slope, bracket=bracket, evaluations=log, month=month, month_note=month_note,
        already_matches=already,
        methods={"root": f"scipy.optimize.brentq (xtol £{xtol_m:g}m) on common random numbers",
                 "ci": "delta method: Var(X*) = Var(a_i(X*) - b_i) / n / g'(X*)^2; 95% CI "
                       f"X* +- (1.96 SE + xtol £{xtol_m:g}m)",
                 "slope": f"paired central difference, A at X +- £{step_m:g}m a year",
                 "month": "A's core confirmation delay shifted one month earlier (min, mode, max); "
                          "paired difference, converted by the budget slope at X = 0; delta "
                          "method for the ratio",
                 "money": f"extra money to the {stream} stream only; other streams' amounts "
                          "unchanged"})


def _reason(exc: Exception) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        return "; ".join(p.render() for p in problems)
    return str(exc)


"""Green Book appraisal of a settlement against its counterpart: present values over runs.

What a Treasury appraiser asks of two scenarios A (say one-year settlements) and B (three-year):
in present value, at the Green Book discount rate, over the appraisal period, with optimism bias
on capital costs, what does B add and what does it cost, and from which appraisal period does it
pay off. Everything is in docs/appraisal.md; the conventions, in short:

* Money is in constant prices (docs/model.md), so it is discounted at the real social time
  preference rate: 3.5% for years 0 to 30 and 3.0% for years 31 to 75 (Green Book 2022, A6).
* Fiscal year t of the simulation is appraisal year t; year 0 is the first simulated year and is
  undiscounted; every flow of year t is discounted by D_t = prod_{s=1..t} 1 / (1 + r_s) (annual
  discounting, no mid-year correction), as the Green Book's discount factor tables do.
* After the simulated horizon, `tail = "none"` counts nothing (and the period may not reach past
  the horizon), `tail = "hold"` repeats the last simulated year's flows, costs and disruptions
  alike, to the end of the period.
* Cost to the Exchequer = spent + bid overhead, plus optimism bias on capability (capital) spend.
  Lapsed money returns to the Treasury: it is shown, not counted as a cost.
* Run i of A and run i of B share their random numbers (`evaluate`), so B - A run by run is the
  change's effect; its mean and 95% interval are over runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import UsageError
from .evaluate import evaluate
from .executors import ChunkExecutor
from .scenario import Appraisal as Settings
from .scenario import Scenario

Progress = Callable[[int], None]

LONG_TERM_FROM_YEAR = 31
"""The first year discounted at the long-term rate (Green Book: 3.5% for years 0-30)."""

FLOWS = ("spent_m", "overhead_m", "lapsed_funds_m", "overrun_cost_m", "capability_spend_m",
         "disruptions_total", "priority_disruptions")
"""The yearly outputs an appraisal reads (`YEAR_OUTPUTS` names)."""

MEASURES = {
    "disruptions_total": ("disruptions", "disruptions of organised crime groups, discounted"),
    "priority_disruptions": ("priority disruptions", "disruptions of priority groups, discounted"),
    "spent_m": ("spent £m", "all spending (pay, running costs, capital, temporary staff)"),
    "overhead_m": ("bid overhead £m", "money consumed by bidding for external funds"),
    "capability_spend_m": ("capability spend £m", "capital spent on capability projects"),
    "optimism_bias_m": ("optimism bias £m", "capex uplift on capability spend (Green Book OB)"),
    "cost_m": ("cost £m", "spent + overhead + optimism bias: the Exchequer cost"),
    "lapsed_funds_m": ("lapsed £m", "money lost to the agency (returned to the Treasury)"),
    "overrun_cost_m": ("overruns £m", "remobilisation and lateness cost of projects (part of spent)"),
    "social_value_m": ("social value £m", "disruptions x social value per disruption"),
    "npsv_m": ("NPSV £m", "net present social value: social value - cost"),
}
"""Present-value measures: key -> (short label, meaning). Money in £m, disruptions in number."""


# --------------------------------------------------------------------------- discounting


def discount_factors(years: int, rate: float = 0.035, long_term_rate: float = 0.030) -> np.ndarray:
    """D_0..D_{years-1}: year 0 undiscounted, D_t = D_{t-1} / (1 + r_t) with r_t = `rate` for
    t <= 30 and `long_term_rate` from year 31 (the Green Book's schedule, 3.5% then 3.0%)."""
    if years < 0:
        raise ValueError("years must be 0 or more")
    rates = np.where(np.arange(1, years) < LONG_TERM_FROM_YEAR, rate, long_term_rate)
    return np.concatenate([[1.0], np.cumprod(1.0 / (1.0 + rates))])[:years]


def extend(flows: np.ndarray, years: int, tail: str = "none") -> np.ndarray:
    """Yearly flows (runs, simulated years) over `years` appraisal years: cut short if the
    period is shorter; past the simulated horizon, zeros (`"none"`) or the last simulated year
    repeated (`"hold"`)."""
    flows = np.asarray(flows, dtype=float)
    if flows.ndim == 1:
        return extend(flows[np.newaxis, :], years, tail)[0]
    simulated = flows.shape[1]
    if years <= simulated:
        return flows[:, :years]
    if tail == "hold":
        after = np.repeat(flows[:, -1:], years - simulated, axis=1)
    elif tail == "none":
        after = np.zeros((flows.shape[0], years - simulated))
    else:
        raise ValueError(f"tail {tail!r}: must be \"none\" or \"hold\"")
    return np.concatenate([flows, after], axis=1)


def present_value(flows: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Present value of each run's yearly stream (the last axis): sum of D_t x flow_t."""
    return np.asarray(flows, dtype=float) @ factors


def cumulative_present_value(flows: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Present value over periods 1..years: column k-1 is the PV of years 0..k-1."""
    return np.cumsum(np.asarray(flows, dtype=float) * factors, axis=-1)


def capex_weighted_uplift(scenario: Scenario) -> float:
    """The optimism-bias uplift applied to total capability spend: the runs record capability
    spend per year, not per project, so each capability's uplift is weighted by its capex_m.
    Capabilities the table leaves out have no uplift."""
    bias = scenario.appraisal_settings.optimism_bias
    capex = {name: c.capex_m for name, c in scenario.capabilities.items()}
    total = sum(capex.values())
    if total <= 0:
        return 0.0
    return sum(capex[name] * bias.get(name, 0.0) for name in capex) / total


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Estimate:
    """A mean over runs with its 95% normal interval (runs are many: t and z agree to 3 figures
    past 200 runs) and the standard error it came from."""

    mean: float
    low: float
    high: float
    se: float

    @classmethod
    def of(cls, values: np.ndarray) -> Estimate:
        values = np.asarray(values, dtype=float)
        n = values.size
        mean = float(values.mean()) if n else math.nan
        se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
        return cls(mean, mean - 1.96 * se, mean + 1.96 * se, se)

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "se": self.se}


def switching_value(cost_m: float, disruptions: float) -> float:
    """PV extra cost (£m) x 1000 / PV extra disruptions: the value of a disruption (£k) at which
    B is just worth it. Where B costs more and disrupts more, B pays off above it; where B costs
    less and disrupts less (it "saves"), the saving is worth it below it. NaN otherwise (one
    dominates the other, or nothing differs)."""
    if (cost_m > 0 and disruptions > 0) or (cost_m < 0 and disruptions < 0):
        return cost_m * 1000.0 / disruptions
    return math.nan


def _years(n: int) -> str:
    return f"{n} year" if n == 1 else f"{n} years"


def _measures(years: dict[str, np.ndarray], uplift: float, value_k: float | None
              ) -> dict[str, np.ndarray]:
    """Per-run yearly streams of every measure, from the simulated year outputs."""
    out = dict(years)
    out["optimism_bias_m"] = uplift * years["capability_spend_m"]
    out["cost_m"] = years["spent_m"] + years["overhead_m"] + out["optimism_bias_m"]
    if value_k is not None:
        out["social_value_m"] = years["disruptions_total"] * value_k / 1000.0
        out["npsv_m"] = out["social_value_m"] - out["cost_m"]
    return out


def verdict(extra_value: float, extra_cost: float) -> tuple[str, float]:
    """What B against A comes to, from the mean PV of extra benefit (social value, or
    disruptions) and of extra cost: `("ratio", benefit per £ of cost)` when B costs more and
    gives more; `"dominates"` when B gives at least as much for no more cost (no ratio: a ratio
    over a saving means nothing); `"dominated"` when B costs at least as much for no more;
    `"saves"` when B costs less and gives less (the ratio is then benefit forgone per £ saved);
    `"same"` when B changes neither."""
    if extra_cost == 0 and extra_value == 0:
        return "same", math.nan
    if extra_cost > 0 and extra_value > 0:
        return "ratio", extra_value / extra_cost
    if extra_cost <= 0 and extra_value >= 0:
        return "dominates", math.nan
    if extra_cost >= 0 and extra_value <= 0:
        return "dominated", math.nan
    return "saves", extra_value / extra_cost


@dataclass(frozen=True)
class Appraisal:
    """Present values of scenarios A and B over the same runs, their paired difference B - A and
    how the conclusion moves with the appraisal period."""

    a: str
    b: str
    runs: int
    seed: int
    settings: Settings
    period: int
    simulated_years: int
    uplift: dict[str, float]
    per_scenario: dict[str, dict[str, Estimate]]
    difference: dict[str, Estimate]
    horizon: list[dict[str, Any]]
    last_year_difference: dict[str, Estimate] = field(default_factory=dict)

    @property
    def valued(self) -> bool:
        return self.settings.social_value_per_disruption_k is not None

    def bcr(self) -> tuple[str, float]:
        """Benefit-cost ratio of B against A: PV of extra social value over PV of extra cost
        (means over runs), with the `verdict` words when the ratio means nothing."""
        if not self.valued:
            return "no social value", math.nan
        return verdict(self.difference["social_value_m"].mean, self.difference["cost_m"].mean)

    def switching_value_k(self) -> float:
        """The social value per disruption (£k) at which B is just worth it (`switching_value`)."""
        return switching_value(self.difference["cost_m"].mean,
                               self.difference["disruptions_total"].mean)

    def pays_off_from(self) -> int | None:
        """The shortest appraisal period from which B's mean extra NPSV stays above zero; None if
        it never does within the period, or no social value per disruption is given (then the
        horizon rows' `switching_value_k` says what a disruption must be worth, period by period)."""
        return self._stays_positive("mean")

    def clearly_pays_off_from(self) -> int | None:
        """As `pays_off_from`, for the lower end of the 95% interval of B's extra NPSV: the
        period from which it is above zero beyond reasonable doubt."""
        return self._stays_positive("ci_low")

    def _stays_positive(self, which: str) -> int | None:
        if not self.valued:
            return None
        first = None
        for row in self.horizon:
            value = row["npsv_m"][which]
            first = (first or row["years"]) if value > 0 else None
        return first

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per measure: label, PV of A, PV of B, B - A, with 95% intervals."""
        out = []
        for key, (label, meaning) in MEASURES.items():
            if key not in self.difference:
                continue
            a, b, d = (self.per_scenario[self.a][key], self.per_scenario[self.b][key],
                       self.difference[key])
            out.append({"measure": key, "label": label, "meaning": meaning,
                        self.a: a.mean, f"{self.a}_ci": (a.low, a.high),
                        self.b: b.mean, f"{self.b}_ci": (b.low, b.high),
                        "difference": d.mean, "difference_ci": (d.low, d.high)})
        return out

    def sentence(self) -> str:
        """One plain-English sentence a Treasury appraiser can repeat."""
        s = self.settings
        d = self.difference
        head = (f"Over {self.period} years at a {s.discount_rate:.1%} discount rate"
                + (f" ({s.long_term_discount_rate:.1%} after year 30)" if self.period > 31 else "")
                + (f", the last {self.period - self.simulated_years} held at the last simulated year"
                   if self.period > self.simulated_years and s.tail == "hold" else "")
                + f", {self.b} against {self.a} gives {_signed(d['disruptions_total'], '{:,.0f}')} "
                f"disruptions in present value for {_signed(d['cost_m'], '£{:,.1f}m')} of cost "
                f"with optimism bias, and lapses {_change(d['lapsed_funds_m'], '£{:,.1f}m')}")
        kind, ratio = self.bcr()
        if self.valued:
            payoff = self.pays_off_from()
            tail = {"ratio": f"a benefit-cost ratio of {ratio:.2f}",
                    "dominates": "more social value for no more cost (it dominates: no ratio)",
                    "dominated": "no more social value for no less cost (it is dominated)",
                    "saves": f"a saving that forgoes £{ratio:.2f} of social value per £1 saved",
                    "same": "the same social value for the same cost"}[kind]
            clear = self.clearly_pays_off_from()
            if payoff is None:
                when = "it does not pay off within the period"
            elif clear == payoff:
                when = f"it pays off from an appraisal period of {_years(payoff)}"
            else:
                when = (f"its mean pays off from an appraisal period of {_years(payoff)}, "
                        + (f"its 95% interval from {_years(clear)}" if clear is not None else
                           "but its 95% interval includes zero at the end of the period"))
            return (f"{head}: net present social value {_signed(d['npsv_m'], '£{:,.1f}m')} at "
                    f"£{s.social_value_per_disruption_k:,.0f}k a disruption (source: "
                    f"{s.social_value_source}), {tail}; {when}.")
        switch = self.switching_value_k()
        if d["cost_m"].mean == 0 and d["disruptions_total"].mean == 0:
            end = "; the two are the same in present value"
        elif math.isfinite(switch) and d["cost_m"].mean > 0:
            end = (f"; it pays off if a disruption is worth more than £{switch:,.1f}k "
                   "(the switching value; no social value per disruption is set)")
        elif math.isfinite(switch):
            end = (f"; its saving is worth the disruptions forgone if a disruption is worth less "
                   f"than £{switch:,.1f}k (the switching value; no social value per disruption "
                   "is set)")
        elif kind == "dominates" or (d["cost_m"].mean <= 0 and d["disruptions_total"].mean >= 0):
            end = "; it dominates: more disruptions for no more cost, whatever a disruption is worth"
        else:
            end = "; no social value per disruption is set"
        return head + end + "."

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-able data (NaN stays NaN: `options.json_safe` makes it null)."""
        kind, ratio = self.bcr()
        return {
            "a": self.a, "b": self.b, "runs": self.runs, "seed": self.seed,
            "settings": {**self.settings.model_dump(mode="python"), "years": self.period},
            "simulated_years": self.simulated_years,
            "optimism_bias_uplift": self.uplift,
            "present_values": {name: {k: e.to_dict() for k, e in m.items()}
                               for name, m in self.per_scenario.items()},
            "difference": {k: e.to_dict() for k, e in self.difference.items()},
            "last_simulated_year_difference": {k: e.to_dict()
                                               for k, e in self.last_year_difference.items()},
            "bcr": {"verdict": kind, "ratio": ratio},
            "switching_value_k": self.switching_value_k(),
            "pays_off_from_years": self.pays_off_from(),
            "horizon": self.horizon,
            "sentence": self.sentence(),
        }


def _signed(e: Estimate, fmt: str) -> str:
    sign = "+" if e.mean >= 0 else "-"
    lo, hi = fmt.format(e.low).replace("£-", "-£"), fmt.format(e.high).replace("£-", "-£")
    return f"{sign}{fmt.format(abs(e.mean))} (95% CI {lo} to {hi})"


def _change(e: Estimate, fmt: str) -> str:
    """`£58.6m less (95% CI ...)` or `£3.0m more (...)`: a change said in words, not a sign."""
    word = "more" if e.mean >= 0 else "less"
    lo, hi = (e.low, e.high) if e.mean >= 0 else (-e.high, -e.low)
    lo_text, hi_text = fmt.format(lo).replace("£-", "-£"), fmt.format(hi).replace("£-", "-£")
    return f"{fmt.format(abs(e.mean))} {word} (95% CI {lo_text} to {hi_text})"


def shared_settings(a: Scenario, b: Scenario) -> tuple[Settings, int]:
    """The one set of discounting rules both scenarios are appraised under (they must agree on
    everything but optimism bias, which is each scenario's own), and the period."""
    sa, sb = a.appraisal_settings, b.appraisal_settings
    if a.horizon.years != b.horizon.years:
        raise UsageError(f"{a.name} simulates {a.horizon.years} years and {b.name} "
                         f"{b.horizon.years}: appraise scenarios over the same horizon")
    for name in ("discount_rate", "long_term_discount_rate", "tail", "social_value_per_disruption_k",
                 "social_value_source"):
        if getattr(sa, name) != getattr(sb, name):
            raise UsageError(f"appraisal.{name} differs: {a.name} has {getattr(sa, name)!r}, "
                             f"{b.name} {getattr(sb, name)!r}; appraise both under the same rules")
    period_a, period_b = sa.period(a.horizon.years), sb.period(b.horizon.years)
    if period_a != period_b:
        raise UsageError(f"appraisal.years differs: {a.name} {period_a}, {b.name} {period_b}")
    return sa, period_a


def appraise_years(years_a: dict[str, np.ndarray], years_b: dict[str, np.ndarray],
                   settings: Settings, period: int, uplift_a: float = 0.0, uplift_b: float = 0.0,
                   names: tuple[str, str] = ("A", "B"), runs_seed: tuple[int, int] = (0, 0)
                   ) -> Appraisal:
    """The appraisal from yearly outputs already simulated: `years_x[name]` is a (runs, years)
    array of each name in `FLOWS`, run i of A paired with run i of B. Pure: no simulation."""
    value = settings.social_value_per_disruption_k
    factors = discount_factors(period, settings.discount_rate, settings.long_term_discount_rate)
    simulated = next(iter(years_a.values())).shape[1]
    streams = {}
    for name, years, uplift in ((names[0], years_a, uplift_a), (names[1], years_b, uplift_b)):
        streams[name] = {k: extend(v, period, settings.tail)
                         for k, v in _measures(years, uplift, value).items()}
    cumulative = {name: {k: cumulative_present_value(v, factors) for k, v in m.items()}
                  for name, m in streams.items()}
    a, b = names
    per = {name: {k: Estimate.of(v[:, -1]) for k, v in m.items()} for name, m in cumulative.items()}
    diff = {k: Estimate.of(cumulative[b][k][:, -1] - cumulative[a][k][:, -1]) for k in cumulative[a]}
    last = {k: Estimate.of(streams[b][k][:, simulated - 1] - streams[a][k][:, simulated - 1])
            for k in ("disruptions_total", "cost_m") if simulated <= period}
    horizon = []
    keys = ["disruptions_total", "cost_m", "lapsed_funds_m"] + (["npsv_m"] if value is not None else [])
    for k in range(1, period + 1):
        row: dict[str, Any] = {"years": k}
        for key in keys:
            row[key] = Estimate.of(cumulative[b][key][:, k - 1] - cumulative[a][key][:, k - 1]).to_dict()
        extra_value = (row["npsv_m"]["mean"] + row["cost_m"]["mean"] if value is not None
                       else row["disruptions_total"]["mean"])
        row["verdict"], row["ratio"] = verdict(extra_value, row["cost_m"]["mean"])
        cost, more = row["cost_m"]["mean"], row["disruptions_total"]["mean"]
        row["switching_value_k"] = switching_value(cost, more)
        horizon.append(row)
    return Appraisal(a, b, runs_seed[0], runs_seed[1], settings, period, simulated,
                     {a: uplift_a, b: uplift_b}, per, diff, horizon, last)


def appraise(a: Scenario, b: Scenario, runs: int, seed: int, executor: ChunkExecutor,
             workers: int = 1, progress: Progress | None = None) -> Appraisal:
    """Run A and B through `evaluate` (same seed, so run i of each shares random numbers) and
    appraise B against A under their `[appraisal]` tables."""
    settings, period = shared_settings(a, b)
    names = (a.name, b.name) if a.name != b.name else (f"{a.name} (A)", f"{b.name} (B)")
    found = evaluate([a, b], runs, seed, executor, metrics=("disruptions_total",),
                     year_metrics=FLOWS, workers=workers, progress=progress)
    years = [{k: found.year_of(k)[v] for k in FLOWS} for v in (0, 1)]
    return appraise_years(years[0], years[1], settings, period, capex_weighted_uplift(a),
                          capex_weighted_uplift(b), names, (runs, seed))


def verdict_words(verdict: str, ratio: float, valued: bool) -> str:
    """A horizon row's verdict as a reader says it (CLI, report and dashboard alike)."""
    return {"ratio": (f"BCR {ratio:.2f}" if valued else f"{ratio:,.1f} disruptions per £m"),
            "dominates": "B dominates", "dominated": "A dominates",
            "saves": "B saves, gives less", "same": "no difference"}[verdict]


def horizon_table(result: Appraisal) -> list[dict[str, Any]]:
    """The horizon rows flattened for a table: period, then mean (low to high) per measure."""
    out = []
    for row in result.horizon:
        flat: dict[str, Any] = {"years": row["years"]}
        for key, e in row.items():
            if isinstance(e, dict):
                flat[key] = e["mean"]
                flat[f"{key}_ci"] = (e["ci_low"], e["ci_high"])
        flat["verdict"] = row["verdict"]
        flat["verdict_words"] = verdict_words(row["verdict"], row["ratio"], result.valued)
        flat["ratio"] = row["ratio"]
        flat["switching_value_k"] = row["switching_value_k"]
        out.append(flat)
    return out


__all__: Sequence[str] = ("Appraisal", "Estimate", "appraise", "appraise_years", "capex_weighted_uplift",
                          "cumulative_present_value", "discount_factors", "extend", "horizon_table",
                          "present_value", "shared_settings", "verdict", "verdict_words")

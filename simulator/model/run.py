"""One run: the components wired together, the calendar process, and the outputs.

What happens when, as SimPy events: a settlement is confirmed at month 3.7, a tranche lands at
month 8.2, a recruitment campaign's recruits arrive, a project is delivered at month 27.2, a fiscal
year closes. Between two events the ledger integrates in closed form. No event is one disruption:
the month's count is one Poisson draw of its integrated rate, taken after the event loop from the
month's keyed uniform (see `rng.py`). docs/model.md states every mechanism and its source.

The engine does no I/O: `simulate` takes a compiled scenario, a seed and a run index and returns
plain numpy arrays.
"""

from __future__ import annotations

import math

import numpy as np

from ..scenario import Capability
from .clock import Clock
from .compiled import CompiledScenario
from .funding import Funding
from .ledger import Ledger
from .operations import Operations, draw_disruptions
from .portfolio import Portfolio
from .records import MonthRecord, RunOutput, YearRecord
from .temporary import TemporaryCapacity
from .workforce import Workforce


class Run:
    """The organisation in one run: funding, workforce, temporary capacity, portfolio and
    operations, with the ledger that posts between events. Built, run once, then read."""

    def __init__(self, cs: CompiledScenario, seed: int, run: int) -> None:
        u = cs.draws.uniforms(seed, run)
        cs = cs.for_run(u)
        self.cs = cs
        sc = cs.scenario
        self.u = u
        self.clock = Clock()
        self.years = YearRecord(cs.years)
        self.months = MonthRecord(cs.months)
        self.funding = Funding(cs, sc.organisation, u, self.clock, self.years, self)
        self.workforce = Workforce(cs, sc.workforce, sc.organisation, u, self.clock)
        self.temporary = TemporaryCapacity(sc.organisation, self.clock, self.funding,
                                           self.workforce)
        self.operations = Operations(sc.operations, sc.organisation)
        self.portfolio = Portfolio(cs, sc.organisation, u, self.clock, self.years)
        self.ledger = Ledger(self.clock, self.years, self.months, self.funding, self.workforce,
                             self.temporary, self.portfolio, self.operations)
        self.workforce.connect(self.funding, self.portfolio, self.operations, self.settle,
                               self.temporary.plan)
        self.portfolio.connect(self.funding, self.settle, self.replan, self._delivered)

    # ------------------------------------------------------------------ the event loop

    def run(self) -> RunOutput:
        env = self.clock.env
        self.funding.schedule_confirmations()
        self._open_year(0)
        env.process(self._calendar())
        env.run(until=float(self.cs.months))
        self.ledger.advance_to(float(self.cs.months))
        self._close_year(self.cs.years - 1)
        return self._outputs()

    def _calendar(self):
        """Fiscal-year ends and recruitment cycles, in a fixed order when they coincide; the
        organisation re-plans after each."""
        interval = self.cs.scenario.workforce.recruitment_interval_months
        clock = self.clock
        cycle = 0
        next_cycle = 0.0
        horizon = float(self.cs.months)
        while True:
            next_year_end = clock.year_end()
            t = min(next_cycle, next_year_end)
            if t >= horizon:
                return
            if t > clock.env.now:
                yield clock.env.timeout(t - clock.env.now)
            if t == next_year_end:
                self.ledger.advance_to(t)
                self._close_year(clock.year)
                self._open_year(clock.year + 1)
            if t == next_cycle:
                self.ledger.advance_to(t)
                self.workforce.recruit_cycle(cycle)
                cycle += 1
                next_cycle = cycle * interval
            self.replan()

    def _open_year(self, year: int) -> None:
        self.clock.year = year
        self.funding.open_year(year)

    def _close_year(self, year: int) -> None:
        self.funding.close_year(year)
        self.years.data["final_productivity"][year] = self.operations.productivity
        self.temporary.stop()

    # ------------------------------------------------------------------ what components ask of the run

    def settle(self) -> None:
        """Bring the books up to now (before anything that changes a rate or money on hand)."""
        self.ledger.advance_to(self.clock.now)

    def replan(self) -> None:
        """Re-plan projects, then in-year spending on temporary capacity."""
        self.portfolio.plan()
        self.temporary.plan()

    def freeze_changed(self, frozen: bool) -> None:
        self.workforce.set_unsettled(frozen)

    def year_money_landed(self, freeze_lifted: bool) -> None:
        if freeze_lifted:
            self.workforce.recruit_on_thaw()
        self.replan()

    def in_year_money_landed(self, capital: bool) -> None:
        if capital:
            self.replan()
        else:
            self.temporary.plan()  # nothing new for projects: only the in-year spending changes

    def later_money_confirmed(self) -> None:
        self.workforce.recruit_on_news()
        self.replan()

    def _delivered(self, spec: Capability) -> None:
        self.operations.deliver(spec)

    # ------------------------------------------------------------------ outputs

    def _outputs(self) -> RunOutput:
        cs = self.cs
        m = self.months
        priority, other = draw_disruptions(cs, self.u, m.mu_priority, m.mu_other)
        monthly = priority + other
        y = self.years.arrays()
        y["priority_disruptions"] = priority.reshape(cs.years, 12).sum(axis=1)
        y["non_priority_disruptions"] = other.reshape(cs.years, 12).sum(axis=1)
        y["disruptions_total"] = y["priority_disruptions"] + y["non_priority_disruptions"]
        with np.errstate(divide="ignore", invalid="ignore"):
            y["cost_per_disruption_k"] = np.where(
                y["disruptions_total"] > 0, y["spent_m"] * 1000.0 / y["disruptions_total"], np.nan)
        total = float(monthly.sum())
        spent = float(y["spent_m"].sum())
        run = {
            "disruptions_total": total,
            "priority_disruptions": float(priority.sum()),
            "non_priority_disruptions": float(other.sum()),
            "lapsed_funds_m": float(y["lapsed_funds_m"].sum()),
            "capability_spend_m": float(y["capability_spend_m"].sum()),
            "overrun_cost_m": float(y["overrun_cost_m"].sum()),
            "projects_delivered": float(self.portfolio.delivered_count),
            "project_pauses": float(self.portfolio.pause_count),
            "mean_fte": float(y["mean_fte"].mean()),
            "final_productivity": self.operations.productivity,
            "cost_per_disruption_k": spent * 1000.0 / total if total > 0 else math.nan,
            "mean_temporary_fte": float(y["mean_temporary_fte"].mean()),
            "temporary_spend_m": float(y["temporary_spend_m"].sum()),
            "overhead_m": float(y["overhead_m"].sum()),
            "emergency_cover_m": float(y["emergency_cover_m"].sum()),
            "received_m": float(y["received_m"].sum()),
            "spent_m": spent,
            "interim_months": self.ledger.interim_months,
        }
        months = {
            "fte": np.asarray(m.fte),
            "temporary_fte": np.asarray(m.temporary_fte),
            "productivity": np.asarray(m.productivity),
            "cash_m": np.asarray(m.cash),
            "disruptions": monthly,
            "cumulative_disruptions": np.cumsum(monthly),
        }
        return RunOutput(run, y, months)


def simulate(compiled: CompiledScenario, seed: int, run: int) -> RunOutput:
    """One run of a compiled scenario: a pure function of (scenario, seed, run)."""
    return Run(compiled, seed, run).run()

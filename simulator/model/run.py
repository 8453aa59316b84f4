"""One run: the components wired together, the calendar process, and the outputs.

What happens when, as SimPy events: a settlement is confirmed at month 3.7, a tranche lands at
month 8.2, a recruitment campaign's recruits arrive, a project is delivered at month 27.2, a fiscal
year closes. Between two events the ledger integrates in closed form. No event is one disruption:
the month's count is one Poisson draw of its integrated rate, taken after the event loop from the
month's keyed uniform (see `rng.py`). docs/model.md states every mechanism and its source.

The engine does no I/O and no numpy work: a run reads its draws as plain lists (`RunDraws`) and
leaves plain lists behind; `chunk.py` draws for, and assembles the arrays of, a whole chunk of runs
at once.
"""

from __future__ import annotations

from ..scenario import Capability
from .clock import Clock
from .compiled import CompiledScenario
from .funding import Funding
from .ledger import Ledger
from .operations import Operations
from .portfolio import Portfolio
from .records import MonthRecord, RunDraws, YearRecord
from .temporary import TemporaryCapacity
from .workforce import Workforce


class Run:
    """The organisation in one run: funding, workforce, temporary capacity, portfolio and
    operations, with the ledger that posts between events. Built, run once, then read (`chunk.py`
    turns what it recorded into outputs)."""

    def __init__(self, cs: CompiledScenario, draws: RunDraws) -> None:
        self.cs = cs
        sc = cs.scenario
        self.horizon = float(cs.months)
        self.last_year = cs.years - 1
        self.recruitment_interval = sc.workforce.recruitment_interval_months
        self.cycle = 0  # the next recruitment cycle, due at `next_cycle`
        self.next_cycle = 0.0
        self.calendar_due = 0.0  # when the calendar's pending timer fires
        self.clock = Clock()
        self.years = YearRecord(cs.years)
        self.months = MonthRecord(cs.months)
        self.funding = Funding(cs, sc.organisation, draws, self.clock, self.years, self)
        self.workforce = Workforce(sc.workforce, sc.organisation, draws, self.clock)
        self.temporary = TemporaryCapacity(sc.organisation, self.clock, self.funding,
                                           self.workforce)
        self.operations = Operations(sc.operations, sc.organisation)
        self.portfolio = Portfolio(cs, sc.organisation, draws, self.clock, self.years)
        self.ledger = Ledger(self.clock, self.years, self.months, self.funding, self.workforce,
                             self.temporary, self.portfolio, self.operations)
        self.workforce.connect(self.funding, self.portfolio, self.operations, self)
        self.portfolio.connect(self.funding, self)

    # ------------------------------------------------------------------ the event loop

    def run(self) -> Run:
        self.funding.schedule_confirmations()
        self._open_year(0)
        self._calendar_next()  # the calendar's first turn, at time 0, before any event
        self.clock.env.run(until=self.horizon)
        self.ledger.advance_to(self.horizon)
        self.ledger.flush()
        self._close_year(self.last_year)
        return self

    # The calendar: fiscal-year ends and recruitment cycles, in a fixed order when they coincide;
    # the organisation re-plans after each. A chain of timers, each set when the last fires (as a
    # SimPy process yielding timeouts would set them, without a process's resume at every turn).

    def _calendar_next(self) -> None:
        """Take every calendar date due now, then set a timer for the next."""
        clock = self.clock
        while True:
            t = min(self.next_cycle, clock.year_end())
            if t >= self.horizon:
                return
            if t > clock.now:
                self.calendar_due = t
                clock.at(t, self._calendar_resume)
                return
            self._calendar_turn(t)

    def _calendar_resume(self) -> None:
        self._calendar_turn(self.calendar_due)
        self._calendar_next()

    def _calendar_turn(self, t: float) -> None:
        clock = self.clock
        if t == clock.year_end():
            self.ledger.advance_to(t)
            self._close_year(clock.year)
            self._open_year(clock.year + 1)
        if t == self.next_cycle:
            self.ledger.advance_to(t)
            self.workforce.recruit_cycle(self.cycle)
            self.cycle += 1
            self.next_cycle = self.cycle * self.recruitment_interval
        self.replan()

    def _open_year(self, year: int) -> None:
        self.clock.year = year
        self.funding.open_year(year)

    def _close_year(self, year: int) -> None:
        self.funding.close_year(year)
        self.years.final_productivity[year] = self.operations.productivity
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

    def commitments_changed(self) -> None:
        """Recruits arrived: new commitments, so less money for temporary capacity."""
        self.temporary.plan()

    def delivered(self, spec: Capability) -> None:
        self.operations.deliver(spec)

    # ------------------------------------------------------------------ what the run leaves behind

    def release(self) -> None:
        """Break the run's reference cycles once its outputs are read: the components' references
        back to the run, and SimPy's environment (`Clock.close`). Reference counting then frees
        the run when it is dropped, instead of the cyclic garbage collector finding it later."""
        self.clock.close()
        del self.funding.run
        del self.workforce.run
        del self.portfolio.run

    def record_into(self, expected: list[float], values: list[float]) -> None:
        """Append what the run recorded to a chunk's two flat lists, which become its arrays in
        one conversion each (`chunk.py`): to `expected`, each month's expected priority
        disruptions, then each month's other disruptions; to `values`, every `YEAR_OUTPUTS` column
        (outputs first, then years), then month-end FTE, temporary FTE, productivity and cash."""
        m = self.months
        expected.extend(m.mu_priority)
        expected.extend(m.mu_other)
        for column in self.years.table():
            values.extend(column)
        values.extend(m.fte)
        values.extend(m.temporary_fte)
        values.extend(m.productivity)
        values.extend(m.cash)

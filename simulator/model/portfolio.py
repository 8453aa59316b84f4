"""The capability portfolio: when a project's contract is let, how each year's capital is shared
among contracted projects by priority, how a project is re-profiled (slowed, at a whole-life
premium) or paused and restarted, and when it is delivered."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from ..scenario import Organisation
from .clock import TINY, Clock, least
from .compiled import CompiledProject, CompiledScenario
from .funding import Funding
from .records import RunDraws, YearRecord

if TYPE_CHECKING:
    from .run import Run

IDLE: Final = 0  # a project's states: not contracted, ...
ACTIVE: Final = 1  # contracted and drawing (or remobilising after a pause)
PAUSED: Final = 2  # contracted, drawing nothing, lateness accruing
DELIVERED: Final = 3  # in service

ALARM_LEAD_MONTHS: Final = 1e-6
"""How far ahead of a project's delivery its alarm is set (about three seconds): far more than a
re-plan's rounding moves the time, far less than any real change (`_schedule_delivery`)."""



class Project:
    """A capability project. Work is paid for at a *profile* (£m a month) set when the contract is
    let and raised when planned capital allows; a month's *allocation* can fall below the profile
    (the project is slowed) or to zero (paused). Every £ of profile deferred adds
    `reprofile_premium` £ to the whole-life cost, up to `reprofile_premium` × outturn cost."""

    def __init__(self, c: CompiledProject, lead: float, outturn: float, margin: float) -> None:
        spec = c.spec
        self.c = c
        self.capex = spec.capex_m
        self.run_cost = spec.run_cost_m_per_year
        self.reprofile_premium = spec.reprofile_premium
        self.remobilisation_months = spec.remobilisation_months
        self.remobilisation_cost_pct = spec.remobilisation_cost_pct
        self.overrun_pct_per_year_late = spec.overrun_pct_per_year_late
        self.lead = lead  # drawn lead time at full profile
        self.outturn = outturn  # capex_m × drawn cost growth factor
        self.margin = margin  # the board's haircut on unconfirmed money when it lets this contract
        # The profile of the contract at its drawn lead time (budgeted cost over lead).
        self.fastest = self.capex / lead
        self.state = IDLE
        self.cost_left = 0.0  # £m still to spend, premiums included
        self.profile = 0.0  # £m a month the contract plans to spend
        self.allocation = 0.0  # £m a month it is paid now (<= profile)
        self.premium_left = 0.0  # premium still chargeable (cap)
        self.paused_at = 0.0
        self.mobilising_until = -1.0  # after a resume: remobilising, drawing nothing
        self.delivery = math.inf  # when it is delivered at the allocation planned last
        self.alarm = math.inf  # when its pending SimPy alarm fires (at or before `delivery`)
        self.alarm_seq = 0  # bumped for each alarm set, so an alarm set before it is void

    @property
    def contracted(self) -> bool:
        return self.state == ACTIVE or self.state == PAUSED


class Portfolio:
    """Every capability project and the organisation's rules for contracting and paying them."""

    __deletable__ = ("run",)  # `Run.release` drops the reference back to the run

    def __init__(self, cs: CompiledScenario, org: Organisation, draws: RunDraws, clock: Clock,
                 years: YearRecord) -> None:
        self.years = cs.years
        self.contract_cover = org.contract_cover
        self.minor_works = org.minor_works_m_per_year
        self.clock = clock
        self.y = years
        self.projects = [Project(p, draws.leads[i], draws.outturns[i], draws.margins[i])
                         for i, p in enumerate(cs.projects)]
        # Years of planned capital a contract may count on: the longest project's expected lead.
        self.contract_lookahead = cs.contract_lookahead
        self.any_contracted = False  # a project active or paused: the ledger has capital to post
        self.minor_rate = 0.0  # £m a month of capital spent on minor works
        self.delivered_count = 0
        self.pause_count = 0

    def connect(self, funding: Funding, run: Run) -> None:
        """Where capital comes from, and whom the portfolio tells: the run, which brings the books
        up to now (`settle`), re-plans after a restart or a delivery (`replan`) and applies a
        delivered capability (`delivered`)."""
        self.funding = funding
        self.run = run

    def committed_run_costs(self) -> float:
        """£m a year of running costs of every project contracted or delivered."""
        total = 0.0
        for p in self.projects:
            if p.state != IDLE:
                total += p.run_cost
        return total

    # ------------------------------------------------------------------ contracting

    def free_capital(self, p: Project) -> float:
        """Capital the board expects to be free for `p` over the contracting look-ahead: year by
        year, the money it counts on less what contracted projects will draw in that year at their
        contracted pace (a year short of money moves their work to the next), each year's rest
        counted only as far as `p` could spend it at its own pace. Money counted: this year's on
        hand (and interim allowance to the year end); each later year's net capital, in full if
        confirmed, else (1 - contract_cover) x (1 - haircut) of the prudent plan. Phasing by year
        matters because capital mostly lapses at a year end: a lump-sum test would let money that
        contracted projects cannot spend this year lapse while a project that could spend it
        waits for money counted years ahead."""
        unconfirmed = (1.0 - self.contract_cover) * (1.0 - p.margin)
        funding = self.funding
        clock = self.clock
        year_now = clock.year
        owed: list[float] = []  # what each contracted project still has to draw ...
        paces: list[float] = []  # ... and the most it draws a month
        for q in self.projects:
            if q.contracted:
                owed.append(q.cost_left)
                paces.append(q.fastest)
        pace = p.fastest
        free = 0.0
        for year in range(year_now, year_now + self.contract_lookahead + 1):
            if year == year_now:
                months = max(clock.year_end() - clock.now, 0.0)
                money = funding.capital_to_year_end(months)
            else:
                months = 12.0
                money = 0.0
                for s in funding.streams:
                    confirmed = year < self.years and s.confirmed[year]
                    trust = 1.0 if confirmed else unconfirmed
                    money += trust * s.net(funding.planned_gross(s, year))[2]
            for i in range(len(owed)):
                draw = least(owed[i], paces[i] * months, money)
                owed[i] -= draw
                money -= draw
            free += min(money, pace * months)
        return free

    def plan(self) -> None:
        """Share this year's capital among contracted projects by priority (slowing or pausing
        those it cannot pay in full), raise profiles that planned capital now allows, then let new
        contracts that counted capital covers."""
        now = self.clock.now
        funding = self.funding
        left = self.clock.year_end() - now
        money = funding.capital_to_year_end(max(left, 0.0))
        available = money / left if left > TINY else 0.0
        headroom = funding.planned_capital_rate(self.clock.year)
        contracted = [p for p in self.projects if p.contracted]
        for p in contracted:
            headroom -= p.profile
        # Re-profile upwards (free: the contract allows its drawn lead time) where plans allow.
        for p in contracted:
            if headroom <= TINY:
                break
            rise = min(p.fastest - p.profile, headroom)
            if rise > 0.0:
                p.profile += rise
                headroom -= rise
        for p in contracted:
            if p.mobilising_until > now:
                p.allocation = 0.0  # remobilising after a pause: draws nothing, defers nothing
                continue
            give = min(p.profile, available)
            available -= give
            if give <= TINY:
                if p.state == ACTIVE:
                    self._pause(p)
                p.allocation = 0.0
            else:
                if p.state == PAUSED:
                    self._resume(p)
                    if p.mobilising_until > now:
                        available += give
                        p.allocation = 0.0
                        continue
                p.allocation = give
        if not funding.frozen:
            for p in self.projects:
                if p.state != IDLE:
                    continue
                # Projects contracted a moment ago already count against the money.
                if self.free_capital(p) < p.capex:
                    continue
                profile = least(p.fastest, headroom, available)
                if profile <= TINY:
                    continue
                self._contract(p, profile)
                headroom -= profile
                available -= profile
        # Minor works (kit, estates, small IT) take what projects leave, up to what the
        # organisation can spend on them; like any new commitment, not while frozen.
        minor = self.minor_works / 12.0
        self.minor_rate = 0.0 if funding.frozen or minor <= 0.0 else min(minor, max(available, 0.0))
        any_contracted = self.minor_rate > 0.0
        for p in self.projects:
            if p.contracted:
                any_contracted = True
            if p.state == ACTIVE:
                self._schedule_delivery(p)
        self.any_contracted = any_contracted

    def _contract(self, p: Project, profile: float) -> None:
        p.state = ACTIVE
        p.cost_left = p.outturn
        p.premium_left = p.reprofile_premium * p.outturn
        p.profile = p.allocation = profile

    # ------------------------------------------------------------------ pauses and restarts

    def _pause(self, p: Project) -> None:
        p.state = PAUSED
        p.paused_at = self.clock.now
        self.pause_count += 1
        self.y.project_pauses[self.clock.year] += 1

    def _resume(self, p: Project) -> None:
        """Restart after a pause: remobilisation time and cost, plus lateness for each month paused."""
        now = self.clock.now
        extra = p.outturn * (p.remobilisation_cost_pct
                             + p.overrun_pct_per_year_late / 12.0 * (now - p.paused_at))
        self.y.overrun_cost_m[self.clock.year] += extra
        p.cost_left += extra
        p.state = ACTIVE
        if p.remobilisation_months > 0.0:
            p.mobilising_until = now + p.remobilisation_months
            self.clock.at(p.mobilising_until, self._mobilised)

    def _mobilised(self) -> None:
        self.run.settle()
        self.run.replan()

    # ------------------------------------------------------------------ progress and delivery

    def premium_rate(self, p: Project, at: float) -> float:
        """£m a month added to the whole-life cost while the allocation is below the profile, for a
        ledger piece starting at `at` (no piece straddles the end of a remobilisation: an event
        falls there)."""
        if p.premium_left <= 0.0 or p.mobilising_until > at:
            return 0.0
        return p.reprofile_premium * (p.profile - p.allocation)

    def progress(self, at: float, dt: float) -> tuple[float, float, float]:
        """Contracted projects progress at their allocation over a ledger piece from `at` of
        length `dt`; deferring their profile adds the re-profiling premium to what they cost.
        Returns (capital spent on projects, premium added, capital spent on minor works)."""
        capex = premium = 0.0
        for p in self.projects:
            if p.state == ACTIVE or p.state == PAUSED:
                q = min(self.premium_rate(p, at) * dt, p.premium_left)
                p.premium_left -= q
                spend = min(p.allocation * dt, p.cost_left + q)
                p.cost_left += q - spend
                premium += q
                capex += spend
        return capex, premium, self.minor_rate * dt

    def _schedule_delivery(self, p: Project) -> None:
        """Set the delivery time for the cost left at the current allocation, replacing any set
        before: exactly the time a SimPy timer set now for `now + dt` fires at.

        A project keeps one SimPy alarm, at or a little before that time. A re-plan that leaves
        delivery where it was, or moves it later, keeps the alarm: it wakes, finds the time moved,
        and sets itself again for exactly the new time. Only a re-plan that moves delivery earlier
        sets a new alarm. A timer a re-plan, as SimPy has no way to take one back, would otherwise
        leave a stale event in the queue for every active project at every re-plan: a third of a
        run's events, all doing nothing."""
        a = p.allocation
        if a <= TINY:
            p.delivery = math.inf
            return
        now = self.clock.now
        q = self.premium_rate(p, now)
        net = a - q
        until_cap = p.premium_left / q if q > 0.0 else math.inf
        if net > 0.0 and p.cost_left / net <= until_cap:
            dt = p.cost_left / net
        else:
            dt = until_cap + (p.cost_left - net * until_cap) / a
        when = now + dt
        p.delivery = now + (when - now)  # SimPy's time for a timer set now for `when`
        if p.delivery < p.alarm:
            # Early by a hair, so the next re-plan's rounding of the same time keeps this alarm.
            self._set_alarm(p, max(now, p.delivery - ALARM_LEAD_MONTHS))

    def _set_alarm(self, p: Project, when: float) -> None:
        p.alarm_seq += 1
        seq = p.alarm_seq
        p.alarm = self.clock.at(when, lambda: self._alarm(p, seq))

    def _alarm(self, p: Project, seq: int) -> None:
        """A project's alarm: deliver if its time has come, else wait for exactly that time."""
        if seq != p.alarm_seq:
            return  # an earlier alarm replaced this one
        p.alarm = math.inf
        now = self.clock.now
        if p.delivery == now:
            self._deliver(p)
        elif now < p.delivery < math.inf:
            if now >= 0.5 * p.delivery:
                # delivery - now is exact here (Sterbenz), so SimPy's now + delay lands on it.
                self._set_alarm(p, p.delivery)
                if p.alarm != p.delivery:
                    raise ArithmeticError(f"alarm at {p.alarm!r} misses delivery at {p.delivery!r}")
            else:
                # From further back, now + (delivery - now) can round to a neighbour of delivery:
                # wake up first where the difference is exact.
                self._set_alarm(p, 0.75 * p.delivery)

    def _deliver(self, p: Project) -> None:
        self.run.settle()
        p.delivery = math.inf
        p.state = DELIVERED
        p.profile = p.allocation = p.cost_left = 0.0
        self.delivered_count += 1
        self.y.projects_delivered[self.clock.year] += 1
        self.run.delivered(p.c.spec)
        self.run.replan()

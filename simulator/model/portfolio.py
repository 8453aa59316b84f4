"""The capability portfolio: when a project's contract is let, how each year's capital is shared
among contracted projects by priority, how a project is re-profiled (slowed, at a whole-life
premium) or paused and restarted, and when it is delivered."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..scenario import Capability, Organisation
from .clock import TINY, Clock
from .compiled import CompiledProject, CompiledScenario
from .funding import Funding
from .records import YearRecord


@dataclass
class Project:
    """A capability project. Work is paid for at a *profile* (£m a month) set when the contract is
    let and raised when planned capital allows; a month's *allocation* can fall below the profile
    (the project is slowed) or to zero (paused). Every £ of profile deferred adds
    `reprofile_premium` £ to the whole-life cost, up to `reprofile_premium` × outturn cost."""

    c: CompiledProject
    lead: float  # drawn lead time at full profile
    outturn: float  # capex_m × drawn cost growth factor
    margin: float  # the board's haircut on unconfirmed money when it lets this contract
    state: str = "idle"  # idle, active, paused, delivered
    cost_left: float = 0.0  # £m still to spend, premiums included
    profile: float = 0.0  # £m a month the contract plans to spend
    allocation: float = 0.0  # £m a month it is paid now (<= profile)
    premium_left: float = 0.0  # premium still chargeable (cap)
    paused_at: float = 0.0
    mobilising_until: float = -1.0  # after a resume: remobilising, drawing nothing
    version: int = 0  # bumped at every re-plan, so a delivery timer set before it is void

    @property
    def fastest(self) -> float:
        """The profile of the contract at its drawn lead time (budgeted cost over lead)."""
        return self.c.spec.capex_m / self.lead

    @property
    def contracted(self) -> bool:
        return self.state == "active" or self.state == "paused"


class Portfolio:
    """Every capability project and the organisation's rules for contracting and paying them."""

    def __init__(self, cs: CompiledScenario, org: Organisation, u: np.ndarray, clock: Clock,
                 years: YearRecord) -> None:
        self.cs = cs
        self.org = org
        self.clock = clock
        self.y = years
        self.projects: list[Project] = []
        for p in cs.projects:
            spec = p.spec
            lead = spec.lead_time_months.ppf(float(u[cs.draws.slice(f"lead/{p.name}")][0]))
            growth = spec.cost_growth_factor.ppf(float(u[cs.draws.slice(f"growth/{p.name}")][0]))
            margin = 2.0 * org.contract_margin * float(u[cs.draws.slice(f"margin/{p.name}")][0])
            self.projects.append(Project(p, lead, spec.capex_m * growth, margin))
        # Years of planned capital a contract may count on: the longest project's expected lead.
        self.contract_lookahead = max(
            (math.ceil(p.spec.lead_time_months.mean() / 12.0) for p in cs.projects), default=0)
        self.any_contracted = False  # a project active or paused: the ledger has capital to post
        self.minor_rate = 0.0  # £m a month of capital spent on minor works
        self.delivered_count = 0
        self.pause_count = 0

    def connect(self, funding: Funding, settle: Callable[[], None],
                replan: Callable[[], None], delivered: Callable[[Capability], None]) -> None:
        """Where capital comes from, and whom the portfolio tells: `settle` brings the books up to
        now; `replan` re-plans after a restart or a delivery; `delivered` applies a capability."""
        self.funding = funding
        self.settle = settle
        self.replan = replan
        self.delivered = delivered

    def committed_run_costs(self) -> float:
        """£m a year of running costs of every project contracted or delivered."""
        return sum(p.c.spec.run_cost_m_per_year for p in self.projects if p.state != "idle")

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
        unconfirmed = (1.0 - self.org.contract_cover) * (1.0 - p.margin)
        funding = self.funding
        clock = self.clock
        year_now = clock.year
        commitments = [[q.cost_left, q.fastest] for q in self.projects if q.contracted]
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
                    confirmed = year < self.cs.years and s.confirmed[year]
                    trust = 1.0 if confirmed else unconfirmed
                    money += trust * s.net(funding.planned_gross(s, year))[2]
            for c in commitments:
                draw = min(c[0], c[1] * months, money)
                c[0] -= draw
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
                if p.state == "active":
                    self._pause(p)
                p.allocation = 0.0
            else:
                if p.state == "paused":
                    self._resume(p)
                    if p.mobilising_until > now:
                        available += give
                        p.allocation = 0.0
                        continue
                p.allocation = give
        if not funding.frozen:
            for p in self.projects:
                if p.state != "idle":
                    continue
                # Projects contracted a moment ago already count against the money.
                if self.free_capital(p) < p.c.spec.capex_m:
                    continue
                profile = min(p.fastest, headroom, available)
                if profile <= TINY:
                    continue
                self._contract(p, profile)
                headroom -= profile
                available -= profile
        # Minor works (kit, estates, small IT) take what projects leave, up to what the
        # organisation can spend on them; like any new commitment, not while frozen.
        minor = self.org.minor_works_m_per_year / 12.0
        self.minor_rate = 0.0 if funding.frozen or minor <= 0.0 else min(minor, max(available, 0.0))
        self.any_contracted = (self.minor_rate > 0.0
                               or any(p.contracted for p in self.projects))
        for p in self.projects:
            if p.state == "active":
                self._schedule_delivery(p)

    def _contract(self, p: Project, profile: float) -> None:
        p.state = "active"
        p.cost_left = p.outturn
        p.premium_left = p.c.spec.reprofile_premium * p.outturn
        p.profile = p.allocation = profile

    # ------------------------------------------------------------------ pauses and restarts

    def _pause(self, p: Project) -> None:
        p.state = "paused"
        p.paused_at = self.clock.now
        self.pause_count += 1
        self.y.add("project_pauses", self.clock.year, 1)

    def _resume(self, p: Project) -> None:
        """Restart after a pause: remobilisation time and cost, plus lateness for each month paused."""
        spec = p.c.spec
        now = self.clock.now
        extra = p.outturn * (spec.remobilisation_cost_pct
                             + spec.overrun_pct_per_year_late / 12.0 * (now - p.paused_at))
        self.y.add("overrun_cost_m", self.clock.year, extra)
        p.cost_left += extra
        p.state = "active"
        if spec.remobilisation_months > 0.0:
            p.mobilising_until = now + spec.remobilisation_months
            self.clock.at(p.mobilising_until, self._mobilised)

    def _mobilised(self) -> None:
        self.settle()
        self.replan()

    # ------------------------------------------------------------------ progress and delivery

    def premium_rate(self, p: Project, at: float) -> float:
        """£m a month added to the whole-life cost while the allocation is below the profile, for a
        ledger piece starting at `at` (no piece straddles the end of a remobilisation: an event
        falls there)."""
        if p.premium_left <= 0.0 or p.mobilising_until > at:
            return 0.0
        return p.c.spec.reprofile_premium * (p.profile - p.allocation)

    def progress(self, at: float, dt: float) -> tuple[float, float, float]:
        """Contracted projects progress at their allocation over a ledger piece from `at` of
        length `dt`; deferring their profile adds the re-profiling premium to what they cost.
        Returns (capital spent on projects, premium added, capital spent on minor works)."""
        capex = premium = 0.0
        for p in self.projects:
            if p.state == "active" or p.state == "paused":
                q = min(self.premium_rate(p, at) * dt, p.premium_left)
                p.premium_left -= q
                spend = min(p.allocation * dt, p.cost_left + q)
                p.cost_left += q - spend
                premium += q
                capex += spend
        return capex, premium, self.minor_rate * dt

    def _schedule_delivery(self, p: Project) -> None:
        """Set the delivery timer for the cost left at the current allocation; any later re-plan
        voids it (the version changes) and sets a new one."""
        p.version += 1
        a = p.allocation
        if a <= TINY:
            return
        now = self.clock.now
        q = self.premium_rate(p, now)
        net = a - q
        until_cap = p.premium_left / q if q > 0.0 else math.inf
        if net > 0.0 and p.cost_left / net <= until_cap:
            dt = p.cost_left / net
        else:
            dt = until_cap + (p.cost_left - net * until_cap) / a
        version = p.version
        self.clock.at(now + dt, lambda: self._deliver(p) if p.version == version else None)

    def _deliver(self, p: Project) -> None:
        self.settle()
        p.state = "delivered"
        p.profile = p.allocation = p.cost_left = 0.0
        self.delivered_count += 1
        self.y.add("projects_delivered", self.clock.year, 1)
        self.delivered(p.c.spec)
        self.replan()

"""The SimPy model of one run: funding arrives, the organisation plans, money becomes disruptions.

What happens when, as SimPy events: a settlement is confirmed at month 3.7, a tranche lands at
month 8.2, a recruitment campaign's recruits arrive, a project is delivered at month 27.2, a fiscal
year closes. Between two events every rate is constant or decays at a known exponential rate
(attrition, legacy-IT decay), so `_Ledger.advance_to` integrates spending, staff and the disruption
rate in closed form, split at month ends for the monthly record. No event is one disruption: the
month's count is one Poisson draw of its integrated rate, taken after the event loop from the
month's keyed uniform (see `rng.py`). docs/model.md states every mechanism and its source.

The engine does no I/O: `simulate` takes a compiled scenario, a seed and a run index and returns
plain numpy arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import simpy
from scipy import special

from .distributions import poisson_ppf
from .rng import DrawCatalogue
from .scenario import MAX_CONFIRMATION_DELAY_MONTHS, Capability, Scenario, Stream

RAMP_PRODUCTIVITY = 0.5
"""A recruit still ramping up counts as half an FTE: the average of a linear ramp from 0 to 1."""

MIN_COHORT_FTE = 1.0
"""Recruitment campaigns smaller than one post are not run."""

RUN_OUTPUTS = (
    "disruptions_total", "priority_disruptions", "non_priority_disruptions", "lapsed_funds_m",
    "capability_spend_m", "overrun_cost_m", "projects_delivered", "project_pauses", "mean_fte",
    "final_productivity", "cost_per_disruption_k", "mean_temporary_fte", "temporary_spend_m",
    "overhead_m", "emergency_cover_m", "received_m", "spent_m", "interim_months",
)
"""Per-run outputs: the eleven of docs/design.md, then the money and planning figures behind them."""

YEAR_OUTPUTS = (
    "disruptions_total", "priority_disruptions", "non_priority_disruptions", "lapsed_funds_m",
    "capability_spend_m", "overrun_cost_m", "projects_delivered", "project_pauses", "mean_fte",
    "final_productivity", "cost_per_disruption_k", "mean_temporary_fte", "temporary_spend_m",
    "overhead_m", "emergency_cover_m", "received_m", "carried_in_m", "spent_m", "carried_out_m",
)
"""Per-run, per-fiscal-year outputs. Money balances each year:
received + carried_in = spent + lapsed + carried_out + overhead."""

MONTH_OUTPUTS = ("fte", "temporary_fte", "productivity", "cash_m", "disruptions",
                 "cumulative_disruptions")


@dataclass(frozen=True)
class CompiledStream:
    """What one run needs of a stream, computed once per scenario."""

    name: str
    spec: Stream
    expected_m: np.ndarray  # gross expected amount per fiscal year
    period_starts: tuple[int, ...]  # first fiscal year (0-based) of each settlement period
    tranche_stream: bool
    real_growth: float

    def expected(self, year: int) -> float:
        """Expected gross amount in a fiscal year, past the horizon too (the organisation plans
        beyond the run's end): the compiled amounts, extended at the scenario's real growth."""
        last = len(self.expected_m) - 1
        if year <= last:
            return float(self.expected_m[year])
        return float(self.expected_m[last]) * (1.0 + self.real_growth) ** (year - last)


@dataclass(frozen=True)
class CompiledProject:
    name: str
    spec: Capability


@dataclass(frozen=True)
class CompiledScenario:
    """A validated scenario laid out for fast repeated runs (streams, projects, the draw catalogue)."""

    scenario: Scenario
    years: int
    months: int
    streams: tuple[CompiledStream, ...]
    projects: tuple[CompiledProject, ...]
    draws: DrawCatalogue
    recruit_cycles: int

    @property
    def sha256(self) -> str:
        return self.scenario.sha256()


def compile_scenario(scenario: Scenario) -> CompiledScenario:
    """Lay a scenario out for simulation: expected amounts, settlement periods, named draws."""
    years = scenario.horizon.years
    budget = scenario.funding.baseline_budget_m
    growth = scenario.funding.real_growth
    totals = budget * (1.0 + growth) ** np.arange(years)
    streams = []
    draws = DrawCatalogue()
    for name in sorted(scenario.funding.streams):
        spec = scenario.funding.streams[name]
        starts = tuple(range(0, years, spec.settlement_years))
        streams.append(CompiledStream(name, spec, totals * spec.share, starts,
                                      spec.arrival == "tranches", growth))
        # Keyed by what each draw is about: the amount of a stream in a fiscal year, the delay of
        # the settlement that starts in a fiscal year, the j-th tranche of a stream in a year.
        draws.add(f"amount/{name}", (str(y) for y in range(years)))
        draws.add(f"delay/{name}", (str(y) for y in starts))
        if spec.arrival == "tranches":
            draws.add(f"tranche/{name}",
                      (f"{y}/{j}" for y in range(years) for j in range(spec.tranches)))
    projects = sorted(scenario.capabilities.items(), key=lambda kv: (kv[1].priority, kv[0]))
    compiled_projects = []
    for name, spec in projects:
        draws.add(f"lead/{name}", ["0"])
        draws.add(f"growth/{name}", ["0"])  # outturn cost factor (capex risk)
        draws.add(f"margin/{name}", ["0"])  # the board's haircut on unconfirmed money
        compiled_projects.append(CompiledProject(name, spec))
    months = 12 * years
    cycles = math.ceil(months / scenario.workforce.recruitment_interval_months) + 1
    draws.add("recruit", (str(c) for c in range(cycles)))
    draws.add("thaw", (str(y) for y in range(years)))  # the campaign run when a freeze lifts
    draws.add("disrupt/priority", (str(m) for m in range(months)))
    draws.add("disrupt/other", (str(m) for m in range(months)))
    return CompiledScenario(scenario, years, months, tuple(streams), tuple(compiled_projects),
                            draws, cycles)


@dataclass
class RunOutput:
    """One run's results as arrays: per run, per fiscal year, per month."""

    run: dict[str, float]
    years: dict[str, np.ndarray]
    months: dict[str, np.ndarray]


# ---------------------------------------------------------------------------- run state

_TINY = 1e-9
"""£m (or £m a month) below which an amount is treated as nothing (rounding, not money)."""


@dataclass
class _StreamState:
    c: CompiledStream
    amounts: np.ndarray  # realised gross amount per year (unknown to the organisation until confirmed)
    confirmed: list[bool] = field(default_factory=list)  # per fiscal year: amount confirmed?
    resource: float = 0.0  # money on hand
    capital: float = 0.0
    interim: bool = False  # on an interim allowance for the current year
    authority: float = 0.0  # interim resource allowance left this year
    advance: float = 0.0  # resource spent under the interim allowance, charged at confirmation
    capital_rate: float = 0.0  # interim capital allowance: £m a month projects may draw
    capital_advance: float = 0.0  # capital drawn under it, charged at confirmation

    def net(self, gross: float) -> tuple[float, float, float]:
        """(overhead, resource, capital) of a gross allocation."""
        spec = self.c.spec
        overhead = gross * spec.bid_overhead_pct
        net = gross - overhead
        capital = net * spec.capital_share
        return overhead, net - capital, capital

    def carry_fraction(self, closing_year: int) -> float:
        """The fraction of unspent money kept at the end of `closing_year`."""
        spec = self.c.spec
        same = closing_year // spec.settlement_years == (closing_year + 1) // spec.settlement_years
        return spec.carry_over_within_settlement if same else spec.carry_over_across_settlements


@dataclass
class _Project:
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


@dataclass
class _Cohort:
    fte: float
    arrives: float


@dataclass
class _Years:
    """Per-fiscal-year accumulators."""

    n: int
    data: dict[str, list[float]] = field(init=False)

    def __post_init__(self) -> None:
        # Plain lists: indexing a Python list is several times cheaper than a numpy element.
        self.data = {k: [0.0] * self.n for k in YEAR_OUTPUTS}

    def add(self, key: str, year: int, value: float) -> None:
        self.data[key][year] += value

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.data.items()}


class _Model:
    """State and processes of one run. Built, run once, then read."""

    def __init__(self, cs: CompiledScenario, seed: int, run: int) -> None:
        self.cs = cs
        sc = cs.scenario
        self.org = sc.organisation
        self.wf = sc.workforce
        self.ops = sc.operations
        u = cs.draws.uniforms(seed, run)
        self.u = u
        self.env = simpy.Environment()
        self.year = 0
        self.t_last = 0.0
        # Streams: realised amounts from per-(stream, year) Z (mean-one lognormal factor).
        self.streams: list[_StreamState] = []
        for c in cs.streams:
            sigma = c.spec.amount_volatility
            z = special.ndtri(u[cs.draws.slice(f"amount/{c.name}")])
            factor = np.exp(sigma * z - 0.5 * sigma * sigma)
            self.streams.append(_StreamState(c, c.expected_m * factor, [False] * cs.years))
        self.commit_streams = [s for s in self.streams if not s.c.tranche_stream]
        self.tranche_streams = [s for s in self.streams if s.c.tranche_stream]
        self.capital_streams = list(self.streams)
        # Workforce (a fluid of FTE: attrition is a continuous hazard).
        self.h_settled = -math.log(1.0 - self.wf.attrition_per_year) / 12.0
        self.h_unsettled = -math.log(
            1.0 - self.wf.attrition_per_year - self.wf.attrition_uplift_unconfirmed) / 12.0
        self.h = self.h_settled
        self.cost_fte_month = self.wf.cost_per_fte_k / 1000.0 / 12.0
        self.temp_cost_fte_month = self.cost_fte_month * (1.0 + self.org.temporary_capacity_premium)
        self.f_full = float(self.wf.initial_fte)
        self.f_ramp = 0.0
        self.pipeline: list[_Cohort] = []
        self.recruit_leads = [self.wf.recruitment_lead_months.ppf(x)
                              for x in u[cs.draws.slice("recruit")]]
        self.thaw_leads = [self.wf.recruitment_lead_months.ppf(x) for x in u[cs.draws.slice("thaw")]]
        # Temporary capacity: £m a month from each stream, fixed between decisions.
        self.temp_rate = 0.0
        self.temp_pay: list[tuple[_StreamState, float]] = []
        self.temp_value = 1.0  # output bought per £, below 1 while late money is being spent
        self.late_shortfall = 0.0  # unspent late money × (1 - its value): what the rush loses
        self.late_shortfall_rate = 0.0
        # Productivity: legacy decay until modernised, times delivered uplifts.
        self.b = -math.log(1.0 - self.ops.legacy_decay_per_year) / 12.0
        self.productivity = 1.0
        self._span_memo: dict[float, tuple[float, float, float, float, float]] = {}
        self.per_fte_month = self.ops.disruptions_per_fte_year / 12.0
        self.fixed_month = self.org.fixed_costs_m_per_year / 12.0
        self.legacy_month = self.org.legacy_it_cost_m_per_year / 12.0
        self.any_contracted = False  # a project active or paused: the ledger has capital to post
        self.priority_share = self.ops.priority_share_base
        self.modernised = False
        self.run_cost_month = 0.0
        # Years of planned capital a contract may count on: the longest project's expected lead.
        self.contract_lookahead = max(
            (math.ceil(p.spec.lead_time_months.mean() / 12.0) for p in cs.projects), default=0)
        self.projects = []
        for p in cs.projects:
            spec = p.spec
            lead = spec.lead_time_months.ppf(float(u[cs.draws.slice(f"lead/{p.name}")][0]))
            growth = spec.cost_growth_factor.ppf(float(u[cs.draws.slice(f"growth/{p.name}")][0]))
            margin = 2.0 * self.org.contract_margin * float(u[cs.draws.slice(f"margin/{p.name}")][0])
            self.projects.append(_Project(p, lead, spec.capex_m * growth, margin))
        # Records.
        self.y = _Years(cs.years)
        # Plain lists while running (a list element is cheaper to update than a numpy one);
        # arrays once the run is over.
        self.mu_priority = [0.0] * cs.months
        self.mu_other = [0.0] * cs.months
        self.month_fte = [0.0] * cs.months
        self.month_temp = [0.0] * cs.months
        self.month_prod = [0.0] * cs.months
        self.month_cash = [0.0] * cs.months
        self.interim_months = 0.0
        self.frozen = False
        self.delivered_count = 0
        self.pause_count = 0

    # ------------------------------------------------------------------ the event loop

    def run(self) -> RunOutput:
        env = self.env
        for s in self.streams:
            self._schedule_confirmations(s)
        self._open_year(0)
        env.process(self._calendar())
        env.run(until=float(self.cs.months))
        self._advance_to(float(self.cs.months))
        self._close_year(self.cs.years - 1)
        return self._outputs()

    def _calendar(self):
        """Fiscal-year ends and recruitment cycles, in a fixed order when they coincide."""
        interval = self.wf.recruitment_interval_months
        cycle = 0
        next_cycle = 0.0
        horizon = float(self.cs.months)
        while True:
            next_year_end = 12.0 * (self.year + 1)
            t = min(next_cycle, next_year_end)
            if t >= horizon:
                return
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            if t == next_year_end:
                self._advance_to(t)
                self._close_year(self.year)
                self._open_year(self.year + 1)
            if t == next_cycle:
                self._advance_to(t)
                self._recruit(self.recruit_leads[cycle])
                cycle += 1
                next_cycle = cycle * interval
            self._replan()

    def _schedule_confirmations(self, s: _StreamState) -> None:
        delays = s.c.spec.confirmation_delay_months
        us = self.u[self.cs.draws.slice(f"delay/{s.c.name}")]
        for start, x in zip(s.c.period_starts, us, strict=True):
            delay = min(delays.ppf(float(x)), MAX_CONFIRMATION_DELAY_MONTHS)
            when = max(0.0, 12.0 * start + delay)
            # Confirmed before its period starts: known from `when`, received when the year opens.
            if when <= 0.0:
                self._confirm(s, start, announce=False)
            else:
                self._at(when, lambda s=s, start=start: self._confirm(s, start))

    def _at(self, when: float, action) -> None:
        event = self.env.timeout(when - self.env.now)
        event.callbacks.append(lambda _e: action())

    # ------------------------------------------------------------------ funding

    def _confirm(self, s: _StreamState, start: int, announce: bool = True) -> None:
        """A settlement for the period starting in fiscal year `start` is confirmed now."""
        if s.confirmed[start]:
            return
        now = self.env.now
        if announce:
            self._advance_to(now)
        last = min(start + s.c.spec.settlement_years, self.cs.years) - 1
        for y in range(start, last + 1):
            s.confirmed[y] = True
        if s.c.tranche_stream:
            for y in range(start, last + 1):
                self._schedule_tranches(s, y, max(now, 12.0 * y))
        elif start <= self.year and s.interim:
            was_frozen = self.frozen
            self._receive_confirmed(s, self.year, now)
            if announce:
                # Money for this year has landed: plans change now. A confirmation for later
                # years is taken up at the next planning cycle, so that decisions fall at the same
                # times whatever the settlement length (equivalence under certainty).
                if was_frozen and not self.frozen:
                    # The freeze lifts: recruitment resumes at once, not at the next cycle.
                    self._recruit(self.thaw_leads[self.year])
                self._replan()

    def _receive_confirmed(self, s: _StreamState, year: int, now: float) -> None:
        """The year's allocation lands; what was spent under the interim allowance is charged."""
        gross = float(s.amounts[year])
        overhead, resource, capital = s.net(gross)
        cover = max(0.0, s.advance - resource) + max(0.0, s.capital_advance - capital)
        if cover > 0.0:
            # A settlement cannot take back what was already spent under the vote on account:
            # the excess is met by in-year cover (a Supplementary Estimate) and reported.
            self.y.add("emergency_cover_m", year, cover)
            self.y.add("received_m", year, cover)
        resource = max(0.0, resource - s.advance)
        capital = max(0.0, capital - s.capital_advance)
        s.interim = False
        s.advance = s.authority = s.capital_rate = s.capital_advance = 0.0
        self._update_frozen()
        self.y.add("received_m", year, gross)
        self.y.add("overhead_m", year, overhead)
        s.resource += resource
        s.capital += capital
        self.late_shortfall += resource * (1.0 - self._late_value(now, year))

    def _schedule_tranches(self, s: _StreamState, year: int, earliest: float) -> None:
        n = s.c.spec.tranches
        us = self.u[self.cs.draws.slice(f"tranche/{s.c.name}")][year * n:(year + 1) * n]
        end = 12.0 * (year + 1)
        amount = float(s.amounts[year]) / n
        for x in us:
            self._at(earliest + float(x) * (end - earliest),
                     lambda s=s, year=year, amount=amount: self._tranche(s, year, amount))

    def _tranche(self, s: _StreamState, year: int, gross: float) -> None:
        now = self.env.now
        self._advance_to(now)
        overhead, resource, capital = s.net(gross)
        self.y.add("received_m", year, gross)
        self.y.add("overhead_m", year, overhead)
        s.resource += resource
        s.capital += capital
        self.late_shortfall += resource * (1.0 - self._late_value(now, year))
        if capital > 0.0:
            self._replan()
        else:
            self._plan_temporary()  # nothing new for projects: only the in-year spending changes

    def _late_value(self, now: float, year: int) -> float:
        """Output bought per £ of resource landing now: 1 with at least `late_spend_window_months`
        of the year left, falling linearly to `late_spend_value` at the year end (the year-end
        rush). Linear rather than a step, so a half-month change in a delay moves output a little."""
        window = self.org.late_spend_window_months
        left = 12.0 * (year + 1) - now
        if now <= 12.0 * year or window <= 0.0 or left >= window:
            return 1.0
        value = self.org.late_spend_value
        return value + (1.0 - value) * max(0.0, left) / window

    def _open_year(self, year: int) -> None:
        self.year = year
        self.late_shortfall = 0.0
        # Spend first the money that would lapse at this year end (in-year money first on ties:
        # it can fund nothing else).
        def lapse_order(s: _StreamState) -> tuple[float, bool, str]:
            return (s.carry_fraction(year), not s.c.tranche_stream, s.c.name)

        self.commit_streams.sort(key=lapse_order)
        self.capital_streams.sort(key=lapse_order)
        fraction = self.org.interim_fraction
        for s in self.commit_streams:
            if s.confirmed[year]:
                self._receive_confirmed(s, year, 12.0 * year)
            else:
                previous = (float(s.amounts[year - 1]) if year else
                            float(s.c.expected_m[0]) / (1.0 + self.cs.scenario.funding.real_growth))
                _, prev_resource, prev_capital = s.net(previous)
                s.interim = True
                s.authority = fraction * prev_resource
                s.advance = 0.0
                s.capital_rate = fraction * prev_capital / 12.0
                s.capital_advance = 0.0
        self._update_frozen()

    def _close_year(self, year: int) -> None:
        """Fiscal-year end: carry over what the stream's rules allow; the rest lapses."""
        y = self.y
        carried = lapsed = 0.0
        for s in self.streams:
            fraction = s.carry_fraction(year)
            for attr in ("resource", "capital"):
                balance = getattr(s, attr)
                keep = balance * fraction
                carried += keep
                lapsed += balance - keep
                setattr(s, attr, keep)
        y.add("carried_out_m", year, carried)
        y.add("lapsed_funds_m", year, lapsed)
        if year + 1 < self.cs.years:
            y.add("carried_in_m", year + 1, carried)
        y.data["final_productivity"][year] = self.productivity
        self.temp_rate = self.late_shortfall_rate = 0.0
        self.temp_pay = []

    # ------------------------------------------------------------------ the organisation's plan

    def _update_frozen(self) -> None:
        """Planning blight: no new commitments while core money for this year is unconfirmed;
        staff on posts that depend on it leave faster (`attrition_uplift_unconfirmed`)."""
        self.frozen = any(s.interim and s.c.spec.share > 0 for s in self.commit_streams)
        h = self.h_unsettled if self.frozen else self.h_settled
        if h != self.h:
            self.h = h
            self._span_memo.clear()  # the memoised spans were for the old attrition rate

    def _planned_gross(self, s: _StreamState, year: int) -> float:
        """Gross money the organisation plans on from a stream in a year: the confirmed amount, or,
        unconfirmed, the expected amount less `prudence_sd` standard deviations. Years past the
        horizon are planned like any unconfirmed year (the organisation does not know the run ends)."""
        if year < self.cs.years and s.confirmed[year]:
            return float(s.amounts[year])
        return s.c.expected(year) * math.exp(-self.org.prudence_sd * s.c.spec.amount_volatility)

    def _establishment(self) -> float:
        """Permanent posts affordable in every year of the planning look-ahead, from money that
        arrives at confirmation, after fixed, legacy-IT and capability running costs."""
        org = self.org
        committed_run = sum(p.c.spec.run_cost_m_per_year for p in self.projects
                            if p.state != "idle")
        legacy = 0.0 if self.modernised else org.legacy_it_cost_m_per_year
        cost_fte_year = self.cost_fte_month * 12.0
        last = min(self.year + org.planning_years, self.cs.years)
        best = math.inf
        for year in range(self.year, last):
            money = sum(s.net(self._planned_gross(s, year))[1] for s in self.commit_streams)
            posts = (money - org.fixed_costs_m_per_year - legacy - committed_run) / cost_fte_year
            best = min(best, posts)
        return max(0.0, best)

    def _recruit(self, lead: float) -> None:
        """A recruitment campaign now (a regular cycle, or the freeze lifting)."""
        if self.frozen:
            return
        in_pipeline = sum(c.fte for c in self.pipeline)
        gap = self._establishment() - (self.f_full + self.f_ramp + in_pipeline)
        arrives = self.env.now + max(0.0, lead)
        year_end = 12.0 * (self.year + 1)
        if arrives < year_end:
            # This year's money must also pay the recruits until the year end.
            spare = self._spare_resource(self.env.now, year_end)
            cost_each = self.cost_fte_month * _decayed_span(self.h, year_end - arrives)
            gap = min(gap, spare / cost_each)
        if gap < MIN_COHORT_FTE:
            return
        cohort = _Cohort(gap, arrives)
        self.pipeline.append(cohort)
        self._at(cohort.arrives, lambda: self._arrive(cohort))

    def _arrive(self, cohort: _Cohort) -> None:
        self._advance_to(self.env.now)
        self.pipeline.remove(cohort)
        ramp = self.wf.ramp_up_months
        if ramp <= 0:
            self.f_full += cohort.fte
        else:
            self.f_ramp += cohort.fte
            survivors = cohort.fte * math.exp(-self.h * ramp)
            self._at(self.env.now + ramp, lambda: self._ramped(survivors))
        self._plan_temporary()  # recruits are new commitments: less money left for temporary staff

    def _ramped(self, fte: float) -> None:
        self._advance_to(self.env.now)
        moved = min(fte, self.f_ramp)
        self.f_ramp -= moved
        self.f_full += moved

    def _replan(self) -> None:
        self._plan_projects()
        self._plan_temporary()

    # -- capital

    def _planned_capital_rate(self) -> float:
        """£m a month of capital the organisation plans on this year (all streams)."""
        return sum(s.net(self._planned_gross(s, self.year))[2] for s in self.streams) / 12.0

    def _counted_capital(self, haircut: float) -> float:
        """Capital the organisation counts on when it lets a contract: on hand, plus every
        confirmed later year in the run, plus (1 - contract_cover) × (1 - haircut) of the prudent
        plan for unconfirmed later years within the longest project's expected lead, less what
        contracted projects still need. The haircut is the board's margin on money not yet
        confirmed; confirmed money is counted in full."""
        cover = self.org.contract_cover
        counted = sum(s.capital for s in self.streams)
        lookahead = self.contract_lookahead
        for year in range(self.year + 1, max(self.cs.years, self.year + 1 + lookahead)):
            for s in self.streams:
                confirmed = year < self.cs.years and s.confirmed[year]
                if confirmed:
                    counted += s.net(float(s.amounts[year]))[2]
                elif cover < 1.0 and year <= self.year + lookahead:
                    counted += (1.0 - cover) * (1.0 - haircut) * s.net(self._planned_gross(s, year))[2]
        return counted - sum(p.cost_left for p in self.projects if p.state in ("active", "paused"))

    def _plan_projects(self) -> None:
        """Share this year's capital among contracted projects by priority (slowing or pausing
        those it cannot pay in full), raise profiles that planned capital now allows, then let new
        contracts that counted capital covers."""
        now = self.env.now
        left = 12.0 * (self.year + 1) - now
        money = sum(s.capital for s in self.streams)
        money += sum(s.capital_rate for s in self.commit_streams if s.interim) * max(left, 0.0)
        available = money / left if left > _TINY else 0.0
        headroom = self._planned_capital_rate()
        contracted = [p for p in self.projects if p.state in ("active", "paused")]
        for p in contracted:
            headroom -= p.profile
        # Re-profile upwards (free: the contract allows its drawn lead time) where plans allow.
        for p in contracted:
            if headroom <= _TINY:
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
            if give <= _TINY:
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
        if not self.frozen:
            for p in self.projects:
                if p.state != "idle":
                    continue
                # Projects contracted a moment ago already count against the money.
                if self._counted_capital(p.margin) < p.c.spec.capex_m:
                    continue
                profile = min(p.fastest, headroom, available)
                if profile <= _TINY:
                    continue
                self._contract(p, profile)
                headroom -= profile
                available -= profile
        self.any_contracted = any(p.state in ("active", "paused") for p in self.projects)
        for p in self.projects:
            if p.state == "active":
                self._schedule_delivery(p)

    def _contract(self, p: _Project, profile: float) -> None:
        p.state = "active"
        p.cost_left = p.outturn
        p.premium_left = p.c.spec.reprofile_premium * p.outturn
        p.profile = p.allocation = profile

    def _pause(self, p: _Project) -> None:
        p.state = "paused"
        p.paused_at = self.env.now
        self.pause_count += 1
        self.y.add("project_pauses", self.year, 1)

    def _resume(self, p: _Project) -> None:
        """Restart after a pause: remobilisation time and cost, plus lateness for each month paused."""
        spec = p.c.spec
        now = self.env.now
        extra = p.outturn * (spec.remobilisation_cost_pct
                             + spec.overrun_pct_per_year_late / 12.0 * (now - p.paused_at))
        self.y.add("overrun_cost_m", self.year, extra)
        p.cost_left += extra
        p.state = "active"
        if spec.remobilisation_months > 0.0:
            p.mobilising_until = now + spec.remobilisation_months
            self._at(p.mobilising_until, self._mobilised)

    def _mobilised(self) -> None:
        self._advance_to(self.env.now)
        self._replan()

    def _premium_rate(self, p: _Project, at: float) -> float:
        """£m a month added to the whole-life cost while the allocation is below the profile, for a
        ledger piece starting at `at` (no piece straddles the end of a remobilisation: an event
        falls there)."""
        if p.premium_left <= 0.0 or p.mobilising_until > at:
            return 0.0
        return p.c.spec.reprofile_premium * (p.profile - p.allocation)

    def _schedule_delivery(self, p: _Project) -> None:
        """Set the delivery timer for the cost left at the current allocation; any later re-plan
        voids it (the version changes) and sets a new one."""
        p.version += 1
        a = p.allocation
        if a <= _TINY:
            return
        q = self._premium_rate(p, self.env.now)
        net = a - q
        until_cap = p.premium_left / q if q > 0.0 else math.inf
        if net > 0.0 and p.cost_left / net <= until_cap:
            dt = p.cost_left / net
        else:
            dt = until_cap + (p.cost_left - net * until_cap) / a
        version = p.version
        self._at(self.env.now + dt, lambda: self._deliver(p) if p.version == version else None)

    def _deliver(self, p: _Project) -> None:
        self._advance_to(self.env.now)
        spec = p.c.spec
        p.state = "delivered"
        p.profile = p.allocation = p.cost_left = 0.0
        self.delivered_count += 1
        self.y.add("projects_delivered", self.year, 1)
        self.productivity *= 1.0 + spec.productivity_uplift
        self.priority_share += spec.priority_uplift
        self.run_cost_month += spec.run_cost_m_per_year / 12.0
        if spec.modernises_legacy:
            self.modernised = True
            self.b = 0.0
            self._span_memo.clear()  # the memoised spans were for the old decay rate
        self._replan()

    # -- temporary capacity

    def _plan_temporary(self) -> None:
        """Buy temporary capacity with the resource money this year's commitments do not need,
        spread evenly over the months left, up to the capacity the organisation can absorb. Each
        stream pays its own part, so temporary staff never spend money that staff in post need.
        Whatever the ceiling leaves is carried over as the stream allows, or lapses."""
        now = self.env.now
        left = 12.0 * (self.year + 1) - now
        self.temp_pay = []
        self.temp_rate = self.late_shortfall_rate = 0.0
        if left <= _TINY:
            return
        need = self._committed_resource(now, 12.0 * (self.year + 1))
        spare: list[tuple[_StreamState, float]] = []
        for s in self.commit_streams:
            use = min(s.resource, need)
            need -= use
            if s.resource - use > _TINY:
                spare.append((s, s.resource - use))
        for s in self.commit_streams:
            if s.interim:
                # Before confirmation, commitments are paid by an advance on the allocation; the
                # organisation keeps in-year money back for any part a prudent allocation misses.
                expected = s.net(self._planned_gross(s, self.year))[1] - s.advance
                need = max(0.0, need - max(0.0, expected))
        for s in self.tranche_streams:
            # Core money short of commitments (a low settlement after staff are in post): in-year
            # money meets the gap before any temporary capacity is bought.
            use = min(s.resource, need)
            need -= use
            if s.resource - use > _TINY:
                spare.append((s, s.resource - use))
        budget = sum(x for _, x in spare)
        if budget <= _TINY:
            return
        ceiling = (self.org.temporary_capacity_max_fraction * (self.f_full + self.f_ramp)
                   * self.temp_cost_fte_month)
        rate = min(budget / left, ceiling)
        self.temp_rate = rate
        self.temp_pay = [(s, rate * x / budget) for s, x in spare]
        # Late money is spent pro rata with the rest; what the rush loses falls as it is spent.
        shortfall = min(self.late_shortfall, budget)
        self.temp_value = 1.0 - shortfall / budget
        self.late_shortfall_rate = rate * shortfall / budget

    def _spare_resource(self, now: float, until: float) -> float:
        """Core resource money (and interim allowance) not already committed until `until`."""
        have = 0.0
        for s in self.commit_streams:
            have += s.resource + s.authority if s.interim else s.resource
        return max(0.0, have - self._committed_resource(now, until))

    def _committed_resource(self, now: float, until: float) -> float:
        """Resource money already committed from now to `until`: staff in post and arriving,
        fixed costs, legacy IT and capability running costs."""
        span = until - now
        staff = (self.f_full + self.f_ramp) * self.cost_fte_month * _decayed_span(self.h, span)
        for c in self.pipeline:
            if c.arrives < until:
                staff += c.fte * self.cost_fte_month * _decayed_span(self.h, until - c.arrives)
        legacy = 0.0 if self.modernised else self.org.legacy_it_cost_m_per_year
        fixed = (self.org.fixed_costs_m_per_year + legacy) / 12.0 + self.run_cost_month
        return staff + fixed * span

    # ------------------------------------------------------------------ the ledger

    def _advance_to(self, t: float) -> None:
        """Integrate everything from the last posting to `t`, splitting at month ends."""
        while self.t_last < t:
            month = int(self.t_last)
            boundary = month + 1.0
            end = min(t, boundary)
            self._post(month, end - self.t_last)
            self.t_last = end
            if end == boundary:
                self._record_month(month)

    def _spans(self, dt: float) -> tuple[float, float, float, float, float]:
        """Decay factors and decayed spans over a piece of length dt, memoised per run: most
        pieces are whole months, so the same few lengths recur (same inputs, same bits)."""
        found = self._span_memo.get(dt)
        if found is None:
            h, b = self.h, self.b
            found = (math.exp(-h * dt), _decayed_span(h, dt), _decayed_span(b, dt),
                     _decayed_span(h + b, dt), math.exp(-b * dt))
            self._span_memo[dt] = found
        return found

    def _post(self, month: int, dt: float) -> None:
        decay_h, span_h, span_b, span_hb, decay_b = self._spans(dt)
        staff = self.f_full + self.f_ramp
        commitments = (staff * self.cost_fte_month * span_h
                       + (self.fixed_month + (0.0 if self.modernised else self.legacy_month)
                          + self.run_cost_month) * dt)
        temp_cost = self.temp_rate * dt
        temp_fte = self.temp_rate / self.temp_cost_fte_month
        temp_value = temp_fte * self.temp_value
        # Disruptions: integrate lambda(t) = effective FTE * rate * productivity over the piece.
        effective_staff = self.f_full + RAMP_PRODUCTIVITY * self.f_ramp
        mu = self.per_fte_month * self.productivity * (effective_staff * span_hb + temp_value * span_b)
        share = min(1.0, max(0.0, self.priority_share))
        self.mu_priority[month] += mu * share
        self.mu_other[month] += mu * (1.0 - share)
        year = self.year
        y = self.y.data
        y["mean_fte"][year] += staff * span_h / 12.0
        y["mean_temporary_fte"][year] += temp_fte * dt / 12.0
        if self.frozen:
            self.interim_months += dt
        # Capital: contracted projects progress at their allocation; deferring their profile
        # adds the re-profiling premium to what they cost.
        capex = premium = 0.0
        if self.any_contracted:
            for p in self.projects:
                if p.state == "active" or p.state == "paused":
                    q = min(self._premium_rate(p, self.t_last) * dt, p.premium_left)
                    p.premium_left -= q
                    spend = min(p.allocation * dt, p.cost_left + q)
                    p.cost_left += q - spend
                    premium += q
                    capex += spend
        # State moves on.
        self.f_full *= decay_h
        self.f_ramp *= decay_h
        if self.b:
            self.productivity *= decay_b
        self.late_shortfall = max(0.0, self.late_shortfall - self.late_shortfall_rate * dt)
        # Pay: each stream its part of temporary capacity, commitments from core money then the
        # interim allowance, capital from capital then the interim capital allowance; what no
        # money covers is emergency cover (reported).
        uncovered = 0.0
        for s, rate in self.temp_pay:
            cost = rate * dt
            use = min(cost, s.resource)
            s.resource -= use
            uncovered += cost - use
        uncovered += _pay_commitments(self.commit_streams, self.tranche_streams, commitments)
        if capex:
            uncovered += _pay_capital(self.capital_streams, capex)
        if uncovered > _TINY:
            y["emergency_cover_m"][year] += uncovered
            y["received_m"][year] += uncovered
        y["spent_m"][year] += commitments + temp_cost + capex
        y["temporary_spend_m"][year] += temp_cost
        y["capability_spend_m"][year] += capex
        y["overrun_cost_m"][year] += premium

    def _record_month(self, month: int) -> None:
        self.month_fte[month] = self.f_full + self.f_ramp
        self.month_temp[month] = self.temp_rate / self.temp_cost_fte_month
        self.month_prod[month] = self.productivity
        cash = 0.0
        for s in self.streams:
            cash += s.resource + s.capital
        self.month_cash[month] = cash

    # ------------------------------------------------------------------ outputs

    def _outputs(self) -> RunOutput:
        cs = self.cs
        draws = cs.draws
        priority = poisson_ppf(self.u[draws.slice("disrupt/priority")], np.asarray(self.mu_priority))
        other = poisson_ppf(self.u[draws.slice("disrupt/other")], np.asarray(self.mu_other))
        monthly = priority + other
        y = self.y.arrays()
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
            "projects_delivered": float(self.delivered_count),
            "project_pauses": float(self.pause_count),
            "mean_fte": float(y["mean_fte"].mean()),
            "final_productivity": self.productivity,
            "cost_per_disruption_k": spent * 1000.0 / total if total > 0 else math.nan,
            "mean_temporary_fte": float(y["mean_temporary_fte"].mean()),
            "temporary_spend_m": float(y["temporary_spend_m"].sum()),
            "overhead_m": float(y["overhead_m"].sum()),
            "emergency_cover_m": float(y["emergency_cover_m"].sum()),
            "received_m": float(y["received_m"].sum()),
            "spent_m": spent,
            "interim_months": self.interim_months,
        }
        months = {
            "fte": np.asarray(self.month_fte),
            "temporary_fte": np.asarray(self.month_temp),
            "productivity": np.asarray(self.month_prod),
            "cash_m": np.asarray(self.month_cash),
            "disruptions": monthly,
            "cumulative_disruptions": np.cumsum(monthly),
        }
        return RunOutput(run, y, months)


def _pay_resource(streams: list[_StreamState], amount: float) -> float:
    """Pay from the streams' resource money in order; return what none of it covered."""
    return _pay_from(streams, amount, "resource")


def _pay_capital(streams: list[_StreamState], amount: float) -> float:
    """Pay from the streams' capital money in order, then under an interim capital allowance (an
    advance charged at confirmation); return what neither covered."""
    amount = _pay_from(streams, amount, "capital")
    for s in streams:
        if amount <= 0.0:
            return 0.0
        if s.interim and s.capital_rate > 0.0:
            s.capital_advance += amount
            return 0.0
    return amount if amount > 0.0 else 0.0


def _pay_from(streams: list[_StreamState], amount: float, pool: str) -> float:
    for s in streams:
        if amount <= 0.0:
            return 0.0
        have = getattr(s, pool)
        use = have if have < amount else amount
        setattr(s, pool, have - use)
        amount -= use
    return amount if amount > 0.0 else 0.0


def _pay_commitments(streams: list[_StreamState], in_year: list[_StreamState], amount: float) -> float:
    """Pay commitments from core resource money, then from interim allowances (as an advance
    charged at confirmation), then from in-year money; return what none of them covered."""
    amount = _pay_resource(streams, amount)
    for s in streams:
        if amount <= 0.0:
            return 0.0
        if s.interim:
            # Existing commitments go on being paid before confirmation: within the interim
            # allowance first; beyond it as an overdraft. Both are charged to the allocation when
            # it is confirmed, so running late never creates money.
            s.authority = max(0.0, s.authority - amount)
            s.advance += amount
            return 0.0
    return _pay_resource(in_year, amount) if amount > 0.0 else 0.0


def _decayed_span(rate: float, dt: float) -> float:
    """Integral of exp(-rate * s) for s in [0, dt]: the span an exponentially decaying level
    contributes (dt itself when nothing decays)."""
    if rate * dt < 1e-12:
        return dt
    return -math.expm1(-rate * dt) / rate


def simulate(compiled: CompiledScenario, seed: int, run: int) -> RunOutput:
    """One run of a compiled scenario: a pure function of (scenario, seed, run)."""
    return _Model(compiled, seed, run).run()

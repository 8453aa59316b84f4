"""Funding and settlements: each stream's money, when its settlements are confirmed, tranches of
in-year money, interim allowances before confirmation, carry-over and lapse at the year end, and
the amounts the organisation plans on. The planning freeze ("blight") is decided here: no new
commitments while core money for this year is unconfirmed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from scipy import special

from ..scenario import MAX_CONFIRMATION_DELAY_MONTHS, Organisation
from .clock import TINY, Clock
from .compiled import CompiledScenario, CompiledStream
from .records import YearRecord


class FundingEvents(Protocol):
    """What the rest of the organisation does when money moves."""

    def settle(self) -> None:
        """Bring the books up to now, before money on hand changes."""

    def freeze_changed(self, frozen: bool) -> None:
        """Core money for this year has become confirmed (False) or unconfirmed (True)."""

    def year_money_landed(self, freeze_lifted: bool) -> None:
        """A settlement confirmed money for the year in progress: plans change now."""

    def in_year_money_landed(self, capital: bool) -> None:
        """A tranche of in-year money landed (with some capital, or resource only)."""

    def later_money_confirmed(self) -> None:
        """A settlement confirmed later years' money at amounts other than those planned on."""


@dataclass
class StreamState:
    """One stream's money during a run."""

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
    interim_base: float = 0.0  # last year's resource: the interim allowance's base and weight
    late_loss: float = 0.0  # share of resource on hand that landed late (value lost in the rush)

    def land_resource(self, amount: float, value: float) -> None:
        """Resource money lands, buying `value` of output per £ when spent in a rush. Money is
        fungible within a stream and spent pro rata, so the stream's late-loss share is the
        amount-weighted average of what it holds: it never exceeds 1 - `late_spend_value`, and
        it moves smoothly with the landing time."""
        held = self.resource + amount
        if held > 0.0:
            self.late_loss = (self.late_loss * self.resource + amount * (1.0 - value)) / held
        self.resource = held

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


class Funding:
    """Every stream's money and settlements."""

    def __init__(self, cs: CompiledScenario, org: Organisation, u: np.ndarray, clock: Clock,
                 years: YearRecord, events: FundingEvents) -> None:
        self.cs = cs
        self.org = org
        self.u = u
        self.clock = clock
        self.y = years
        self.events = events
        # Realised amounts from per-(stream, year) Z (mean-one lognormal factor).
        self.streams: list[StreamState] = []
        for c in cs.streams:
            sigma = c.spec.amount_volatility
            z = special.ndtri(u[cs.draws.slice(f"amount/{c.name}")])
            factor = np.exp(sigma * z - 0.5 * sigma * sigma)
            self.streams.append(StreamState(c, c.expected_m * factor, [False] * cs.years))
        # Streams that pay commitments (confirmed by settlement) and in-year money (tranches).
        self.commit_streams = [s for s in self.streams if not s.c.tranche_stream]
        self.tranche_streams = [s for s in self.streams if s.c.tranche_stream]
        self.capital_streams = list(self.streams)
        self.frozen = False

    # ------------------------------------------------------------------ settlements

    def schedule_confirmations(self) -> None:
        """Set a timer for each settlement's confirmation (its delay drawn per period)."""
        for s in self.streams:
            delays = s.c.spec.confirmation_delay_months
            us = self.u[self.cs.draws.slice(f"delay/{s.c.name}")]
            for start, x in zip(s.c.period_starts, us, strict=True):
                delay = min(delays.ppf(float(x)), MAX_CONFIRMATION_DELAY_MONTHS)
                when = max(0.0, 12.0 * start + delay)
                # Confirmed before its period starts: known from `when`, received when it opens.
                if when <= 0.0:
                    self.confirm(s, start, announce=False)
                else:
                    self.clock.at(when, lambda s=s, start=start: self.confirm(s, start))

    def confirm(self, s: StreamState, start: int, announce: bool = True) -> None:
        """A settlement for the period starting in fiscal year `start` is confirmed now."""
        if s.confirmed[start]:
            return
        now = self.clock.now
        year = self.clock.year
        if announce:
            self.events.settle()
        last = min(start + s.c.spec.settlement_years, self.cs.years) - 1
        # News of later years is acted on at once, unless the year ends at this instant: the
        # next year then opens with the money confirmed (a re-plan with no months left would
        # pause every project).
        news = (announce and not s.c.tranche_stream and start > year
                and self.clock.year_end() - now > TINY
                and any(float(s.amounts[y]) != self.planned_gross(s, y)
                        for y in range(start, last + 1)))
        for y in range(start, last + 1):
            s.confirmed[y] = True
        if s.c.tranche_stream:
            for y in range(start, last + 1):
                self._schedule_tranches(s, y, max(now, 12.0 * y))
        elif start <= year and s.interim:
            was_frozen = self.frozen
            self.receive_confirmed(s, year, now)
            if announce:
                # Money for this year has landed: plans change now.
                self.events.year_money_landed(was_frozen and not self.frozen)
        elif news:
            # Later years' money differs from what was planned on: the plan is redone now, not
            # at the next quarterly cycle, so a confirmation a day later moves output a little
            # rather than a quarter's worth. Under certainty the amounts are those planned on
            # and nothing happens, so settlement lengths stay equivalent.
            self.events.later_money_confirmed()

    def receive_confirmed(self, s: StreamState, year: int, now: float) -> None:
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
        self.update_frozen()
        self.y.add("received_m", year, gross)
        self.y.add("overhead_m", year, overhead)
        self.y.add("capital_received_m", year, s.net(gross)[2])
        s.land_resource(resource, self.late_value(now, year))
        s.capital += capital

    # ------------------------------------------------------------------ in-year money

    def _schedule_tranches(self, s: StreamState, year: int, earliest: float) -> None:
        n = s.c.spec.tranches
        us = self.u[self.cs.draws.slice(f"tranche/{s.c.name}")][year * n:(year + 1) * n]
        end = 12.0 * (year + 1)
        amount = float(s.amounts[year]) / n
        for x in us:
            self.clock.at(earliest + float(x) * (end - earliest),
                          lambda s=s, year=year, amount=amount: self._tranche(s, year, amount))

    def _tranche(self, s: StreamState, year: int, gross: float) -> None:
        now = self.clock.now
        self.events.settle()
        overhead, resource, capital = s.net(gross)
        self.y.add("received_m", year, gross)
        self.y.add("overhead_m", year, overhead)
        self.y.add("capital_received_m", year, capital)
        s.land_resource(resource, self.late_value(now, year))
        s.capital += capital
        self.events.in_year_money_landed(capital > 0.0)

    def late_value(self, now: float, year: int) -> float:
        """Output bought per £ of resource landing now: 1 with at least `late_spend_window_months`
        of the year left, falling linearly to `late_spend_value` at the year end (the year-end
        rush). Linear rather than a step, so a half-month change in a delay moves output a little."""
        window = self.org.late_spend_window_months
        left = 12.0 * (year + 1) - now
        if now <= 12.0 * year or window <= 0.0 or left >= window:
            return 1.0
        value = self.org.late_spend_value
        return value + (1.0 - value) * max(0.0, left) / window

    # ------------------------------------------------------------------ the fiscal year

    def open_year(self, year: int) -> None:
        """Confirmed money for the year lands; unconfirmed streams go on an interim allowance of
        `interim_fraction` of last year's resource and capital. Money carried in is spent at full
        value: a rush is this year's, not last year's."""
        for s in self.streams:
            s.late_loss = 0.0

        # Spend first the money that would lapse at this year end (in-year money first on ties:
        # it can fund nothing else).
        def lapse_order(s: StreamState) -> tuple[float, bool, str]:
            return (s.carry_fraction(year), not s.c.tranche_stream, s.c.name)

        self.commit_streams.sort(key=lapse_order)
        self.capital_streams.sort(key=lapse_order)
        fraction = self.org.interim_fraction
        for s in self.commit_streams:
            if s.confirmed[year]:
                self.receive_confirmed(s, year, 12.0 * year)
            else:
                previous = (float(s.amounts[year - 1]) if year else
                            float(s.c.expected_m[0]) / (1.0 + self.cs.scenario.funding.real_growth))
                _, prev_resource, prev_capital = s.net(previous)
                s.interim = True
                s.interim_base = prev_resource
                s.authority = fraction * prev_resource
                s.advance = 0.0
                s.capital_rate = fraction * prev_capital / 12.0
                s.capital_advance = 0.0
        self.update_frozen()

    def close_year(self, year: int) -> None:
        """Fiscal-year end: carry over what the stream's rules allow; the rest lapses."""
        y = self.y
        carried = lapsed = capital_lapsed = 0.0
        for s in self.streams:
            fraction = s.carry_fraction(year)
            keep = s.resource * fraction
            carried += keep
            lapsed += s.resource - keep
            s.resource = keep
            keep = s.capital * fraction
            carried += keep
            lapsed += s.capital - keep
            capital_lapsed += s.capital - keep
            s.capital = keep
        y.add("carried_out_m", year, carried)
        y.add("lapsed_funds_m", year, lapsed)
        y.add("capital_lapsed_m", year, capital_lapsed)
        if year + 1 < self.cs.years:
            y.add("carried_in_m", year + 1, carried)

    def update_frozen(self) -> None:
        """Planning blight: no new commitments while core money for this year is unconfirmed."""
        self.frozen = any(s.interim and s.c.spec.share > 0 for s in self.commit_streams)
        self.events.freeze_changed(self.frozen)

    # ------------------------------------------------------------------ what is planned on

    def planned_gross(self, s: StreamState, year: int) -> float:
        """Gross money the organisation plans on from a stream in a year: the confirmed amount, or,
        unconfirmed, the expected amount less `prudence_sd` standard deviations. Years past the
        horizon are planned like any unconfirmed year (the organisation does not know the run ends)."""
        if year < self.cs.years and s.confirmed[year]:
            return float(s.amounts[year])
        return s.c.expected(year) * math.exp(-self.org.prudence_sd * s.c.spec.amount_volatility)

    def planned_resource(self, year: int) -> float:
        """Net resource money planned on from the streams that pay commitments in a year."""
        return sum(s.net(self.planned_gross(s, year))[1] for s in self.commit_streams)

    def planned_capital_rate(self, year: int) -> float:
        """£m a month of capital the organisation plans on in a year (all streams)."""
        return sum(s.net(self.planned_gross(s, year))[2] for s in self.streams) / 12.0

    def capital_to_year_end(self, months_left: float) -> float:
        """Capital projects can draw for the rest of the year: on hand in every stream, plus the
        interim capital allowance of streams still unconfirmed over the months left."""
        money = sum(s.capital for s in self.streams)
        return money + sum(s.capital_rate for s in self.commit_streams if s.interim) * months_left

    def cash(self) -> float:
        """Money on hand, resource and capital, in every stream."""
        cash = 0.0
        for s in self.streams:
            cash += s.resource + s.capital
        return cash

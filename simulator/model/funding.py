"""Funding and settlements: each stream's money, when its settlements are confirmed, tranches of
in-year money, interim allowances before confirmation, carry-over and lapse at the year end, and
the amounts the organisation plans on. The planning freeze ("blight") is decided here: no new
commitments while core money for this year is unconfirmed."""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

from ..scenario import MAX_CONFIRMATION_DELAY_MONTHS, Organisation
from .clock import TINY, Clock
from .compiled import CompiledScenario, CompiledStream
from .records import RunDraws, YearRecord

if TYPE_CHECKING:
    from .run import Run


class StreamState:
    """One stream's money during a run, with the stream's rules copied into plain fields (the
    compiled model reads them as C doubles, not through the scenario's pydantic objects)."""

    def __init__(self, c: CompiledStream, amounts: list[float], delays: list[float],
                 tranche_uniforms: list[float], years: int, prudence_sd: float) -> None:
        spec = c.spec
        self.c = c
        self.name = c.name
        self.tranche_stream = c.tranche_stream
        self.share = spec.share
        self.settlement_years = spec.settlement_years
        self.tranches = spec.tranches
        self.overhead_pct = spec.bid_overhead_pct
        self.capital_share = spec.capital_share
        self.carry_within = spec.carry_over_within_settlement
        self.carry_across = spec.carry_over_across_settlements
        self.expected_ahead = c.expected_ahead  # expected gross per year, past the horizon too
        # What an unconfirmed year is planned at, as a share of the expected amount.
        self.prudent = math.exp(-prudence_sd * spec.amount_volatility)
        self.amounts = amounts  # realised gross per year (unknown to the organisation until confirmed)
        self.delays = delays  # confirmation delay of each settlement period
        self.tranche_uniforms = tranche_uniforms
        self.confirmed = [False] * years  # per fiscal year: amount confirmed?
        self.resource = 0.0  # money on hand
        self.capital = 0.0
        self.interim = False  # on an interim allowance for the current year
        self.authority = 0.0  # interim resource allowance left this year
        self.advance = 0.0  # resource spent under the interim allowance, charged at confirmation
        self.capital_rate = 0.0  # interim capital allowance: £m a month projects may draw
        self.capital_advance = 0.0  # capital drawn under it, charged at confirmation
        self.interim_base = 0.0  # last year's resource: the interim allowance's base and weight
        self.late_loss = 0.0  # share of resource on hand that landed late (value lost in the rush)
        self.temporary_spare = 0.0  # resource commitments leave this year, when temporary staff
        self.temporary_rate = 0.0  # are planned; and the £m a month it pays them

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
        overhead = gross * self.overhead_pct
        net = gross - overhead
        capital = net * self.capital_share
        return overhead, net - capital, capital

    def carry_fraction(self, closing_year: int) -> float:
        """The fraction of unspent money kept at the end of `closing_year`."""
        years = self.settlement_years
        if closing_year // years == (closing_year + 1) // years:
            return self.carry_within
        return self.carry_across

    def expected(self, year: int) -> float:
        """Expected gross amount in a fiscal year, past the horizon too."""
        if year < len(self.expected_ahead):
            return self.expected_ahead[year]
        return self.c.expected(year)


class Funding:
    """Every stream's money and settlements."""

    __deletable__ = ("run",)  # `Run.release` drops the reference back to the run

    def __init__(self, cs: CompiledScenario, org: Organisation, draws: RunDraws, clock: Clock,
                 years: YearRecord, run: Run) -> None:
        self.years = cs.years
        self.real_growth = cs.scenario.funding.real_growth
        self.interim_fraction = org.interim_fraction
        self.late_window = org.late_spend_window_months
        self.late_value_floor = org.late_spend_value
        self.clock = clock
        self.y = years
        self.run = run  # whom funding tells when money moves (settle first, then re-plan)
        self.streams: list[StreamState] = []
        for i, c in enumerate(cs.streams):
            self.streams.append(StreamState(c, draws.amounts[i], draws.delays[i],
                                            draws.tranches[i], cs.years, org.prudence_sd))
        # Streams that pay commitments (confirmed by settlement) and in-year money (tranches).
        self.commit_streams = [s for s in self.streams if not s.tranche_stream]
        self.tranche_streams = [s for s in self.streams if s.tranche_stream]
        self.capital_streams = list(self.streams)
        self.frozen = False

    # ------------------------------------------------------------------ settlements

    def schedule_confirmations(self) -> None:
        """Set a timer for each settlement's confirmation (its delay drawn per period)."""
        for s in self.streams:
            for i, start in enumerate(s.c.period_starts):
                delay = min(s.delays[i], MAX_CONFIRMATION_DELAY_MONTHS)
                when = max(0.0, 12.0 * start + delay)
                # Confirmed before its period starts: known from `when`, received when it opens.
                if when <= 0.0:
                    self.confirm(s, start, False)
                else:
                    self.clock.at(when, partial(self.confirm, s, start, True))

    def confirm(self, s: StreamState, start: int, announce: bool) -> None:
        """A settlement for the period starting in fiscal year `start` is confirmed now."""
        if s.confirmed[start]:
            return
        now = self.clock.now
        year = self.clock.year
        if announce:
            self.run.settle()
        last = min(start + s.settlement_years, self.years) - 1
        # News of later years is acted on at once, unless the year ends at this instant: the
        # next year then opens with the money confirmed (a re-plan with no months left would
        # pause every project).
        news = False
        if (announce and not s.tranche_stream and start > year
                and self.clock.year_end() - now > TINY):
            for y in range(start, last + 1):
                if s.amounts[y] != self.planned_gross(s, y):
                    news = True
                    break
        for y in range(start, last + 1):
            s.confirmed[y] = True
        if s.tranche_stream:
            for y in range(start, last + 1):
                self._schedule_tranches(s, y, max(now, 12.0 * y))
        elif start <= year and s.interim:
            was_frozen = self.frozen
            self.receive_confirmed(s, year, now)
            if announce:
                # Money for this year has landed: plans change now.
                self.run.year_money_landed(was_frozen and not self.frozen)
        elif news:
            # Later years' money differs from what was planned on: the plan is redone now, not
            # at the next quarterly cycle, so a confirmation a day later moves output a little
            # rather than a quarter's worth. Under certainty the amounts are those planned on
            # and nothing happens, so settlement lengths stay equivalent.
            self.run.later_money_confirmed()

    def receive_confirmed(self, s: StreamState, year: int, now: float) -> None:
        """The year's allocation lands; what was spent under the interim allowance is charged."""
        gross = s.amounts[year]
        overhead, resource, capital = s.net(gross)
        cover = max(0.0, s.advance - resource) + max(0.0, s.capital_advance - capital)
        y = self.y
        if cover > 0.0:
            # A settlement cannot take back what was already spent under the vote on account:
            # the excess is met by in-year cover (a Supplementary Estimate) and reported.
            y.emergency_cover_m[year] += cover
            y.received_m[year] += cover
        resource = max(0.0, resource - s.advance)
        capital = max(0.0, capital - s.capital_advance)
        s.interim = False
        s.advance = s.authority = s.capital_rate = s.capital_advance = 0.0
        self.update_frozen()
        y.received_m[year] += gross
        y.overhead_m[year] += overhead
        y.capital_received_m[year] += s.net(gross)[2]
        s.land_resource(resource, self.late_value(now, year))
        s.capital += capital

    # ------------------------------------------------------------------ in-year money

    def _schedule_tranches(self, s: StreamState, year: int, earliest: float) -> None:
        n = s.tranches
        end = 12.0 * (year + 1)
        amount = s.amounts[year] / n
        for x in s.tranche_uniforms[year * n:(year + 1) * n]:
            self.clock.at(earliest + x * (end - earliest), partial(self._tranche, s, year, amount))

    def _tranche(self, s: StreamState, year: int, gross: float) -> None:
        now = self.clock.now
        self.run.settle()
        overhead, resource, capital = s.net(gross)
        y = self.y
        y.received_m[year] += gross
        y.overhead_m[year] += overhead
        y.capital_received_m[year] += capital
        s.land_resource(resource, self.late_value(now, year))
        s.capital += capital
        self.run.in_year_money_landed(capital > 0.0)

    def late_value(self, now: float, year: int) -> float:
        """Output bought per £ of resource landing now: 1 with at least `late_spend_window_months`
        of the year left, falling linearly to `late_spend_value` at the year end (the year-end
        rush). Linear rather than a step, so a half-month change in a delay moves output a little."""
        window = self.late_window
        left = 12.0 * (year + 1) - now
        if now <= 12.0 * year or window <= 0.0 or left >= window:
            return 1.0
        value = self.late_value_floor
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
            return (s.carry_fraction(year), not s.tranche_stream, s.name)

        self.commit_streams.sort(key=lapse_order)
        self.capital_streams.sort(key=lapse_order)
        fraction = self.interim_fraction
        for s in self.commit_streams:
            if s.confirmed[year]:
                self.receive_confirmed(s, year, 12.0 * year)
            else:
                previous = (s.amounts[year - 1] if year else
                            s.expected_ahead[0] / (1.0 + self.real_growth))
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
        y.carried_out_m[year] += carried
        y.lapsed_funds_m[year] += lapsed
        y.capital_lapsed_m[year] += capital_lapsed
        if year + 1 < self.years:
            y.carried_in_m[year + 1] += carried

    def update_frozen(self) -> None:
        """Planning blight: no new commitments while core money for this year is unconfirmed."""
        frozen = False
        for s in self.commit_streams:
            if s.interim and s.share > 0:
                frozen = True
                break
        self.frozen = frozen
        self.run.freeze_changed(frozen)

    # ------------------------------------------------------------------ what is planned on

    def planned_gross(self, s: StreamState, year: int) -> float:
        """Gross money the organisation plans on from a stream in a year: the confirmed amount, or,
        unconfirmed, the expected amount less `prudence_sd` standard deviations. Years past the
        horizon are planned like any unconfirmed year (the organisation does not know the run ends)."""
        if year < self.years and s.confirmed[year]:
            return s.amounts[year]
        return s.expected(year) * s.prudent

    def planned_resource(self, year: int) -> float:
        """Net resource money planned on from the streams that pay commitments in a year."""
        total = 0.0
        for s in self.commit_streams:
            total += s.net(self.planned_gross(s, year))[1]
        return total

    def planned_capital_rate(self, year: int) -> float:
        """£m a month of capital the organisation plans on in a year (all streams)."""
        total = 0.0
        for s in self.streams:
            total += s.net(self.planned_gross(s, year))[2]
        return total / 12.0

    def capital_to_year_end(self, months_left: float) -> float:
        """Capital projects can draw for the rest of the year: on hand in every stream, plus the
        interim capital allowance of streams still unconfirmed over the months left."""
        money = 0.0
        for s in self.streams:
            money += s.capital
        allowance = 0.0
        for s in self.commit_streams:
            if s.interim:
                allowance += s.capital_rate
        return money + allowance * months_left

    def cash(self) -> float:
        """Money on hand, resource and capital, in every stream."""
        cash = 0.0
        for s in self.streams:
            cash += s.resource + s.capital
        return cash

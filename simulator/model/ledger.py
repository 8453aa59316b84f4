"""The ledger: between two events every rate is constant or decays at a known exponential rate
(attrition, legacy-IT decay), so `advance_to` integrates staff, spending and the disruption rate
in closed form, splits the integral at month ends for the monthly record, and pays each piece's
bills in the order `payments.py` sets. What no money covers is reported as emergency cover."""

from __future__ import annotations

import math

from .clock import TINY, Clock, decayed_span
from .funding import Funding
from .operations import RAMP_PRODUCTIVITY, Operations
from .payments import pay_capital, pay_commitments, pay_temporary
from .portfolio import Portfolio
from .records import MonthRecord, YearRecord
from .temporary import TemporaryCapacity
from .workforce import Workforce


class Ledger:
    """Posts time, money and output from the last posting up to a given time."""

    def __init__(self, clock: Clock, years: YearRecord, months: MonthRecord, funding: Funding,
                 workforce: Workforce, temporary: TemporaryCapacity, portfolio: Portfolio,
                 operations: Operations) -> None:
        self.clock = clock
        self.y = years
        self.m = months
        self.funding = funding
        self.workforce = workforce
        self.temporary = temporary
        self.portfolio = portfolio
        self.operations = operations
        self.t_last = 0.0
        self.interim_months = 0.0  # months spent under the planning freeze
        self._span_memo: dict[float, tuple[float, float, float, float, float]] = {}
        self._memo_rates = (workforce.h, operations.b)

    def advance_to(self, t: float) -> None:
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
        """Decay factors and decayed spans over a piece of length dt, memoised while the attrition
        and legacy-decay rates stay the same: most pieces are whole months, so the same few
        lengths recur (same inputs, same bits)."""
        h, b = self.workforce.h, self.operations.b
        if (h, b) != self._memo_rates:
            self._span_memo.clear()
            self._memo_rates = (h, b)
        found = self._span_memo.get(dt)
        if found is None:
            found = (math.exp(-h * dt), decayed_span(h, dt), decayed_span(b, dt),
                     decayed_span(h + b, dt), math.exp(-b * dt))
            self._span_memo[dt] = found
        return found

    def _post(self, month: int, dt: float) -> None:
        decay_h, span_h, span_b, span_hb, decay_b = self._spans(dt)
        wf, ops, temp, funding = self.workforce, self.operations, self.temporary, self.funding
        staff = wf.f_full + wf.f_ramp
        pay = staff * wf.cost_fte_month * span_h
        commitments = pay + ops.running_costs(dt)
        temp_cost = temp.rate * dt
        temp_fte = temp.rate / temp.cost_fte_month
        temp_value = temp_fte * temp.value
        # Disruptions: integrate lambda(t) = effective FTE * rate * productivity over the piece.
        effective_staff = wf.f_full + RAMP_PRODUCTIVITY * wf.f_ramp
        mu = ops.per_fte_month * ops.productivity * (effective_staff * span_hb + temp_value * span_b)
        share = min(1.0, max(0.0, ops.priority_share))
        self.m.mu_priority[month] += mu * share
        self.m.mu_other[month] += mu * (1.0 - share)
        year = self.clock.year
        y = self.y.data
        y["mean_fte"][year] += staff * span_h / 12.0
        y["mean_temporary_fte"][year] += temp_fte * dt / 12.0
        if funding.frozen:
            self.interim_months += dt
        capex = premium = minor = 0.0
        if self.portfolio.any_contracted:
            capex, premium, minor = self.portfolio.progress(self.t_last, dt)
        # State moves on.
        wf.f_full *= decay_h
        wf.f_ramp *= decay_h
        if ops.b:
            ops.productivity *= decay_b
        # Pay: each stream its part of temporary capacity, commitments from core money then the
        # interim allowance, capital from capital then the interim capital allowance.
        uncovered = pay_temporary(temp.pay, dt)
        uncovered += pay_commitments(funding.commit_streams, funding.tranche_streams, commitments)
        if capex or minor:
            uncovered += pay_capital(funding.capital_streams, capex + minor)
        if uncovered > TINY:
            y["emergency_cover_m"][year] += uncovered
            y["received_m"][year] += uncovered
        y["spent_m"][year] += commitments + temp_cost + capex + minor
        y["temporary_spend_m"][year] += temp_cost
        y["staff_pay_m"][year] += pay
        y["capability_spend_m"][year] += capex
        y["minor_works_m"][year] += minor
        y["overrun_cost_m"][year] += premium

    def _record_month(self, month: int) -> None:
        m = self.m
        m.fte[month] = self.workforce.f_full + self.workforce.f_ramp
        m.temporary_fte[month] = self.temporary.rate / self.temporary.cost_fte_month
        m.productivity[month] = self.operations.productivity
        m.cash[month] = self.funding.cash()

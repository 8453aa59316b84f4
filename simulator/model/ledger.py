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
        # The spans of the last piece's length and rates (most pieces are whole months).
        self._memo_dt = -1.0
        self._memo_h = self._memo_b = 0.0
        # The last piece's factors, as five floats (a tuple attribute held them boxed).
        self._decay_h = self._span_h = self._span_b = self._span_hb = self._decay_b = 0.0
        # Sums of the month and the year being posted, kept as plain floats and written to the
        # records when the month or year changes (`flush`): the same additions in the same order
        # as adding to the records' lists, without a list read and write for each.
        self._month = 0
        self._mu_priority = self._mu_other = 0.0
        self._year = 0
        self._mean_fte = self._mean_temporary_fte = 0.0
        self._spent = self._temporary_spend = self._staff_pay = 0.0
        self._capability_spend = self._minor_works = 0.0

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
        """Decay factors and decayed spans over a piece of length dt, kept for the next piece of
        the same length and rates (same inputs, same bits)."""
        h, b = self.workforce.h, self.operations.b
        if dt != self._memo_dt or h != self._memo_h or b != self._memo_b:
            self._decay_h = math.exp(-h * dt)
            self._span_h = decayed_span(h, dt)
            self._span_b = decayed_span(b, dt)
            self._span_hb = decayed_span(h + b, dt)
            self._decay_b = math.exp(-b * dt)
            self._memo_dt, self._memo_h, self._memo_b = dt, h, b
        return self._decay_h, self._span_h, self._span_b, self._span_hb, self._decay_b

    def flush(self) -> None:
        """Write the month's and the year's sums to the records."""
        m, y = self.m, self.y
        m.mu_priority[self._month] = self._mu_priority
        m.mu_other[self._month] = self._mu_other
        year = self._year
        y.mean_fte[year] = self._mean_fte
        y.mean_temporary_fte[year] = self._mean_temporary_fte
        y.spent_m[year] = self._spent
        y.temporary_spend_m[year] = self._temporary_spend
        y.staff_pay_m[year] = self._staff_pay
        y.capability_spend_m[year] = self._capability_spend
        y.minor_works_m[year] = self._minor_works

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
        year = self.clock.year
        if month != self._month or year != self._year:
            self.flush()
            if month != self._month:
                self._month = month
                self._mu_priority = self._mu_other = 0.0
            if year != self._year:
                self._year = year
                self._mean_fte = self._mean_temporary_fte = 0.0
                self._spent = self._temporary_spend = self._staff_pay = 0.0
                self._capability_spend = self._minor_works = 0.0
        self._mu_priority += mu * share
        self._mu_other += mu * (1.0 - share)
        self._mean_fte += staff * span_h / 12.0
        self._mean_temporary_fte += temp_fte * dt / 12.0
        if funding.frozen:
            self.interim_months += dt
        capex = premium = minor = 0.0
        portfolio = self.portfolio
        if portfolio.any_contracted:
            capex, premium, minor = portfolio.progress(self.t_last, dt)
        # State moves on.
        wf.f_full *= decay_h
        wf.f_ramp *= decay_h
        if ops.b:
            ops.productivity *= decay_b
        # Pay: each stream its part of temporary capacity, commitments from core money then the
        # interim allowance, capital from capital then the interim capital allowance.
        uncovered = pay_temporary(temp.payers, dt)
        uncovered += pay_commitments(funding.commit_streams, funding.tranche_streams, commitments)
        if capex or minor:
            uncovered += pay_capital(funding.capital_streams, capex + minor)
        if uncovered > TINY:
            # Shared with funding's records of the year: added to the list in event order.
            self.y.emergency_cover_m[year] += uncovered
            self.y.received_m[year] += uncovered
        self._spent += commitments + temp_cost + capex + minor
        self._temporary_spend += temp_cost
        self._staff_pay += pay
        self._capability_spend += capex
        self._minor_works += minor
        if premium > 0.0:  # adding nothing to a sum of non-negative numbers changes no bit
            self.y.overrun_cost_m[year] += premium

    def _record_month(self, month: int) -> None:
        m = self.m
        m.fte[month] = self.workforce.f_full + self.workforce.f_ramp
        m.temporary_fte[month] = self.temporary.rate / self.temporary.cost_fte_month
        m.productivity[month] = self.operations.productivity
        m.cash[month] = self.funding.cash()

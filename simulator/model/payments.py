"""Which money pays for what, in order. Each function pays an amount from a list of streams and
returns the part none of them covered (the ledger reports that as emergency cover)."""

from __future__ import annotations

from .funding import StreamState


def pay_resource(streams: list[StreamState], amount: float) -> float:
    """Pay from the streams' resource money in order; return what none of it covered."""
    for s in streams:
        if amount <= 0.0:
            return 0.0
        have = s.resource
        use = have if have < amount else amount
        s.resource = have - use
        amount -= use
    return amount if amount > 0.0 else 0.0


def pay_capital(streams: list[StreamState], amount: float) -> float:
    """Pay from the streams' capital money in order, then under an interim capital allowance (an
    advance charged at confirmation); return what neither covered."""
    for s in streams:
        if amount <= 0.0:
            return 0.0
        have = s.capital
        use = have if have < amount else amount
        s.capital = have - use
        amount -= use
    if amount <= 0.0:
        return 0.0
    for s in streams:
        if amount <= 0.0:
            return 0.0
        if s.interim and s.capital_rate > 0.0:
            s.capital_advance += amount
            return 0.0
    return amount if amount > 0.0 else 0.0


def pay_commitments(streams: list[StreamState], in_year: list[StreamState], amount: float) -> float:
    """Pay commitments from core resource money, then from interim allowances (as an advance
    charged at confirmation), then from in-year money; return what none of them covered."""
    amount = pay_resource(streams, amount)
    if amount <= 0.0:
        return 0.0
    # Existing commitments go on being paid before confirmation: within the interim allowance
    # first; beyond it as an overdraft. Both are charged to the allocations when they are
    # confirmed, so running late never creates money. With several streams on an interim
    # allowance, each carries its share in proportion to last year's resource (the base of its
    # allowance), so no stream is charged for what another stream's settlement pays.
    base = 0.0
    for s in streams:
        if s.interim:
            base += s.interim_base
    if base > 0.0:
        for s in streams:
            if s.interim:
                part = amount * s.interim_base / base
                s.authority = max(0.0, s.authority - part)
                s.advance += part
        return 0.0
    for s in streams:
        if s.interim:
            s.authority = max(0.0, s.authority - amount)
            s.advance += amount
            return 0.0
    return pay_resource(in_year, amount)


def pay_temporary(payers: list[StreamState], dt: float) -> float:
    """Each stream pays its own part of temporary capacity for `dt` months; return what its
    money did not cover."""
    uncovered = 0.0
    for s in payers:
        cost = s.temporary_rate * dt
        use = min(cost, s.resource)
        s.resource -= use
        uncovered += cost - use
    return uncovered


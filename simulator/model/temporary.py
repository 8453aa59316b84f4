"""Temporary capacity (contractors, agency staff): bought only with resource money this year's
commitments do not need, spread over the months left, up to what the organisation can absorb.
Each stream pays its own part, so temporary staff never spend money that staff in post need."""

from __future__ import annotations

from ..scenario import Organisation
from .clock import TINY, Clock
from .funding import Funding, StreamState
from .workforce import Workforce


class TemporaryCapacity:
    """The £m a month spent on temporary capacity and who pays it, fixed between decisions."""

    def __init__(self, org: Organisation, clock: Clock, funding: Funding,
                 workforce: Workforce) -> None:
        self.max_fraction = org.temporary_capacity_max_fraction
        self.clock = clock
        self.funding = funding
        self.workforce = workforce
        self.cost_fte_month = workforce.cost_fte_month * (1.0 + org.temporary_capacity_premium)
        self.rate = 0.0  # £m a month
        # The streams paying for it, each its `temporary_rate` (£m a month) from its
        # `temporary_spare` (a list kept and refilled, not rebuilt, at each of ~70 plans a run).
        self.payers: list[StreamState] = []
        self.value = 1.0  # output bought per £, below 1 while late money is being spent

    def stop(self) -> None:
        """Year end: contracts for temporary capacity end with the year's money."""
        self.rate = 0.0
        self.payers.clear()

    def plan(self) -> None:
        """Buy temporary capacity with the resource money this year's commitments do not need.
        Whatever the absorption ceiling leaves is carried over as the stream allows, or lapses."""
        funding = self.funding
        now = self.clock.now
        year_end = self.clock.year_end()
        left = year_end - now
        payers = self.payers
        payers.clear()
        self.rate = 0.0
        if left <= TINY:
            return
        need = self.workforce.committed_resource(now, year_end)
        for s in funding.commit_streams:
            use = min(s.resource, need)
            need -= use
            if s.resource - use > TINY:
                s.temporary_spare = s.resource - use
                payers.append(s)
        for s in funding.commit_streams:
            if s.interim:
                # Before confirmation, commitments are paid by an advance on the allocation; the
                # organisation keeps in-year money back for any part a prudent allocation misses.
                expected = s.net(funding.planned_gross(s, self.clock.year))[1] - s.advance
                need = max(0.0, need - max(0.0, expected))
        for s in funding.tranche_streams:
            # Core money short of commitments (a low settlement after staff are in post): in-year
            # money meets the gap before any temporary capacity is bought.
            use = min(s.resource, need)
            need -= use
            if s.resource - use > TINY:
                s.temporary_spare = s.resource - use
                payers.append(s)
        budget = 0.0
        for s in payers:
            budget += s.temporary_spare
        if budget <= TINY:
            payers.clear()
            return
        ceiling = self.max_fraction * self.workforce.in_post * self.cost_fte_month
        rate = min(budget / left, ceiling)
        self.rate = rate
        # Each stream's money is spent pro rata, so the part that landed late (and buys less in
        # the year-end rush) is its late-loss share.
        late = 0.0
        for s in payers:
            s.temporary_rate = rate * s.temporary_spare / budget
            late += s.temporary_spare * s.late_loss
        self.value = 1.0 - late / budget

"""Operations: how staff become disruptions. Productivity decays while legacy IT is in service and
rises with each delivered capability; a share of disruptions is against priority groups; each
month's count is one Poisson draw of its expected number, from the month's keyed uniform (drawn for
a whole chunk of runs at once: `chunk.py`)."""

from __future__ import annotations

import math
from typing import Final

from ..scenario import Capability, Organisation
from ..scenario import Operations as OperationsSpec

RAMP_PRODUCTIVITY: Final = 0.5
"""A recruit still ramping up counts as half an FTE: the average of a linear ramp from 0 to 1."""


class Operations:
    """Productivity, the priority share and the running costs that delivered capabilities bring."""

    def __init__(self, spec: OperationsSpec, org: Organisation) -> None:
        self.b = -math.log(1.0 - spec.legacy_decay_per_year) / 12.0  # legacy decay per month
        self.productivity = 1.0
        self.per_fte_month = spec.disruptions_per_fte_year / 12.0
        self.priority_share = spec.priority_share_base
        self.modernised = False
        self.fixed_month = org.fixed_costs_m_per_year / 12.0
        self.legacy_month = org.legacy_it_cost_m_per_year / 12.0
        self.run_cost_month = 0.0  # running costs of delivered capabilities

    def deliver(self, spec: Capability) -> None:
        """A capability enters service: its uplifts apply, its running costs start, and legacy IT
        stops decaying productivity if it replaces it."""
        self.productivity *= 1.0 + spec.productivity_uplift
        self.priority_share += spec.priority_uplift
        self.run_cost_month += spec.run_cost_m_per_year / 12.0
        if spec.modernises_legacy:
            self.modernised = True
            self.b = 0.0

    def running_costs(self, dt: float) -> float:
        """Fixed, legacy-IT and capability running costs over `dt` months."""
        return (self.fixed_month + (0.0 if self.modernised else self.legacy_month)
                + self.run_cost_month) * dt


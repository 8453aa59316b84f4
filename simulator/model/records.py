"""What one run records: the output names, per-fiscal-year accumulators and the run's result."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    "staff_pay_m", "capital_received_m", "capital_lapsed_m", "minor_works_m",
)
"""Per-run, per-fiscal-year outputs. Money balances each year:
received + carried_in = spent + lapsed + carried_out + overhead. The last three are parts of those
totals that calibration compares with published figures (docs/calibration.md): the permanent pay
bill (part of spent), net capital allocated (part of received) and capital lapsed (part of lapsed).
`minor_works_m` is the capital spent on minor works (part of spent, not of capability spend)."""

MONTH_OUTPUTS = ("fte", "temporary_fte", "productivity", "cash_m", "disruptions",
                 "cumulative_disruptions")


@dataclass
class RunOutput:
    """One run's results as arrays: per run, per fiscal year, per month."""

    run: dict[str, float]
    years: dict[str, np.ndarray]
    months: dict[str, np.ndarray]


@dataclass
class YearRecord:
    """Per-fiscal-year accumulators, one list per name in `YEAR_OUTPUTS`."""

    n: int
    data: dict[str, list[float]] = field(init=False)

    def __post_init__(self) -> None:
        # Plain lists: indexing a Python list is several times cheaper than a numpy element.
        self.data = {k: [0.0] * self.n for k in YEAR_OUTPUTS}

    def add(self, key: str, year: int, value: float) -> None:
        self.data[key][year] += value

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.data.items()}


class MonthRecord:
    """Month-end snapshots (FTE, temporary FTE, productivity, cash) and each month's expected
    disruptions, priority and other. Plain lists while running; arrays once the run is over."""

    def __init__(self, months: int) -> None:
        self.mu_priority = [0.0] * months
        self.mu_other = [0.0] * months
        self.fte = [0.0] * months
        self.temporary_fte = [0.0] * months
        self.productivity = [0.0] * months
        self.cash = [0.0] * months

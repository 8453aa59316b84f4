"""What one run records: the output names, per-fiscal-year accumulators and the run's result."""

from __future__ import annotations

from dataclasses import dataclass

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


class YearRecord:
    """Per-fiscal-year accumulators, one list per name in `YEAR_OUTPUTS` that the event loop adds
    to (the disruption counts and the cost per disruption are filled after it). Attributes, not a
    dict of lists: the compiled model reads and writes them as fixed fields."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.lapsed_funds_m = [0.0] * n
        self.capability_spend_m = [0.0] * n
        self.overrun_cost_m = [0.0] * n
        self.projects_delivered = [0.0] * n
        self.project_pauses = [0.0] * n
        self.mean_fte = [0.0] * n
        self.final_productivity = [0.0] * n
        self.mean_temporary_fte = [0.0] * n
        self.temporary_spend_m = [0.0] * n
        self.overhead_m = [0.0] * n
        self.emergency_cover_m = [0.0] * n
        self.received_m = [0.0] * n
        self.carried_in_m = [0.0] * n
        self.spent_m = [0.0] * n
        self.carried_out_m = [0.0] * n
        self.staff_pay_m = [0.0] * n
        self.capital_received_m = [0.0] * n
        self.capital_lapsed_m = [0.0] * n
        self.minor_works_m = [0.0] * n

    def table(self) -> list[list[float]]:
        """Every output of `YEAR_OUTPUTS` in its order (zeros for the disruption counts and the
        cost per disruption, which are filled from the monthly draws)."""
        zeros = [0.0] * self.n
        return [zeros, zeros, zeros, self.lapsed_funds_m, self.capability_spend_m,
                self.overrun_cost_m, self.projects_delivered, self.project_pauses, self.mean_fte,
                self.final_productivity, zeros, self.mean_temporary_fte, self.temporary_spend_m,
                self.overhead_m, self.emergency_cover_m, self.received_m, self.carried_in_m,
                self.spent_m, self.carried_out_m, self.staff_pay_m, self.capital_received_m,
                self.capital_lapsed_m, self.minor_works_m]


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


class RunDraws:
    """One run's random draws, already turned into values by the chunk (see `draws.py`): what
    each component reads when it is built, as plain lists, so a run does no numpy work."""

    def __init__(self, amounts: list[list[float]], delays: list[list[float]],
                 tranches: list[list[float]], leads: list[float], outturns: list[float],
                 margins: list[float], recruit: list[float], thaw: list[float],
                 news: list[float]) -> None:
        self.amounts = amounts  # per stream (compiled order): realised gross amount per year
        self.delays = delays  # per stream: confirmation delay (months) of each settlement period
        self.tranches = tranches  # per stream: uniforms of its tranche times, year by year
        self.leads = leads  # per project (contracting order): lead time at full profile
        self.outturns = outturns  # per project: capex x drawn cost growth
        self.margins = margins  # per project: the board's haircut on unconfirmed money
        self.recruit = recruit  # recruitment lead of each regular cycle
        self.thaw = thaw  # ... of the campaign when a freeze lifts, per year
        self.news = news  # ... of the campaign when later years' money is confirmed, per year

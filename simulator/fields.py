"""`fundsim fields SCENARIO`: every field path `fundsim sweep --vary` accepts, with the scenario's
current value and the bounds the validator holds it to.

Why read the bounds from the scenario's own models: the pydantic fields carry them (`ge`, `gt`,
`le`, `lt`), and `bounds.py` adds the ceilings on work (a post costs at least £1k, money at most
£1 trillion a year). Reading both here means the list cannot drift from what validation enforces;
a rule that ties fields together (mode between min and max, shares summing to 1, a delay inside
the first year) is given in words beside the field, and a distribution's numbers get the bounds
the validator puts on what it is a distribution of (a confirmation delay within -12 x the
settlement length and 11 months).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import annotated_types as at
from pydantic import BaseModel

from . import bounds
from .scenario import MAX_CONFIRMATION_DELAY_MONTHS, Scenario


@dataclass(frozen=True)
class Field:
    """One varied-able field: its dotted path, current value, whether it holds whole numbers, its
    bounds (None where open) and any rule that ties it to other fields."""

    path: str
    value: float | int
    integer: bool
    low: float | None
    low_open: bool
    high: float | None
    high_open: bool
    note: str = ""

    def bounds_text(self) -> str:
        """The bounds as a reader writes them: `0 to 1`, `above 0, below 1`, `at most 11`, `any`."""
        low = high = None
        if self.low is not None:
            low = f"above {_show(self.low)}" if self.low_open else f"at least {_show(self.low)}"
        if self.high is not None:
            high = f"below {_show(self.high)}" if self.high_open else f"at most {_show(self.high)}"
        if low and high:
            if not self.low_open and not self.high_open:
                return f"{_show(self.low)} to {_show(self.high)}"
            return f"{low}, {high}"
        return low or high or "any"


def _show(x: float) -> str:
    """A bound as written: whole numbers with thousands separators (1,000,000), others short."""
    return f"{x:,.0f}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


# Ceilings from bounds.py that the field types do not carry, by the field's last part(s).
_EXTRA_HIGH = {
    "baseline_budget_m": bounds.MAX_MONEY_M, "fixed_costs_m_per_year": bounds.MAX_MONEY_M,
    "legacy_it_cost_m_per_year": bounds.MAX_MONEY_M, "capex_m": bounds.MAX_MONEY_M,
    "run_cost_m_per_year": bounds.MAX_MONEY_M, "cost_per_fte_k": bounds.MAX_COST_PER_FTE_K,
    "disruptions_per_fte_year": bounds.MAX_DISRUPTIONS_PER_FTE_YEAR,
}
_EXTRA_LOW = {"cost_per_fte_k": bounds.MIN_COST_PER_FTE_K,
              "recruitment_interval_months": bounds.MIN_RECRUITMENT_INTERVAL_MONTHS}


def _limits(model: type[BaseModel], name: str) -> tuple[float | None, bool, float | None, bool]:
    low = high = None
    low_open = high_open = False
    for item in model.model_fields[name].metadata:
        if isinstance(item, at.Ge):
            low, low_open = float(item.ge), False
        elif isinstance(item, at.Gt):
            low, low_open = float(item.gt), True
        elif isinstance(item, at.Le):
            high, high_open = float(item.le), False
        elif isinstance(item, at.Lt):
            high, high_open = float(item.lt), True
    return low, low_open, high, high_open


def _note(path: str, parent: str) -> str:
    last = path.rsplit(".", 1)[-1]
    notes = []
    if last == "share" and path.startswith("funding.streams."):
        notes.append("shares sum to 1: when varied, the other streams are rescaled in proportion")
    if last in ("min", "mode", "max"):
        notes.append("min below max, mode between them")
    return "; ".join(notes)


def _distribution_limits(scenario: Scenario, parent: str, last: str
                         ) -> tuple[float | None, bool, float | None, bool] | None:
    """Bounds the validator puts on a distribution's numbers, by what the distribution is of."""
    parts = parent.split(".")
    owner = parts[-1]
    if owner == "confirmation_delay_months" and last != "sigma":
        years = scenario.funding.streams[parts[2]].settlement_years
        return -12.0 * years, False, MAX_CONFIRMATION_DELAY_MONTHS, False
    if owner in bounds.MAX_MONTHS and last != "sigma":
        return 0.0, owner == "lead_time_months", bounds.MAX_MONTHS[owner], False
    if owner == "cost_growth_factor":
        if last == "sigma":
            return 0.0, False, bounds.MAX_COST_GROWTH_SIGMA, False
        return 0.0, last == "median", bounds.MAX_COST_GROWTH_FACTOR, False
    return None


def fields(scenario: Scenario) -> list[Field]:
    """Every number field of the scenario, as `--vary` paths, in file order (the `[uncertain]`
    table aside: a varied field that is declared uncertain is fixed at each point's value, which
    the note says)."""
    found: list[Field] = []
    drawn = set(scenario.uncertain)

    def walk(model: BaseModel, prefix: str, parent: str) -> None:
        for name in type(model).model_fields:
            if not prefix and name == "uncertain":
                continue
            value = getattr(model, name)
            path = f"{prefix}{name}"
            if isinstance(value, BaseModel):
                walk(value, f"{path}.", path)
            elif isinstance(value, dict):
                for key, child in value.items():
                    if isinstance(child, BaseModel):
                        walk(child, f"{path}.{key}.", f"{path}.{key}")
            elif isinstance(value, int | float) and not isinstance(value, bool):
                low, low_open, high, high_open = _limits(type(model), name)
                if name in _EXTRA_HIGH and (high is None or _EXTRA_HIGH[name] < high):
                    high, high_open = _EXTRA_HIGH[name], False
                if name in _EXTRA_LOW and (low is None or _EXTRA_LOW[name] > low):
                    low, low_open = _EXTRA_LOW[name], False
                held = _distribution_limits(scenario, parent, name)
                if held is not None:
                    low, low_open, high, high_open = held
                note = _note(path, parent)
                if path in drawn:
                    note = "; ".join(filter(None, [note, "uncertain: drawn per run unless varied"]))
                found.append(Field(path, value, isinstance(value, int), low, low_open, high,
                                   high_open, note))

    walk(scenario, "", "")
    return found


def json_rows(found: list[Field]) -> list[dict[str, Any]]:
    """The fields as plain JSON-able objects (`fundsim fields --json`)."""
    return [{"path": f.path, "value": f.value, "whole_number": f.integer, "min": f.low,
             "min_exclusive": f.low_open, "max": f.high, "max_exclusive": f.high_open,
             "rule": f.note} for f in found]

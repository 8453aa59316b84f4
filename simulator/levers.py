"""Which groups of levers two scenarios differ in, so a comparison can say what it compares and
warn when it mixes effects (e.g. a longer settlement *and* earlier confirmation).

A group is what a planner would argue about as one decision: settlement length, confirmation
timing, the amount and mix of money, how in-year money arrives, carry-over rules, the
organisation's rules, the workforce, operations, the capability projects, the horizon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .planner import differing_values, show_value
from .scenario import Scenario

_STREAM_FIELD_GROUPS = {
    "settlement_years": "settlement length",
    "confirmation_delay_months": "confirmation timing",
    "share": "amount and mix of money",
    "amount_volatility": "amount and mix of money",
    "capital_share": "amount and mix of money",
    "arrival": "how in-year money arrives",
    "tranches": "how in-year money arrives",
    "bid_overhead_pct": "how in-year money arrives",
    "carry_over_within_settlement": "carry-over rules",
    "carry_over_across_settlements": "carry-over rules",
}
_SECTION_GROUPS = {
    "funding": "amount and mix of money",
    "organisation": "the organisation's rules",
    "workforce": "workforce",
    "operations": "operations",
    "capabilities": "capability projects",
    "horizon": "horizon",
}


def lever_group(path: str) -> str:
    """The group of levers a dotted scenario path belongs to. An `[uncertain]` entry belongs to
    the field it draws: moving a lever that was uncertain fixes it, which is one change, not two."""
    parts = path.split(".")
    if parts[0] == "uncertain" and len(parts) > 1:
        return lever_group(".".join(parts[1:]))
    if parts[:2] == ["funding", "streams"] and len(parts) >= 4:
        return _STREAM_FIELD_GROUPS.get(parts[3], "amount and mix of money")
    return _SECTION_GROUPS.get(parts[0], parts[0])


@dataclass(frozen=True)
class Difference:
    path: str
    group: str
    a: object
    b: object


def differences(a: Scenario, b: Scenario) -> list[Difference]:
    """Every field whose value differs (name and description aside), '-' where one lacks it."""
    return [Difference(path, lever_group(path), va, vb)
            for path, (va, vb) in differing_values([a, b])]


def groups(diffs: list[Difference]) -> list[str]:
    """The groups the differences fall in, in first-seen order."""
    return list(dict.fromkeys(d.group for d in diffs))


def describe_differences(a_name: str, a: Scenario, b_name: str, b: Scenario) -> str:
    """What a comparison compares, in one sentence."""
    diffs = differences(a, b)
    if not diffs:
        return f"{b_name} and {a_name} have the same parameters: any difference is noise."
    shown = "; ".join(f"{d.path} {show_value(d.a)} → {show_value(d.b)}" for d in diffs[:6])
    more = f"; and {len(diffs) - 6} more" if len(diffs) > 6 else ""
    return f"{b_name} differs from {a_name} in {', '.join(groups(diffs))}: {shown}{more}."


def mixed_warning(a_name: str, a: Scenario, b_name: str, b: Scenario) -> str | None:
    """A warning in words when the scenarios differ in more than one group of levers."""
    found = groups(differences(a, b))
    if len(found) < 2:
        return None
    return (f"{b_name} and {a_name} differ in {len(found)} groups of levers ({', '.join(found)}), "
            "so the difference mixes their effects; to see what one lever does, compare scenarios "
            "that differ in one group only (e.g. annual against three_year for settlement length, "
            "three_year against three_year_early for confirmation timing).")


def mixed_warnings(scenarios: Mapping[str, Scenario]) -> list[str]:
    """`mixed_warning` of every scenario against the first."""
    (a_name, a), *others = scenarios.items()
    found = [mixed_warning(a_name, a, b_name, b) for b_name, b in others]
    return [w for w in found if w]


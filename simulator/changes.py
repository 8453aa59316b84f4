"""A planner's edits in words: what changed between the scenario they started from and the one
they have now, as the name, the description and the headline subject the dashboard shows.

Why generated from the settings: a name typed once ("annual (edited)") stays the same whatever
is moved afterwards, so the page, an error banner and a saved file could all call a three-year
scenario "annual" and describe it as one-year. Here the name and description are rebuilt from what
differs every time the settings are applied, so they always say what the scenario is:
"annual with three-year core settlements", "As annual, with three-year core settlements instead of
one-year." Kept free of Streamlit, like `planner.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .planner import PlannerSettings, StreamSettings, apply_settings, settings_changes, settings_from
from .scenario import Scenario

_NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
            8: "eight", 9: "nine", 10: "ten"}
MAX_NAMED = 2
"""Changes named one by one in a scenario's name; more are counted ("annual with 3 changes")."""


@dataclass(frozen=True)
class Change:
    """One edit, in words: `long` says it against what it replaced (for a description and a
    headline), `short` names the new setting (for a scenario name), `plural` picks the verb."""

    long: str
    short: str
    plural: bool = False


def _years(n: int) -> str:
    return _NUMBERS.get(n, str(n))


def _stream(name: str) -> str:
    return name.replace("_", " ")


def month_words(month: float) -> str:
    """A confirmation month in words: "2 months after the year starts", "1 month before"."""
    if month == 0:
        return "as the year starts"
    unit = "month" if abs(month) == 1 else "months"
    return f"{abs(month):g} {unit} {'after' if month > 0 else 'before'} the year starts"


def _months(month: float) -> str:
    unit = "month" if abs(month) == 1 else "months"
    return f"{abs(month):g} {unit} {'after' if month > 0 else 'before'}"


def delay_words(lo: float, mode: float, hi: float) -> str:
    """A confirmation delay in words: a known date, or a window with its most likely month."""
    if lo == hi:
        return f"confirmed on a known date, {month_words(lo)}"
    if lo == 0:
        window = f"between the start of the year and {_months(hi)} it"
    elif hi == 0:
        window = f"between {_months(lo)} the year starts and its start"
    else:  # "1 month before and 5 months after", or "1 month and 5 months after" on one side
        same_side = (lo > 0) == (hi > 0)
        first = _months(lo).rsplit(" ", 1)[0] if same_side else _months(lo)
        window = f"between {first} and {_months(hi)} the year starts"
    likely = "as the year starts" if mode == 0 else _months(mode)
    return f"confirmed {window} (most likely {likely})"


def _share(x: float) -> str:
    return f"{x * 100:.3g}%"


def _stream_changes(name: str, old: StreamSettings, new: StreamSettings) -> list[Change]:
    s = _stream(name)
    found = []
    if new.settlement_years != old.settlement_years:
        found.append(Change(f"{_years(new.settlement_years)}-year {s} settlements instead of "
                            f"{_years(old.settlement_years)}-year",
                            f"{_years(new.settlement_years)}-year {s} settlements", plural=True))
    before = (old.delay_min, old.delay_mode, old.delay_max)
    after = (new.delay_min, new.delay_mode, new.delay_max)
    if after != before:
        short = (f"known {s} date (month {new.delay_min:g})" if new.delay_min == new.delay_max
                 else f"{s} confirmed months {new.delay_min:g} to {new.delay_max:g}")
        found.append(Change(f"{s} money {delay_words(*after)}, instead of {delay_words(*before)}",
                            short))
    if new.amount_volatility != old.amount_volatility:
        found.append(Change(f"{s} amount volatility of {_share(new.amount_volatility)} instead of "
                            f"{_share(old.amount_volatility)}",
                            f"{s} volatility {_share(new.amount_volatility)}"))
    for field, what in (("carry_over_within_settlement", "within a settlement"),
                        ("carry_over_across_settlements", "across settlements")):
        if getattr(new, field) != getattr(old, field):
            found.append(Change(f"{s} carry-over {what} of {_share(getattr(new, field))} instead "
                                f"of {_share(getattr(old, field))}",
                                f"{s} carry-over {_share(getattr(new, field))} {what}"))
    return found


def describe(old: PlannerSettings, new: PlannerSettings) -> list[Change]:
    """Every edit from `old` to `new`, in the sidebar's order."""
    found: list[Change] = []
    for name, settings in new.streams.items():
        found += _stream_changes(name, old.streams[name], settings)
    if new.in_year_share is not None and new.in_year_share != old.in_year_share:
        found.append(Change(f"external in-year money at {_share(new.in_year_share)} of the budget "
                            f"instead of {_share(old.in_year_share or 0.0)}",
                            f"{_share(new.in_year_share)} in-year money"))
    if new.baseline_budget_m != old.baseline_budget_m:
        found.append(Change(f"a budget of £{new.baseline_budget_m:,.0f}m a year instead of "
                            f"£{old.baseline_budget_m:,.0f}m",
                            f"£{new.baseline_budget_m:,.0f}m budget"))
    if new.real_growth != old.real_growth:
        found.append(Change(f"real growth of {_share(new.real_growth)} a year instead of "
                            f"{_share(old.real_growth)}", f"{_share(new.real_growth)} real growth"))
    if new.contract_cover != old.contract_cover:
        found.append(Change(f"contract cover of {_share(new.contract_cover)} instead of "
                            f"{_share(old.contract_cover)}",
                            f"contract cover {_share(new.contract_cover)}"))
    return found


def name(base: str, found: list[Change]) -> str:
    """The edited scenario's name: "annual with three-year core settlements"."""
    if not found:
        return base
    if len(found) > MAX_NAMED:
        return f"{base} with {len(found)} changes"
    return f"{base} with " + " and ".join(c.short for c in found)


def description(base: str, found: list[Change]) -> str:
    """The edited scenario's description: "As annual, with three-year core settlements instead of
    one-year." """
    return f"As {base}, with " + "; ".join(c.long for c in found) + "."


def subject(found: list[Change]) -> tuple[str, bool]:
    """What the edits are, as a headline's subject, and whether it takes a plural verb."""
    if len(found) == 1:
        return found[0].long, found[0].plural
    return f"these {len(found)} changes ({'; '.join(c.long for c in found)})", True


def apply_named(base: Scenario, settings: PlannerSettings) -> tuple[Scenario, list[Change]]:
    """The scenario with the planner's settings, named and described after what changed (the
    base itself when nothing did); `ScenarioError` if the model cannot take the settings."""
    found = describe(settings_from(base), settings)
    if not settings_changes(base, settings):
        return base, []
    edited = apply_settings(base, settings, name=name(base.name, found))
    return edited.with_changes({"scenario.description": description(base.name, found)}), found


# Sidebar controls by the scenario field they set, for messages in the planner's words.
_STREAM_CONTROLS = {
    "settlement_years": "Settlement length", "confirmation_delay_months": "Confirmation date",
    "amount_volatility": "Amount volatility", "share": "Share of external in-year money",
    "carry_over_within_settlement": "Carry-over within a settlement",
    "carry_over_across_settlements": "Carry-over across settlements",
}
_CONTROLS = {"funding.baseline_budget_m": "Budget", "funding.real_growth": "Real growth",
             "organisation.contract_cover": "Contract cover",
             "funding": "Share of external in-year money"}


def control_for(path: str) -> str:
    """The sidebar control that sets a scenario field path ("Settlement length under Core
    funding"), or the path itself for a field the sidebar does not show."""
    parts = path.split(".")
    if parts[:2] == ["funding", "streams"] and len(parts) >= 4 and parts[3] in _STREAM_CONTROLS:
        if parts[3] == "share":
            return f"{_STREAM_CONTROLS['share']} under Budget and contracting"
        return f"{_STREAM_CONTROLS[parts[3]]} under {_stream(parts[2]).capitalize()} funding"
    for prefix, control in _CONTROLS.items():
        if path == prefix or path.startswith(prefix + "."):
            return f"{control} under Budget and contracting"
    return path


__all__ = ["Change", "apply_named", "control_for", "delay_words", "describe", "description",
           "month_words", "name", "subject"]

"""What a planner moves, as plain data, and how it becomes a validated scenario.

The dashboard's sidebar shows a `PlannerSettings` read from a scenario and turns the edited
settings back into a scenario with `apply_settings`. Only the fields a planner actually changed are
written back (a PERT delay stays PERT until its min, mode or max is edited), and everything goes
through the scenario validator, so a setting the model cannot take (a minimum above a maximum) is a
`ScenarioError` with the same wording as a bad file. An edited delay whose earliest and latest
months are equal is a known date (a fixed distribution). Kept free of Streamlit so it is tested directly
and reused by anything else that edits scenarios.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from .distributions import Distribution, Fixed, Lognormal, Pert, Triangular, Uniform
from .errors import UsageError
from .files import write_atomic
from .scenario import Scenario

THREE_YEARS = 3


@dataclass(frozen=True)
class StreamSettings:
    """One funding stream's settlement shape, as the sidebar shows it."""

    settlement_years: int
    delay_min: float
    delay_mode: float
    delay_max: float
    amount_volatility: float
    carry_over_within_settlement: float
    carry_over_across_settlements: float


@dataclass(frozen=True)
class PlannerSettings:
    """Everything the planner's sidebar moves. `in_year_share` is None without in-year money."""

    streams: dict[str, StreamSettings]
    in_year_share: float | None
    baseline_budget_m: float
    real_growth: float
    contract_cover: float


def delay_triple(dist: Distribution) -> tuple[float, float, float]:
    """A (min, most likely, max) reading of any delay distribution, for three number inputs."""
    if isinstance(dist, Triangular | Pert):
        return (dist.min, dist.mode, dist.max)
    if isinstance(dist, Uniform):
        return (dist.min, (dist.min + dist.max) / 2.0, dist.max)
    if isinstance(dist, Fixed):
        return (dist.value, dist.value, dist.value)
    if isinstance(dist, Lognormal):
        return (round(dist.ppf(0.01), 2), dist.median, round(dist.ppf(0.99), 2))
    raise TypeError(f"unknown distribution {dist!r}")


def in_year_streams(scenario: Scenario) -> list[str]:
    """Streams paid in tranches during the year: the 'external in-year money' of the brief."""
    return [name for name, s in scenario.funding.streams.items() if s.arrival == "tranches"]


def settings_from(scenario: Scenario) -> PlannerSettings:
    """The sidebar's starting values for a scenario."""
    streams = {}
    for name, s in scenario.funding.streams.items():
        lo, mode, hi = delay_triple(s.confirmation_delay_months)
        streams[name] = StreamSettings(
            settlement_years=s.settlement_years, delay_min=lo, delay_mode=mode, delay_max=hi,
            amount_volatility=s.amount_volatility,
            carry_over_within_settlement=s.carry_over_within_settlement,
            carry_over_across_settlements=s.carry_over_across_settlements)
    in_year = in_year_streams(scenario)
    share = (sum(scenario.funding.streams[n].share for n in in_year)
             if in_year and len(in_year) < len(streams) else None)
    return PlannerSettings(streams=streams, in_year_share=share,
                           baseline_budget_m=scenario.funding.baseline_budget_m,
                           real_growth=scenario.funding.real_growth,
                           contract_cover=scenario.organisation.contract_cover)


def settings_changes(scenario: Scenario, settings: PlannerSettings) -> dict[str, Any]:
    """Dotted-path changes that turn `scenario` into one with these settings (only what moved)."""
    start = settings_from(scenario)
    changes: dict[str, Any] = {}
    for name, new in settings.streams.items():
        old = start.streams[name]
        prefix = f"funding.streams.{name}"
        for field in ("settlement_years", "amount_volatility", "carry_over_within_settlement",
                      "carry_over_across_settlements"):
            if getattr(new, field) != getattr(old, field):
                changes[f"{prefix}.{field}"] = getattr(new, field)
        new_delay = (new.delay_min, new.delay_mode, new.delay_max)
        if new_delay != (old.delay_min, old.delay_mode, old.delay_max):
            # earliest = latest is a known date: a fixed delay (a triangular needs min < max)
            changes[f"{prefix}.confirmation_delay_months"] = (
                {"dist": "fixed", "value": new.delay_min} if new.delay_min == new.delay_max
                else {"dist": "triangular", "min": new.delay_min, "mode": new.delay_mode,
                      "max": new.delay_max})
    if settings.in_year_share is not None and settings.in_year_share != start.in_year_share:
        changes.update(_share_changes(scenario, settings.in_year_share))
    for path, new_value, old_value in (
            ("funding.baseline_budget_m", settings.baseline_budget_m, start.baseline_budget_m),
            ("funding.real_growth", settings.real_growth, start.real_growth),
            ("organisation.contract_cover", settings.contract_cover, start.contract_cover)):
        if new_value != old_value:
            changes[path] = new_value
    return changes


def _share_changes(scenario: Scenario, in_year_share: float) -> dict[str, float]:
    """Set the in-year streams' total share; the others keep their proportions of the rest."""
    streams = scenario.funding.streams
    in_year = in_year_streams(scenario)
    others = [n for n in streams if n not in in_year]
    old_in, old_other = (sum(streams[n].share for n in group) for group in (in_year, others))
    changes = {}
    for names, old_total, new_total in ((in_year, old_in, in_year_share),
                                        (others, old_other, 1.0 - in_year_share)):
        for n in names:
            weight = streams[n].share / old_total if old_total > 0 else 1.0 / len(names)
            changes[f"funding.streams.{n}.share"] = round(new_total * weight, 12)
    return changes


def apply_settings(scenario: Scenario, settings: PlannerSettings, name: str | None = None) -> Scenario:
    """The scenario with the planner's settings, validated (`ScenarioError` if it cannot be run).

    An edited scenario is renamed (`name`, or the original name with " (edited)") so charts and
    saved files never pass it off as the shipped one."""
    changes = settings_changes(scenario, settings)
    if not changes and name is None:
        return scenario
    changes["scenario.name"] = name or f"{scenario.name} (edited)"
    return scenario.with_changes(changes)


def three_year_counterpart(scenario: Scenario) -> Scenario:
    """The same scenario with three-year settlements for every stream confirmed as a settlement
    (in-year tranche money stays as it is: it is bid for year by year)."""
    changes: dict[str, Any] = {
        f"funding.streams.{n}.settlement_years": THREE_YEARS
        for n, s in scenario.funding.streams.items() if s.arrival != "tranches"}
    changes["scenario.name"] = f"{scenario.name} with three-year settlements"
    changes["scenario.description"] = f"{scenario.name} with three-year settlements"
    return scenario.with_changes(changes)


# ------------------------------------------------------------------------ saving scenarios


def safe_filename(title: str) -> str:
    """A portable file name from a user's title: ASCII letters, digits, '-' and '_' only."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()[:60]
    if not stem:
        raise UsageError(f"title {title!r}: give a name with at least one letter or digit")
    return f"{stem}.toml"


def scenario_toml(scenario: Scenario) -> str:
    """The resolved scenario as a standalone TOML file (no `base`: it runs anywhere)."""
    return tomli_w.dumps(scenario.to_dict())


def save_scenario(scenario: Scenario, folder: str | Path, title: str,
                  overwrite: bool = False) -> Path:
    """Write the scenario as `folder/<safe title>.toml`, named `title`; refuse to replace a file
    unless `overwrite`. Written to a temporary name and renamed, so a crash leaves no half file."""
    folder = Path(folder)
    path = folder / safe_filename(title)
    if path.exists() and not overwrite:
        raise UsageError(f"{path}: a scenario with this name already exists; confirm to replace it")
    named = scenario.with_changes({"scenario.name": title.strip()})
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(path, scenario_toml(named).encode("utf-8"))
    return path


# ------------------------------------------------------------------------ differences


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaf values; a distribution table is one readable value."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and "dist" in value:
            args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in value.items() if k != "dist")
            flat[path] = f"{value['dist']}({args})"
        elif isinstance(value, dict):
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def differing_values(scenarios: list[Scenario]) -> list[tuple[str, list[Any]]]:
    """(dotted path, one value per scenario) for every field whose value differs between the
    scenarios (name and description aside); '-' where a scenario has no such field (a stream or
    capability it lacks), and 'fixed' where a field one scenario draws (`[uncertain]`) is a plain
    value in another."""
    flat = [flatten(s.to_dict()) for s in scenarios]
    paths = sorted({p for f in flat for p in f} - {"scenario.name", "scenario.description"})
    found = []
    for path in paths:
        missing = "fixed" if path.startswith("uncertain.") else "-"
        values = [f.get(path, missing) for f in flat]
        if any(v != values[0] for v in values[1:]):
            found.append((path, values))
    return found


def parameter_differences(scenarios: dict[str, Scenario]) -> pd.DataFrame:
    """One row per field whose value differs between the scenarios (`differing_values`)."""
    rows = [{"parameter": path, **{label: show_value(v)
                                   for label, v in zip(scenarios, values, strict=True)}}
            for path, values in differing_values(list(scenarios.values()))]
    return pd.DataFrame(rows, columns=["parameter", *scenarios])


def show_value(value: Any) -> str:
    """A parameter value as readers see it (floats without trailing zeros)."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


__all__ = ["PlannerSettings", "StreamSettings", "apply_settings", "delay_triple",
           "differing_values", "flatten", "in_year_streams", "parameter_differences",
           "safe_filename", "save_scenario", "scenario_toml", "settings_changes", "settings_from",
           "show_value", "three_year_counterpart"]

"""Scenario files: TOML in, a validated, frozen `Scenario` out, or a `ScenarioError` listing every
problem with its file, field path, value and rule.

Validation happens completely before any simulation object exists (Ciw's habit), with pydantic
models in strict mode so a quoted number or a boolean where a number belongs is an error rather
than a silent coercion. `base = "other.toml"` inherits another file and deep-merges this one over
it; a table holding `dist` replaces the inherited distribution whole (merging a triangular over a
fixed distribution field by field would make nonsense). Streams and capabilities with
`enabled = false` are dropped before validation.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import arguments, bounds, uncertain
from .distributions import DIST_KINDS, Distribution, Fixed
from .errors import Problem, ScenarioError, problem

_CONFIG = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

MAX_CONFIRMATION_DELAY_MONTHS = 11.0
"""A settlement is confirmed inside the first year of its period (Supplementary Estimates come
10-11 months in, the latest point the sources show); longer draws are capped here."""

SHARE_TOLERANCE = 1e-6
MAX_BASE_CHAIN = 16
"""`base` inheritance deeper than this is a mistake (the shipped files use one level)."""


class ScenarioInfo(BaseModel):
    model_config = _CONFIG
    name: str = Field(min_length=1)
    description: str = ""


class Horizon(BaseModel):
    model_config = _CONFIG
    years: int = Field(ge=1, le=30)


class Stream(BaseModel):
    """One funding stream: how much, settled for how long, confirmed when, arriving how."""

    model_config = _CONFIG
    enabled: bool = True
    share: float = Field(ge=0, le=1)
    settlement_years: int = Field(ge=1, le=10)
    confirmation_delay_months: Distribution
    amount_volatility: float = Field(ge=0, le=1)
    arrival: Literal["at_confirmation", "tranches"]
    tranches: int = Field(default=1, ge=1, le=12)
    capital_share: float = Field(ge=0, le=1)
    carry_over_within_settlement: float = Field(ge=0, le=1)
    carry_over_across_settlements: float = Field(ge=0, le=1)
    bid_overhead_pct: float = Field(default=0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _delay_inside_first_year(self) -> Stream:
        lo, hi = self.confirmation_delay_months.support()
        if hi > MAX_CONFIRMATION_DELAY_MONTHS and math.isfinite(hi):
            raise ValueError(
                f"confirmation_delay_months max ({hi}) must be at most "
                f"{MAX_CONFIRMATION_DELAY_MONTHS:g}: a settlement is confirmed inside the first year "
                "of its period"
            )
        if lo < -12.0 * self.settlement_years:
            raise ValueError(
                f"confirmation_delay_months min ({lo}) must be at least "
                f"{-12 * self.settlement_years} (one settlement period ahead)"
            )
        return self


class Funding(BaseModel):
    model_config = _CONFIG
    baseline_budget_m: float = Field(gt=0)
    real_growth: float = Field(ge=-0.5, le=1)
    streams: dict[str, Stream]

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Funding:
        if not self.streams:
            raise ValueError("at least one enabled funding stream is needed")
        total = sum(s.share for s in self.streams.values())
        if abs(total - 1.0) > SHARE_TOLERANCE:
            shares = ", ".join(f"{k} {s.share:g}" for k, s in self.streams.items())
            raise ValueError(f"stream shares must sum to 1 (got {total:g}: {shares})")
        if not any(s.arrival == "at_confirmation" and s.share > 0 for s in self.streams.values()):
            raise ValueError("at least one stream with a positive share must arrive "
                             "\"at_confirmation\": staff in post and fixed costs are paid from "
                             "settled money, and in-year tranches never fund permanent posts "
                             "(docs/model.md, Funding)")
        return self


class Organisation(BaseModel):
    model_config = _CONFIG
    interim_fraction: float = Field(ge=0, le=1.5)
    contract_cover: float = Field(ge=0, le=1)
    fixed_costs_m_per_year: float = Field(ge=0)
    legacy_it_cost_m_per_year: float = Field(ge=0)
    late_spend_window_months: float = Field(ge=0, le=12)
    late_spend_value: float = Field(ge=0, le=1)
    temporary_capacity_premium: float = Field(ge=0, le=10)
    temporary_capacity_max_fraction: float = Field(default=0.35, ge=0, le=5)
    prudence_sd: float = Field(default=0.5, ge=0, le=5)
    planning_years: int = Field(default=2, ge=1, le=10)
    contract_margin: float = Field(default=0.25, ge=0, le=0.5)
    minor_works_m_per_year: float = Field(default=0.0, ge=0)


class Workforce(BaseModel):
    model_config = _CONFIG
    initial_fte: float = Field(ge=0, le=1_000_000)
    cost_per_fte_k: float = Field(gt=0)
    attrition_per_year: float = Field(ge=0, lt=1)
    recruitment_lead_months: Distribution
    ramp_up_months: float = Field(ge=0, le=60)
    recruitment_interval_months: float = Field(default=3.0, gt=0, le=12)
    attrition_uplift_unconfirmed: float = Field(default=0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _lead_not_negative(self) -> Workforce:
        if self.recruitment_lead_months.support()[0] < 0:
            raise ValueError("recruitment_lead_months must not go below 0")
        if self.attrition_per_year + self.attrition_uplift_unconfirmed >= 1:
            raise ValueError(
                f"attrition_per_year + attrition_uplift_unconfirmed "
                f"({self.attrition_per_year + self.attrition_uplift_unconfirmed:g}) must be below 1: "
                "a share of staff leaving in a year")
        return self


class Operations(BaseModel):
    model_config = _CONFIG
    disruptions_per_fte_year: float = Field(ge=0)
    priority_share_base: float = Field(ge=0, le=1)
    legacy_decay_per_year: float = Field(ge=0, lt=1)


class Capability(BaseModel):
    """A capability investment: capital cost, lead time, and what it does once delivered."""

    model_config = _CONFIG
    enabled: bool = True
    priority: int = Field(ge=0)
    capex_m: float = Field(ge=0)
    lead_time_months: Distribution
    run_cost_m_per_year: float = Field(ge=0)
    productivity_uplift: float = Field(ge=-0.9, le=10)
    priority_uplift: float = Field(ge=-1, le=1)
    modernises_legacy: bool = False
    remobilisation_months: float = Field(ge=0, le=60)
    remobilisation_cost_pct: float = Field(ge=0, le=10)
    overrun_pct_per_year_late: float = Field(ge=0, le=10)
    reprofile_premium: float = Field(default=1.5, ge=0, le=10)
    cost_growth_factor: Distribution = Field(default_factory=lambda: Fixed(dist="fixed", value=1.0))

    @model_validator(mode="after")
    def _lead_positive(self) -> Capability:
        if self.lead_time_months.support()[0] <= 0:
            raise ValueError("lead_time_months must be above 0")
        if self.cost_growth_factor.support()[0] < 0:
            raise ValueError("cost_growth_factor must not go below 0 (it multiplies capex_m)")
        return self


GREEN_BOOK_STPR = 0.035
"""HM Treasury Green Book (2022), Annex A6: the social time preference rate for years 0 to 30."""
GREEN_BOOK_LONG_TERM_STPR = 0.030
"""... and for years 31 to 75 (2.5% from year 76 is never reached: an appraisal is at most 75 years)."""
MAX_APPRAISAL_YEARS = 75


class Appraisal(BaseModel):
    """How `fundsim appraise` values a scenario (docs/appraisal.md). The simulation never reads
    it: the table changes present values, never a run."""

    model_config = _CONFIG
    discount_rate: float = Field(default=GREEN_BOOK_STPR, ge=0, le=0.2)
    long_term_discount_rate: float = Field(default=GREEN_BOOK_LONG_TERM_STPR, ge=0, le=0.2)
    years: int | None = Field(default=None, ge=1, le=MAX_APPRAISAL_YEARS)
    tail: Literal["none", "hold"] = "none"
    optimism_bias: dict[str, Annotated[float, Field(ge=0, le=10)]] = Field(default_factory=dict)
    social_value_per_disruption_k: float | None = Field(default=None, ge=0, le=1e7)
    social_value_source: str | None = Field(default=None, min_length=1)

    def period(self, horizon_years: int) -> int:
        """The appraisal period in fiscal years: `years`, or the simulated horizon."""
        return horizon_years if self.years is None else self.years


class Scenario(BaseModel):
    """A complete, validated scenario. Frozen: the simulation trusts what it is given."""

    model_config = _CONFIG
    scenario: ScenarioInfo
    horizon: Horizon
    funding: Funding
    organisation: Organisation
    workforce: Workforce
    operations: Operations
    capabilities: dict[str, Capability] = Field(default_factory=dict)
    uncertain: dict[str, Distribution] = Field(default_factory=dict)
    """Field path -> distribution drawn once per run (`uncertain.py`)."""
    appraisal: Appraisal | None = None
    """How `fundsim appraise` discounts and values the runs; absent means the defaults, and a
    scenario without the table resolves (and hashes) exactly as before the table existed."""

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def appraisal_settings(self) -> Appraisal:
        """The `[appraisal]` table, or its defaults when the file has none."""
        return self.appraisal if self.appraisal is not None else Appraisal()

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data (what results folders store). Fields left unset
        that default to nothing (an absent `[appraisal]` table, its optional years and social
        value) are left out, so the data round-trips through TOML, which has no null."""
        return self.model_dump(mode="python", exclude_none=True)

    def sha256(self) -> str:
        """A fingerprint of the resolved scenario: equal scenarios give equal hashes."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def with_changes(self, changes: dict[str, Any]) -> Scenario:
        """A new validated scenario with dotted-path fields replaced (for sweeps and dashboards).
        A field declared uncertain that is set here is fixed at the value given."""
        data = self.to_dict()
        source = f"{self.name} (changed)"
        for path, value in changes.items():
            _set_path(data, path, value, source)
            data["uncertain"].pop(path, None)
        return scenario_from_dict(data, source=source)

    def with_values(self, values: dict[str, float], validate: bool = False) -> Scenario:
        """This scenario with number fields replaced, keeping its `[uncertain]` table: one run's
        draws. Without `validate` the copy is made without checking (fast, for every run), which
        is safe only for values `uncertain.problems` has checked the range of."""
        if validate:
            data = self.to_dict()
            data["uncertain"] = {}  # checking one set of values, not the ranges again
            source = f"{self.name} (drawn)"
            for path, value in values.items():
                _set_path(data, path, value, source)
            return scenario_from_dict(data, source=source)
        return self.copier(tuple(values))(tuple(values.values()))

    def copier(self, paths: tuple[str, ...]) -> Callable[[tuple[float, ...]], Scenario]:
        """`with_values` (unvalidated) for many sets of values of the same `paths`, in that order:
        which models lie on the way to each field is worked out once, not once a run."""
        plan = _plan({tuple(path.split(".")): i for i, path in enumerate(paths)})
        return lambda values: _replaced(self, plan, values)


# --------------------------------------------------------------------------- loading


def load_scenario(path: str | Path) -> Scenario:
    """Read, resolve `base`, validate: a ready `Scenario`, or `ScenarioError` naming every problem."""
    path = arguments.path("path", path)
    files: list[tuple[Path, dict[str, Any]]] = []
    data = _read_resolved(path, chain=(), files=files)
    try:
        return scenario_from_dict(data, source=str(path))
    except ScenarioError as exc:
        if len(files) == 1:
            raise
        located = [dataclasses.replace(p, inherited_from=_holder(p.path, files)) for p in exc.problems]
        raise ScenarioError(exc.file, located) from None


def inherited_files(path: str | Path) -> list[Path]:
    """The scenario file and every file it inherits through `base`, nearest first, as
    `load_scenario` reads them (so a chain it refuses is refused here too)."""
    files: list[tuple[Path, dict[str, Any]]] = []
    _read_resolved(Path(path), chain=(), files=files)
    return [file for file, _ in files]


def _holder(path: str, files: list[tuple[Path, dict[str, Any]]]) -> str | None:
    """Which inherited file holds the field a problem names: None when the scenario file itself
    sets it, or no one file does (a missing field, a rule over a whole table)."""
    parts = [part.strip('"') for part in re.findall(r'"[^"]*"|[^.]+', path)]
    for file, own in files:  # the scenario file first, then what it inherits, nearest first
        if uncertain.path_value(own, parts)[0]:
            return None if file is files[0][0] else str(file)
    return None


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate already-parsed scenario data (a dict as TOML would give it)."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [problem("", "must be a table of scenario sections", data)])
    too_deep = bounds.depth_problem(data)  # before deepcopy, which would recurse that deep
    if too_deep is not None:
        raise ScenarioError(source, [too_deep])
    data = _drop_disabled(copy.deepcopy(data), source)
    if not data:
        raise ScenarioError(source, [problem("", "the file is empty; see scenarios/baseline.toml")])
    too_many = bounds.count_problems(data)
    if too_many:
        raise ScenarioError(source, too_many)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, _problems_from(exc)) from None
    beyond = bounds.scenario_problems(scenario)  # what the scenario asks of the machine
    if beyond:
        raise ScenarioError(source, beyond)
    appraisal = appraisal_problems(scenario)  # before `uncertain`, which re-validates copies
    if appraisal:
        raise ScenarioError(source, appraisal)
    unsure = uncertain.problems(scenario)
    if unsure:
        raise ScenarioError(source, unsure)
    return scenario


def appraisal_problems(scenario: Scenario) -> list[Problem]:
    """What the `[appraisal]` table asks that the rest of the scenario cannot give: a period past
    the simulated horizon with no rule for the tail, an optimism bias for a capability the
    scenario does not have, a social value without its source (or a source without a value).
    (An optimism bias for a capability switched off with `enabled = false` was dropped with it.)"""
    a = scenario.appraisal
    if a is None:
        return []
    found = []
    horizon = scenario.horizon.years
    if a.years is not None and a.years > horizon and a.tail == "none":
        found.append(problem("appraisal.years", f"must be at most the simulated horizon ({horizon} "
                             "years) unless tail = \"hold\" says what the years after it hold",
                             a.years))
    for name in a.optimism_bias:
        if name not in scenario.capabilities:
            known = ", ".join(scenario.capabilities) or "none"
            close = difflib.get_close_matches(name, list(scenario.capabilities), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            found.append(problem(f"appraisal.optimism_bias.{name}", f"not a capability of this "
                                 f"scenario; {hint}(enabled capabilities: {known})", name))
    if a.social_value_per_disruption_k is not None and a.social_value_source is None:
        found.append(problem("appraisal.social_value_source", "required when "
                             "social_value_per_disruption_k is given: say where the value comes "
                             "from (and whether it is illustrative)"))
    if a.social_value_source is not None and a.social_value_per_disruption_k is None:
        found.append(problem("appraisal.social_value_source", "names the source of "
                             "social_value_per_disruption_k, which is not given", a.social_value_source))
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ScenarioError(str(path), [problem("", "file not found")])
    if not path.is_file():
        raise ScenarioError(str(path), [problem("", "not a file")])
    try:
        size = path.stat().st_size
        if size > bounds.MAX_FILE_BYTES:
            rule = (f"the file is {size:,} bytes; a scenario is a few kilobytes (at most "
                    f"{bounds.MAX_FILE_BYTES:,} bytes are read)")
            raise ScenarioError(str(path), [problem("", rule)])
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(str(path), [problem("", f"cannot be read ({exc.strerror or exc})")]) from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (as Windows Notepad may save) is dropped
    except UnicodeDecodeError as exc:
        rule = f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        raise ScenarioError(str(path), [problem("", rule)]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), [problem("", f"not valid TOML: {exc}")]) from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        rule = (f"tables and arrays nest too deeply (at most {bounds.MAX_DEPTH} levels are read; a "
                "scenario needs 5)")
        raise ScenarioError(str(path), [problem("", rule)]) from None


def _read_resolved(path: Path, chain: tuple[Path, ...],
                   files: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """The file's data merged over what it inherits; `files` gets each file with its own data."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.name for p in (*chain, resolved))
        raise ScenarioError(str(path), [problem("base", f"inheritance cycle: {cycle}")])
    if len(chain) >= MAX_BASE_CHAIN:
        rule = f"more than {MAX_BASE_CHAIN} files inherit one another through base"
        raise ScenarioError(str(path), [problem("base", rule)])
    data = _read_toml(path)
    too_deep = bounds.depth_problem(data)  # before deep_merge, which recurses through tables
    if too_deep is not None:
        raise ScenarioError(str(path), [too_deep])
    base = data.pop("base", None)
    files.append((path, data))
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        rule = "must be the path of another scenario file, relative to this one"
        raise ScenarioError(str(path), [problem("base", rule, base)])
    base_path = path.parent / base
    if not base_path.exists():
        raise ScenarioError(str(path), [problem("base", f"file not found: {base_path}", base)])
    parent = _read_resolved(base_path, (*chain, resolved), files)
    return _fix_what_is_set(deep_merge(parent, data), data)


def _fix_what_is_set(merged: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """A file that sets a field its base declared uncertain fixes it at that value, unless it
    declares the field uncertain again itself: the file's own words win over what it inherits.
    An empty `uncertain = {}` fixes every inherited one (each at the value the file holds)."""
    if own.get("uncertain") == {}:
        merged["uncertain"] = {}
        return merged
    table = merged.get("uncertain")
    if not isinstance(table, dict):
        return merged
    own_uncertain = own.get("uncertain") if isinstance(own.get("uncertain"), dict) else {}
    for path in list(table):
        if path not in own_uncertain and uncertain.path_value(own, path)[0]:
            del table[path]
    return merged


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`: tables merge key by key; a distribution table replaces whole."""
    merged = copy.deepcopy(base)
    for key, value in over.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and "dist" not in value:
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _drop_disabled(data: dict[str, Any], source: str) -> dict[str, Any]:
    tables = [("funding.streams", (data.get("funding") or {}).get("streams")),
              ("capabilities", data.get("capabilities"))]
    for prefix, table in tables:
        if not isinstance(table, dict):
            continue
        for key in list(table):
            entry = table[key]
            if isinstance(entry, dict) and "enabled" in entry:
                flag = entry["enabled"]
                if not isinstance(flag, bool):
                    rule = "must be true or false"
                    raise ScenarioError(source, [problem(f"{prefix}.{key}.enabled", rule, flag)])
                if not flag:
                    del table[key]
                    _drop_uncertain(data, f"{prefix}.{key}.")
                    if prefix == "capabilities":
                        _drop_bias(data, key)
    return data


def _drop_uncertain(data: dict[str, Any], prefix: str) -> None:
    """A disabled capability's or stream's uncertain parameters go with it: an inherited
    `[uncertain]` table may name the fields of one a scenario switches off."""
    table = data.get("uncertain")
    if isinstance(table, dict):
        for path in [p for p in table if isinstance(p, str) and p.startswith(prefix)]:
            del table[path]


def _drop_bias(data: dict[str, Any], capability: str) -> None:
    """A disabled capability's optimism bias goes with it: an inherited `[appraisal]` table may
    name a capability a scenario switches off."""
    appraisal = data.get("appraisal")
    bias = appraisal.get("optimism_bias") if isinstance(appraisal, dict) else None
    if isinstance(bias, dict):
        bias.pop(capability, None)


# --------------------------------------------------------------------------- error wording

_DIST_FIELDS = {"confirmation_delay_months", "recruitment_lead_months", "lead_time_months"}


def _problems_from(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        loc = [p for i, p in enumerate(loc) if not (p in DIST_KINDS and i and loc[i - 1] in _DIST_FIELDS)]
        loc = [p for p in loc if not p.startswith("function-")]
        path = ".".join(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            problems.append(problem(path, _unknown_field_rule(exc, err), err["input"]))
        elif kind == "missing":
            problems.append(problem(path, "required field is missing"))
        elif kind == "union_tag_invalid" or kind == "union_tag_not_found":
            allowed = ", ".join(f'"{k}"' for k in DIST_KINDS)
            value = err["input"].get("dist") if isinstance(err["input"], dict) else err["input"]
            problems.append(problem(path + ".dist", f"dist must be one of {allowed}", value))
        elif kind == "value_error":
            msg = str(err["ctx"].get("error", err["msg"])) if err.get("ctx") else err["msg"]
            problems.append(problem(path, msg))
        else:
            problems.append(problem(path, _rule_text(err), err["input"]))
    return problems


def _rule_text(err: dict[str, Any]) -> str:
    msg: str = err["msg"]
    if err["type"] == "finite_number":
        return "must be a finite number (not nan or inf)"
    if err["type"] == "model_type" or err["type"] == "dict_type":
        return "must be a table"
    return msg[0].lower() + msg[1:] if msg else msg


def _unknown_field_rule(exc: ValidationError, err: dict[str, Any]) -> str:
    name = str(err["loc"][-1])
    model = _model_at(err["loc"][:-1])
    if model is None:
        return "unknown field"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown field{hint} (allowed: {', '.join(allowed)})"


_CHILD_MODELS: dict[str, type[BaseModel]] = {
    "scenario": ScenarioInfo, "horizon": Horizon, "funding": Funding,
    "organisation": Organisation, "workforce": Workforce, "operations": Operations,
    "appraisal": Appraisal,
}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    from . import distributions as d

    kinds = {"fixed": d.Fixed, "uniform": d.Uniform, "triangular": d.Triangular,
             "pert": d.Pert, "lognormal": d.Lognormal}
    parts = [str(p) for p in loc]
    if not parts:
        return Scenario
    if parts[-1] in kinds:
        return kinds[parts[-1]]
    if parts[0] == "capabilities" and len(parts) == 2:
        return Capability
    if parts[:2] == ["funding", "streams"] and len(parts) == 3:
        return Stream
    if len(parts) == 1:
        return _CHILD_MODELS.get(parts[0])
    return None


_Plan = dict[str, "int | _Plan"]


def _plan(changes: dict[tuple[str, ...], int]) -> _Plan:
    """The fields to replace as a tree: a model's field name, then either the index of its new
    value or the plan for the model (or table) it holds."""
    by_head: dict[str, dict[tuple[str, ...], int]] = {}
    for parts, index in changes.items():
        by_head.setdefault(parts[0], {})[parts[1:]] = index
    return {head: below[()] if () in below else _plan(below) for head, below in by_head.items()}


def _replaced(model: Any, plan: _Plan, values: tuple[float, ...]) -> Any:
    """`model` with the planned fields replaced by `values`, copying each model on the way down
    once however many of its fields change (a run's draws are often several fields of one table)."""
    update = {}
    for head, below in plan.items():
        if isinstance(below, int):
            update[head] = values[below]
        else:
            child = model[head] if isinstance(model, dict) else getattr(model, head)
            update[head] = _replaced(child, below, values)
    if isinstance(model, dict):
        return {**model, **update}
    return _copy_model(model, update)


def _copy_model(model: BaseModel, update: dict[str, Any]) -> Any:
    """`model.model_copy(update=update)` for the scenario's models, without the generic copy
    machinery that was most of the cost of a run's drawn scenario. Every model here is frozen,
    forbids extra fields and has no private attributes, so a copy is its field dict with the
    update and its set of fields given (tests/test_uncertain.py compares it with `model_copy`)."""
    copied = object.__new__(type(model))
    object.__setattr__(copied, "__dict__", {**model.__dict__, **update})
    object.__setattr__(copied, "__pydantic_extra__", None)
    object.__setattr__(copied, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys())
    object.__setattr__(copied, "__pydantic_private__", None)
    return copied


def _set_path(data: dict[str, Any], path: str, value: Any, source: str) -> None:
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            raise ScenarioError(source, [problem(path, f"no such field ({'.'.join(parts[: i + 1])})")])
        node = node[part]
    if not isinstance(node, dict) or parts[-1] not in node:
        raise ScenarioError(source, [problem(path, "no such field")])
    node[parts[-1]] = value

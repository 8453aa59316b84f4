"""Bounds on what a scenario may ask of the machine: every field that scales a run's work or
memory, and every rate whose product could overflow an output, has a ceiling, with the reason in
the message.

Why a separate pass after the pydantic models: the field types say what a value *is*; these
bounds say how much *work* a scenario may cause, which often depends on several fields together
(streams x tranches x years; staff x rate x uplifts). A value such as
`recruitment_interval_months = 1e-6` is a valid number but asks for 72 million recruitment
campaigns a run (over 6 GB in 24 s); `cost_per_fte_k = 5e-324` rounds a salary to zero and the
model divides by it; `disruptions_per_fte_year = 1e15` overflows the 64-bit counts. Every bound
sits orders of magnitude beyond any real public body (the shipped scenarios are shaped on an agency
of 4,400 staff and £711m a year), so it only ever stops a mistake or an attack.

Messages follow the project's form, `file: field.path = value: rule (why)`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .errors import Problem, problem

if TYPE_CHECKING:
    from .scenario import Scenario

MAX_FILE_BYTES = 1 << 20
"""A scenario file is a few kilobytes; a megabyte is room for hundreds of capabilities' notes."""
MAX_DEPTH = 12
"""The deepest field of a scenario is five tables down (funding.streams.core.delay.min)."""
MAX_STREAMS = 20
MAX_CAPABILITIES = 50
MIN_RECRUITMENT_INTERVAL_MONTHS = 0.25
MAX_MONEY_M = 1_000_000.0
MIN_COST_PER_FTE_K, MAX_COST_PER_FTE_K = 1.0, 10_000.0
MAX_DISRUPTIONS_PER_FTE_YEAR = 1_000.0
MAX_MONTHS = {"recruitment_lead_months": 120.0, "lead_time_months": 600.0}
MAX_COST_GROWTH_FACTOR = 100.0
"""Outturn cost = capex_m x factor. Large IT projects overrun by 45% on average and the worst by a
few times (docs/model.md); a hundredfold overrun is beyond any recorded project."""
MAX_COST_GROWTH_SIGMA = 2.0
"""A lognormal factor with sigma 2 already puts one project in a hundred above 100 times its median
(exp(2 x 2.33)); the baseline IT factor's sigma is 0.5."""
MAX_OUTPUT_CEILING = 1e15
"""Counts are stored as 64-bit integers and money as doubles: 1e15 keeps both exact to the unit
(doubles hold every whole number below 2**53, about 9e15)."""
EVENT_BUDGET = 12_000
"""SimPy events a run may schedule, as `event_estimate` counts them (the shipped scenarios about 130,
a 30-year scenario with monthly campaigns, five monthly-tranche streams and twenty capabilities
about 4,100). One event costs about 25 microseconds, so a run stays under a third of a second;
the field bounds alone would allow about 14,000, so the budget also catches their combinations."""

_MONEY = "£1 trillion a year is about all UK public spending; larger values only lose precision, " \
         "and near 1e308 they overflow to inf and NaN"


def depth_problem(data: Any, limit: int = MAX_DEPTH) -> Problem | None:
    """A problem if parsed TOML nests tables or arrays deeper than `limit` (checked without
    recursion, so a file of 100,000 brackets cannot exhaust the stack)."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        node, depth, path = stack.pop()
        if depth > limit:
            return problem(path, f"tables and arrays nest deeper than {limit} levels; a scenario "
                                 "needs at most 5 (e.g. funding.streams.core."
                                 "confirmation_delay_months.min)")
        if isinstance(node, dict):
            stack.extend((v, depth + 1, f"{path}.{k}" if path else str(k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(node))
    return None


def count_problems(data: dict[str, Any]) -> list[Problem]:
    """Too many streams or capabilities, checked on the raw data before the models are built."""
    out = []
    streams = (data.get("funding") or {}).get("streams") if isinstance(data.get("funding"), dict) else None
    if isinstance(streams, dict) and len(streams) > MAX_STREAMS:
        out.append(problem("funding.streams", f"holds {len(streams)} streams; at most {MAX_STREAMS} "
                           "(every stream adds settlements, tranches and payments to every event "
                           "of a run)"))
    caps = data.get("capabilities")
    if isinstance(caps, dict) and len(caps) > MAX_CAPABILITIES:
        out.append(problem("capabilities", f"holds {len(caps)} capabilities; at most "
                           f"{MAX_CAPABILITIES} (every planning decision looks at every project)"))
    return out


def _dist_numbers(dist: Any) -> Iterator[tuple[str, float]]:
    for name in ("value", "min", "mode", "max", "median"):
        value = getattr(dist, name, None)
        if isinstance(value, int | float):
            yield name, float(value)


def scenario_problems(s: Scenario) -> list[Problem]:
    """Every bound a validated scenario breaks, each with the field, value, bound and why."""
    out: list[Problem] = []
    wf, ops, org, funding = s.workforce, s.operations, s.organisation, s.funding
    if wf.recruitment_interval_months < MIN_RECRUITMENT_INTERVAL_MONTHS:
        out.append(problem("workforce.recruitment_interval_months",
                           f"must be at least {MIN_RECRUITMENT_INTERVAL_MONTHS:g} (a weekly campaign): "
                           "each campaign is an event and a random draw of every run, so shorter "
                           "intervals multiply the work without changing when recruits arrive",
                           wf.recruitment_interval_months))
    if not MIN_COST_PER_FTE_K <= wf.cost_per_fte_k <= MAX_COST_PER_FTE_K:
        out.append(problem("workforce.cost_per_fte_k",
                           f"must be from {MIN_COST_PER_FTE_K:g} to {MAX_COST_PER_FTE_K:,.0f} (£k a "
                           "year per post): below £1k the money buys unbounded staff, and a cost "
                           "that rounds to zero cannot be divided by", wf.cost_per_fte_k))
    if ops.disruptions_per_fte_year > MAX_DISRUPTIONS_PER_FTE_YEAR:
        out.append(problem("operations.disruptions_per_fte_year",
                           f"must be at most {MAX_DISRUPTIONS_PER_FTE_YEAR:,.0f} (the NCA's is about "
                           "0.5): larger rates only make counts that overflow 64-bit integers",
                           ops.disruptions_per_fte_year))
    money = [("funding.baseline_budget_m", funding.baseline_budget_m),
             ("organisation.fixed_costs_m_per_year", org.fixed_costs_m_per_year),
             ("organisation.legacy_it_cost_m_per_year", org.legacy_it_cost_m_per_year)]
    for name, cap in s.capabilities.items():
        money += [(f"capabilities.{name}.capex_m", cap.capex_m),
                  (f"capabilities.{name}.run_cost_m_per_year", cap.run_cost_m_per_year)]
    for path, value in money:
        if value > MAX_MONEY_M:
            out.append(problem(path, f"must be at most {MAX_MONEY_M:,.0f} (£m): {_MONEY}", value))
    times = [("workforce.recruitment_lead_months", wf.recruitment_lead_months)]
    times += [(f"capabilities.{n}.lead_time_months", c.lead_time_months)
              for n, c in s.capabilities.items()]
    for path, dist in times:
        limit = MAX_MONTHS[path.rsplit(".", 1)[1]]
        for part, value in _dist_numbers(dist):
            if abs(value) > limit:
                out.append(problem(f"{path}.{part}", f"must be at most {limit:g} months ({limit / 12:g} "
                                   "years, beyond any horizon): larger times overflow the model's "
                                   "clock arithmetic", value))
    out += _cost_growth_problems(s)
    if not out:
        out += _ceiling_problems(s)
        out += event_problems(s)
    return out


def _cost_growth_problems(s: Scenario) -> list[Problem]:
    """Each capability's cost growth factor: its numbers at most 100, a lognormal's sigma at most 2."""
    out = []
    for name, cap in s.capabilities.items():
        path = f"capabilities.{name}.cost_growth_factor"
        dist = cap.cost_growth_factor
        for part, value in _dist_numbers(dist):
            if value > MAX_COST_GROWTH_FACTOR:
                out.append(problem(f"{path}.{part}", f"must be at most {MAX_COST_GROWTH_FACTOR:g} (the "
                                   "outturn cost is capex_m times this factor; large IT projects "
                                   "overrun by 45% on average and a hundredfold overrun is beyond "
                                   "any recorded project; larger factors only push money towards "
                                   "overflow)", value))
        sigma = getattr(dist, "sigma", None)
        if isinstance(sigma, int | float) and sigma > MAX_COST_GROWTH_SIGMA:
            out.append(problem(f"{path}.sigma", f"must be at most {MAX_COST_GROWTH_SIGMA:g} for a cost "
                               "growth factor (at sigma 2 one project in a hundred already costs "
                               "over 100 times its median; the baseline IT factor's sigma is 0.5)",
                               sigma))
    return out


def output_ceiling(s: Scenario) -> float:
    """An upper bound on the disruptions a run can count: every £ of the largest year's budget
    spent on staff at the premium-free cost, plus the starting staff, at the full rate, with every
    capability's uplift, for every year."""
    years = s.horizon.years
    growth = max(1.0, (1.0 + s.funding.real_growth) ** (years - 1))
    bought = s.funding.baseline_budget_m * growth * 1000.0 / s.workforce.cost_per_fte_k
    staff = s.workforce.initial_fte + bought * (1.0 + s.organisation.temporary_capacity_max_fraction)
    uplift = math.prod(1.0 + max(0.0, c.productivity_uplift) for c in s.capabilities.values())
    return staff * s.operations.disruptions_per_fte_year * uplift * years


def _ceiling_problems(s: Scenario) -> list[Problem]:
    ceiling = output_ceiling(s)
    if ceiling <= MAX_OUTPUT_CEILING:
        return []
    return [problem("operations.disruptions_per_fte_year",
                    f"with this budget, staff cost and the capabilities' productivity uplifts, a run "
                    f"could count up to {ceiling:.3g} disruptions, above {MAX_OUTPUT_CEILING:.0e}, "
                    "where counts stop being exact; lower the rate, the budget or the uplifts",
                    s.operations.disruptions_per_fte_year)]


def event_estimate(s: Scenario) -> dict[str, int]:
    """SimPy events one run schedules, by the field that causes them (an upper estimate)."""
    years, months = s.horizon.years, 12 * s.horizon.years
    counts = {"workforce.recruitment_interval_months":
              math.ceil(months / s.workforce.recruitment_interval_months) + 1,
              "horizon.years": years}
    for name, st in s.funding.streams.items():
        periods = math.ceil(years / st.settlement_years)
        tranches = st.tranches * years if st.arrival == "tranches" else 0
        key = f"funding.streams.{name}.tranches" if tranches else f"funding.streams.{name}"
        counts[key] = periods + tranches
    counts["capabilities"] = 3 * len(s.capabilities) * years
    return counts


def event_problems(s: Scenario) -> list[Problem]:
    """The event budget, naming the field that causes the most events."""
    counts = event_estimate(s)
    total = sum(counts.values())
    if total <= EVENT_BUDGET:
        return []
    field, most = max(counts.items(), key=lambda kv: kv[1])
    rule = (f"a run would schedule about {total:,} events ({most:,} from this field), above the "
            f"budget of {EVENT_BUDGET:,} that keeps a run under a third of a second; fewer "
            "tranches, streams, capabilities or campaigns, or a shorter horizon")
    node: Any = s.to_dict()
    for part in field.split("."):
        node = node[part]
    if isinstance(node, dict):
        return [problem(field, f"holds {len(node)} entries: {rule}")]
    return [problem(field, rule, node)]

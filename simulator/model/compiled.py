"""A validated scenario laid out once for many runs: expected amounts, settlement periods and the
catalogue of named random draws (see `rng.py`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .. import uncertain
from ..rng import DrawCatalogue
from ..scenario import Capability, Scenario, Stream


@dataclass(frozen=True)
class CompiledStream:
    """What one run needs of a stream, computed once per scenario."""

    name: str
    spec: Stream
    expected_m: np.ndarray  # gross expected amount per fiscal year
    period_starts: tuple[int, ...]  # first fiscal year (0-based) of each settlement period
    tranche_stream: bool
    real_growth: float
    expected_ahead: tuple[float, ...]  # `expected(year)` for the horizon and LOOK_AHEAD years past it

    def expected(self, year: int) -> float:
        """Expected gross amount in a fiscal year, past the horizon too (the organisation plans
        beyond the run's end): the compiled amounts, extended at the scenario's real growth."""
        last = len(self.expected_m) - 1
        if year <= last:
            return float(self.expected_m[year])
        return float(self.expected_m[last]) * (1.0 + self.real_growth) ** (year - last)


LOOK_AHEAD_YEARS = 24
"""Years past the horizon whose expected amounts are laid out in advance (plans look ahead up to
`planning_years` <= 10 years from a recruit's arrival; further years are computed when asked)."""


@dataclass(frozen=True)
class CompiledProject:
    name: str
    spec: Capability


@dataclass(frozen=True)
class CompiledScenario:
    """A validated scenario laid out for fast repeated runs (streams, projects, the draw catalogue)."""

    scenario: Scenario
    years: int
    months: int
    streams: tuple[CompiledStream, ...]
    projects: tuple[CompiledProject, ...]
    draws: DrawCatalogue
    recruit_cycles: int
    contract_lookahead: int  # years of planned capital a contract may count on

    @property
    def sha256(self) -> str:
        return self.scenario.sha256()

    def for_run(self, u: np.ndarray) -> CompiledScenario:
        """The scenario this run simulates: itself, or, with uncertain parameters, a copy holding
        the run's draws of them (same calendar and catalogue of draws, so nothing else moves)."""
        return self.for_runs(u[np.newaxis, :])[0]

    def for_runs(self, u: np.ndarray) -> list[CompiledScenario]:
        """`for_run` of each row of uniforms, the uncertain values drawn for all rows at once
        (`ppf_array` is `ppf` bit for bit) and the way to the drawn fields planned once."""
        uncertain = self.scenario.uncertain
        if not uncertain:
            return [self] * len(u)
        columns = u[:, self.draws.slice("uncertain")]
        drawn = [dist.ppf_array(columns[:, j]).tolist() for j, dist in enumerate(uncertain.values())]
        copy = self.scenario.copier(tuple(uncertain))
        # Only what a drawn field can change is laid out again.
        streams_change = any(p.startswith(("funding.", "horizon.")) for p in uncertain)
        projects_change = any(p.startswith("capabilities.") for p in uncertain)
        # Any other drawn capability field leaves the contracting order and the lookahead as they
        # are: only each project's spec is the run's own. (A drawn path names a number field, so
        # a capability's path has its field third.)
        reorders = any(path.split(".")[2] in _LAYOUT_FIELDS
                       for path in uncertain if path.startswith("capabilities."))
        out = []
        for values in zip(*drawn, strict=True):
            scenario = copy(values)
            streams = _streams(scenario) if streams_change else self.streams
            if not projects_change:
                projects, lookahead = self.projects, self.contract_lookahead
            elif reorders:
                projects = _projects(scenario)
                lookahead = _lookahead(projects)
            else:
                capabilities = scenario.capabilities
                projects = tuple(CompiledProject(p.name, capabilities[p.name]) for p in self.projects)
                lookahead = self.contract_lookahead
            # The constructor, not `dataclasses.replace`, which is several times slower.
            out.append(CompiledScenario(scenario, self.years, self.months, streams, projects,
                                        self.draws, self.recruit_cycles, lookahead))
        return out


def _streams(scenario: Scenario) -> tuple[CompiledStream, ...]:
    """Streams with their expected amounts and settlement periods."""
    years = scenario.horizon.years
    growth = scenario.funding.real_growth
    totals = scenario.funding.baseline_budget_m * (1.0 + growth) ** np.arange(years)
    streams = []
    for name in sorted(scenario.funding.streams):
        spec = scenario.funding.streams[name]
        starts = tuple(range(0, years, spec.settlement_years))
        stream = CompiledStream(name, spec, totals * spec.share, starts, spec.arrival == "tranches",
                                growth, ())
        ahead = tuple(stream.expected(y) for y in range(years + LOOK_AHEAD_YEARS))
        streams.append(dataclasses.replace(stream, expected_ahead=ahead))
    return tuple(streams)


_LAYOUT_FIELDS = ("priority", "lead_time_months")
"""A capability's fields that `_projects` orders by and `_lookahead` measures."""


def _projects(scenario: Scenario) -> tuple[CompiledProject, ...]:
    """Projects in contracting order."""
    projects = sorted(scenario.capabilities.items(), key=lambda kv: (kv[1].priority, kv[0]))
    return tuple(CompiledProject(name, spec) for name, spec in projects)


def compile_scenario(scenario: Scenario) -> CompiledScenario:
    """Lay a scenario out for simulation: expected amounts, settlement periods, named draws."""
    years = scenario.horizon.years
    streams, projects = _streams(scenario), _projects(scenario)
    draws = DrawCatalogue()
    for stream in streams:
        name, spec, starts = stream.name, stream.spec, stream.period_starts
        # Keyed by what each draw is about: the amount of a stream in a fiscal year, the delay of
        # the settlement that starts in a fiscal year, the j-th tranche of a stream in a year.
        draws.add(f"amount/{name}", (str(y) for y in range(years)))
        draws.add(f"delay/{name}", (str(y) for y in starts))
        if spec.arrival == "tranches":
            draws.add(f"tranche/{name}",
                      (f"{y}/{j}" for y in range(years) for j in range(spec.tranches)))
    for project in projects:
        name = project.name
        draws.add(f"lead/{name}", ["0"])
        draws.add(f"growth/{name}", ["0"])  # outturn cost factor (capex risk)
        draws.add(f"margin/{name}", ["0"])  # the board's haircut on unconfirmed money
    months = 12 * years
    cycles = math.ceil(months / scenario.workforce.recruitment_interval_months) + 1
    draws.add("recruit", (str(c) for c in range(cycles)))
    draws.add("thaw", (str(y) for y in range(years)))  # the campaign run when a freeze lifts
    draws.add("news", (str(y) for y in range(years)))  # ... when later years' money is confirmed
    draws.add("disrupt/priority", (str(m) for m in range(months)))
    draws.add("disrupt/other", (str(m) for m in range(months)))
    if scenario.uncertain:
        # Keyed by field path: two scenarios declaring a field draw the same value in a run.
        draws.add("uncertain", uncertain.draw_names(scenario))
    return CompiledScenario(scenario, years, months, streams, projects, draws, cycles,
                            _lookahead(projects))


def _lookahead(projects: tuple[CompiledProject, ...]) -> int:
    """Years of planned capital a contract may count on: the longest project's expected lead."""
    return max((math.ceil(p.spec.lead_time_months.mean() / 12.0) for p in projects), default=0)

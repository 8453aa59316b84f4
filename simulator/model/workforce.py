"""The workforce: staff in post (a fluid of FTE under a continuous attrition hazard), recruits
ramping up, recruitment campaigns (each regular cycle, and at once when a freeze lifts), the
establishment the organisation can afford, and the resource money its commitments need."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from ..scenario import Organisation
from ..scenario import Workforce as WorkforceSpec
from .clock import Clock, decayed_span
from .records import RunDraws

if TYPE_CHECKING:
    from .funding import Funding
    from .operations import Operations
    from .portfolio import Portfolio
    from .run import Run

MIN_COHORT_FTE: Final = 1.0
"""Recruitment campaigns smaller than one post are not run."""


class Cohort:
    """Recruits from one campaign, arriving together. (A plain class: mypyc compiles it, where a
    dataclass's generated `__init__` and `__eq__` ran as interpreted Python.)"""

    def __init__(self, fte: float, arrives: float) -> None:
        self.fte = fte
        self.arrives = arrives


class Workforce:
    """Staff in post and in the pipeline, and the rules for hiring them."""

    __deletable__ = ("run",)  # `Run.release` drops the reference back to the run

    def __init__(self, spec: WorkforceSpec, org: Organisation, draws: RunDraws,
                 clock: Clock) -> None:
        self.ramp_up_months = spec.ramp_up_months
        self.planning_years = org.planning_years
        self.fixed_costs = org.fixed_costs_m_per_year
        self.legacy_it_cost = org.legacy_it_cost_m_per_year
        self.clock = clock
        self.h_settled = -math.log(1.0 - spec.attrition_per_year) / 12.0
        self.h_unsettled = -math.log(
            1.0 - spec.attrition_per_year - spec.attrition_uplift_unconfirmed) / 12.0
        self.h = self.h_settled  # attrition hazard per month, now
        self.cost_fte_month = spec.cost_per_fte_k / 1000.0 / 12.0
        self.f_full = float(spec.initial_fte)  # FTE fully productive
        self.f_ramp = 0.0  # FTE still ramping up
        self.pipeline: list[Cohort] = []
        self.recruit_leads = draws.recruit  # lead of each regular cycle's campaign
        self.thaw_leads = draws.thaw  # ... of the campaign when a freeze lifts, per year
        self.news_leads = draws.news  # ... when later years' money is confirmed, per year

    def connect(self, funding: Funding, portfolio: Portfolio, operations: Operations,
                run: Run) -> None:
        """What hiring reads (money planned, running costs) and whom it tells: the run, which
        brings the books up to now (`settle`) and re-plans in-year spending when recruits arrive
        (`commitments_changed`)."""
        self.funding = funding
        self.portfolio = portfolio
        self.operations = operations
        self.run = run

    @property
    def in_post(self) -> float:
        return self.f_full + self.f_ramp

    def set_unsettled(self, unsettled: bool) -> None:
        """Staff on posts that depend on unconfirmed money leave faster
        (`attrition_uplift_unconfirmed`)."""
        self.h = self.h_unsettled if unsettled else self.h_settled

    # ------------------------------------------------------------------ hiring

    def establishment(self, arrives: float) -> float:
        """Permanent posts affordable in every year of the planning look-ahead from the year the
        recruits arrive, from money that arrives at confirmation, after fixed, legacy-IT and
        capability running costs. The look-ahead starts where the posts start costing (a campaign
        late in a year whose recruits arrive next year plans on next year and the one after, as
        a campaign just after the year opens would) and runs past the horizon like any plan (the
        organisation does not know the run ends)."""
        committed_run = self.portfolio.committed_run_costs()
        legacy = 0.0 if self.operations.modernised else self.legacy_it_cost
        cost_fte_year = self.cost_fte_month * 12.0
        first = max(self.clock.year, int(arrives // 12.0))
        best = math.inf
        for y in range(first, first + self.planning_years):
            money = self.funding.planned_resource(y)
            posts = (money - self.fixed_costs - legacy - committed_run) / cost_fte_year
            best = min(best, posts)
        return max(0.0, best)

    def recruit(self, lead: float) -> None:
        """A recruitment campaign now (a regular cycle, or the freeze lifting): for the gap to the
        establishment, as far as this year's spare money pays the recruits to the year end."""
        if self.funding.frozen:
            return
        now = self.clock.now
        in_pipeline = 0.0
        for c in self.pipeline:
            in_pipeline += c.fte
        arrives = now + max(0.0, lead)
        gap = self.establishment(arrives) - (self.f_full + self.f_ramp + in_pipeline)
        year_end = self.clock.year_end()
        if arrives < year_end:
            spare = self.spare_resource(now, year_end)
            cost_each = self.cost_fte_month * decayed_span(self.h, year_end - arrives)
            gap = min(gap, spare / cost_each)
        if gap < MIN_COHORT_FTE:
            return
        cohort = Cohort(gap, arrives)
        self.pipeline.append(cohort)
        self.clock.at(cohort.arrives, lambda: self._arrive(cohort))

    def recruit_cycle(self, cycle: int) -> None:
        self.recruit(self.recruit_leads[cycle])

    def recruit_on_thaw(self) -> None:
        """The freeze has lifted: recruitment resumes at once, not at the next cycle."""
        self.recruit(self.thaw_leads[self.clock.year])

    def recruit_on_news(self) -> None:
        """Later years' money was confirmed: a campaign now for any gap it opens."""
        self.recruit(self.news_leads[self.clock.year])

    def _leave_pipeline(self, cohort: Cohort) -> None:
        """Take out the first cohort of the same size and arrival, as `list.remove` did when a
        cohort compared equal by value: what stays, in its order, is what sums run over."""
        pipeline = self.pipeline
        for i in range(len(pipeline)):
            other = pipeline[i]
            if other.fte == cohort.fte and other.arrives == cohort.arrives:
                del pipeline[i]
                return

    def _arrive(self, cohort: Cohort) -> None:
        self.run.settle()
        self._leave_pipeline(cohort)
        ramp = self.ramp_up_months
        if ramp <= 0:
            self.f_full += cohort.fte
        else:
            self.f_ramp += cohort.fte
            survivors = cohort.fte * math.exp(-self.h * ramp)
            self.clock.at(self.clock.now + ramp, lambda: self._ramped(survivors))
        self.run.commitments_changed()  # recruits are new commitments: less money for temporary staff

    def _ramped(self, fte: float) -> None:
        self.run.settle()
        moved = min(fte, self.f_ramp)
        self.f_ramp -= moved
        self.f_full += moved

    # ------------------------------------------------------------------ money commitments need

    def spare_resource(self, now: float, until: float) -> float:
        """Core resource money (and interim allowance) not already committed until `until`."""
        have = 0.0
        for s in self.funding.commit_streams:
            have += s.resource + s.authority if s.interim else s.resource
        return max(0.0, have - self.committed_resource(now, until))

    def committed_resource(self, now: float, until: float) -> float:
        """Resource money already committed from now to `until`: staff in post and arriving,
        fixed costs, legacy IT and capability running costs."""
        span = until - now
        staff = (self.f_full + self.f_ramp) * self.cost_fte_month * decayed_span(self.h, span)
        for c in self.pipeline:
            if c.arrives < until:
                staff += c.fte * self.cost_fte_month * decayed_span(self.h, until - c.arrives)
        ops = self.operations
        legacy = 0.0 if ops.modernised else self.legacy_it_cost
        fixed = (self.fixed_costs + legacy) / 12.0 + ops.run_cost_month
        return staff + fixed * span

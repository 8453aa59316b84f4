"""The SimPy model of one run, as components with one job each:

- `compiled`: a scenario laid out once for many runs (expected amounts, named draws);
- `clock`: the SimPy environment, the fiscal year, timed actions;
- `funding`: streams, settlements and their confirmation, tranches, interim allowances,
  carry-over and lapse, the planning freeze;
- `workforce`: staff in post, recruitment campaigns, the affordable establishment;
- `temporary`: temporary capacity bought with money commitments do not need;
- `portfolio`: capability projects contracted, re-profiled, paused, restarted and delivered;
- `operations`: productivity, the priority share, disruptions drawn;
- `ledger` and `payments`: integration between events, and which money pays what;
- `records`: output names and accumulators; `run`: the wiring and the calendar.

docs/model.md states every mechanism and its source. The engine does no I/O.
"""

from .compiled import CompiledProject, CompiledScenario, CompiledStream, compile_scenario
from .records import MONTH_OUTPUTS, RUN_OUTPUTS, YEAR_OUTPUTS, RunOutput
from .run import simulate

__all__ = [
    "MONTH_OUTPUTS", "RUN_OUTPUTS", "YEAR_OUTPUTS", "CompiledProject", "CompiledScenario",
    "CompiledStream", "RunOutput", "compile_scenario", "simulate",
]

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
- `records`: output names and accumulators; `run`: the wiring and the calendar;
- `chunk`: a chunk of runs in one call (draws, runs, output arrays).

The modules that run the event loop are compiled with mypyc where a build exists
(`simulator/native.py`); the plain modules are the fallback and give the same bits.

docs/model.md states every mechanism and its source. The engine does no I/O.
"""

import sys as _sys

from .. import native as _native

# The compiled modules, if a build matches the sources; else these same files, interpreted.
# (Before any submodule is imported: the imports below must find the build first.)
_native.activate(_sys.modules[__name__])

from .chunk import ChunkArrays, simulate, simulate_runs  # noqa: E402
from .compiled import (  # noqa: E402
    CompiledProject,
    CompiledScenario,
    CompiledStream,
    compile_scenario,
)
from .records import MONTH_OUTPUTS, RUN_OUTPUTS, YEAR_OUTPUTS, RunOutput  # noqa: E402

__all__ = [
    "MONTH_OUTPUTS", "RUN_OUTPUTS", "YEAR_OUTPUTS", "ChunkArrays", "CompiledProject",
    "CompiledScenario", "CompiledStream", "RunOutput", "compile_scenario", "simulate", "simulate_runs",
]

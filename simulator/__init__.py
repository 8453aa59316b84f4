"""fundsim: what the shape of funding does to what an organisation can deliver.

The Python API for notebooks and other tools:

    from simulator import load_scenario, run_once, run_batch, load_results
    scenario = load_scenario("scenarios/annual.toml")
    row = run_once(scenario, run=0, seed=1)
    results = run_batch(scenario, runs=1000, seed=1, workers=2)
    results.save("results/annual")
    same = load_results("results/annual")
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import FundsimError, ResultsError, ScenarioError, UsageError
from .memory import run_batch
from .results import BatchResults, load_results
from .runner import run_once
from .scenario import Scenario, load_scenario, scenario_from_dict

__all__ = [
    "BatchResults", "FundsimError", "ResultsError", "Scenario", "ScenarioError", "UsageError",
    "__version__", "load_results", "load_scenario", "run_batch", "run_once", "scenario_from_dict",
]

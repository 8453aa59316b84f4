"""Fingerprints of the model's outputs, to show a refactor changes no number.

`python tools/reference_outputs.py write FILE` stores, for every shipped scenario and a set of
variants that exercise each mechanism (tranches, pauses and remobilisation, thaw campaigns,
negative growth, interim allowances, emergency cover) and randomised ones, a sha256 of every output
array of every run. `check FILE` recomputes them, one run at a time and in chunks, and lists any
that differ. Used to check the split of the model into components (issue 8) and the compiled,
chunked model (issue 10) left every output bit-identical; tests/test_reference_outputs.py runs it
against tests/data/reference_outputs.json, the outputs of the model before issue 10.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from simulator.model import (
    MONTH_OUTPUTS,
    RUN_OUTPUTS,
    YEAR_OUTPUTS,
    CompiledScenario,
    RunOutput,
    compile_scenario,
    simulate,
    simulate_runs,
)
from simulator.scenario import Scenario, load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
RUNS = 120
SEED = 11
CHUNK = 37  # runs a chunk when checking the chunk path (not a divisor of RUNS: a short last chunk)


def variants() -> dict[str, Scenario]:
    shipped = {p.stem: load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.toml"))}
    annual, three = shipped["annual"], shipped["three_year"]
    core = "funding.streams.core."
    ext = "funding.streams.external."
    out = dict(shipped)
    out["carry_half"] = three.with_changes({core + "carry_over_within_settlement": 0.5,
                                            ext + "carry_over_within_settlement": 0.5,
                                            ext + "carry_over_across_settlements": 0.5})
    out["late_fixed_9"] = annual.with_changes(
        {core + "confirmation_delay_months": {"dist": "fixed", "value": 9.0}})
    out["early_fixed"] = annual.with_changes(
        {core + "confirmation_delay_months": {"dist": "fixed", "value": -1.0}})
    out["interim_half"] = annual.with_changes({"organisation.interim_fraction": 0.5})
    out["cover_low"] = annual.with_changes({"organisation.contract_cover": 0.1})
    out["cheap_it"] = annual.with_changes({"capabilities.it_modernisation.capex_m": 40.0})
    out["shrinking"] = three.with_changes({"funding.real_growth": -0.03})
    out["no_uplift"] = annual.with_changes({"workforce.attrition_uplift_unconfirmed": 0.0,
                                            "workforce.ramp_up_months": 0.0})
    out["two_year"] = annual.with_changes({core + "settlement_years": 2,
                                           "workforce.recruitment_interval_months": 1.5})
    out["uncertain_money"] = _uncertain(shipped["baseline"], {
        "funding.baseline_budget_m": {"dist": "triangular", "min": 640.0, "mode": 711.0, "max": 780.0},
        "capabilities.digital_forensics.capex_m": {"dist": "uniform", "min": 10.0, "max": 30.0},
        "organisation.contract_margin": {"dist": "uniform", "min": 0.0, "max": 0.3}})
    out.update(randomised(shipped))
    return out


def _uncertain(scenario: Scenario, more: dict[str, Any]) -> Scenario:
    """`scenario` with more fields drawn per run: here ones that change what a run's draws are
    made from (the money, a project's cost, the board's margin)."""
    data = scenario.to_dict()
    data["uncertain"] = {**data["uncertain"], **more}
    return scenario_from_dict(data, source=f"{scenario.name} (more uncertain)")


RANDOM_VARIANTS = 12


def randomised(shipped: dict[str, Scenario]) -> dict[str, Scenario]:
    """Scenarios drawn at random (a fixed seed, so the same every time): a shipped scenario with
    five to ten levers moved across their ranges together, reaching combinations no hand-picked
    variant does (tranches of core money, pauses under low cover, several late streams)."""
    rng = np.random.default_rng(2026)
    core = "funding.streams.core."
    ext = "funding.streams.external."

    def delay() -> dict[str, Any]:
        lo = float(rng.uniform(-8.0, 6.0))
        mode = lo + float(rng.uniform(0.0, 3.0))
        return {"dist": "triangular", "min": lo, "mode": mode, "max": mode + float(rng.uniform(0.5, 4.0))}

    moves: list[tuple[str, Callable[[], Any]]] = [
        ("funding.baseline_budget_m", lambda: float(rng.uniform(560.0, 860.0))),
        ("funding.real_growth", lambda: float(rng.uniform(-0.04, 0.04))),
        (core + "confirmation_delay_months", delay),
        (ext + "confirmation_delay_months", delay),
        (core + "settlement_years", lambda: int(rng.integers(1, 5))),
        (ext + "settlement_years", lambda: int(rng.integers(1, 4))),
        (core + "amount_volatility", lambda: float(rng.uniform(0.0, 0.2))),
        (core + "carry_over_within_settlement", lambda: float(rng.uniform(0.0, 1.0))),
        (core + "carry_over_across_settlements", lambda: float(rng.uniform(0.0, 0.3))),
        (ext + "tranches", lambda: int(rng.integers(1, 7))),
        (ext + "capital_share", lambda: float(rng.uniform(0.0, 0.3))),
        ("organisation.interim_fraction", lambda: float(rng.uniform(0.3, 1.0))),
        ("organisation.contract_cover", lambda: float(rng.uniform(0.0, 0.5))),
        ("organisation.minor_works_m_per_year", lambda: float(rng.uniform(0.0, 120.0))),
        ("organisation.fixed_costs_m_per_year", lambda: float(rng.uniform(120.0, 220.0))),
        ("organisation.late_spend_window_months", lambda: float(rng.uniform(0.0, 6.0))),
        ("organisation.temporary_capacity_max_fraction", lambda: float(rng.uniform(0.0, 0.3))),
        ("organisation.prudence_sd", lambda: float(rng.uniform(0.0, 2.0))),
        ("organisation.planning_years", lambda: int(rng.integers(1, 5))),
        ("workforce.attrition_per_year", lambda: float(rng.uniform(0.03, 0.15))),
        ("workforce.ramp_up_months", lambda: float(rng.uniform(0.0, 12.0))),
        ("workforce.recruitment_interval_months", lambda: float(rng.choice([1.0, 2.5, 3.0, 6.0]))),
        ("operations.legacy_decay_per_year", lambda: float(rng.uniform(0.0, 0.06))),
        ("capabilities.it_modernisation.capex_m", lambda: float(rng.uniform(30.0, 200.0))),
        ("capabilities.it_modernisation.remobilisation_months", lambda: float(rng.uniform(0.0, 6.0))),
    ]
    bases = ["annual", "three_year", "baseline", "three_year_early", "less_external"]
    out = {}
    for i in range(RANDOM_VARIANTS):
        base = shipped[bases[i % len(bases)]]
        chosen = rng.choice(len(moves), size=int(rng.integers(5, 11)), replace=False)
        changes = {moves[j][0]: moves[j][1]() for j in sorted(chosen)}
        if i % 2:
            changes["horizon.years"] = int(rng.integers(3, 11))
        out[f"random_{i:02d}"] = base.with_changes(changes)
    return out


def _digest(digests: dict[str, hashlib._Hash], output: RunOutput) -> None:
    for label, group in (("run", output.run), ("years", output.years), ("months", output.months)):
        for key in sorted(group):
            digest = digests.setdefault(f"{label}/{key}", hashlib.sha256())
            digest.update(repr(group[key]).encode() if isinstance(group[key], float)
                          else group[key].tobytes())


def _chunk_outputs(compiled: CompiledScenario, chunk: int) -> Iterator[RunOutput]:
    """Each run's outputs read from chunks of `chunk` runs, in the form `simulate` gives them."""
    for start in range(0, RUNS, chunk):
        arrays = simulate_runs(compiled, SEED, start, min(start + chunk, RUNS))
        for i in range(len(arrays.runs)):
            yield RunOutput(
                {k: float(arrays.runs[i, j]) for j, k in enumerate(RUN_OUTPUTS)},
                {k: np.ascontiguousarray(arrays.years[i, :, j]) for j, k in enumerate(YEAR_OUTPUTS)},
                {k: np.ascontiguousarray(arrays.months[i, :, j])
                 for j, k in enumerate(MONTH_OUTPUTS)})


def fingerprints(chunk: int | None = None) -> dict[str, dict[str, str]]:
    """Per scenario, one sha256 per output (run/<name>, years/<name>, months/<name>), so a change
    that only adds outputs can show that every existing one is unchanged. Runs are simulated one
    at a time (`simulate`), or, with `chunk`, that many at a time (`simulate_runs`)."""
    result = {}
    for name, scenario in variants().items():
        digests: dict[str, hashlib._Hash] = {}
        compiled = compile_scenario(scenario)
        outputs = (_chunk_outputs(compiled, chunk) if chunk else
                   (simulate(compiled, SEED, run) for run in range(RUNS)))
        for output in outputs:
            _digest(digests, output)
        result[name] = {key: d.hexdigest() for key, d in sorted(digests.items())}
    return result


def compare(stored: dict[str, dict[str, str]], now: dict[str, dict[str, str]], how: str) -> list[str]:
    """The scenarios whose stored outputs differ from `now`, printed with the outputs that do."""
    differ = []
    for name, outputs in stored.items():
        current = now.get(name, {})
        changed = [key for key in outputs if outputs[key] != current.get(key)]
        added = sorted(set(current) - set(outputs))
        if changed:
            differ.append(name)
            print(f"DIFFERS ({how}): {name}: {', '.join(changed)}")
        if added:
            print(f"new outputs in {name} (not compared): {', '.join(added)}")
    print(f"{how}: {len(stored) - len(differ)} of {len(stored)} scenarios bit-identical in every "
          "stored output")
    return differ


def main() -> int:
    command, file = sys.argv[1], Path(sys.argv[2])
    if command == "write":
        now = fingerprints()
        file.write_text(json.dumps(now, indent=1))
        print(f"wrote {len(now)} fingerprints to {file}")
        return 0
    stored = json.loads(file.read_text())
    differ = compare(stored, fingerprints(), "one run at a time")
    differ += compare(stored, fingerprints(chunk=CHUNK), f"chunks of {CHUNK} runs")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())

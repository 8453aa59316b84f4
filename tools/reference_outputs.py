"""Fingerprints of the model's outputs, to show a refactor changes no number.

`python tools/reference_outputs.py write FILE` stores, for every shipped scenario and a set of
variants that exercise each mechanism (tranches, pauses and remobilisation, thaw campaigns,
negative growth, interim allowances, emergency cover), a sha256 of every output array of every
run. `check FILE` recomputes them and lists any that differ. Used to check the split of the model
into components (issue 8) left every output bit-identical.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from simulator.model import compile_scenario, simulate
from simulator.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
RUNS = 120
SEED = 11


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
    return out


def fingerprints() -> dict[str, dict[str, str]]:
    """Per scenario, one sha256 per output (run/<name>, years/<name>, months/<name>), so a change
    that only adds outputs can show that every existing one is unchanged."""
    result = {}
    for name, scenario in variants().items():
        digests: dict[str, hashlib._Hash] = {}
        compiled = compile_scenario(scenario)
        for run in range(RUNS):
            output = simulate(compiled, SEED, run)
            for label, group in (("run", output.run), ("years", output.years),
                                 ("months", output.months)):
                for key in sorted(group):
                    digest = digests.setdefault(f"{label}/{key}", hashlib.sha256())
                    digest.update(repr(group[key]).encode() if isinstance(group[key], float)
                                  else group[key].tobytes())
        result[name] = {key: d.hexdigest() for key, d in sorted(digests.items())}
    return result


def main() -> int:
    command, file = sys.argv[1], Path(sys.argv[2])
    now = fingerprints()
    if command == "write":
        file.write_text(json.dumps(now, indent=1))
        print(f"wrote {len(now)} fingerprints to {file}")
        return 0
    stored = json.loads(file.read_text())
    differ = []
    for name, outputs in stored.items():
        current = now.get(name, {})
        changed = [key for key in outputs if outputs[key] != current.get(key)]
        added = sorted(set(current) - set(outputs))
        if changed:
            differ.append(name)
            print(f"DIFFERS: {name}: {', '.join(changed)}")
        if added:
            print(f"new outputs in {name} (not compared): {', '.join(added)}")
    print(f"{len(stored) - len(differ)} of {len(stored)} scenarios bit-identical in every stored output")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())

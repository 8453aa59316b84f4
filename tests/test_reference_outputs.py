"""The model gives, bit for bit, the outputs it gave before issue 10 made it faster: every shipped
scenario, the hand-made variants that exercise each mechanism and twelve randomised ones, 120 runs
each, one run at a time and in chunks (tools/reference_outputs.py; the fingerprints in
tests/data/reference_outputs.json were written by the model before the change). Run with the
compiled model when it is built (`make test` builds it) and, in a child process, with the plain one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STORED = ROOT / "tests" / "data" / "reference_outputs.json"
sys.path.insert(0, str(ROOT / "tools"))

import reference_outputs  # noqa: E402


@pytest.fixture(scope="module")
def stored() -> dict[str, dict[str, str]]:
    return json.loads(STORED.read_text())


@pytest.mark.slow
def test_the_model_in_use_gives_the_stored_bits_one_run_at_a_time(stored):
    assert reference_outputs.compare(stored, reference_outputs.fingerprints(), "one run") == []


@pytest.mark.slow
def test_the_model_in_use_gives_the_stored_bits_in_chunks(stored):
    now = reference_outputs.fingerprints(chunk=reference_outputs.CHUNK)
    assert reference_outputs.compare(stored, now, "chunks") == []


@pytest.mark.slow
def test_the_plain_python_model_gives_the_stored_bits_too():
    """The fallback a machine without a compiler runs: same files, interpreted."""
    env = {**os.environ, "FUNDSIM_MODEL": "python"}
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "reference_outputs.py"), "check",
                           str(STORED)], env=env, capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "27 of 27 scenarios bit-identical" in done.stdout

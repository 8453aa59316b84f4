"""The Monte Carlo runner: run_once is row i of a batch; results do not depend on workers or chunks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import UsageError, load_results, load_scenario, run_batch, run_once
from simulator.runner import chunk_bounds, simulate_chunk

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = load_scenario(ROOT / "scenarios" / "annual.toml")


def test_run_once_is_exactly_row_i_of_a_batch():
    batch = run_batch(ANNUAL, runs=12, seed=4, workers=1)
    for i in (0, 5, 11):
        row = run_once(ANNUAL, run=i, seed=4)
        expected = batch.runs.iloc[i].to_dict()
        assert row["run"] == i
        for key, value in row.items():
            assert value == pytest.approx(expected[key], rel=0, abs=0, nan_ok=True), key


@pytest.mark.parametrize("chunk_size", [1, 7, 40])
def test_results_do_not_depend_on_chunk_size(chunk_size):
    reference = run_batch(ANNUAL, runs=40, seed=2, workers=1, chunk_size=40)
    other = run_batch(ANNUAL, runs=40, seed=2, workers=1, chunk_size=chunk_size)
    pd.testing.assert_frame_equal(reference.runs, other.runs, check_exact=True)
    pd.testing.assert_frame_equal(reference.years, other.years, check_exact=True)
    pd.testing.assert_frame_equal(reference.bands, other.bands, check_exact=True)


def test_results_do_not_depend_on_the_number_of_workers():
    one = run_batch(ANNUAL, runs=30, seed=3, workers=1)
    two = run_batch(ANNUAL, runs=30, seed=3, workers=2, chunk_size=4)
    pd.testing.assert_frame_equal(one.runs, two.runs, check_exact=True)
    pd.testing.assert_frame_equal(one.years, two.years, check_exact=True)


def test_chunks_cover_every_run_once_in_order():
    bounds = chunk_bounds(23, 5)
    covered = np.concatenate([np.arange(a, b) for a, b in bounds])
    assert np.array_equal(covered, np.arange(23))
    chunk = simulate_chunk(ANNUAL, 1, 3, 6)
    assert chunk.runs.shape[0] == 3


def test_progress_callback_counts_every_run():
    seen = []
    run_batch(ANNUAL, runs=9, seed=1, workers=1, chunk_size=4, progress=seen.append)
    assert sum(seen) == 9


def test_every_shipped_scenario_runs():
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        results = run_batch(load_scenario(path), runs=3, seed=1, workers=1)
        assert len(results.runs) == 3
        assert (results.runs["disruptions_total"] > 0).all(), path.name


def test_a_batch_needs_at_least_one_run():
    with pytest.raises(UsageError, match=r"^runs = 0: must be 1 or more$"):
        run_batch(ANNUAL, runs=0, seed=1)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: run_batch(ANNUAL, runs=10, seed=-1, workers=1), "seed = -1: must be 0 or more"),
    (lambda: run_once(ANNUAL, run=0, seed=-1), "seed = -1: must be 0 or more"),
    (lambda: run_once(ANNUAL, run=-1, seed=1), "run = -1: must be 0 or more"),
    (lambda: run_once(ANNUAL, run="0", seed=1), "run = '0': must be a whole number"),
    (lambda: run_once(ANNUAL, run=0, seed=None), "seed = None: must be a whole number"),
    (lambda: run_batch(ANNUAL, runs=2.5, seed=1), "runs = 2.5: must be a whole number"),
    (lambda: run_batch(ANNUAL, runs="100", seed=1), "runs = '100': must be a whole number"),
    (lambda: run_batch(ANNUAL, runs=True, seed=1), "runs = True: must be a whole number"),
    (lambda: run_batch(ANNUAL, runs=10, seed=1, workers=0), "workers = 0: must be 1 or more"),
    (lambda: run_batch(ANNUAL, runs=10, seed=1, chunk_size=-2), "chunk_size = -2: must be 1"),
    (lambda: run_batch("scenarios/annual.toml", runs=10, seed=1), "scenario = 'scenarios/annual"
     ".toml': must be a Scenario; read a file with load_scenario(path)"),
    (lambda: load_scenario(None), "path = None: must be a path"),
    (lambda: load_scenario(123), "path = 123: must be a path"),
    (lambda: load_results(None), "folder = None: must be a path"),
])
def test_the_api_refuses_wrong_arguments_before_any_run(call, message):
    # a negative seed once looped for ever (a negative number split into 32-bit words); the rest
    # ended in tracebacks from pathlib, numpy or concurrent.futures
    with pytest.raises(UsageError, match=re.escape(message)):
        call()


def test_numpy_integers_are_whole_numbers_to_the_api():
    row = run_once(ANNUAL, run=np.int64(3), seed=np.uint32(1))
    assert row == run_once(ANNUAL, run=3, seed=1)


def test_common_random_numbers_narrow_the_paired_difference():
    """Paired differences between two scenarios vary far less than either scenario alone."""
    three = load_scenario(ROOT / "scenarios" / "three_year.toml")
    a = run_batch(ANNUAL, runs=60, seed=5, workers=1).runs["disruptions_total"]
    b = run_batch(three, runs=60, seed=5, workers=1).runs["disruptions_total"]
    b_other_seed = run_batch(three, runs=60, seed=6, workers=1).runs["disruptions_total"]
    assert (b - a).var() < (b_other_seed - a).var()


_REFERENCE = None


@settings(max_examples=10, deadline=None)
@given(chunk_size=st.integers(1, 25), first=st.integers(0, 19))
def test_any_chunking_reproduces_any_run_exactly(chunk_size, first):
    global _REFERENCE
    if _REFERENCE is None:
        _REFERENCE = simulate_chunk(ANNUAL, 6, 0, 20).runs
    chunks = [simulate_chunk(ANNUAL, 6, a, b) for a, b in chunk_bounds(20, chunk_size, first)]
    got = np.concatenate([c.runs for c in chunks])
    assert np.array_equal(got, _REFERENCE[first:], equal_nan=True)

"""Keyed random numbers: uniform, independent of registration order, different per run."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from simulator.rng import DrawCatalogue, name_key


def _catalogue(*groups: tuple[str, int]) -> DrawCatalogue:
    cat = DrawCatalogue()
    for group, n in groups:
        cat.add(group, (str(i) for i in range(n)))
    return cat


def test_uniforms_are_uniform_on_the_open_unit_interval():
    cat = _catalogue(("a", 1000))
    u = np.concatenate([cat.uniforms(seed=5, run=r) for r in range(100)])
    assert u.min() > 0.0 and u.max() < 1.0
    # Kolmogorov-Smirnov at the 0.1% level: critical D = 1.949 / sqrt(n).
    d = stats.kstest(u, "uniform").statistic
    assert d < 1.949 / math.sqrt(u.size)


def test_consecutive_draws_are_uncorrelated():
    cat = _catalogue(("a", 2000))
    u = np.concatenate([cat.uniforms(seed=9, run=r) for r in range(20)])
    r = np.corrcoef(u[:-1], u[1:])[0, 1]
    assert abs(r) < 4 / math.sqrt(u.size)


def test_a_draw_depends_on_its_name_not_on_what_else_is_registered():
    alone = _catalogue(("delay/core", 6))
    crowded = _catalogue(("amount/core", 6), ("tranche/external", 18), ("delay/core", 6))
    a = alone.uniforms(1, 3)[alone.slice("delay/core")]
    b = crowded.uniforms(1, 3)[crowded.slice("delay/core")]
    assert np.array_equal(a, b)


def test_runs_and_seeds_get_different_numbers():
    cat = _catalogue(("a", 50))
    assert not np.array_equal(cat.uniforms(1, 0), cat.uniforms(1, 1))
    assert not np.array_equal(cat.uniforms(1, 0), cat.uniforms(2, 0))
    assert np.array_equal(cat.uniforms(1, 0), cat.uniforms(1, 0))


def test_name_keys_are_stable_across_processes():
    # blake2b, not Python's salted hash(): a fixed value proves it.
    assert name_key("amount/core/0") == name_key("amount/core/0")
    assert name_key("amount/core/0") != name_key("amount/core/1")
    assert isinstance(name_key("x"), int) and 0 <= name_key("x") < 2**64


def test_the_largest_hash_still_gives_a_uniform_below_one():
    from simulator import rng

    top = np.array([np.iinfo(np.uint64).max], dtype=np.uint64)
    u = ((top >> rng._S12).astype(np.float64) + 0.5) * rng._TO_UNIT
    assert 0.0 < u[0] < 1.0


def test_uniforms_for_a_chunk_are_each_runs_uniforms():
    cat = _catalogue(("a", 7), ("b", 3))
    chunk = cat.uniforms_many(seed=4, start=10, stop=15)
    for i, run in enumerate(range(10, 15)):
        assert chunk[i].tobytes() == cat.uniforms(seed=4, run=run).tobytes()


def test_run_keys_are_numpys_seed_sequence_keys():
    """The vectorised hash is SeedSequence's, for small, large and many-word seeds."""
    from simulator.rng import run_key, run_keys

    for seed in (0, 1, 11, 2**32 - 1, 2**32, 2**40 + 5, 123456789012345678901234567890):
        for start, stop in ((0, 50), (2**31 - 3, 2**31 + 3), (2**32 - 4, 2**32 + 2)):
            expected = np.array([run_key(seed, r) for r in range(start, stop)], dtype=np.uint64)
            assert run_keys(seed, start, stop).tobytes() == expected.tobytes(), (seed, start)

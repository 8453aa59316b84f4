"""The certified Poisson counts (`model/counts.py`) are `poisson_ppf`'s counts, bit for bit: on
random draws over the whole range of means, on uniforms placed exactly at the CDF's steps (where
the summed probabilities cannot decide and `poisson_ppf` must), and on the edge cases it leaves to
`poisson_ppf` (means of 0, above `LARGEST_MEAN`, infinite; uniforms of 0)."""

from __future__ import annotations

import numpy as np
from scipy import special

from simulator.distributions import poisson_ppf
from simulator.model import chunk
from simulator.model.counts import LARGEST_MEAN, certified_counts


def _log_uniform_means(rng: np.random.Generator, size: int, lo: float, hi: float) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def test_certified_counts_are_the_exact_quantiles_where_they_decide() -> None:
    rng = np.random.default_rng(20261123)
    u = rng.random(60_000)
    mean = _log_uniform_means(rng, u.size, 1e-3, LARGEST_MEAN)
    counts, undecided = certified_counts(u.tolist(), mean.tolist())
    counts = np.array(counts)
    decided = np.ones(u.size, dtype=bool)
    decided[undecided] = False
    assert decided.sum() > 0.999 * u.size  # random uniforms are almost never within the margin
    assert np.array_equal(counts[decided], poisson_ppf(u[decided], mean[decided]))
    assert np.all(counts[~decided] == -1.0)


def test_uniforms_at_the_cdf_steps_are_left_to_the_exact_quantile() -> None:
    """u equal to CDF(k) (and one float either side) is where an approximate sum could pick the
    wrong k: every such u must be undecided or decided exactly as `poisson_ppf` decides it."""
    rng = np.random.default_rng(7)
    mean = _log_uniform_means(rng, 20_000, 0.5, 300.0)
    k = np.floor(rng.uniform(0.5, 1.5, mean.size) * mean)
    at_step = special.pdtr(k, mean)
    for u in (at_step, np.nextafter(at_step, 0.0), np.nextafter(at_step, 1.0)):
        inside = (u > 0) & (u < 1)
        counts, undecided = certified_counts(u[inside].tolist(), mean[inside].tolist())
        assert len(undecided) > 0.99 * inside.sum()  # the margin catches them
        merged = np.array(counts)
        merged[undecided] = poisson_ppf(u[inside][undecided], mean[inside][undecided])
        assert np.array_equal(merged, poisson_ppf(u[inside], mean[inside]))


def test_edge_cases_are_left_to_the_exact_quantile() -> None:
    u = [0.0, 0.5, 0.5, 0.5, 0.3, 1e-300]
    mean = [5.0, 0.0, LARGEST_MEAN * 1.5, float("inf"), 1e-9, 2.0]
    counts, undecided = certified_counts(u, mean)
    assert undecided[:4] == [0, 1, 2, 3]
    assert counts[4] == poisson_ppf(np.array([0.3]), np.array([1e-9]))[0]


def test_a_chunks_counts_equal_poisson_ppf() -> None:
    """What `_assemble` uses: certified counts in the compiled model, `poisson_ppf` in plain."""
    rng = np.random.default_rng(3)
    u = rng.random((40, 144))
    mean = rng.uniform(0.0, 200.0, (40, 144))
    mean[0, :5] = [0.0, np.inf, 700.0, 1e-12, 650.0]
    u[1, :3] = [2.0**-53, 1e-300, 1.0 - 2.0**-53]
    got = chunk._poisson_counts(u, mean.ravel().tolist())
    assert got.shape == u.shape
    assert np.array_equal(got, poisson_ppf(u, mean))

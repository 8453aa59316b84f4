"""Distributions: quantile functions and means against scipy.stats, monotone in u (what common
random numbers rely on), and the fast Poisson inverse against scipy's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy import stats

from simulator.distributions import Fixed, Lognormal, Pert, Triangular, Uniform, poisson_ppf

U_GRID = (0.0, 1e-12, 1e-6, 0.001, 0.05, 0.25, 0.5, 0.75, 0.95, 0.999, 1 - 1e-6, 1 - 1e-12, 1.0)


def _pert_reference(lo: float, mode: float, hi: float):
    width = hi - lo
    a = 1 + 4 * (mode - lo) / width
    b = 1 + 4 * (hi - mode) / width
    return stats.beta(a, b, loc=lo, scale=width)


CASES = {
    "uniform": (Uniform(dist="uniform", min=2.0, max=7.0), stats.uniform(loc=2.0, scale=5.0)),
    "uniform_negative": (Uniform(dist="uniform", min=-8.0, max=-4.0), stats.uniform(loc=-8.0, scale=4.0)),
    "triangular": (Triangular(dist="triangular", min=-2.0, mode=1.0, max=4.0),
                   stats.triang(c=0.5, loc=-2.0, scale=6.0)),
    "triangular_skewed": (Triangular(dist="triangular", min=9.0, mode=15.0, max=24.0),
                          stats.triang(c=6 / 15, loc=9.0, scale=15.0)),
    "triangular_mode_at_min": (Triangular(dist="triangular", min=0.0, mode=0.0, max=10.0),
                               stats.triang(c=0.0, loc=0.0, scale=10.0)),
    "triangular_mode_at_max": (Triangular(dist="triangular", min=0.0, mode=10.0, max=10.0),
                               stats.triang(c=1.0, loc=0.0, scale=10.0)),
    "pert": (Pert(dist="pert", min=24.0, mode=36.0, max=60.0), _pert_reference(24.0, 36.0, 60.0)),
    "pert_symmetric": (Pert(dist="pert", min=-1.0, mode=0.0, max=1.0), _pert_reference(-1.0, 0.0, 1.0)),
    "pert_mode_at_min": (Pert(dist="pert", min=3.0, mode=3.0, max=9.0), _pert_reference(3.0, 3.0, 9.0)),
    "lognormal": (Lognormal(dist="lognormal", median=6.0, sigma=0.5), stats.lognorm(s=0.5, scale=6.0)),
    "lognormal_wide": (Lognormal(dist="lognormal", median=0.3, sigma=2.0), stats.lognorm(s=2.0, scale=0.3)),
}


@pytest.mark.parametrize(("dist", "reference"), CASES.values(), ids=CASES.keys())
def test_ppf_matches_scipy_at_the_median(dist, reference):
    assert dist.ppf(0.5) == pytest.approx(reference.ppf(0.5), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("dist", "reference"), CASES.values(), ids=CASES.keys())
def test_ppf_matches_scipy_across_u_including_the_extremes(dist, reference):
    ours = np.array([dist.ppf(u) for u in U_GRID])
    np.testing.assert_allclose(ours, reference.ppf(U_GRID), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("dist", "reference"), CASES.values(), ids=CASES.keys())
def test_mean_matches_scipy(dist, reference):
    assert dist.mean() == pytest.approx(reference.mean(), rel=1e-12)


@pytest.mark.parametrize(("dist", "reference"), CASES.values(), ids=CASES.keys())
def test_ppf_stays_inside_the_support(dist, reference):
    lo, hi = dist.support()
    assert (lo, hi) == tuple(reference.support())
    values = np.array([dist.ppf(u) for u in np.linspace(0, 1, 101)])
    assert np.all((values >= lo) & (values <= hi))


@pytest.mark.parametrize(("dist", "reference"), CASES.values(), ids=CASES.keys())
def test_ppf_is_monotone_non_decreasing_on_a_fine_grid(dist, reference):
    values = np.array([dist.ppf(u) for u in np.linspace(0, 1, 4001)])
    assert np.all(np.diff(values) >= 0)


def test_fixed_gives_its_value_everywhere():
    d = Fixed(dist="fixed", value=3.0)
    assert [d.ppf(u) for u in U_GRID] == [3.0] * len(U_GRID)
    assert d.mean() == 3.0
    assert d.support() == (3.0, 3.0)


def test_lognormal_with_zero_sigma_is_its_median():
    d = Lognormal(dist="lognormal", median=4.0, sigma=0.0)
    assert d.ppf(0.01) == d.ppf(0.99) == d.mean() == 4.0
    assert d.support() == (4.0, 4.0)


def test_lognormal_with_zero_sigma_is_its_median_at_the_extremes_of_u():
    d = Lognormal(dist="lognormal", median=4.0, sigma=0.0)
    assert d.ppf(0.0) == d.ppf(1.0) == 4.0


# scenario-scale parameters (months and £m to a tenth); subnormal ones only probe float rounding
_lo = st.integers(-1200, 1200).map(lambda n: n / 10)
_width = st.integers(1, 1200).map(lambda n: n / 10)
_frac = st.floats(0, 1)
# the model's uniforms are never below 2**-54; scipy's betaincinv itself gives nan below about 1e-100
_u = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(2.0**-54, 1.0))


@st.composite
def three_point(draw, kind: str):
    lo, width, frac = draw(_lo), draw(_width), draw(_frac)
    hi = lo + width
    mode = min(max(lo + frac * width, lo), hi)
    cls = Triangular if kind == "triangular" else Pert
    return cls(dist=kind, min=lo, mode=mode, max=hi)


any_distribution = st.one_of(
    three_point("triangular"),
    three_point("pert"),
    st.builds(lambda lo, w: Uniform(dist="uniform", min=lo, max=lo + w), _lo, _width),
    st.builds(lambda m, s: Lognormal(dist="lognormal", median=m, sigma=s),
              st.floats(1e-3, 1e3), st.floats(1e-6, 5)),  # sigma = 0 is tested at the extremes above
)


@settings(max_examples=400, deadline=None)
@given(any_distribution, _u, _u)
def test_ppf_is_monotone_non_decreasing_in_u(dist, u1, u2):
    lo_u, hi_u = sorted((u1, u2))
    assert dist.ppf(lo_u) <= dist.ppf(hi_u)


@pytest.mark.parametrize(("kind", "fields", "message"), [
    ("uniform", {"min": 5.0, "max": 1.0}, r"min \(5\.0\) must be below max \(1\.0\)"),
    ("triangular", {"min": 1.0, "mode": 0.0, "max": 2.0},
     r"mode \(0\.0\) must lie between min \(1\.0\) and max \(2\.0\)"),
    ("pert", {"min": 2.0, "mode": 2.0, "max": 2.0}, r'use dist = "fixed" for one value'),
])
def test_unordered_parameters_are_refused(kind, fields, message):
    cls = {"uniform": Uniform, "triangular": Triangular, "pert": Pert}[kind]
    with pytest.raises(ValidationError, match=message):
        cls(dist=kind, **fields)


# --------------------------------------------------------------------------- Poisson

POISSON_MEANS = (0.0, 1e-4, 0.1, 0.5, 1.0, 3.7, 10.0, 42.5, 183.3, 1000.0)


@pytest.mark.parametrize("mean", POISSON_MEANS)
def test_poisson_ppf_equals_scipy_on_a_grid_of_u(mean):
    u = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 2001), np.random.default_rng(3).random(2000)])
    u = u[u > 0]
    expected = stats.poisson.ppf(u, mean)
    np.testing.assert_array_equal(poisson_ppf(u, np.full_like(u, mean)), expected)


@pytest.mark.parametrize("mean", [m for m in POISSON_MEANS if m > 0])
def test_poisson_ppf_at_exact_cdf_values_gives_that_count(mean):
    ks = np.arange(0, int(mean + 6 * np.sqrt(mean) + 5))
    u = stats.poisson.cdf(ks, mean)
    u = u[(u > 0) & (u < 1 - 1e-12)]  # leave out u the float CDF cannot tell apart from 1
    np.testing.assert_array_equal(poisson_ppf(u, np.full_like(u, mean)), stats.poisson.ppf(u, mean))


def test_poisson_ppf_with_mixed_means_in_one_call():
    rng = np.random.default_rng(11)
    u = rng.random(5000)
    mean = rng.choice(np.array(POISSON_MEANS), size=u.size)
    np.testing.assert_array_equal(poisson_ppf(u, mean), stats.poisson.ppf(u, mean))


def test_poisson_ppf_of_mean_zero_is_zero():
    u = np.array([1e-9, 0.3, 0.5, 0.999999])
    np.testing.assert_array_equal(poisson_ppf(u, np.zeros_like(u)), np.zeros(4))
    np.testing.assert_array_equal(stats.poisson.ppf(u, 0.0), np.zeros(4))


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-9, 1 - 1e-9), st.floats(1e-9, 1 - 1e-9), st.floats(0, 500), st.floats(0, 500))
def test_poisson_ppf_is_monotone_in_u_and_in_the_mean(u1, u2, m1, m2):
    (ua, ub), (ma, mb) = sorted((u1, u2)), sorted((m1, m2))
    at = lambda u, m: float(poisson_ppf(np.array([u]), np.array([m]))[0])  # noqa: E731
    assert at(ua, ma) <= at(ub, ma)
    assert at(ua, ma) <= at(ua, mb)


@settings(max_examples=300, deadline=None)
@given(any_distribution, st.lists(_u, min_size=1, max_size=20))
def test_ppf_array_is_ppf_bit_for_bit(dist, us):
    """A chunk's draws (`ppf_array`) are each run's draws (`ppf`), to the last bit: the compiled
    and chunked model's outputs rest on it."""
    one_at_a_time = np.array([dist.ppf(u) for u in us])
    at_once = dist.ppf_array(np.array(us))
    assert one_at_a_time.tobytes() == np.asarray(at_once, dtype=float).tobytes()


def test_poisson_ppf_gives_the_same_counts_in_any_shape():
    """A chunk's Poisson counts do not depend on the chunk: a (runs, months) array gives each
    run's counts."""
    rng = np.random.default_rng(3)
    u, mean = rng.random((7, 30)), rng.uniform(0, 300, (7, 30))
    rows = np.array([poisson_ppf(u[i], mean[i]) for i in range(7)])
    np.testing.assert_array_equal(poisson_ppf(u, mean), rows)


def test_poisson_ppf_of_an_infinite_mean_is_infinite():
    assert poisson_ppf(np.array([0.5]), np.array([np.inf]))[0] == np.inf

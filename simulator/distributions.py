"""Distributions a scenario file can name, sampled by inverse CDF from one uniform each.

Why inverse CDF: common random numbers. A draw is keyed by what it is about (a stream's delay for
a year, a project's lead time) and turned into a value through the distribution's quantile
function, so when a planner changes the distribution between two scenarios the same uniform maps to
the corresponding quantile: the draws stay monotonically coupled and the paired difference carries
the policy's effect, not re-shuffled noise. The quantile functions use `scipy.special` directly
(the frozen `scipy.stats` objects cost tens of microseconds a call, more than a whole run's budget).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import special

_CONFIG = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class _Dist(BaseModel):
    model_config = _CONFIG

    def support(self) -> tuple[float, float]:
        raise NotImplementedError

    def ppf(self, u: float) -> float:
        raise NotImplementedError

    def ppf_array(self, u: np.ndarray) -> np.ndarray:
        """`ppf` of every uniform in an array, bit for bit what `ppf` gives one at a time (the
        same IEEE operations element by element), for a chunk of runs in one call."""
        raise NotImplementedError

    def mean(self) -> float:
        raise NotImplementedError


class Fixed(_Dist):
    """Always the same value: `{ dist = "fixed", value = 3 }`."""

    dist: Literal["fixed"]
    value: float

    def support(self) -> tuple[float, float]:
        return (self.value, self.value)

    def ppf(self, u: float) -> float:
        return self.value

    def ppf_array(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), self.value)

    def mean(self) -> float:
        return self.value


def _check_order(lo: float, hi: float, mode: float | None = None) -> None:
    if not lo < hi:
        raise ValueError(f"min ({lo}) must be below max ({hi}); use dist = \"fixed\" for one value")
    if mode is not None and not lo <= mode <= hi:
        raise ValueError(f"mode ({mode}) must lie between min ({lo}) and max ({hi})")


class Uniform(_Dist):
    """Every value in [min, max] equally likely."""

    dist: Literal["uniform"]
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        _check_order(self.min, self.max)
        return self

    def support(self) -> tuple[float, float]:
        return (self.min, self.max)

    def ppf(self, u: float) -> float:
        return self.min + u * (self.max - self.min)

    def ppf_array(self, u: np.ndarray) -> np.ndarray:
        return self.min + u * (self.max - self.min)

    def mean(self) -> float:
        return 0.5 * (self.min + self.max)


class Triangular(_Dist):
    """Three-point estimate (min, most likely, max) with straight-line density."""

    dist: Literal["triangular"]
    min: float
    mode: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        _check_order(self.min, self.max, self.mode)
        return self

    def support(self) -> tuple[float, float]:
        return (self.min, self.max)

    def ppf(self, u: float) -> float:
        lo, mo, hi = self.min, self.mode, self.max
        width = hi - lo
        if u * width < mo - lo:
            return lo + math.sqrt(u * width * (mo - lo))
        return hi - math.sqrt((1.0 - u) * width * (hi - mo))

    def ppf_array(self, u: np.ndarray) -> np.ndarray:
        lo, mo, hi = self.min, self.mode, self.max
        width = hi - lo
        with np.errstate(invalid="ignore"):  # each branch is computed everywhere, used where valid
            low = lo + np.sqrt(u * width * (mo - lo))
            high = hi - np.sqrt((1.0 - u) * width * (hi - mo))
        return np.where(u * width < mo - lo, low, high)

    def mean(self) -> float:
        return (self.min + self.mode + self.max) / 3.0


class Pert(_Dist):
    """PERT (beta) three-point estimate: smoother tails than triangular, mean (min+4 mode+max)/6."""

    dist: Literal["pert"]
    min: float
    mode: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Pert:
        _check_order(self.min, self.max, self.mode)
        return self

    def _shape(self) -> tuple[float, float]:
        width = self.max - self.min
        return (1.0 + 4.0 * (self.mode - self.min) / width, 1.0 + 4.0 * (self.max - self.mode) / width)

    def support(self) -> tuple[float, float]:
        return (self.min, self.max)

    def ppf(self, u: float) -> float:
        a, b = self._shape()
        return self.min + (self.max - self.min) * float(special.betaincinv(a, b, u))

    def ppf_array(self, u: np.ndarray) -> np.ndarray:
        a, b = self._shape()
        return self.min + (self.max - self.min) * special.betaincinv(a, b, u)

    def mean(self) -> float:
        return (self.min + 4.0 * self.mode + self.max) / 6.0


class Lognormal(_Dist):
    """Right-skewed positive quantity given by its median and the sigma of its logarithm."""

    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(ge=0, le=5)

    def support(self) -> tuple[float, float]:
        return (0.0, math.inf) if self.sigma > 0 else (self.median, self.median)

    def ppf(self, u: float) -> float:
        if self.sigma == 0:
            return self.median
        return self.median * math.exp(self.sigma * float(special.ndtri(u)))

    def ppf_array(self, u: np.ndarray) -> np.ndarray:
        if self.sigma == 0:
            return np.full(np.shape(u), self.median)
        # math.exp, not np.exp: numpy's vectorised exp may round differently from the C library's.
        z = special.ndtri(u)
        return np.array([self.median * math.exp(self.sigma * x) for x in z.ravel().tolist()],
                        dtype=float).reshape(np.shape(u))

    def mean(self) -> float:
        return self.median * math.exp(0.5 * self.sigma**2)


Distribution = Annotated[
    Fixed | Uniform | Triangular | Pert | Lognormal, Field(discriminator="dist")
]
DIST_KINDS = ("fixed", "uniform", "triangular", "pert", "lognormal")


STEPS = 10_000
"""Most steps `poisson_ppf` takes from its start (it needs about one)."""


def poisson_ppf(u: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Poisson quantiles for arrays of uniforms and means (the smallest k with CDF(k) >= u).

    One uniform per count keeps disruption draws keyed by month: a larger mean gives a count at
    least as large from the same uniform, the strongest coupling common random numbers allow.
    The answer is exactly `scipy.stats.poisson.ppf(u, mean)`: it starts from the Cornish-Fisher
    expansion with a continuity correction (right for nearly every entry) and certifies it with the
    exact CDF (`scipy.special.pdtr`): CDF(k) >= u, then CDF(k - 1) < u, stepping only the entries
    that fail, so most entries cost two CDF evaluations. That is several times faster than
    inverting the CDF numerically (`pdtrik`), and the answer does not depend on the start.
    """
    u = np.asarray(u, dtype=float)
    mean = np.asarray(mean, dtype=float)
    shape = np.broadcast_shapes(u.shape, mean.shape)
    q_all = np.broadcast_to(u, shape).ravel()
    m_all = np.broadcast_to(mean, shape).ravel()
    k_all = np.where(m_all == np.inf, np.inf, 0.0)
    at = np.flatnonzero((m_all > 0) & np.isfinite(m_all))
    m, q = m_all[at], q_all[at]
    z = special.ndtri(q)
    k = np.maximum(np.ceil(m + np.sqrt(m) * z + (z * z - 1.0) / 6.0 - 0.5), 0.0)
    below = special.pdtr(k, m) < q
    rising = np.flatnonzero(below)  # CDF(k) < u: step up until it is not
    # At most STEPS steps: past 2**53 a count cannot step by one (the run's outputs are refused
    # there anyway, as counts too large to store exactly).
    for _ in range(STEPS):
        if not rising.size:
            break
        k[rising] += 1.0
        rising = rising[special.pdtr(k[rising], m[rising]) < q[rising]]
    falling = np.flatnonzero(~below & (k > 0))  # CDF(k) >= u: step down while CDF(k - 1) is too
    for _ in range(STEPS):
        if not falling.size:
            break
        falling = falling[special.pdtr(k[falling] - 1.0, m[falling]) >= q[falling]]
        k[falling] -= 1.0
        falling = falling[k[falling] > 0]
    k_all[at] = k
    return k_all.reshape(shape)

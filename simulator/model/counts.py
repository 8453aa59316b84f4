"""Poisson counts of a chunk's months, certified against the exact quantile.

`distributions.poisson_ppf` defines every count: the smallest k with `scipy.special.pdtr(k, mean)
>= u`. It evaluates that CDF (a regularised incomplete gamma function, about 150 ns) twice per
count, which was a tenth of a compiled run. Compiled, summing the Poisson probabilities
exp(-mean) * mean**j / j! up from j = 0 until they reach u costs a few ns a term, and the k it
stops at is that same count whenever the sum is clearly on one side of u at both k - 1 and k.

Why the answer is the same bits: the sum's relative error after k terms is below 3 (k + 2)
rounding units (one for `exp`, two per term for the running product, one per addition), under
2e-12 for the 5,000 terms allowed; `pdtr`'s is of the order of 1e-14. So where the sum is more
than `MARGIN` (relative to u) away from u at the last two steps, `pdtr` is on the same side at
both, and the count is exactly `poisson_ppf`'s. Anything else (a sum within the margin of u, a
mean outside (0, `LARGEST_MEAN`], a count past `MOST_TERMS`, u of 0) is left to `poisson_ppf`
(the caller does that), so no count ever depends on this approximation.
tests/test_counts.py checks both on millions of draws, including uniforms placed right at the
CDF's steps.

Only the compiled build uses this (see `chunk.py`): as plain Python the loop is slower than the
two vectorised CDF calls it replaces.
"""

from __future__ import annotations

import math
from typing import Final

MARGIN: Final = 1e-10
"""How far (relative to u) the sum must be from u to decide a step without the exact CDF."""
LARGEST_MEAN: Final = 600.0
"""exp(-mean) stays a normal float (well above 1e-308) up to here. (`Final`: mypyc puts the
constants in the code rather than looking them up in the module each time round the loop.)"""
MOST_TERMS: Final = 5000.0


def certified_counts(u: list[float], mean: list[float]) -> tuple[list[float], list[int]]:
    """The Poisson count of each (u, mean) pair, and the indices it could not certify (their
    entry in the counts is -1.0, to be replaced by `poisson_ppf`)."""
    counts: list[float] = []
    undecided: list[int] = []
    for i in range(len(u)):
        k = _count(u[i], mean[i])
        if k < 0.0:
            undecided.append(i)
        counts.append(k)
    return counts, undecided


def _count(q: float, m: float) -> float:
    """The smallest k whose Poisson(m) CDF reaches q, or -1.0 where the sum cannot decide."""
    if not (0.0 < q < 1.0) or not (0.0 < m <= LARGEST_MEAN):
        return -1.0
    tolerance = MARGIN * q
    term = math.exp(-m)
    total = term
    j = 0.0
    while total < q - tolerance:
        j += 1.0
        if j > MOST_TERMS:
            return -1.0
        term *= m / j  # m / j does not wait for the previous term: the loop is a multiply long
        total += term
    if total <= q + tolerance:
        return -1.0
    return j

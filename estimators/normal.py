"""Standard normal quantile and upper tail without importing scipy.

`scipy.stats.norm.ppf`/`.sf` are Cephes' `ndtri(q)` and `ndtr(-x)`, but importing
`scipy.stats` costs 1-2 s of process start-up and `scipy.special` about 0.3 s, most of
`engagement-eval estimate`'s fixed cost on small and medium panels. The quantile here is
Wichura's AS 241 (`statistics.NormalDist.inv_cdf`, relative error about 1e-16) and the tail
is Cephes' `ndtr` branch structure on `math.erf`/`math.erfc`; both agree with scipy to a few
units in the last place (tests/estimators/test_cs_fast_paths.py).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

_STANDARD = NormalDist()
_SQRT1_2 = math.sqrt(0.5)


def norm_ppf(q):
    """Standard normal quantile (as `scipy.stats.norm.ppf`); NaN outside (0, 1)."""
    if np.ndim(q) == 0:
        return _ppf_scalar(float(q))
    return np.vectorize(_ppf_scalar, otypes=[float])(np.asarray(q, dtype=float))


def _ppf_scalar(q: float) -> float:
    if q == 0.0:
        return -math.inf
    if q == 1.0:
        return math.inf
    if not 0.0 < q < 1.0:  # also NaN
        return math.nan
    return _STANDARD.inv_cdf(q)


def _ndtr(a: float) -> float:
    """Cephes `ndtr`: P(Z <= a)."""
    if math.isnan(a):
        return math.nan
    x = a * _SQRT1_2
    z = abs(x)
    if z < _SQRT1_2:
        return 0.5 + 0.5 * math.erf(x)
    y = 0.5 * math.erfc(z)
    return 1.0 - y if x > 0 else y


def norm_sf(x):
    """Standard normal upper tail P(Z > x) (as `scipy.stats.norm.sf`)."""
    if np.ndim(x) == 0:
        return _ndtr(-float(x))
    return np.vectorize(lambda v: _ndtr(-v), otypes=[float])(np.asarray(x, dtype=float))

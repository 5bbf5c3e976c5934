"""Standard normal quantile and tail probability from `scipy.special`.

`scipy.stats.norm.ppf` and `.sf` are these same functions (`ndtri(q)` and `ndtr(-x)`) behind
the distribution machinery, but importing `scipy.stats` costs 1-2 s of process start-up,
which dominated `engagement-eval estimate` on small and medium panels. The CS estimator's
path imports only this module.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri


def norm_ppf(q):
    """Standard normal quantile (as `scipy.stats.norm.ppf`)."""
    return ndtri(q)


def norm_sf(x):
    """Standard normal upper tail P(Z > x) (as `scipy.stats.norm.sf`)."""
    return ndtr(-np.asarray(x, dtype=float))

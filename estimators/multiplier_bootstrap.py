"""Multiplier bootstrap over influence functions, with sup-t uniform confidence bands.

Follows R `did::mboot`: each draw is ``mean_i(v_i * psi_i)`` with i.i.d. mean-zero, unit-variance
multipliers `v`; the bootstrap standard error is the interquartile range of the draws divided by
``qnorm(.75) - qnorm(.25)``; the uniform band's critical value is the (1 - alpha) quantile
(type 1, as R) of ``max_k |draw_k / se_k|`` over the estimates. R `did` >= 2.1 draws Rademacher
multipliers (its C++ `multiplier_bootstrap`); Mammen's two-point weights are offered as well.

Clustering above the unit multiplies whole clusters by one draw. We use cluster *sums* of the
influence function (the Liang-Zeger form that matches the analytic cluster-robust variance);
R `did` uses cluster means scaled by the number of clusters, which is the same number when
clusters have equal size and slightly different otherwise.

One `MultiplierDraws` object is made per fit and replays the same multipliers (from a saved
generator state) for every quantity, so ATT(g,t) bands and all aggregations share draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from estimators.normal import norm_ppf

IQR_TO_SD = norm_ppf(0.75) - norm_ppf(0.25)
DEGENERATE_SE = math.sqrt(np.finfo(float).eps) * 10
_CHUNK_CELLS = 4_000_000  # multipliers generated per chunk (rows x clusters)
_CACHE_CELLS = 60_000_000  # keep the multiplier matrix in memory up to ~480 MB


def cluster_sums(inf_func: np.ndarray, cluster_codes: np.ndarray | None, n_clusters: int):
    """Sum unit influence functions within clusters (identity when clustering at the unit)."""
    if cluster_codes is None:
        return inf_func
    from scipy import sparse  # only clustered fits pay for importing it

    n = len(inf_func)
    member = sparse.csr_matrix((np.ones(n), (cluster_codes, np.arange(n))), shape=(n_clusters, n))
    out = member @ inf_func.reshape(n, -1)
    return out.reshape((n_clusters,) + inf_func.shape[1:])


def analytic_se(inf_func: np.ndarray, cluster_codes=None, n_clusters: int | None = None):
    """Influence-function standard errors ``sqrt(sum_c S_c**2) / n`` (S_c: cluster sums)."""
    n = inf_func.shape[0]
    sums = cluster_sums(inf_func, cluster_codes, n_clusters or n)
    if sums.ndim == 2:  # column sums of squares without a squared copy of the matrix
        se = np.sqrt(np.einsum("ij,ij->j", sums, sums)) / n
    else:
        se = np.sqrt(np.sum(sums**2, axis=0)) / n
    return np.where(se <= DEGENERATE_SE, np.nan, se)


@dataclass
class MultiplierDraws:
    """Replayable multiplier draws for one fit.

    `n_units` scales the draws (influence functions are averaged over units); multipliers are
    drawn per cluster (or per unit when `cluster_codes` is None).
    """

    n_draws: int
    n_units: int
    cluster_codes: np.ndarray | None
    n_clusters: int
    kind: str = "rademacher"
    seed: int | None = None
    _state: dict = field(default_factory=dict, repr=False)
    _cache: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.kind not in ("rademacher", "mammen"):
            raise ValueError("bootstrap weights must be 'rademacher' or 'mammen'")
        self._state = np.random.default_rng(self.seed).bit_generator.state

    def _multipliers(self, rng, rows):
        if self.kind == "rademacher":
            v = rng.integers(0, 2, size=(rows, self.n_clusters), dtype=np.int8).astype(float)
            v *= 2
            v -= 1
            return v
        sqrt5 = math.sqrt(5)
        low = rng.random((rows, self.n_clusters)) < (sqrt5 + 1) / (2 * sqrt5)
        return np.where(low, (1 - sqrt5) / 2, (1 + sqrt5) / 2)

    def draws(self, inf_func: np.ndarray) -> np.ndarray:
        """Bootstrap draws of the estimation error, shape (n_draws, k)."""
        inf2 = inf_func.reshape(inf_func.shape[0], -1)
        sums = cluster_sums(inf2, self.cluster_codes, self.n_clusters)
        if self._cache is not None:
            return self._cache @ sums / self.n_units
        rng = np.random.default_rng()
        rng.bit_generator.state = self._state
        if self.n_draws * self.n_clusters <= _CACHE_CELLS:
            self._cache = self._multipliers(rng, self.n_draws)
            return self._cache @ sums / self.n_units
        chunk = max(1, _CHUNK_CELLS // max(self.n_clusters, 1))
        out = np.empty((self.n_draws, inf2.shape[1]))
        for start in range(0, self.n_draws, chunk):
            rows = min(chunk, self.n_draws - start)
            out[start : start + rows] = self._multipliers(rng, rows) @ sums
        return out / self.n_units

    def se_and_crit(self, inf_func: np.ndarray, alpha: float):
        """(bootstrap SEs, sup-t critical value for a uniform band, draws)."""
        boot = self.draws(inf_func)
        se, crit = se_and_crit_from_draws(boot, alpha)
        return se, crit, boot


def se_and_crit_from_draws(boot: np.ndarray, alpha: float):
    q75 = np.quantile(boot, 0.75, axis=0, method="inverted_cdf")
    q25 = np.quantile(boot, 0.25, axis=0, method="inverted_cdf")
    se = (q75 - q25) / IQR_TO_SD
    ok = np.isfinite(se) & (se > DEGENERATE_SE)
    se = np.where(ok, se, np.nan)
    if not ok.any():
        return se, math.nan
    t_max = np.max(np.abs(boot[:, ok] / se[ok]), axis=1)
    t_max = t_max[np.isfinite(t_max)]
    crit = float(np.quantile(t_max, 1 - alpha, method="inverted_cdf"))
    return se, crit

"""Restricted wild cluster bootstrap (WCR-t) for linear combinations of regression coefficients.

With 10-30 districts, cluster-robust t-tests over-reject (Cameron, Gelbach & Miller 2008);
the restricted wild cluster bootstrap with Rademacher or Webb weights keeps size close to
nominal (MacKinnon & Webb 2017). Confidence intervals come from test inversion.

Everything is computed from cluster-level summaries, as in boottest (Roodman et al. 2019):
for a restriction R'b = r the bootstrap numerator is q'v and the bootstrap cluster scores are
(F - H) v, with q (G), F and H (G x G) built once; each draw costs O(G^2), not O(N). Fixed
effects are partialled out exactly (the F matrix carries the projection of every cluster's
residuals, so time effects that cut across clusters are handled without dummies). Restricted
residuals are linear in r, so test inversion only rescales precomputed pieces.
With Rademacher weights and G <= `enumerate_max` clusters all 2^G sign vectors are used, so
the p-value is exact and deterministic.

Caveat (MacKinnon & Webb 2017, 2018): WCR is reliable when treated and control clusters are
alike; with few treated clusters it drifts from nominal size. Measured with 12 districts,
AR(1) errors and no effect (tests/estimators/test_monte_carlo_regression.py): 6 treated,
5.8%; 4 treated and twice as noisy, 8.0% (CR1 t(11): 10.8%); 2 treated, 1.0%.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from estimators.fixed_effects import TwoWayFE, cluster_sums

WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


@dataclass(frozen=True)
class WildBootstrapResult:
    estimate: float
    null_value: float
    t_stat: float
    p_value: float
    ci_low: float
    ci_high: float
    n_draws: int
    enumerated: bool
    weight_type: str
    t_draws: np.ndarray

    def to_dict(self) -> dict:
        out = {
            k: getattr(self, k)
            for k in (
                "estimate",
                "null_value",
                "t_stat",
                "p_value",
                "ci_low",
                "ci_high",
                "n_draws",
                "enumerated",
                "weight_type",
            )
        }
        return {
            k: (
                float(v)
                if isinstance(v, float) and math.isfinite(v)
                else (None if isinstance(v, float) else v)
            )
            for k, v in out.items()
        }


def bootstrap_weights(
    n_clusters: int,
    n_boot: int,
    weight_type: str,
    rng: np.random.Generator,
    enumerate_max: int = 12,
) -> tuple[np.ndarray, bool]:
    """(G x B) matrix of cluster weights and whether it is the full Rademacher enumeration."""
    if weight_type == "rademacher":
        if n_clusters <= enumerate_max:
            signs = np.array(list(itertools.product((1.0, -1.0), repeat=n_clusters)))
            return signs.T, True
        return rng.choice(np.array([-1.0, 1.0]), size=(n_clusters, n_boot)), False
    if weight_type == "webb":
        return rng.choice(WEBB, size=(n_clusters, n_boot)), False
    raise ValueError(f"weight_type must be 'rademacher' or 'webb', got {weight_type!r}")


class _WCRProblem:
    """Cluster-level pieces of the WCR-t statistic for one restriction R'b = r."""

    def __init__(
        self,
        fe: TwoWayFE | None,
        x: np.ndarray,
        y: np.ndarray,
        cluster_codes: np.ndarray,
        restriction: np.ndarray,
        chunk: int = 64,
    ):
        if fe is not None and not np.allclose(fe.w, 1.0):
            raise NotImplementedError("the wild cluster bootstrap does not support weights")
        x = np.asarray(x, float)
        if x.ndim == 1:
            x = x[:, None]
        self.xt = fe.residualize(x) if fe is not None else x
        self.yt = fe.residualize(y) if fe is not None else np.asarray(y, float)
        g = int(cluster_codes.max() + 1)
        self.g = g
        self.cl = cluster_codes
        self.a_inv = np.linalg.inv(self.xt.T @ self.xt)
        self.beta = self.a_inv @ (self.xt.T @ self.yt)
        resid = self.yt - self.xt @ self.beta
        rvec = np.asarray(restriction, float)
        a = self.a_inv @ rvec
        self.estimate = float(rvec @ self.beta)
        self.ra = float(rvec @ a)
        z = self.xt @ a
        self.z = z
        self.se_unscaled = float(np.sqrt(np.sum(cluster_sums(z * resid, cluster_codes, g) ** 2)))
        pz = cluster_sums(self.xt * z[:, None], cluster_codes, g)  # X_c' z_c
        # Restricted residuals u(r) = resid + c(r) * z, c(r) = (R'b - r) / R'a.
        self.parts = [self._pieces(resid, fe, pz, chunk), self._pieces(z, fe, pz, chunk)]

    def _pieces(self, u: np.ndarray, fe: TwoWayFE | None, pz: np.ndarray, chunk: int):
        g, cl, z = self.g, self.cl, self.z
        q = cluster_sums(z * u, cl, g)
        ux = cluster_sums(self.xt * u[:, None], cl, g)  # X_g' u_g
        h = pz @ self.a_inv @ ux.T
        if fe is None:
            f = np.diag(q)
        else:
            f = np.empty((g, g))
            for start in range(0, g, chunk):
                cols = np.arange(start, min(g, start + chunk))
                masked = np.where(cl[:, None] == cols[None, :], u[:, None], 0.0)
                f[:, cols] = cluster_sums(z[:, None] * fe.residualize(masked), cl, g)
        return q, f - h

    def t_draws(self, r: float, v: np.ndarray) -> np.ndarray:
        c = (self.estimate - r) / self.ra
        q = self.parts[0][0] + c * self.parts[1][0]
        k = self.parts[0][1] + c * self.parts[1][1]
        num = q @ v
        den = np.sqrt(np.sum((k @ v) ** 2, axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / den

    def t_stat(self, r: float) -> float:
        return (self.estimate - r) / self.se_unscaled

    def p_value(self, r: float, v: np.ndarray) -> float:
        draws = self.t_draws(r, v)
        ok = np.isfinite(draws)
        t_abs = abs(self.t_stat(r))
        return float(np.mean(np.abs(draws[ok]) > t_abs * (1 + 1e-10)))


def _invert(problem: _WCRProblem, v: np.ndarray, alpha: float, side: int) -> float:
    """Bisection for the r where the bootstrap p-value crosses alpha on one side."""
    est = problem.estimate
    step = max(problem.se_unscaled, 1e-12)  # standard error of R'b (no small-sample factor)
    inner = est
    outer = est + side * step
    for _ in range(60):
        if problem.p_value(outer, v) < alpha:
            break
        inner, outer = outer, est + side * (abs(outer - est) * 2)
    else:
        return math.nan
    for _ in range(60):
        mid = 0.5 * (inner + outer)
        if problem.p_value(mid, v) < alpha:
            outer = mid
        else:
            inner = mid
        if abs(outer - inner) <= 1e-7 * step:
            break
    return 0.5 * (inner + outer)


def wild_cluster_bootstrap(
    fe: TwoWayFE | None,
    x: np.ndarray,
    y: np.ndarray,
    cluster_codes: np.ndarray,
    restriction: np.ndarray,
    null: float = 0.0,
    n_boot: int = 9999,
    weight_type: str = "rademacher",
    seed: int | None = None,
    alpha: float = 0.05,
    ci: bool = True,
    enumerate_max: int = 12,
) -> WildBootstrapResult:
    """WCR-t test of restriction'beta = null in y = FE + x beta + e, clustered by cluster_codes.

    `fe` is the absorbed fixed-effect projection (None: x already holds every regressor,
    including the intercept). The symmetric p-value is the share of bootstrap |t*| strictly
    larger than |t| (as fwildclusterboot and wildboottest; under full enumeration the
    identity draw reproduces t itself and is not counted). The interval inverts the test over r with the same draws.
    """
    cluster_codes = np.unique(cluster_codes, return_inverse=True)[1]
    problem = _WCRProblem(fe, x, y, cluster_codes, restriction)
    rng = np.random.default_rng(seed)
    v, enumerated = bootstrap_weights(problem.g, n_boot, weight_type, rng, enumerate_max)
    p = problem.p_value(null, v)
    lo = hi = math.nan
    if ci:
        lo, hi = _invert(problem, v, alpha, -1), _invert(problem, v, alpha, +1)
    return WildBootstrapResult(
        estimate=problem.estimate,
        null_value=float(null),
        t_stat=problem.t_stat(null),
        p_value=p,
        ci_low=lo,
        ci_high=hi,
        n_draws=v.shape[1],
        enumerated=enumerated,
        weight_type=weight_type,
        t_draws=problem.t_draws(null, v),
    )

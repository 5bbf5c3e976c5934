"""Vertex enumeration with stacked least squares gives bit-for-bit the per-system result.

`DualPolytope._enumerate` solves all supports of one size in one gufunc call (issue 17: the
demo's HonestDiD spent ~11 s in 170,000 separate `np.linalg.lstsq` calls). The reference below
is the per-support loop it replaced; equality is exact (array_equal), not approximate, so the
HonestDiD intervals (checked against R in test_honest.py) cannot move.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from estimators.honest import rm_piece_constraints, sd_constraints
from estimators.honest_arp import ArpTest, DualPolytope, _stacked_lstsq


def _per_support(poly: DualPolytope) -> np.ndarray:
    eq = np.vstack([poly.x.T, poly.sd[None, :]])
    rhs = np.zeros(poly.k + 1)
    rhs[-1] = 1.0
    found = []
    for size in range(1, poly.k + 2):
        for support in itertools.combinations(range(poly.m), size):
            sub = eq[:, support]
            sol, *_ = np.linalg.lstsq(sub, rhs, rcond=None)
            if np.abs(sub @ sol - rhs).max() > 1e-9 or (sol < -1e-12).any():
                continue
            g = np.zeros(poly.m)
            g[list(support)] = np.clip(sol, 0, None)
            found.append(g)
    if not found:
        return np.zeros((0, poly.m))
    found = np.array(found)
    _, first = np.unique(np.round(found, 12), axis=0, return_index=True)
    return found[np.sort(first)]


def _problems():
    rng = np.random.default_rng(3)
    for num_pre, num_post in ((3, 1), (3, 3), (2, 4)):
        n = num_pre + num_post
        root = rng.normal(size=(n, n))
        sigma = root @ root.T / n + np.eye(n) * 0.1
        l_vec = np.full(num_post, 1.0 / num_post)
        pieces = [sd_constraints(num_pre, num_post, m) for m in (0.0, 0.5)]
        pieces += [
            rm_piece_constraints(num_pre, num_post, mbar, s, sign)
            for mbar in (0.0, 1.0)
            for s in range(-num_pre + 1, 1)
            for sign in (True, False)
        ]
        beta = rng.normal(size=n)
        for a, d in pieces:
            yield ArpTest(beta, sigma, a, d, l_vec, num_pre, lf_sims=10).poly


@pytest.mark.parametrize("poly", list(_problems()))
def test_stacked_enumeration_is_bit_identical(poly):
    assert poly.vertices is not None
    assert np.array_equal(poly.vertices, _per_support(poly))


def test_stacked_lstsq_matches_each_call_including_rank_deficient():
    rng = np.random.default_rng(5)
    subs = rng.normal(size=(50, 4, 3))
    subs[::7, :, 2] = subs[::7, :, 1]  # rank-deficient systems: minimum-norm solutions
    rhs = np.array([0.0, 0.0, 0.0, 1.0])
    stacked = _stacked_lstsq(subs, rhs)
    for sub, sol in zip(subs, stacked, strict=True):
        assert np.array_equal(sol, np.linalg.lstsq(sub, rhs, rcond=None)[0])


def test_normal_functions_are_the_distribution_objects_values():
    """folded_normal_cv / the truncated quantile call scipy.special directly; the values must
    be exactly those of stats.norm (which the R comparisons were made with)."""
    from scipy import optimize, stats

    from estimators.honest_arp import _truncated_normal_quantile, folded_normal_cv

    for t in (0.0, 0.3, 1.7, 12.0, 39.0):
        f = lambda c, t=t: stats.norm.cdf(c - t) - stats.norm.cdf(-c - t) - 0.95  # noqa: E731
        assert folded_normal_cv(t, 0.05) == float(optimize.brentq(f, 0.0, t + 10.0, xtol=1e-14))
    for lo, hi in ((-1.0, 2.0), (0.5, np.inf), (-np.inf, -3.0), (8.0, 9.0)):
        plo, phi = stats.norm.cdf(lo), stats.norm.cdf(hi)
        want = float(stats.norm.ppf(plo + 0.9 * (phi - plo)))
        assert _truncated_normal_quantile(0.9, lo, hi) == want

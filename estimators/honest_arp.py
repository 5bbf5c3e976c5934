"""Inference machinery behind HonestDiD (Rambachan & Roth 2023), on numpy/scipy only.

Two ways to build a confidence set for theta = l' tau_post when the violation of parallel
trends delta lies in a polyhedron {delta : A delta <= d}:

- the conditional / hybrid moment-inequality test of Andrews, Roth & Pakes (ARP), inverted
  over theta (`arp_accepts`, `arp_interval`); the hybrid ("C-LF") first rejects when the
  statistic exceeds a least-favourable critical value at size kappa = alpha/10, then applies
  the conditional test at size (alpha - kappa)/(1 - kappa), truncated at that value;
- the fixed-length confidence interval of Armstrong & Kolesar for Delta^SD(M) (`flci`): an
  affine estimator v'beta with the shortest interval that is valid for the worst-case bias.

The conditional test needs the range [v_lo, v_up] over which the optimal dual vertex stays
optimal. We get it exactly: the LP value as a function of the statistic is convex and
piecewise linear, so Newton steps from each side land on the kinks in a few LP solves
(R's HonestDiD bisects instead; both find the same interval).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import optimize, special, stats

VERTEX_ENUMERATION_LIMIT = 20_000

# The statistic eta = g'y is dimensionless (sd'g = 1: a weighted mean of standardised
# moments), so is its variance g'Sigma_y g <= 1. A deterministic eta within this many
# standard deviations of its critical value is a floating-point tie, not evidence: at
# Mbar = 0 a row and its negation form a zero-variance vertex whose exact value at the
# point estimate is 0 but computes as +-1e-16, and rejecting on that sign rejected the
# point estimate itself.
NUMERICAL_TOL = 1e-9
DEGENERATE_VARIANCE = 1e-12


class DualPolytope:
    """Feasible set of the dual LP: {g >= 0, X'g = 0, sd'g = 1}.

    The test statistic is eta(y) = max_g g'y over this set (= min over the nuisance of the
    largest standardised moment). With few moments the vertices are enumerated once, so
    eta for thousands of simulated draws is one matrix product; otherwise each evaluation
    is a HiGHS LP.
    """

    def __init__(self, x: np.ndarray, sd: np.ndarray):
        self.x = x
        self.sd = sd
        self.m = sd.size
        self.k = x.shape[1]
        self.vertices = self._enumerate() if self._n_bases() <= VERTEX_ENUMERATION_LIMIT else None

    def _n_bases(self) -> int:
        return sum(math.comb(self.m, r) for r in range(1, self.k + 2))

    def _enumerate(self) -> np.ndarray:
        eq = np.vstack([self.x.T, self.sd[None, :]])  # (k+1) x m
        rhs = np.zeros(self.k + 1)
        rhs[-1] = 1.0
        found = []
        for size in range(1, self.k + 2):
            supports = np.array(list(itertools.combinations(range(self.m), size)), dtype=np.intp)
            if len(supports) == 0:
                continue
            subs = np.moveaxis(eq[:, supports], 1, 0)  # (supports, k+1, size)
            sols = _stacked_lstsq(subs, rhs)
            # the residual test of each system; near its bound, the per-system product
            # decides (a stacked product may round differently in the last bits)
            resid = np.abs(np.einsum("sij,sj->si", subs, sols) - rhs).max(axis=1)
            unsure = np.flatnonzero(np.abs(resid - 1e-9) <= 1e-12)
            resid[unsure] = [np.abs(subs[i] @ sols[i] - rhs).max() for i in unsure]
            ok = np.flatnonzero((resid <= 1e-9) & ~(sols < -1e-12).any(axis=1))
            g = np.zeros((len(ok), self.m))
            np.put_along_axis(g, supports[ok], np.clip(sols[ok], 0, None), axis=1)
            found.extend(g)
        if not found:
            return np.zeros((0, self.m))
        # Deduplicate on rounded values but keep the exact ones: rounding the vertices
        # themselves put ~1e-13 of noise into every eta.
        found = np.array(found)
        _, first = np.unique(np.round(found, 12), axis=0, return_index=True)
        return found[np.sort(first)]

    def solve(self, y: np.ndarray) -> tuple[float, np.ndarray | None]:
        """(eta, optimal vertex); eta = -inf with no vertex when the dual is infeasible."""
        if self.vertices is not None:
            if len(self.vertices) == 0:
                return -math.inf, None
            vals = self.vertices @ y
            j = int(np.argmax(vals))
            return float(vals[j]), self.vertices[j]
        eq = np.vstack([self.x.T, self.sd[None, :]])
        rhs = np.zeros(self.k + 1)
        rhs[-1] = 1.0
        res = optimize.linprog(-y, A_eq=eq, b_eq=rhs, bounds=(0, None), method="highs")
        if res.status != 0:
            return -math.inf, None
        return float(-res.fun), res.x

    def eta_many(self, draws: np.ndarray) -> np.ndarray:
        if self.vertices is not None:
            if len(self.vertices) == 0:
                return np.full(len(draws), -math.inf)
            return (draws @ self.vertices.T).max(axis=1)
        return np.array([self.solve(d)[0] for d in draws])


def _stacked_lstsq(subs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """`np.linalg.lstsq(sub, rhs, rcond=None)[0]` for every `sub` of a stack, in one call.

    Why: vertex enumeration solves hundreds of tiny systems per test (~640 on the demo's
    HonestDiD pieces, 270 tests per run), and each public `lstsq` call costs ~35 us of Python
    around a sub-microsecond LAPACK solve. The public function refuses stacks, but the gufunc
    it wraps (`_umath_linalg.lstsq`, LAPACK gelsd per item, same rcond) takes them, so the
    solutions are bit-for-bit the per-call ones (tests/estimators/test_honest_enumerate.py);
    if the private gufunc is missing (another numpy), each system is solved by the public call.
    """
    m, n = subs.shape[-2:]
    try:
        from numpy.linalg import _umath_linalg

        rcond = np.finfo(float).eps * max(n, m)
        b = np.broadcast_to(rhs[:, None], (len(subs), m, 1))
        with np.errstate(all="ignore"):
            x, *_ = _umath_linalg.lstsq(subs, b, rcond, signature="ddd->ddid")
        if np.isfinite(x).all():  # else let the public call raise as it always did
            return x[..., 0]
    except (ImportError, AttributeError, TypeError):
        pass
    return np.array([np.linalg.lstsq(sub, rhs, rcond=None)[0] for sub in subs])


def _truncation_bounds(poly: DualPolytope, y, gamma, sigma_y, eta) -> tuple[float, float]:
    """Range of the statistic over which `gamma` stays the optimal vertex, holding fixed the
    part of y independent of gamma'y (ARP's conditioning set)."""
    c = sigma_y @ gamma / float(gamma @ sigma_y @ gamma)
    s = y - c * eta
    scale = math.sqrt(float(gamma @ sigma_y @ gamma))
    tol = 1e-10 * max(1.0, scale)

    def side(direction: float) -> float:
        z = eta + direction * 60 * scale
        for _ in range(200):
            val, g = poly.solve(s + c * z)
            gap = val - z
            if gap <= tol:
                return math.inf * direction if abs(z - eta) >= 60 * scale * 0.999 else z
            slope = float(g @ c) - 1.0
            if slope * direction <= 0:  # numerical trouble: no kink on this side
                return math.inf * direction
            z = z - gap / slope
        return z

    if poly.vertices is not None:
        # Exact: every vertex's line g's + (g'c) z must stay below z.
        gs = poly.vertices @ s
        gc = poly.vertices @ c - 1.0
        lo = gs[gc < -1e-12] / -gc[gc < -1e-12]
        up = gs[gc > 1e-12] / -gc[gc > 1e-12]
        return (float(lo.max()) if lo.size else -math.inf, float(up.min()) if up.size else math.inf)
    return side(-1.0), side(1.0)


def _truncated_normal_quantile(p: float, lo: float, hi: float) -> float:
    # special.ndtr / ndtri are what stats.norm.cdf / ppf compute (same values), without
    # the distribution machinery's ~100 us per scalar call (thousands of calls per run)
    plo, phi = special.ndtr(lo), special.ndtr(hi)
    if phi - plo < 1e-300:
        return lo
    return float(special.ndtri(plo + p * (phi - plo)))


class ArpTest:
    """Test H0: theta = theta_bar, delta in {A delta <= d} by the ARP conditional/hybrid test.

    beta = (pre, post) coefficients; theta = l' tau_post. The post effects are written through
    an invertible Gamma whose first row is l, so the remaining rows are nuisance parameters.
    `rows` restricts the moments to those involving post periods (HonestDiD's default
    `postPeriodMomentsOnly`).
    """

    def __init__(
        self,
        beta,
        sigma,
        a,
        d,
        l_vec,
        num_pre,
        alpha=0.05,
        hybrid="LF",
        kappa=None,
        lf_sims=1000,
        seed=0,
        post_moments_only=True,
    ):
        num_post = l_vec.size
        if post_moments_only and num_post > 1:
            rows = np.flatnonzero(np.abs(a[:, num_pre:]).sum(axis=1) > 0)
        else:
            rows = np.arange(a.shape[0])
        self.a, self.d = a[rows], d[rows]
        self.beta = beta
        self.alpha = alpha
        self.hybrid = hybrid
        self.kappa = alpha / 10 if kappa is None else kappa
        gamma = _basis_with_first_row(l_vec)
        gamma_inv = np.linalg.inv(gamma)
        a_post = self.a[:, num_pre:]
        self.theta_dir = a_post @ gamma_inv[:, 0]
        x = a_post @ gamma_inv[:, 1:]
        self.sigma_y = self.a @ sigma @ self.a.T
        sd = np.sqrt(np.clip(np.diag(self.sigma_y), 0, None))
        self.poly = DualPolytope(x, sd)
        self.lf_cv = math.inf
        if hybrid == "LF":
            rng = np.random.default_rng(seed)
            draws = rng.multivariate_normal(
                np.zeros(len(sd)), self.sigma_y, size=lf_sims, method="eigh"
            )
            self.lf_cv = float(np.quantile(self.poly.eta_many(draws), 1 - self.kappa))

    def accepts(self, theta: float) -> bool:
        y = self.a @ self.beta - self.d - self.theta_dir * theta
        eta, g = self.poly.solve(y)
        if g is None:
            return True
        # Rounding error of eta = g'y grows with the terms summed, not with eta itself.
        tol = NUMERICAL_TOL * (1.0 + float(np.abs(g) @ np.abs(y)))
        if eta > self.lf_cv + tol:
            return False
        size = self.alpha if self.hybrid != "LF" else (self.alpha - self.kappa) / (1 - self.kappa)
        var_b = float(g @ self.sigma_y @ g)
        if var_b <= DEGENERATE_VARIANCE:
            # eta is not random here: reject only if the restriction is violated for sure.
            return eta <= tol
        sigma_b = math.sqrt(var_b)
        vlo, vup = _truncation_bounds(self.poly, y, g, self.sigma_y, eta)
        vup = min(vup, self.lf_cv)
        zlo, zup, stat = vlo / sigma_b, vup / sigma_b, eta / sigma_b
        if not zlo - 1e-9 <= stat <= zup + 1e-9:
            return True
        cval = max(0.0, _truncated_normal_quantile(1 - size, zlo, zup))
        # Compared in eta's units so the same tolerance holds as sigma_b -> 0.
        return eta <= cval * sigma_b + tol


def _basis_with_first_row(l_vec: np.ndarray) -> np.ndarray:
    """Invertible matrix with first row l' (completed by unit vectors)."""
    n = l_vec.size
    rows = [l_vec]
    for i in range(n):
        cand = np.vstack(rows + [np.eye(n)[i]])
        if np.linalg.matrix_rank(cand) == len(cand):
            rows.append(np.eye(n)[i])
        if len(rows) == n:
            break
    return np.vstack(rows)


def accepted_interval(
    tests, lower: float, upper: float, n_grid: int = 60, refine_steps: int = 14
) -> tuple[float, float]:
    """Smallest interval containing every theta accepted by any test (union over pieces).

    A coarse grid locates the accepted region; each edge is then bisected between the last
    accepted and first rejected grid point, so the precision is (upper-lower)/n_grid/2^steps
    instead of a 1000-point grid's (upper-lower)/1000. Returns (nan, nan) if nothing is
    accepted (the restriction is rejected by the data) and +-inf if the grid edge is accepted.
    """

    def ok(theta):
        return any(t.accepts(theta) for t in tests)

    grid = np.linspace(lower, upper, n_grid)
    acc = np.array([ok(v) for v in grid])
    if not acc.any():
        return math.nan, math.nan
    first, last = int(np.argmax(acc)), int(len(acc) - 1 - np.argmax(acc[::-1]))

    def edge(inside, outside):
        for _ in range(refine_steps):
            mid = (inside + outside) / 2
            if ok(mid):
                inside = mid
            else:
                outside = mid
        return inside

    lo = -math.inf if first == 0 else edge(grid[first], grid[first - 1])
    hi = math.inf if last == n_grid - 1 else edge(grid[last], grid[last + 1])
    return lo, hi


# ---------------------------------------------------------------- fixed-length CI (Delta^SD)


def folded_normal_cv(t: float, alpha: float) -> float:
    """(1-alpha) quantile of |N(t, 1)|: the critical value for bias/sd ratio t."""
    t = abs(t)
    if t > 40:
        return t + stats.norm.ppf(1 - alpha)
    target = 1 - alpha
    f = lambda c: special.ndtr(c - t) - special.ndtr(-c - t) - target  # noqa: E731
    return float(optimize.brentq(f, 0.0, t + 10.0, xtol=1e-14))


def second_difference_basis(num_pre: int, num_post: int) -> np.ndarray:
    """Matrix C mapping second differences u to delta (reference period 0 dropped) for a
    delta with delta_0 = 0 and zero slope at 0; any delta = slope * t + C u."""
    times = np.arange(-num_pre, num_post + 1)
    n_u = len(times) - 2
    zero = num_pre
    cols = []
    for j in range(n_u):
        u = np.zeros(n_u)
        u[j] = 1.0
        delta = np.zeros(len(times))
        # u index j is centred at times[j + 1]; forward for centres >= 1, backward for <= 0.
        for centre in range(zero + 1, len(times) - 1):
            delta[centre + 1] = 2 * delta[centre] - delta[centre - 1] + u[centre - 1]
        for centre in range(zero, 0, -1):
            delta[centre - 1] = u[centre - 1] - delta[centre + 1] + 2 * delta[centre]
        cols.append(np.delete(delta, zero))
    return np.column_stack(cols)


def flci(beta, sigma, num_pre: int, l_vec, m: float, alpha: float = 0.05):
    """Optimal fixed-length CI under Delta^SD(M). Returns (lower, upper, half_length, v).

    Minimises sd(v) * cv_alpha(max_bias(v) / sd(v)) over affine estimators v'beta whose post
    weights equal l and whose bias is bounded (v't = 0). With max_bias = M * |C'v|_1 written
    through p - q = C'v (p, q >= 0) the problem is smooth and convex, solved by SLSQP.
    """
    beta = np.asarray(beta, float)
    num_post = l_vec.size
    times = np.concatenate([np.arange(-num_pre, 0), np.arange(1, num_post + 1)]).astype(float)
    c_mat = second_difference_basis(num_pre, num_post)
    n_u = c_mat.shape[1]

    def full_v(w):
        return np.concatenate([w, l_vec])

    # Start: the minimum-variance unbiased-for-linear-trends estimator (exact at M = 0).
    s_pp = sigma[:num_pre, :num_pre]
    s_pq = sigma[:num_pre, num_pre:] @ l_vec
    tp, tq = times[:num_pre], float(times[num_pre:] @ l_vec)
    kkt = np.block([[2 * s_pp, tp[:, None]], [tp[None, :], np.zeros((1, 1))]])
    w0 = np.linalg.solve(kkt, np.concatenate([-2 * s_pq, [-tq]]))[:num_pre]
    if m <= 0:
        v = full_v(w0)
        sd = math.sqrt(float(v @ sigma @ v))
        half = stats.norm.ppf(1 - alpha / 2) * sd
        centre = float(v @ beta)
        return centre - half, centre + half, half, v

    cu0 = c_mat.T @ full_v(w0)
    x0 = np.concatenate([w0, np.clip(cu0, 0, None), np.clip(-cu0, 0, None)])

    def objective(x):
        v = full_v(x[:num_pre])
        sd = math.sqrt(max(float(v @ sigma @ v), 1e-300))
        bias = m * float(x[num_pre:].sum())
        return sd * folded_normal_cv(bias / sd, alpha)

    def gradient(x):
        # d/dt cv(t) from the implicit equation Phi(c - t) - Phi(-c - t) = 1 - alpha.
        v = full_v(x[:num_pre])
        sv = sigma @ v
        sd = math.sqrt(max(float(v @ sv), 1e-300))
        t = m * float(x[num_pre:].sum()) / sd
        c = folded_normal_cv(t, alpha)
        a, b = stats.norm.pdf(c - t), stats.norm.pdf(c + t)
        dc_dt = (a - b) / (a + b)
        d_sd = c - t * dc_dt
        return np.concatenate([d_sd * sv[:num_pre] / sd, np.full(2 * n_u, m * dc_dt)])

    cons = [
        {
            "type": "eq",
            "fun": lambda x: np.array([float(times @ full_v(x[:num_pre]))]),
            "jac": lambda x: np.concatenate([times[:num_pre], np.zeros(2 * n_u)])[None, :],
        },
        {
            "type": "eq",
            "fun": lambda x: (
                c_mat.T @ full_v(x[:num_pre]) - x[num_pre : num_pre + n_u] + x[num_pre + n_u :]
            ),
            "jac": lambda x: np.hstack([c_mat.T[:, :num_pre], -np.eye(n_u), np.eye(n_u)]),
        },
    ]
    bounds = [(None, None)] * num_pre + [(0, None)] * (2 * n_u)
    best = optimize.minimize(
        objective,
        x0,
        jac=gradient,
        method="SLSQP",
        bounds=bounds,
        constraints=cons,
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    v = full_v(best.x[:num_pre])
    half = objective(best.x)
    centre = float(v @ beta)
    return centre - half, centre + half, half, v

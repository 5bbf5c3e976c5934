"""`ReassignedCS` for many reassignments at once: the studentized CS simple ATT as array algebra.

Why: the model step's randomization inference (999 reassignments x 5 outcomes on the demo) spent
~90% of its time in per-cell Python loops (`cs_core._unconditional_cells`, ~300 (g, t) cells per
draw, each a handful of tiny numpy calls): ~11 ms per draw and outcome, ~60 s under load
(issue 17). Only the cohort vector changes between draws; the outcome changes y[t] - y[base]
of every post-treatment cell do not, so a block of draws is computed at once as
(draws x cells x units) arrays.

What it computes is exactly `ReassignedCS.__call__` (R did `att_gt(est_method = "reg")`, no
covariates, balanced panel, then `aggte(type = "simple")` with the analytic district-clustered
SE), reorganised, not approximated:
- only post-treatment cells (g <= t) enter the simple ATT, so pre-treatment cells are not
  estimated; they are still checked for the rules that would change the result (a cell without
  treated or comparison weight, or one that would trigger propensity trimming);
- a cell's ATT is the weighted mean change of cohort g minus that of its comparison units
  (never treated, plus not yet treated at max(t, base) + anticipation = t + anticipation);
- the aggregated influence function is sum_k w_k psi_k + wif @ att, with psi_k's treated and
  comparison parts summed over cells per unit, and wif @ att as in
  `cs_aggregate.weight_influence_dot`.
Sums run in another order than the per-cell code, so values agree to rounding (~1e-14
relative; tested to 1e-10 in tests/evaluation/test_ri_batch.py, and the demo's p-values and
Romano-Wolf adjusted p-values are identical: bench/ri_demo.py).

An unbalanced panel (R's repeated-cross-section cells) is batched by `BatchedRC`
(evaluation/ri_batch_rc.py; `build_batch` there picks the path for a design). Draws per
block are bounded by `BLOCK_ELEMENTS` so that the draws x cells x units temporaries stay
~32 MB each at beat scale.

A draw this path does not cover exactly is marked for the per-draw path instead (`fallback`):
covariates (the whole panel), a cohort treated from the first period or
no never-treated unit (R's sample rules), a cohort without a pre-period, a cell with no
treated or comparison weight or near the 0.995 trimming bound, no post cell, a non-finite
value or an SE near the degenerate bound.
"""

from __future__ import annotations

import math

import numpy as np

from estimators.cs_core import CSDesign
from estimators.multiplier_bootstrap import DEGENERATE_SE

CHUNK = 64  # draws per block: (64 x cells x units) temporaries stay a few MB on district panels
# at most this many floats per draws x cells x units array (32 MB; a few are alive at once), so
# a beat-level panel (300 units x 240 months, ~500 post cells) takes fewer draws per block
BLOCK_ELEMENTS = 4_000_000
_MARGIN = 1e-9  # relative distance from a rule's bound inside which the per-draw path decides


class BatchedCS:
    """Studentized CS simple ATT for a (draws x units) array of unit cohorts (`unit_ids` order)."""

    def __init__(self, design: CSDesign, control_group: str, anticipation: int):
        self.d, self.control_group, self.a = design, control_group, anticipation
        self.periods = np.asarray(design.periods, float)
        self.w = np.asarray(design.unit_weight, float)
        n = design.n_units
        codes = np.arange(n) if design.cluster_codes is None else design.cluster_codes
        self.member = np.zeros((n, design.n_clusters))
        self.member[np.arange(n), codes] = 1.0
        self._cells: dict[tuple, tuple] = {}

    @classmethod
    def build(cls, design: CSDesign, control_group: str, anticipation: int) -> BatchedCS | None:
        """None when the design is outside this path (unbalanced: `BatchedRC` in
        evaluation/ri_batch_rc.py, whose `build_batch` picks the path; covariates; a
        non-finite y)."""
        if not design.balanced or design.x_wide.shape[2] != 1:
            return None
        if control_group not in ("never", "notyet") or not np.isfinite(design.y_wide).all():
            return None
        return cls(design, control_group, anticipation)

    def _post_cells(self, groups: tuple) -> tuple:
        """(group, cutoff period, outcome change per unit) of every post-treatment cell, in
        R's order; the changes depend only on the groups, so they are cached per group set."""
        if groups not in self._cells:
            p, y = self.periods, self.d.y_wide
            g_k, thr_k, rows = [], [], []
            for g in groups:
                last_pre = np.flatnonzero(p + self.a < g)[-1]
                for cur in range(1, len(p)):
                    if g <= p[cur]:
                        g_k.append(g)
                        thr_k.append(p[cur] + self.a)
                        rows.append(y[cur] - y[last_pre])
            dy = np.array(rows).reshape(-1, len(self.w))
            self._cells[groups] = (np.array(g_k), np.array(thr_k), dy)
        return self._cells[groups]

    def __call__(self, cohorts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(statistic per draw, True where the draw must go through the per-draw path)."""
        c = np.asarray(cohorts, float)
        out = np.full(len(c), np.nan)
        fallback = np.ones(len(c), bool)
        keys = [tuple(np.unique(row[row > 0])) for row in c]
        for key in dict.fromkeys(keys):
            idx = np.flatnonzero([k == key for k in keys])
            step = self._chunk(key)
            for start in range(0, len(idx), step):
                part = idx[start : start + step]
                with np.errstate(divide="ignore", invalid="ignore"):  # such draws fall back
                    out[part], fallback[part] = self._block(c[part], key)
        return out, fallback

    def _n_post(self, groups: tuple) -> int:
        """Post-treatment cells (g <= t) of a group set."""
        return int(sum((self.periods[1:] >= g).sum() for g in groups))

    def _chunk(self, groups: tuple) -> int:
        """Draws per block: this path holds a few draws x cells x units arrays."""
        cells = max(self._n_post(groups), 1) * len(self.w)
        return max(1, min(CHUNK, BLOCK_ELEMENTS // cells))

    def _sample_rules(self, c: np.ndarray, g: np.ndarray) -> np.ndarray | None:
        """Draws R did's sample rules would change (a unit treated from the first period, no
        never-treated unit); None when every draw must go back (no cohort, or a cohort
        without a pre-period, which `plan_cells` leaves out)."""
        p = self.periods
        if len(g) == 0 or (g <= p[0] + self.a).any():
            return None
        return ((c > 0) & (c <= p[0])).any(axis=1) | ~(c == 0).any(axis=1)

    def _studentize(self, est, psi, bad) -> tuple[np.ndarray, np.ndarray]:
        """est / analytic clustered SE of the aggregated influence `psi` (draws x units), NaN
        and marked where a rule or a degenerate SE leaves the decision to the per-draw path."""
        sums = psi @ self.member
        se = np.sqrt(np.einsum("bc,bc->b", sums, sums)) / len(self.w)
        stat = est / se
        bad = bad | ~np.isfinite(stat) | (np.abs(se - DEGENERATE_SE) <= 1e-6 * DEGENERATE_SE)
        bad |= se <= DEGENERATE_SE
        return np.where(bad, math.nan, stat), bad

    def _block(self, c: np.ndarray, groups: tuple) -> tuple[np.ndarray, np.ndarray]:
        b = len(c)
        p, w, a = self.periods, self.w, self.a
        g = np.array(groups, float)
        bad = self._sample_rules(c, g)
        if bad is None:
            return np.full(b, np.nan), np.ones(b, bool)
        # every cell (pre and post) of group g at period cur compares with never-treated units
        # plus those first treated after p[cur] + a (group g itself excluded)
        in_g = c[:, None, :] == g[None, :, None]  # (b, G, n)
        s_g = in_g @ w  # (b, G)
        never_w = (c == 0) @ w
        if self.control_group == "never":
            s_c = np.broadcast_to(never_w[:, None, None], (b, len(g), len(p) - 1))
        else:
            thr = p[1:] + a
            later = ((c[:, None, :] > thr[None, :, None]) | (c == 0)[:, None, :]) @ w  # (b, T-1)
            s_c = later[:, None, :] - (g[None, :, None] > thr[None, None, :]) * s_g[:, :, None]
        s_t = s_g[:, :, None]
        ratio = s_t / (s_t + s_c)
        bad |= ~((s_t > 0) & (s_c > 0)).reshape(b, -1).all(axis=1)
        bad |= (ratio >= 0.995 * (1 - _MARGIN)).reshape(b, -1).any(axis=1)

        g_k, thr_k, dy = self._post_cells(groups)
        treated = c[:, None, :] == g_k[None, :, None]  # (b, K, n)
        if self.control_group == "never":
            control = np.broadcast_to((c == 0)[:, None, :], treated.shape)
        else:
            control = (c[:, None, :] > thr_k[None, :, None]) | (c == 0)[:, None, :]
        wdy = w * dy  # (K, n)
        st = treated @ w
        sc = control @ w
        mt = np.einsum("bkn,kn->bk", treated, wdy) / st
        mc = np.einsum("bkn,kn->bk", control, wdy) / sc
        att = mt - mc
        n = len(w)
        pk = s_g[:, np.searchsorted(g, g_k)] / n  # P(G = g) of each post cell
        total = pk.sum(axis=1)
        wk = pk / total[:, None]
        est = np.einsum("bk,bk->b", wk, att)
        coef_t, coef_c = wk * n / st, wk * n / sc
        psi = np.einsum("bkn,bk,kn->bn", treated, coef_t, dy) - np.einsum(
            "bkn,bk->bn", treated, coef_t * mt
        )
        psi -= np.einsum("bkn,bk,kn->bn", control, coef_c, dy) - np.einsum(
            "bkn,bk->bn", control, coef_c * mc
        )
        psi *= w
        pk_att = np.einsum("bk,bk->b", pk, att)
        own_coef = np.einsum("bkn,bk->bn", treated, att)
        own_count = treated.sum(axis=1)
        a_coef = w * own_coef - pk_att[:, None]
        a_sum = w * own_count - total[:, None]
        psi += a_coef / total[:, None] - a_sum * (pk_att / total**2)[:, None]
        return self._studentize(est, psi, bad)

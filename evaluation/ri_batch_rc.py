"""`BatchedCS` for an unbalanced panel: R did's repeated-cross-section cells, many draws at once.

Why: a panel with a few missing unit-periods (survey quarters in which a district had no
response: 17 of 24,000 district-quarters on the beat-level city) is estimated the way R
`did::att_gt(allow_unbalanced_panel = TRUE)` does it, cell by cell with
`DRDID::reg_did_rc` on the observations present in the two periods of the cell, each
observation's influence summed within its unit (`estimators.cs_core._rc_cell`). The
balanced batch (`evaluation.ri_batch.BatchedCS`) does not apply, so every reassignment went
through that per-cell Python loop: ~80 ms per draw at 300 districts x 80 quarters, 199 draws
x 2 survey outcomes, about half of the beat city's randomization inference (issue 17).

What it computes is exactly `ReassignedCS.__call__` on such a design, reorganised, not
approximated. Without covariates `reg_did_rc` is four weighted means of the observed
outcomes: treated after (T1) and before (T0), comparison after (C1) and before (C0),
ATT = (m_T1 - m_T0) - (m_C1 - m_C0), and an observation's influence (after the n / n_cell
rescaling, in which n_cell cancels) is n w (y - m_S) / S_S for its set S, with the signs
+T1, -T0, -C1, +C0 (the regression-adjustment terms of the comparison reduce to this when the
regression is a constant). Only post-treatment cells enter the simple ATT, so pre-treatment
cells are not computed: in the per-draw path a pre-treatment cell that cannot be estimated is
dropped without changing the simple ATT, and no propensity score (so no trimming) is used.
A post-treatment cell with an empty set (no treated or no comparison observation in one of
its two periods; frequent when cohorts hold one or two districts) is dropped as the per-draw
path drops it: its ATT, its weight P(G = g) and its count in the weights' influence leave the
aggregation, the other cells keep theirs.

Every set is a union of cohorts (treated: cohort g; comparison: never treated plus cohorts
after the cell's cutoff), so with U the draws x (cohorts + never) x units one-hot of each
unit's cohort, all weighted sums of every cell are one product U @ [w o, w y] over the
cells' two periods (o: observed, y: outcome, 0 where missing), and the aggregated influence
function of every unit is one product of per-cohort coefficients with [o, y]. Memory is
draws x (cohorts + 1) x (units + 4 cells), a few MB per block at 300 units x 80 quarters;
no draws x cells x units array is formed.

A draw goes back to the per-draw path (`fallback`) where that path could decide otherwise:
R's sample rules (a cohort treated from the first period, no never-treated unit, a cohort
without a pre-period), no post-treatment cell left, a non-finite value or a degenerate SE.
Tested to 1e-10 against the per-draw path in tests/evaluation/test_ri_batch.py.
"""

from __future__ import annotations

import numpy as np

from estimators.cs_core import CSDesign
from evaluation.ri_batch import BLOCK_ELEMENTS, BatchedCS


class BatchedRC(BatchedCS):
    """Studentized CS simple ATT of an unbalanced panel for a (draws x units) array of cohorts."""

    def __init__(self, design: CSDesign, control_group: str, anticipation: int):
        super().__init__(design, control_group, anticipation)
        shape = (len(design.periods), design.n_units)
        self.obs, self.y = np.zeros(shape), np.zeros(shape)
        self.obs[design.row_tidx, design.row_unit] = 1.0
        self.y[design.row_tidx, design.row_unit] = design.row_y
        self._rc_cells: dict[tuple, tuple] = {}

    @classmethod
    def build_rc(cls, design: CSDesign, control_group: str, anticipation: int) -> BatchedRC | None:
        """None with covariates, a non-finite outcome, a weight that is not positive (an
        empty cell must be a zero sum) or a unit observed twice in a period."""
        if design.balanced or control_group not in ("never", "notyet"):
            return None
        if design.row_x is None or design.row_x.shape[1] != 1:
            return None
        if not np.isfinite(design.row_y).all() or not (design.unit_weight > 0).all():
            return None
        pairs = design.row_tidx.astype(np.int64) * design.n_units + design.row_unit
        if len(np.unique(pairs)) != len(pairs):
            return None
        return cls(design, control_group, anticipation)

    def _chunk(self, groups: tuple) -> int:
        """Draws per block: the arrays are draws x (cohorts + 1) x (units or 4 cells)."""
        per_draw = (len(groups) + 1) * (4 * self._n_post(groups) + len(self.w))
        return max(1, BLOCK_ELEMENTS // max(per_draw, 1))

    def _cells_rc(self, groups: tuple) -> tuple:
        """Per post-treatment cell (R's order): its cohort's position, the (cohorts + never) x
        cells masks of the treated (E) and comparison (Q) cohorts, the [o, y] rows of its two
        periods (4 x cells, units) and the same weighted and transposed; cached per group set."""
        if groups not in self._rc_cells:
            p, a = self.periods, self.a
            gpos, thr, t_k, b_k = [], [], [], []
            for j, g in enumerate(groups):
                last_pre = np.flatnonzero(p + a < g)[-1]
                for cur in range(1, len(p)):
                    if g <= p[cur]:
                        gpos.append(j)
                        thr.append(p[cur] + a)
                        t_k.append(cur)
                        b_k.append(last_pre)
            n_g, k = len(groups), len(gpos)
            e = np.zeros((n_g + 1, k))
            e[gpos, np.arange(k)] = 1.0
            q = np.zeros((n_g + 1, k))
            q[n_g] = 1.0  # never treated
            if self.control_group == "notyet":
                q[:n_g] = np.array(groups, float)[:, None] > np.array(thr)[None, :]
            rows = np.concatenate([self.obs[t_k], self.y[t_k], self.obs[b_k], self.y[b_k]])
            weighted = np.ascontiguousarray((rows * self.w).T)  # (units, 4 cells)
            self._rc_cells[groups] = (np.array(gpos), e, q, rows, weighted)
        return self._rc_cells[groups]

    def _block(self, c: np.ndarray, groups: tuple) -> tuple[np.ndarray, np.ndarray]:
        b, n, w = len(c), len(self.w), self.w
        g = np.array(groups, float)
        bad = self._sample_rules(c, g)
        if bad is None:
            return np.full(b, np.nan), np.ones(b, bool)
        gpos, e, q, rows, weighted = self._cells_rc(groups)
        n_g, k = len(g), len(gpos)
        h = np.where(c == 0, n_g, np.searchsorted(g, c))  # each unit's cohort position
        onehot = np.zeros((b, n_g + 1, n))
        onehot[np.arange(b)[:, None], h, np.arange(n)[None, :]] = 1.0
        tab = (onehot @ weighted).reshape(b, n_g + 1, 4, k)  # weighted sums per cohort
        # [sum w o, sum w y] after, then before, of the treated and the comparison set
        tr = np.einsum("bhjk,hk->bjk", tab, e)
        co = np.einsum("bhjk,hk->bjk", tab, q)
        # a cell with an empty set in one of its periods is dropped, as `estimate_cells` does
        # (weights are positive, so an empty set is a zero sum)
        kept = (tr[:, 0] > 0) & (tr[:, 2] > 0) & (co[:, 0] > 0) & (co[:, 2] > 0)
        s_t1, s_t0, s_c1, s_c0 = (
            np.where(kept, s, 1.0) for s in (tr[:, 0], tr[:, 2], co[:, 0], co[:, 2])
        )
        m_t1, m_t0 = tr[:, 1] / s_t1, tr[:, 3] / s_t0
        m_c1, m_c0 = co[:, 1] / s_c1, co[:, 3] / s_c0
        att = np.where(kept, (m_t1 - m_t0) - (m_c1 - m_c0), 0.0)

        # P(G = g) of each kept post cell (no draw without one: its est is NaN, so it falls back)
        pk = np.where(kept, (onehot[:, :n_g] @ w)[:, gpos] / n, 0.0)
        total = pk.sum(axis=1)
        wk = pk / total[:, None]
        est = np.einsum("bk,bk->b", wk, att)
        a_t1, a_t0, a_c1, a_c0 = (wk * n / s for s in (s_t1, s_t0, s_c1, s_c0))
        coef = np.empty((b, n_g + 1, 4, k))  # multiplies rows [o after, y after, o before, ...]
        coef[:, :, 0] = -e * (a_t1 * m_t1)[:, None] + q * (a_c1 * m_c1)[:, None]
        coef[:, :, 1] = e * a_t1[:, None] - q * a_c1[:, None]
        coef[:, :, 2] = e * (a_t0 * m_t0)[:, None] - q * (a_c0 * m_c0)[:, None]
        coef[:, :, 3] = -e * a_t0[:, None] + q * a_c0[:, None]
        per_cohort = coef.reshape(b, n_g + 1, 4 * k) @ rows  # (b, cohorts + 1, n)
        psi = np.take_along_axis(per_cohort, h[:, None, :], axis=1)[:, 0] * w
        # influence of the estimated weights P(G = g) (`cs_aggregate.weight_influence_dot`)
        pk_att = np.einsum("bk,bk->b", pk, att)
        own_coef = np.take_along_axis(att @ e.T, h, axis=1)
        own_count = np.take_along_axis(kept.astype(float) @ e.T, h, axis=1)
        a_coef = w * own_coef - pk_att[:, None]
        a_sum = w * own_count - total[:, None]
        psi += a_coef / total[:, None] - a_sum * (pk_att / total**2)[:, None]
        return self._studentize(est, psi, bad)


def build_batch(design: CSDesign, control_group: str, anticipation: int) -> BatchedCS | None:
    """The batched statistic for a design: `BatchedCS` (balanced), `BatchedRC` (unbalanced),
    or None when neither covers it (every draw then goes through the per-draw path)."""
    if design.balanced:
        return BatchedCS.build(design, control_group, anticipation)
    return BatchedRC.build_rc(design, control_group, anticipation)

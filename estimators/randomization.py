"""Randomization inference: permute roll-out dates across districts.

Under the sharp null of no effect anywhere, and if which district got which start date is
exchangeable (guaranteed only when the roll-out order was randomized; otherwise an assumption),
the statistic recomputed under permuted cohort vectors gives its exact null distribution,
valid with any number of districts (Fisher; Athey & Imbens 2017). Each draw
reassigns every unit's cohort (including "never") by permuting the vector of unit cohorts.

The statistic is any callable `f(panel) -> float`, e.g. `lambda p: fit_twfe(p).overall.estimate`
or a Callaway-Sant'Anna simple ATT. A statistic may also provide `batch(panel, cohorts)`
taking a (B x n_units) array of permuted cohorts and returning B values at once;
`TWFEStatistic` does this by residualising all B treatment columns in one projection.

p-value = (1 + #{|T_b| >= |T_obs|}) / (1 + #valid draws), exact-level under the null. A draw
whose statistic is not finite (a reassignment the estimator cannot analyse, e.g. a district
with no pre-roll-out data moved into an early cohort) is dropped from the reference set, not
counted as "not extreme" (which would bias p upwards). Dropping keeps the test exact when
failure depends only on the assignment and the panel's layout, not on outcome values: the
observed assignment is itself analysable, so the p-value is then a permutation test over the
analysable reassignments. `RandomizationResult.n_dropped` says how many were dropped.

Several statistics from the SAME draws (e.g. one per outcome) give family-wise adjusted
p-values by the Romano-Wolf / Westfall-Young step-down max-|T| procedure (`step_down_max_t`),
which uses the dependence between the statistics and so is less conservative than Bonferroni
or Holm when they are correlated (Romano & Wolf 2005; Westfall & Young 1993).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from estimators._design import panel_arrays
from estimators.fixed_effects import TwoWayFE
from estimators.panel import PanelData


@dataclass(frozen=True)
class RandomizationResult:
    observed: float
    p_value: float
    n_permutations: int
    alternative: str
    seed: int | None
    null_draws: np.ndarray
    n_dropped: int = 0  # draws without a finite statistic (left out of the denominator)

    @property
    def n_valid(self) -> int:
        return int(self.n_permutations - self.n_dropped)

    def to_dict(self) -> dict:
        return {
            "observed": float(self.observed),
            "p_value": float(self.p_value),
            "n_permutations": int(self.n_permutations),
            "n_valid": self.n_valid,
            "n_dropped": int(self.n_dropped),
            "alternative": self.alternative,
            "seed": self.seed,
        }


def permutation_orders(n_permutations: int, n_units: int, seed: int | None) -> np.ndarray:
    """(n_permutations x n_units) permutations of 0..n_units-1 (row b: unit i takes the
    roll-out of unit order[b, i]); the same stream `randomization_inference` draws."""
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((n_permutations, n_units)), axis=1)


def permutation_p(
    observed: float, draws: np.ndarray, alternative: str = "two-sided"
) -> tuple[float, int]:
    """(p-value, number of valid draws): non-finite draws are dropped from the denominator;
    p is NaN when the observed statistic is not finite."""
    draws = np.asarray(draws, float)
    valid = draws[np.isfinite(draws)]
    if not np.isfinite(observed):
        return math.nan, len(valid)
    tol = 1e-12 * max(1.0, abs(observed))
    if alternative == "two-sided":
        extreme = np.abs(valid) >= abs(observed) - tol
    elif alternative == "greater":
        extreme = valid >= observed - tol
    else:
        extreme = valid <= observed + tol
    return (1 + int(extreme.sum())) / (1 + len(valid)), len(valid)


def step_down_max_t(observed: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Family-wise adjusted two-sided p-values by the step-down max-|T| procedure.

    `observed`: K statistics; `draws`: (B x K) the same statistics under B common
    permutations. Statistics are ordered by |T| (largest first); the j-th gets
    p_j = (1 + #{b: max over the not-yet-rejected set S_j of |T_b,k| >= |T_j|}) / (1 + B_j),
    made monotone (never below the previous one). B_j counts the draws where every statistic
    of S_j is finite (the others are dropped, as in `permutation_p`). Returns (adjusted p per
    statistic, in input order; B_j per statistic). With one statistic this is the plain
    permutation p-value. Strong control of the family-wise error rate under exchangeability
    (Romano & Wolf 2005, Algorithm 4.1 with permutation draws; Westfall & Young 1993).
    """
    observed = np.asarray(observed, float)
    draws = np.asarray(draws, float).reshape(-1, len(observed))
    k = len(observed)
    adjusted, used = np.full(k, np.nan), np.zeros(k, int)
    finite = np.flatnonzero(np.isfinite(observed))
    order = finite[np.argsort(-np.abs(observed[finite]), kind="stable")]
    previous = 0.0
    abs_draws = np.abs(draws)
    for j, idx in enumerate(order):
        rest = order[j:]
        sub = abs_draws[:, rest]
        ok = np.isfinite(sub).all(axis=1)
        t = abs(observed[idx])
        tol = 1e-12 * max(1.0, t)
        exceed = int((sub[ok].max(axis=1) >= t - tol).sum()) if ok.any() else 0
        p = (1 + exceed) / (1 + int(ok.sum()))
        previous = max(previous, p)
        adjusted[idx], used[idx] = previous, int(ok.sum())
    return adjusted, used


def holm(pvalues) -> np.ndarray:
    """Holm's step-down Bonferroni adjustment (valid under any dependence); NaN stays NaN."""
    p = np.asarray(pvalues, float)
    out = np.full(len(p), np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    previous = 0.0
    for j, idx in enumerate(finite[np.argsort(p[finite], kind="stable")]):
        previous = max(previous, min(1.0, (m - j) * p[idx]))
        out[idx] = previous
    return out


def unit_cohorts(panel: PanelData) -> tuple[np.ndarray, np.ndarray]:
    """(unit code per row, cohort per unit in code order)."""
    arr = panel_arrays(panel)
    per_unit = np.zeros(arr.n_units)
    per_unit[arr.unit] = arr.cohort
    return arr.unit, per_unit


def with_cohorts(panel: PanelData, row_unit: np.ndarray, cohorts: np.ndarray) -> PanelData:
    """The same panel with each unit's cohort replaced (rows, order and other columns kept)."""
    frame = panel.frame.copy()
    frame[panel.cohort] = cohorts[row_unit]
    return dataclasses.replace(panel, frame=frame)


class TWFEStatistic:
    """The TWFE treatment coefficient, with a vectorised batch for permutation draws."""

    def __init__(self, anticipation: int = 0):
        self.anticipation = anticipation

    def __call__(self, panel: PanelData) -> float:
        from estimators.twfe import fit_twfe

        return fit_twfe(panel, anticipation=self.anticipation).overall.estimate

    def batch(self, panel: PanelData, cohorts: np.ndarray, chunk: int = 128) -> np.ndarray:
        if panel.covariates:  # FWL with covariates: fall back to one fit per draw
            row_unit, _ = unit_cohorts(panel)
            return np.array([self(with_cohorts(panel, row_unit, c)) for c in cohorts])
        arr = panel_arrays(panel)
        fe = TwoWayFE(arr.unit, arr.time, arr.weights, arr.n_units, arr.n_periods)
        y_t = fe.residualize(arr.y)
        out = np.empty(len(cohorts))
        for start in range(0, len(cohorts), chunk):
            g = cohorts[start : start + chunk][:, arr.unit].T  # rows x draws
            d = ((g > 0) & (arr.period[:, None] >= g - self.anticipation)).astype(float)
            d_t = fe.residualize(d) * fe.w[:, None]
            out[start : start + chunk] = (d_t.T @ y_t) / np.einsum("ij,ij->j", d_t, d)
        return out


def randomization_inference(
    panel: PanelData,
    statistic: Callable[[PanelData], float] | None = None,
    *,
    n_permutations: int = 999,
    seed: int | None = 0,
    alternative: str = "two-sided",
) -> RandomizationResult:
    """Permutation p-value of `statistic` (default: TWFE coefficient) over roll-out dates."""
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError("alternative must be 'two-sided', 'greater' or 'less'")
    statistic = statistic if statistic is not None else TWFEStatistic()
    row_unit, per_unit = unit_cohorts(panel)
    draws_cohorts = per_unit[permutation_orders(n_permutations, len(per_unit), seed)]
    observed = float(statistic(panel))
    if hasattr(statistic, "batch"):
        draws = np.asarray(statistic.batch(panel, draws_cohorts), float)
    else:
        draws = np.array([statistic(with_cohorts(panel, row_unit, c)) for c in draws_cohorts])
    p, n_valid = permutation_p(observed, draws, alternative)
    return RandomizationResult(
        observed, p, n_permutations, alternative, seed, draws, n_permutations - n_valid
    )

"""Randomization inference: permute roll-out dates across districts.

Under the sharp null of no effect anywhere, which district got which start date is
exchangeable, so the statistic recomputed under permuted cohort vectors gives its exact null
distribution, valid with any number of districts (Fisher; Athey & Imbens 2017). Each draw
reassigns every unit's cohort (including "never") by permuting the vector of unit cohorts.

The statistic is any callable `f(panel) -> float`, e.g. `lambda p: fit_twfe(p).overall.estimate`
or a Callaway-Sant'Anna simple ATT. A statistic may also provide `batch(panel, cohorts)`
taking a (B x n_units) array of permuted cohorts and returning B values at once;
`TWFEStatistic` does this by residualising all B treatment columns in one projection.
p-value = (1 + #{|T_b| >= |T_obs|}) / (B + 1), which is exact-level under the null.
"""

from __future__ import annotations

import dataclasses
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

    def to_dict(self) -> dict:
        return {
            "observed": float(self.observed),
            "p_value": float(self.p_value),
            "n_permutations": int(self.n_permutations),
            "alternative": self.alternative,
            "seed": self.seed,
        }


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
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((n_permutations, len(per_unit))), axis=1)
    draws_cohorts = per_unit[order]
    observed = float(statistic(panel))
    if hasattr(statistic, "batch"):
        draws = np.asarray(statistic.batch(panel, draws_cohorts), float)
    else:
        draws = np.array([statistic(with_cohorts(panel, row_unit, c)) for c in draws_cohorts])
    tol = 1e-12 * max(1.0, abs(observed))
    if alternative == "two-sided":
        extreme = np.abs(draws) >= abs(observed) - tol
    elif alternative == "greater":
        extreme = draws >= observed - tol
    else:
        extreme = draws <= observed + tol
    p = (1 + int(extreme.sum())) / (n_permutations + 1)
    return RandomizationResult(observed, p, n_permutations, alternative, seed, draws)

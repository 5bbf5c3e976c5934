"""Goodman-Bacon (2021) decomposition of the two-way fixed-effects DiD estimate.

With staggered adoption the TWFE coefficient is a weighted average of every 2x2 DiD between
timing groups: treated vs never-treated, earlier- vs later-treated (before the later group is
treated) and later- vs earlier-treated (after the earlier group is treated). The last kind uses
already-treated units as controls ("forbidden" comparisons): when effects grow over time they
pull TWFE away from any average treatment effect, and this table shows by how much.

Weights follow Theorem 1 of Goodman-Bacon (2021): they depend on group sizes and on the
variance of treatment within each 2x2, and sum to one. The weighted sum equals the TWFE
coefficient exactly on a balanced panel, so an unbalanced panel is refused.

Always-treated units (cohort equal to the first period) form a timing group with treatment
share 1; they only ever serve as (already-treated) controls, labelled "Later vs Always
Treated", as in R `bacondecomp`. Sampling weights and covariates are not used (the
decomposition here is of the unweighted TWFE regression without controls).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from estimators.panel import EstimationInputError, PanelData
from estimators.results import clean_records

TREATED_VS_UNTREATED = "Treated vs Untreated"
EARLIER_VS_LATER = "Earlier vs Later Treated"
LATER_VS_EARLIER = "Later vs Earlier Treated"
LATER_VS_ALWAYS = "Later vs Always Treated"
FORBIDDEN_TYPES = (LATER_VS_EARLIER, LATER_VS_ALWAYS)


@dataclass
class BaconResult:
    """All 2x2 comparisons (`comparisons`) and their aggregation by type (`by_type`).

    `twfe_estimate` is the weighted sum of the 2x2 estimates; `twfe_direct` the TWFE
    coefficient computed by double demeaning, as a check (equal up to rounding).
    """

    twfe_estimate: float
    twfe_direct: float
    comparisons: pd.DataFrame
    by_type: pd.DataFrame
    n_units: int
    n_periods: int

    @property
    def forbidden_weight(self) -> float:
        """Total weight on comparisons that use already-treated units as controls."""
        mask = self.comparisons["type"].isin(FORBIDDEN_TYPES)
        return float(self.comparisons.loc[mask, "weight"].sum())

    def tidy(self) -> pd.DataFrame:
        return self.comparisons.copy()

    def summary(self) -> str:
        return "\n".join(
            [
                f"Goodman-Bacon decomposition ({self.n_units} units, {self.n_periods} periods)",
                self.by_type.to_string(index=False, float_format=lambda v: f"{v:.5f}"),
                f"TWFE estimate (weighted sum of 2x2s): {self.twfe_estimate:.6f}",
                f"Weight on comparisons with already-treated controls: {self.forbidden_weight:.4f}",
            ]
        )

    def to_dict(self) -> dict:
        return {
            "twfe_estimate": self.twfe_estimate,
            "twfe_direct": self.twfe_direct,
            "forbidden_weight": self.forbidden_weight,
            "by_type": clean_records(self.by_type.to_dict("records")),
            "comparisons": clean_records(self.comparisons.to_dict("records")),
            "n_units": self.n_units,
            "n_periods": self.n_periods,
        }


def fit_bacon(panel: PanelData) -> BaconResult:
    """Decompose the TWFE coefficient of y on an absorbing treatment dummy with unit and
    period fixed effects. Treatment is 1 from the unit's cohort (first treated period) on."""
    if not panel.is_balanced:
        raise EstimationInputError(
            "the Goodman-Bacon decomposition needs a balanced panel (every unit observed in "
            f"every period); this panel has {len(panel.frame)} rows for {panel.n_units} units x "
            f"{len(panel.periods)} periods. Drop units or periods with gaps, or skip the "
            "decomposition"
        )
    periods = panel.periods
    n_t = len(periods)
    wide = panel.frame.pivot(index=panel.unit, columns=panel.time, values=panel.outcome)
    wide = wide.reindex(columns=periods)
    cohort_by_unit = panel.frame.groupby(panel.unit)[panel.cohort].first().reindex(wide.index)
    # Cohorts at or before the first period are treated throughout: "always treated".
    timing = np.where(cohort_by_unit > 0, np.maximum(cohort_by_unit, periods[0]), 0)
    y = wide.to_numpy(float)
    d = (timing[:, None] > 0) & (periods[None, :] >= timing[:, None])

    groups = np.unique(timing)
    n_units = y.shape[0]
    share = {g: float(np.mean(timing == g)) for g in groups}
    d_bar = {g: (float(np.mean(periods >= g)) if g > 0 else 0.0) for g in groups}
    mean_path = {g: y[timing == g].mean(axis=0) for g in groups}

    dd = d.astype(float)
    d_tilde = dd - dd.mean(1, keepdims=True) - dd.mean(0, keepdims=True) + dd.mean()
    var_d = float(np.mean(d_tilde**2))
    if var_d <= 0:
        raise EstimationInputError(
            "treatment does not vary within units over time; nothing to decompose (need units "
            "whose treatment starts inside the panel)"
        )
    twfe_direct = float(np.sum(d_tilde * y) / np.sum(d_tilde**2))

    def window_mean(g, mask) -> float:
        return float(mean_path[g][mask].mean())

    rows = []
    always = [g for g in groups if g > 0 and d_bar[g] == 1.0]
    timed = [g for g in groups if g > 0 and 0 < d_bar[g] < 1]
    never = 0 in share
    for k in timed:
        pre, post = periods < k, periods >= k
        controls = ([0] if never else []) + always
        for c in controls:
            n_pair = share[k] + share[c]
            n_rel = share[k] / n_pair
            weight = n_pair**2 * n_rel * (1 - n_rel) * d_bar[k] * (1 - d_bar[k]) / var_d
            est = (window_mean(k, post) - window_mean(k, pre)) - (
                window_mean(c, post) - window_mean(c, pre)
            )
            kind = TREATED_VS_UNTREATED if c == 0 else LATER_VS_ALWAYS
            rows.append((kind, k, c, est, weight))
    for i, k in enumerate(timed):
        for ell in timed[i + 1 :]:
            n_pair = share[k] + share[ell]
            n_rel = share[k] / n_pair
            dk, dl = d_bar[k], d_bar[ell]
            pre, mid, post = periods < k, (periods >= k) & (periods < ell), periods >= ell
            w_early = (
                (n_pair * (1 - dl)) ** 2
                * n_rel
                * (1 - n_rel)
                * (dk - dl)
                / (1 - dl)
                * (1 - dk)
                / (1 - dl)
                / var_d
            )
            est_early = (window_mean(k, mid) - window_mean(k, pre)) - (
                window_mean(ell, mid) - window_mean(ell, pre)
            )
            w_late = (n_pair * dk) ** 2 * n_rel * (1 - n_rel) * dl / dk * (dk - dl) / dk / var_d
            est_late = (window_mean(ell, post) - window_mean(ell, mid)) - (
                window_mean(k, post) - window_mean(k, mid)
            )
            rows.append((EARLIER_VS_LATER, k, ell, est_early, w_early))
            rows.append((LATER_VS_EARLIER, ell, k, est_late, w_late))

    comparisons = pd.DataFrame(rows, columns=["type", "treated", "control", "estimate", "weight"])
    comparisons["treated"] = comparisons["treated"].astype(int)
    comparisons["control"] = comparisons["control"].astype(int)
    by_type = (
        comparisons.assign(wx=comparisons["estimate"] * comparisons["weight"])
        .groupby("type", as_index=False)[["weight", "wx"]]
        .sum()
    )
    by_type["avg_estimate"] = by_type["wx"] / by_type["weight"]
    by_type = by_type.drop(columns="wx").sort_values("type").reset_index(drop=True)
    return BaconResult(
        twfe_estimate=float((comparisons["estimate"] * comparisons["weight"]).sum()),
        twfe_direct=twfe_direct,
        comparisons=comparisons,
        by_type=by_type,
        n_units=n_units,
        n_periods=n_t,
    )

"""Few-district inference for the headline estimates: randomization inference (RI).

RI reassigns the roll-out dates across districts and recomputes a statistic; the p-value is
the share of reassignments giving a statistic at least as far from zero as the real one.

What it proves depends on how the roll-out order was decided (config `rollout.randomized`):
- randomized (by lot): under the sharp null of no effect in any district every reassignment
  was equally likely, so the p-value is exact whatever the number of districts (Fisher);
- not randomized (the default, the usual case): the same number is a placebo / permutation
  check. It is valid only if the roll-out dates are exchangeable across districts (which
  district started when was as good as random), an assumption, not a design fact; so the
  word "exact" is never used then.

Statistic: the Callaway-Sant'Anna overall ATT ("reg", analytic) divided by its
district-clustered analytic SE (`StudentizedCS`); ~0.1 ms per reassignment and outcome on
10-25 districts x 48-120 months computed in blocks of draws (`evaluation.ri_batch.BatchedCS`,
the same numbers; `evaluation.ri_batch_rc.BatchedRC` for unbalanced panels: ~0.5 ms per draw
at 300 districts x 80 quarters instead of ~250 ms per draw), ~1-10 ms per draw with the
design reused (`ReassignedCS`, for draws the batch hands back), ~10 ms refitted.
Studentizing makes the permutation test also asymptotically valid for the weak null (average
effect zero with heterogeneous effects; Chung & Romano 2013, Wu & Ding 2021) and puts all
outcomes on one scale, which the family-wise adjustment across outcomes needs
(`evaluation.permutations`). The SE is the analytic one, not a few-district-corrected one: it
only needs to be cheap and to track the noise of the reassigned comparison; a constant
correction factor would not change any p-value, and the permutation distribution, not a t
table, gives the reference. Crime uses it on the population-weighted rate per 1,000 (one
Poisson refit per reassignment would take minutes for 999 reassignments x 3 outcomes).

A reassignment the estimator cannot analyse is dropped from the denominator
(`estimators.randomization.permutation_p`); the p-value is withheld (None with a reason)
when fewer than `MIN_VALID_PERMUTATIONS` remain or more than `MAX_DROPPED_SHARE` were dropped.

With many units (a beat-level city has hundreds) cluster-robust inference is reliable and RI
is only a cross-check, while each permutation refits a bigger panel, so above `MANY_UNITS`
units at most `MANY_UNITS_PERMUTATIONS` permutations are drawn (Monte Carlo SE of a p-value
near 0.05: about 0.015).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

from estimators.callaway_santanna import att_gt
from estimators.cs_aggregate import weight_influence
from estimators.cs_core import CSDesign, build_design, estimate_cells, plan_cells
from estimators.multiplier_bootstrap import analytic_se
from estimators.panel import EstimationInputError, PanelData
from estimators.randomization import permutation_p, randomization_inference
from estimators.results import Estimate

MANY_UNITS = 60
MANY_UNITS_PERMUTATIONS = 199
# 19 valid reassignments are the fewest for which p can reach 0.05 at all
MIN_VALID_PERMUTATIONS = 19
# more dropped than kept: the reference set is no longer "the roll-out reshuffled"
MAX_DROPPED_SHARE = 0.5
STATISTIC = "studentized Callaway-Sant'Anna overall ATT (estimate / district-clustered SE)"


class CSOverall:
    """Callaway-Sant'Anna simple ATT of a panel, as an RI statistic."""

    def __init__(self, control_group: str, anticipation: int):
        self.control_group = control_group
        self.anticipation = anticipation

    def overall(self, panel: PanelData) -> Estimate | None:
        """The statistic with its analytic SE (the simulated MDE tests with it); None when
        the panel has no usable comparison."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = att_gt(
                    panel,
                    control_group=self.control_group,
                    est_method="reg",
                    anticipation=self.anticipation,
                )
                return res.aggregate("simple").overall
            except (EstimationInputError, ValueError):
                return None

    def __call__(self, panel: PanelData) -> float:
        est = self.overall(panel)
        # no usable comparison: NaN, dropped from the RI denominator
        return math.nan if est is None else float(est.estimate)


class StudentizedCS(CSOverall):
    """CS simple ATT / its analytic district-clustered SE; NaN when either is unavailable
    (no usable comparison, or an SE of zero: nothing to studentize by)."""

    def __call__(self, panel: PanelData) -> float:
        est = self.overall(panel)
        if est is None or not (math.isfinite(est.se) and est.se > 0):
            return math.nan
        return float(est.estimate / est.se)


class ReassignedCS:
    """`StudentizedCS` of one panel under reassigned cohorts, without rebuilding the panel.

    Building the CS design (pandas factorising, layout) is ~70% of a fit on 10-25 districts,
    and a reassignment changes only each unit's cohort; so the design is built once and each
    draw swaps `unit_cohort` and re-runs the cells and the simple aggregation (5-7x faster:
    999 reassignments x 5 outcomes took 5.6 s instead of 37 s on 14 districts x 48 months).
    Exactly what `att_gt(..., est_method="reg")` computes (tested to 1e-10), as long as R did's
    sample rules, which look at cohorts, change nothing: `__call__` returns None (refit the
    whole panel instead) when a draw has a unit treated from the first period or no
    never-treated unit. `ReassignedCS.build` returns None when the design itself cannot be
    reused (the actual roll-out already triggers a sample rule).
    """

    def __init__(self, stat: StudentizedCS, design: CSDesign):
        self.stat, self.design = stat, design

    @classmethod
    def build(cls, stat: StudentizedCS, panel: PanelData) -> ReassignedCS | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                design = build_design(panel, stat.control_group, stat.anticipation)
            except (EstimationInputError, ValueError):
                return None
        return None if design.notes else cls(stat, design)

    @property
    def unit_ids(self) -> np.ndarray:
        return self.design.unit_ids

    def __call__(self, unit_cohort: np.ndarray) -> float | None:
        """The statistic with `unit_cohort` (in `unit_ids` order); NaN when not estimable."""
        c = np.asarray(unit_cohort, dtype=float)
        periods = self.design.periods
        if ((c > 0) & (c <= periods[0])).any() or not (c == 0).any():
            return None
        d = dataclasses.replace(self.design, unit_cohort=c, groups=np.unique(c[c > 0]))
        a = self.stat.anticipation
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plans = plan_cells(d, "varying", a)
            if not plans:
                return math.nan
            try:
                att, inf, plans, _ = estimate_cells(d, plans, self.stat.control_group, a, "reg")
            except (EstimationInputError, ValueError):
                return math.nan
            if len(att) == 0:
                return math.nan
        est, se = simple_aggregate(att, inf, plans, periods, c, d)
        if not (math.isfinite(se) and se > 0):
            return math.nan
        return float(est / se)


def simple_aggregate(att, inf, plans, periods, unit_cohort, design) -> tuple[float, float]:
    """R `aggte(type = "simple")` with analytic SE: the post cells averaged with weights
    P(G = g), plus the influence of estimating those weights (`cs_aggregate.aggregate`'s
    formula, without building its tables and intervals, which cost more than the cells)."""
    group = np.array([p.group for p in plans])
    time = periods[[p.time_idx for p in plans]].astype(float)
    uw = design.unit_weight
    glist = np.unique(group)
    pgg = np.array([np.mean(uw * (unit_cohort == g)) for g in glist])
    pg = pgg[np.searchsorted(glist, group)]
    which = np.flatnonzero(group <= time)
    if len(which) == 0:
        return math.nan, math.nan
    w = pg[which] / pg[which].sum()
    inf_o = inf[:, which] @ w + weight_influence(which, pg, uw, unit_cohort, group) @ att[which]
    se = analytic_se(inf_o[:, None], design.cluster_codes, design.n_clusters)[0]
    return float(att[which] @ w), float(se)


def permutations_for(requested: int, n_units: int) -> int:
    """The permutations actually drawn: all requested ones unless the city has many units."""
    return requested if n_units <= MANY_UNITS else min(requested, MANY_UNITS_PERMUTATIONS)


def _p_text(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def interpretation(p, n_valid: int, dropped: int, exact: bool, reason: str | None) -> str:
    """One plain sentence (two when some reassignments were dropped) for the report."""
    if p is None:
        return f"Randomization check not available: {reason}."
    n_extreme = round(p * (n_valid + 1)) - 1
    share = f"{n_extreme} ({100 * n_extreme / max(n_valid, 1):.1f}%)"
    if exact:
        text = (
            "The roll-out order was randomized, so this is an exact test of no effect in any "
            f"district: of {n_valid} random reassignments of the roll-out dates, {share} gave "
            f"an estimate at least as far from zero as the real one (p = {_p_text(p)})."
        )
    else:
        text = (
            "A placebo check, not an exact test: of "
            f"{n_valid} reshufflings of which districts started when, {share} gave an "
            f"estimate at least as far from zero as the real one (p = {_p_text(p)}); this "
            "holds only if the roll-out order was as good as random, which the configuration "
            "does not claim (rollout.randomized)."
        )
    if dropped:
        text += f" {dropped} reshufflings could not be analysed and were left out."
    return text


def ri_entry(
    observed: float,
    draws: np.ndarray,
    *,
    statistic: str,
    exact: bool,
    reason: str | None = None,
) -> dict:
    """results.json `outcomes.<name>.ri`: p (None with `reason` when withheld), the
    statistic, valid and dropped reassignments, `exact` and a plain interpretation."""
    draws = np.asarray(draws, float)
    p, n_valid = permutation_p(observed, draws) if len(draws) else (math.nan, 0)
    dropped = len(draws) - n_valid
    if reason is None:
        if not math.isfinite(observed):
            reason = "the statistic could not be computed for the actual roll-out"
        elif n_valid < MIN_VALID_PERMUTATIONS:
            reason = (
                f"only {n_valid} reshuffled roll-outs could be analysed (at least "
                f"{MIN_VALID_PERMUTATIONS} are needed for p to reach 0.05)"
            )
        elif dropped > MAX_DROPPED_SHARE * len(draws):
            reason = (
                f"{dropped} of {len(draws)} reshuffled roll-outs could not be analysed, "
                "so the rest no longer stand for the roll-out reshuffled"
            )
    out_p = None if reason is not None else float(p)
    return {
        "p": out_p,
        "statistic": statistic,
        "permutations": int(n_valid),
        "dropped": int(dropped),
        "exact": bool(exact and out_p is not None),
        "interpretation": interpretation(out_p, n_valid, dropped, exact, reason),
        **({"reason": reason} if reason is not None else {}),
    }


def ri_p_value(
    panel: PanelData, control_group: str, anticipation: int, n_permutations: int, seed: int
) -> float | None:
    """One panel's studentized RI p-value on its own permutations (the pipeline draws one
    set for all outcomes instead: `evaluation.permutations`); None when withheld."""
    if n_permutations <= 0:
        return None
    n_permutations = permutations_for(n_permutations, panel.n_units)
    res = randomization_inference(
        panel, StudentizedCS(control_group, anticipation), n_permutations=n_permutations, seed=seed
    )
    return ri_entry(res.observed, res.null_draws, statistic=STATISTIC, exact=False)["p"]

"""Canonical 2x2 DiD, two-way fixed effects (TWFE) and the event-study TWFE regression.

TWFE is the benchmark the heterogeneity-robust estimators are compared with: with staggered
adoption and effects that grow over time it is a weighted average with possibly negative
weights (Goodman-Bacon 2021), so it is kept for transparency, not as the headline.

Inference: cluster-robust (CR1) sandwich. Default small-sample correction "nested"
(Stata reghdfe / fixest): G/(G-1) * (N-1)/(N-K), K = slopes + time effects (unit effects are
nested in the clusters and do not count). `ssc="statsmodels"` reproduces OLS with explicit
dummies and cov_type='cluster'; `ssc="linearmodels"` reproduces linearmodels PanelOLS
clustered (N/(N-K), no G/(G-1)). Intervals and p-values use t(G-1) critical values (as Stata and fixest), which is
more honest than the normal with few clusters; the wild cluster bootstrap is better still.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from estimators._design import PanelArrays, RegressionDiDResult, panel_arrays
from estimators.fixed_effects import TwoWayFE, feols, ols_cluster
from estimators.panel import EstimationInputError, PanelData
from estimators.results import Estimate


def t_estimate(est: float, se: float, alpha: float, df: int) -> Estimate:
    """Estimate with a t(df) interval and p-value (df = clusters - 1)."""
    if not np.isfinite(se) or se <= 0:
        return Estimate(float(est), float(se), np.nan, np.nan, np.nan)
    crit = stats.t.ppf(1 - alpha / 2, df)
    p = 2 * stats.t.sf(abs(est) / se, df)
    return Estimate(float(est), float(se), float(est - crit * se), float(est + crit * se), float(p))


def t_record(key: str, value, est: float, se: float, alpha: float, df: int, **extra) -> dict:
    e = t_estimate(est, se, alpha, df)
    return {
        key: value,
        "estimate": e.estimate,
        "se": e.se,
        "ci_low": e.ci_low,
        "ci_high": e.ci_high,
        "p_value": e.p_value,
        **extra,
    }


def treatment_dummy(arr: PanelArrays, anticipation: int = 0) -> np.ndarray:
    return ((arr.cohort > 0) & (arr.period >= arr.cohort - anticipation)).astype(float)


def _covariates(panel: PanelData, rows: np.ndarray | None = None) -> np.ndarray:
    cov = panel.frame[list(panel.covariates)].to_numpy(float)
    return cov if rows is None else cov[rows]


def _fe(arr: PanelArrays, rows: np.ndarray | None = None) -> TwoWayFE:
    sel = slice(None) if rows is None else rows
    w = None if arr.weights is None else arr.weights[sel]
    return TwoWayFE(arr.unit[sel], arr.time[sel], w, arr.n_units, arr.n_periods)


def fit_twfe(
    panel: PanelData,
    *,
    anticipation: int = 0,
    ssc: str = "nested",
    alpha: float = 0.05,
    wild_bootstrap: int = 0,
    bootstrap_weights: str = "rademacher",
    seed: int | None = None,
) -> RegressionDiDResult:
    """y_it = a_i + l_t + beta * D_it (+ covariates) + e_it, D_it = 1[t >= cohort - anticipation].

    With `wild_bootstrap=B > 0`, the p-value and interval of beta come from the restricted
    wild cluster bootstrap (WCR-t, test inversion); the SE stays the CR1 one.
    """
    arr = panel_arrays(panel)
    d = treatment_dummy(arr, anticipation)
    x = np.column_stack([d, _covariates(panel)]) if panel.covariates else d[:, None]
    fe = _fe(arr)
    fit = feols(arr.y, x, fe, arr.cluster, ssc, arr.units_nested_in_clusters)
    se = np.sqrt(np.diag(fit.vcov))
    df = fit.n_clusters - 1
    overall = t_estimate(fit.coef[0], se[0], alpha, df)
    notes = [
        f"cluster-robust SE, small-sample correction '{ssc}' (factor "
        f"{fit.df_factor:.6f}); t({df}) critical values"
    ]
    if wild_bootstrap:
        from estimators.wild_bootstrap import wild_cluster_bootstrap

        wb = wild_cluster_bootstrap(
            fe,
            x,
            arr.y,
            arr.cluster,
            restriction=np.eye(x.shape[1])[0],
            n_boot=wild_bootstrap,
            weight_type=bootstrap_weights,
            seed=seed,
            alpha=alpha,
        )
        overall = Estimate(overall.estimate, overall.se, wb.ci_low, wb.ci_high, wb.p_value)
        notes.append(
            f"p-value and interval: restricted wild cluster bootstrap "
            f"({wb.weight_type}, {wb.n_draws} draws"
            f"{', full enumeration' if wb.enumerated else ''})"
        )
    names = ["treated", *panel.covariates]
    coefs = [t_record("term", n, fit.coef[i], se[i], alpha, df) for i, n in enumerate(names)]
    return RegressionDiDResult(
        method="twfe",
        overall=overall,
        coefficients=coefs,
        n_units=arr.n_units,
        n_obs=fit.n_obs,
        n_clusters=fit.n_clusters,
        alpha=alpha,
        notes=notes,
        vcov=fit.vcov,
    )


def fit_did2x2(
    panel: PanelData, *, treated_cohort: int | None = None, alpha: float = 0.05
) -> RegressionDiDResult:
    """Canonical 2x2: one treated cohort against never-treated units, before vs after.

    y = b0 + b1 treat + b2 post + b3 treat*post; b3 is the DiD. With several cohorts, pick one
    with `treated_cohort` (default: the earliest). CR1 covariance as statsmodels
    (G/(G-1) * (N-1)/(N-4)).
    """
    arr = panel_arrays(panel)
    groups = panel.groups
    if not (arr.cohort == 0).any():
        raise EstimationInputError("the 2x2 DiD needs never-treated units (cohort 0 or empty)")
    g = int(groups[0]) if treated_cohort is None else int(treated_cohort)
    if g not in set(groups.tolist()):
        raise EstimationInputError(f"treated_cohort {g} is not one of the cohorts {groups}")
    rows = (arr.cohort == 0) | (arr.cohort == g)
    treat = (arr.cohort[rows] == g).astype(float)
    post = (arr.period[rows] >= g).astype(float)
    if post.all() or not post.any():
        raise EstimationInputError(f"cohort {g} has no pre- or no post-treatment periods")
    x = np.column_stack([np.ones(rows.sum()), treat, post, treat * post])
    w = None if arr.weights is None else arr.weights[rows]
    cl = np.unique(arr.cluster[rows], return_inverse=True)[1]
    coef, vcov, factor = ols_cluster(arr.y[rows], x, cl, w)
    se = np.sqrt(np.diag(vcov))
    df = int(cl.max())
    names = ["intercept", "treated_group", "post", "treated_x_post"]
    return RegressionDiDResult(
        method="did2x2",
        overall=t_estimate(coef[3], se[3], alpha, df),
        coefficients=[t_record("term", n, coef[i], se[i], alpha, df) for i, n in enumerate(names)],
        n_units=int(len(np.unique(arr.unit[rows]))),
        n_obs=int(rows.sum()),
        n_clusters=df + 1,
        alpha=alpha,
        vcov=vcov,
        notes=[f"cohort {g} vs never treated; post = period >= {g}; CR1 factor {factor:.6f}"],
    )


def event_dummies(
    arr: PanelArrays, window: tuple[int, int] | None, bin_endpoints: bool, reference: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Relative-time design shared by the event-study and Sun-Abraham regressions.

    Returns (rows kept, relative time per kept row (NaN-free ints; never-treated get a
    sentinel), event times that get a dummy, notes). Without a window every observed
    relative time gets a dummy. With a window, endpoints are binned (`bin_endpoints`) or
    treated observations outside it are dropped.
    """
    treated = arr.cohort > 0
    rel = np.where(treated, arr.period - arr.cohort, 0).astype(np.int64)
    keep = np.ones(len(rel), bool)
    notes = []
    if window is not None:
        lo, hi = window
        if bin_endpoints:
            rel = np.where(treated, np.clip(rel, lo, hi), rel)
            notes.append(f"event times binned at {lo} and {hi}")
        else:
            keep = ~treated | ((rel >= lo) & (rel <= hi))
            notes.append(f"treated observations outside event window [{lo}, {hi}] dropped")
    times = np.unique(rel[treated & keep])
    times = times[times != reference]
    if not (arr.cohort == 0).any() and len(times):
        # Without never-treated units the fully dynamic model is collinear with the time
        # effects; normalise a second event time (the earliest lead).
        notes.append(f"no never-treated units: event time {times[0]} also normalised to 0")
        times = times[1:]
    return keep, rel, times, notes


def fit_event_study(
    panel: PanelData,
    *,
    window: tuple[int, int] | None = None,
    bin_endpoints: bool = False,
    anticipation: int = 0,
    ssc: str = "nested",
    alpha: float = 0.05,
) -> RegressionDiDResult:
    """TWFE with relative-time dummies; reference period -1 - anticipation.

    Never-treated units have all dummies 0 (they are the controls). `overall` is the average
    of the post-period (e >= 0) coefficients weighted by their numbers of treated
    observations, i.e. a per-treated-observation ATT under the TWFE event-study model.
    """
    arr = panel_arrays(panel)
    reference = -1 - anticipation
    keep, rel, times, notes = event_dummies(arr, window, bin_endpoints, reference)
    treated = (arr.cohort > 0)[keep]
    rel_k = rel[keep]
    x = (treated[:, None] & (rel_k[:, None] == times[None, :])).astype(float)
    if panel.covariates:
        x = np.column_stack([x, _covariates(panel, keep)])
    rows = np.flatnonzero(keep)
    fe = _fe(arr, rows)
    cl = np.unique(arr.cluster[rows], return_inverse=True)[1]
    fit = feols(arr.y[rows], x, fe, cl, ssc, arr.units_nested_in_clusters)
    se = np.sqrt(np.diag(fit.vcov))
    df = fit.n_clusters - 1
    counts = x[:, : len(times)].sum(axis=0)
    es = [
        t_record("event_time", int(e), fit.coef[j], se[j], alpha, df, n_obs=int(counts[j]))
        for j, e in enumerate(times)
    ]
    post = np.zeros(x.shape[1])
    post[: len(times)] = np.where(times >= 0, counts, 0.0)
    overall = None
    if post.sum() > 0:
        post /= post.sum()
        overall = t_estimate(post @ fit.coef, float(np.sqrt(post @ fit.vcov @ post)), alpha, df)
    notes = [
        f"reference event time {reference}",
        *notes,
        f"cluster-robust SE, correction '{ssc}' (factor {fit.df_factor:.6f})",
    ]
    return RegressionDiDResult(
        method="event-study",
        overall=overall,
        event_study=es,
        n_units=arr.n_units,
        n_obs=fit.n_obs,
        n_clusters=fit.n_clusters,
        alpha=alpha,
        notes=notes,
        vcov=fit.vcov,
        coefficients=[
            {"term": f"rel::{int(e)}", "estimate": fit.coef[j], "se": se[j]}
            for j, e in enumerate(times)
        ],
    )

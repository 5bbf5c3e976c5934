"""Borusyak, Jaravel & Spiess (2024) imputation estimator.

Fit unit and period effects on untreated observations only (never treated, not yet treated,
outside the anticipation window), impute each treated observation's untreated outcome,
and average tau_it = y_it - yhat0_it over the treated observations of interest.

Standard errors: the conservative cluster-robust variance of BJS Theorem 3. Every estimand
is a linear function sum_it v_it y_it; the weights on untreated observations are
v0 = -Z0 (Z0'Z0)^- Z1' w1 (one solve of the two-way normal equations per estimand). The
variance is sum over clusters of (sum_it v_it e_it)^2 with e the untreated residuals and, for
treated observations, tau_it minus its v^2-weighted mean within its cohort x event-time cell
(BJS's default partition). No small-sample factor is applied (as in BJS / did_imputation).
Pre-trend leads are not part of this estimator; use the Sun-Abraham leads or `pretrends`.
"""

from __future__ import annotations

import numpy as np

from estimators._design import RegressionDiDResult, panel_arrays
from estimators.fixed_effects import TwoWayFE, cluster_sums
from estimators.panel import EstimationInputError, PanelData
from estimators.twfe import t_estimate, t_record


def fit_imputation(
    panel: PanelData,
    *,
    anticipation: int = 0,
    horizons: tuple[int, int] | None = None,
    alpha: float = 0.05,
) -> RegressionDiDResult:
    """Imputation ATT: overall, by event time (>= 0, optionally within `horizons`), by cohort."""
    arr = panel_arrays(panel)
    w = np.ones(len(arr.y)) if arr.weights is None else arr.weights
    treated = (arr.cohort > 0) & (arr.period >= arr.cohort - anticipation)
    untreated = ~treated
    notes = []
    # Treated observations need an untreated observation of their unit and of their period.
    unit_ok = np.bincount(arr.unit[untreated], minlength=arr.n_units) > 0
    time_ok = np.bincount(arr.time[untreated], minlength=arr.n_periods) > 0
    imputable = treated & unit_ok[arr.unit] & time_ok[arr.time]
    dropped = int(treated.sum() - imputable.sum())
    if dropped:
        notes.append(
            f"{dropped} treated observations dropped: no untreated observation of "
            "their unit or period to impute from"
        )
    if not imputable.any():
        raise EstimationInputError(
            "no treated observation can be imputed (no untreated "
            "observations in their units or periods)"
        )
    rows0 = np.flatnonzero(untreated)
    rows1 = np.flatnonzero(imputable)
    fe0 = TwoWayFE(arr.unit[rows0], arr.time[rows0], w[rows0], arr.n_units, arr.n_periods)
    alpha_u, lam_t = fe0.coefficients(arr.y[rows0])
    resid0 = arr.y[rows0] - alpha_u[arr.unit[rows0]] - lam_t[arr.time[rows0]]
    u1, t1 = arr.unit[rows1], arr.time[rows1]
    tau = arr.y[rows1] - alpha_u[u1] - lam_t[t1]
    g1 = arr.cohort[rows1].astype(np.int64)
    e1 = (arr.period[rows1] - g1).astype(np.int64)
    w1 = w[rows1]

    # One column of treated-observation weights per estimand.
    labels: list[tuple[str, int]] = [("overall", 0)]
    cols = [np.ones(len(rows1))]
    event_times = np.unique(e1[e1 >= 0])
    if horizons is not None:
        event_times = event_times[(event_times >= horizons[0]) & (event_times <= horizons[1])]
    for ev in event_times:
        labels.append(("event", int(ev)))
        cols.append((e1 == ev).astype(float))
    for gg in np.unique(g1):
        labels.append(("group", int(gg)))
        cols.append((g1 == gg).astype(float))
    wmat = np.column_stack(cols) * w1[:, None]
    wmat /= wmat.sum(axis=0, keepdims=True)
    est = wmat.T @ tau

    # Implied weights on untreated observations: v0 = -Z0 (Z0'Z0)^- Z1'w1.
    gam_a, gam_b = fe0.solve(
        _level_sums(u1, arr.n_units, wmat), _level_sums(t1, arr.n_periods, wmat)
    )
    v0 = -(gam_a[arr.unit[rows0]] + gam_b[arr.time[rows0]]) * w[rows0][:, None]

    # Treated residuals: tau minus its v^2-weighted mean within cohort x event-time cells,
    # done per estimand column.
    cell = np.unique(np.stack([g1, e1], axis=1), axis=0, return_inverse=True)[1].ravel()
    n_cell = int(cell.max() + 1)
    v1 = wmat
    num = _level_sums(cell, n_cell, v1**2 * tau[:, None])
    den = _level_sums(cell, n_cell, v1**2)
    tau_bar = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    eps1 = tau[:, None] - tau_bar[cell]

    cl = np.unique(arr.cluster, return_inverse=True)[1]
    n_cl = int(cl.max() + 1)
    scores = cluster_sums(v0 * resid0[:, None], cl[rows0], n_cl) + cluster_sums(
        v1 * eps1, cl[rows1], n_cl
    )
    se = np.sqrt(np.sum(scores**2, axis=0))
    df = n_cl - 1
    overall = t_estimate(est[0], se[0], alpha, df)
    event_study, group = [], []
    for j, (kind, key) in enumerate(labels[1:], start=1):
        if kind == "event":
            event_study.append(t_record("event_time", key, est[j], se[j], alpha, df))
        else:
            group.append(t_record("group", key, est[j], se[j], alpha, df))
    notes.append("conservative BJS variance (Theorem 3), clustered, no small-sample factor")
    return RegressionDiDResult(
        method="imputation",
        overall=overall,
        event_study=event_study,
        group=group,
        n_units=arr.n_units,
        n_obs=len(arr.y),
        n_clusters=n_cl,
        alpha=alpha,
        notes=notes,
    )


def _level_sums(codes: np.ndarray, n_levels: int, values: np.ndarray) -> np.ndarray:
    """Sums of each column of `values` within levels: (n_levels x k)."""
    out = np.empty((n_levels, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, values[:, j], n_levels)
    return out

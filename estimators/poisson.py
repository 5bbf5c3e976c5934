"""Poisson (PPML) extended two-way fixed effects for counts, reporting proportional effects.

Wooldridge (2023) extended TWFE: log E[y_it] = a_i + l_t + tau_{g,t} D_{g,t} + offset, with a
separate tau for every treated (cohort, period) cell. With counts the interesting effect is
proportional (Chen & Roth 2024: log(1+y) is not a percentage), so the headline is

    theta = sum_treated (mu1 - mu0) / sum_treated mu0,  mu1 = exp(a + l + tau), mu0 = exp(a + l),

the percentage change in the expected count of the treated cells; the same ratio over one
event time or cohort gives the dynamic and group aggregations.

Computation: "period effect + cell effect" is one categorical (a level per period for
untreated cells, one per treated cell), so the model is a two-way fixed-effect Poisson
(units x levels). IRLS solves each weighted least-squares step exactly with `TwoWayFE`
(Schur complement on the smaller factor), without dummies: 300 units x 240 months takes
seconds. Units or levels whose counts are all zero have no finite MLE (their fitted means
are 0) and are set aside; treated cells with zero counts keep mu1 = 0 in theta.

Inference: cluster-robust sandwich via the delta method, h = H^- grad(theta) with H the
Fisher information of the fixed effects, influence per cluster sum (y - mu)(h_a + h_b); the
small-sample factor follows `ssc` as in `twfe` ("statsmodels" matches GLM with dummies).
"""

from __future__ import annotations

import numpy as np

from estimators._design import RegressionDiDResult, panel_arrays
from estimators.fixed_effects import TwoWayFE, pair_sums, small_sample_factor
from estimators.panel import EstimationInputError, PanelData
from estimators.twfe import t_estimate, t_record


def _irls(y, w, a_codes, b_codes, n_a, n_b, offset, tol=1e-12, max_iter=200):
    """Two-way fixed-effect Poisson MLE; returns (coef_a, coef_b, mu, fe at the solution)."""
    mu = (y + y.mean()) / 2 + 1e-3
    eta = np.log(mu)
    dev_old = np.inf
    for _ in range(max_iter):
        z = eta - offset + (y - mu) / mu
        fe = TwoWayFE(a_codes, b_codes, w * mu, n_a, n_b)
        ca, cb = fe.coefficients(z)
        eta = ca[a_codes] + cb[b_codes] + offset
        mu = np.exp(eta)
        ratio = np.where(y > 0, y / mu, 1.0)
        dev = 2 * np.sum(w * (np.where(y > 0, y * np.log(ratio), 0.0) - (y - mu)))
        if abs(dev - dev_old) <= tol * (abs(dev) + 0.1):
            break
        dev_old = dev
    else:
        raise RuntimeError("Poisson IRLS did not converge")
    fe = TwoWayFE(a_codes, b_codes, w * mu, n_a, n_b)
    return ca, cb, mu, fe


def fit_poisson(
    panel: PanelData,
    *,
    exposure: str | np.ndarray | None = None,
    anticipation: int = 0,
    ssc: str = "nested",
    alpha: float = 0.05,
) -> RegressionDiDResult:
    """Extended-TWFE Poisson; `exposure` (e.g. population) enters as a log offset.

    `exposure` is a column of `panel.frame` (prepare_panel keeps only the columns it is told
    about, so pass it e.g. among the covariates, which Poisson does not otherwise use) or an
    array aligned with the panel's rows. Covariates are not modelled.
    """
    arr = panel_arrays(panel)
    y = arr.y
    if (y < 0).any():
        raise EstimationInputError(f"Poisson needs non-negative counts in '{panel.outcome}'")
    w = np.ones(len(y)) if arr.weights is None else arr.weights
    offset = np.zeros(len(y))
    if exposure is not None:
        if isinstance(exposure, str):
            if exposure not in panel.frame.columns:
                raise EstimationInputError(f"exposure column '{exposure}' is not in the panel")
            expo = panel.frame[exposure].to_numpy(float)
        else:
            expo = np.asarray(exposure, float)
            if expo.shape != y.shape:
                raise EstimationInputError("exposure array must have one value per panel row")
        if not (expo > 0).all():
            raise EstimationInputError(f"exposure column '{exposure}' must be positive")
        offset = np.log(expo)
    treated = (arr.cohort > 0) & (arr.period >= arr.cohort - anticipation)
    n_t = arr.n_periods
    keys, cell = np.unique(
        np.stack([arr.cohort[treated], arr.time[treated]], axis=1), axis=0, return_inverse=True
    )
    level = arr.time.copy()
    level[treated] = n_t + cell.ravel()
    n_levels = n_t + len(keys)
    unit_pos = np.bincount(arr.unit, w * y, arr.n_units) > 0
    level_pos = np.bincount(level, w * y, n_levels) > 0
    fit_rows = unit_pos[arr.unit] & level_pos[level]
    # Treated observations that enter theta: their unit and their period's untreated level
    # must be estimable; a treated cell with zero counts contributes mu1 = 0.
    target = treated & unit_pos[arr.unit] & level_pos[arr.time]
    notes = []
    if (treated & ~target).any():
        notes.append(
            f"{int((treated & ~target).sum())} treated observations dropped: their unit "
            "or period has only zero counts (no finite Poisson fixed effect)"
        )
    if not target.any():
        raise EstimationInputError("no treated observation with an estimable counterfactual")
    fr = np.flatnonzero(fit_rows)
    ca, cb, mu_fit, fe = _irls(
        y[fr], w[fr], arr.unit[fr], level[fr], arr.n_units, n_levels, offset[fr]
    )

    ti = np.flatnonzero(target)
    lvl_t = level[ti]
    mu0 = np.exp(ca[arr.unit[ti]] + cb[arr.time[ti]] + offset[ti])
    mu1 = np.where(level_pos[lvl_t], np.exp(ca[arr.unit[ti]] + cb[lvl_t] + offset[ti]), 0.0)
    wt = w[ti]
    g_t = arr.cohort[ti].astype(np.int64)
    e_t = (arr.period[ti] - g_t).astype(np.int64)

    masks, labels = [np.ones(len(ti), bool)], [("overall", 0)]
    for ev in np.unique(e_t):
        masks.append(e_t == ev)
        labels.append(("event", int(ev)))
    for gg in np.unique(g_t):
        masks.append(g_t == gg)
        labels.append(("group", int(gg)))
    sel = np.column_stack(masks).astype(float) * wt[:, None]
    s0 = sel.T @ mu0
    s1 = sel.T @ mu1
    theta = s1 / s0 - 1
    # Gradient of theta wrt (a, b): mu1 terms load on the cell level, mu0 on the period level.
    d1 = sel * mu1[:, None] / s0
    d0 = sel * mu0[:, None] * (s1 / s0**2)
    grad_a = _sums(arr.unit[ti], arr.n_units, d1 - d0)
    grad_b = _sums(lvl_t, n_levels, d1) - _sums(arr.time[ti], n_levels, d0)

    # Cell effects exp(tau) - 1 with tau = b_cell - b_period: gradient e_cell - e_period.
    n_cells = len(keys)
    cell_grad = np.zeros((n_levels, n_cells))
    cell_grad[n_t + np.arange(n_cells), np.arange(n_cells)] = 1.0
    cell_grad[keys[:, 1], np.arange(n_cells)] -= 1.0
    grad_a = np.column_stack([grad_a, np.zeros((arr.n_units, n_cells))])
    grad_b = np.column_stack([grad_b, cell_grad])
    h_a, h_b = fe.solve(grad_a, grad_b)
    resid = w[fr] * (y[fr] - mu_fit)
    cl = np.unique(arr.cluster[fr], return_inverse=True)[1]
    n_cl = int(cl.max() + 1)
    # Cluster influence: sum over a cluster's rows of resid * (h_a[unit] + h_b[level]).
    infl = (
        pair_sums(cl, n_cl, arr.unit[fr], arr.n_units, resid) @ h_a
        + pair_sums(cl, n_cl, level[fr], n_levels, resid) @ h_b
    )
    nested = (
        int(np.sum(np.bincount(arr.unit[fr], minlength=arr.n_units) > 0))
        if arr.units_nested_in_clusters
        else 0
    )
    factor = small_sample_factor(ssc, len(fr), n_cl, 0, fe.rank, nested)
    se_all = np.sqrt(factor * np.sum(infl**2, axis=0))
    k = len(labels)
    se, tau_se = se_all[:k], se_all[k:]
    df = n_cl - 1
    event_study, group = [], []
    for j, (kind, key) in enumerate(labels[1:], start=1):
        rec = t_record(
            "event_time" if kind == "event" else "group", key, theta[j], se[j], alpha, df
        )
        (event_study if kind == "event" else group).append(rec)
    tau = cb[n_t:] - cb[keys[:, 1]]
    ok = level_pos[n_t:]
    att_gt = [
        {
            "group": int(keys[c, 0]),
            "time": int(arr.periods[keys[c, 1]]),
            "estimate": float(np.expm1(tau[c])) if ok[c] else -1.0,
            "se": float(np.exp(tau[c]) * tau_se[c]) if ok[c] else float("nan"),
            "log_coef": float(tau[c]) if ok[c] else float("-inf"),
            "log_coef_se": float(tau_se[c]) if ok[c] else float("nan"),
        }
        for c in range(n_cells)
    ]
    notes.append(
        "proportional effects: sum(mu1 - mu0) / sum(mu0) over treated cells; "
        f"cluster-robust delta-method SE, correction '{ssc}' (factor {factor:.6f})"
    )
    if exposure is not None:
        notes.append("offset log(exposure)")
    return RegressionDiDResult(
        method="poisson",
        overall=t_estimate(theta[0], se[0], alpha, df),
        event_study=event_study,
        group=group,
        att_gt=att_gt,
        n_units=arr.n_units,
        n_obs=len(fr),
        n_clusters=n_cl,
        alpha=alpha,
        notes=notes,
    )


def _sums(codes: np.ndarray, n_levels: int, values: np.ndarray) -> np.ndarray:
    out = np.empty((n_levels, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, values[:, j], n_levels)
    return out

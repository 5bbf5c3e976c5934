"""Sun & Abraham (2021) interaction-weighted event study.

Regress y on unit and time effects plus a dummy for every (cohort, relative period) cell of
the treated cohorts except the reference period -1 - anticipation; the control cohort (never
treated, or the last-treated cohort with periods from its adoption on dropped) gets none.
Each cohort-specific effect delta_{g,e} is clean of other cohorts' dynamics; the event-study
coefficient beta_e averages them with the cohorts' sample shares at e (as fixest `sunab` and
`eventstudyinteract`).

Computation: a (cohort, relative period) cell is a (cohort, calendar period) cell, so
"time effect + cell dummy" is one categorical with a level per calendar period for controls
and one per treated cell. The model is then an exact two-way fixed-effect regression
(units x those levels), solved without building the dummy matrix.

Standard errors: cluster-robust for delta (small-sample correction as in `twfe`), then the
delta method for beta_e. With `share_uncertainty=True` (default) the estimated cohort shares'
own influence is added (eventstudyinteract does this; fixest's `aggregate` treats the shares
as fixed); both influences are summed per cluster, so their covariance is included.
"""

from __future__ import annotations

import numpy as np

from estimators._design import RegressionDiDResult, panel_arrays
from estimators.fixed_effects import TwoWayFE, cluster_sums, pair_sums, small_sample_factor
from estimators.panel import EstimationInputError, PanelData
from estimators.twfe import t_estimate, t_record


def fit_sun_abraham(
    panel: PanelData,
    *,
    control: str = "never",
    window: tuple[int, int] | None = None,
    anticipation: int = 0,
    share_uncertainty: bool = True,
    ssc: str = "nested",
    alpha: float = 0.05,
) -> RegressionDiDResult:
    """Interaction-weighted event study; `control` is "never" or "last" (last-treated cohort)."""
    arr = panel_arrays(panel)
    cohort = arr.cohort.astype(np.int64).copy()
    keep = np.ones(len(cohort), bool)
    notes = []
    if control == "never":
        if not (cohort == 0).any():
            raise EstimationInputError(
                "Sun-Abraham with control='never' needs never-treated units; use control='last'"
            )
    elif control == "last":
        last = int(cohort.max())
        keep &= arr.period < last - anticipation
        cohort[cohort == last] = 0
        notes.append(
            f"control cohort: last treated ({last}); periods >= {last - anticipation} dropped"
        )
    else:
        raise ValueError("control must be 'never' or 'last'")
    reference = -1 - anticipation
    rel = arr.period - cohort
    treated = cohort > 0
    if window is not None:
        keep &= ~treated | ((rel >= window[0]) & (rel <= window[1]))
        notes.append(f"treated observations outside event window {list(window)} dropped")
    rows = np.flatnonzero(keep)
    if not (treated[rows] & (rel[rows] != reference)).any():
        raise EstimationInputError("no treated cohort-period cells left to estimate")

    y, unit, time = arr.y[rows], arr.unit[rows], arr.time[rows]
    g, tr = cohort[rows], treated[rows] & (rel[rows] != reference)
    w = np.ones(len(rows)) if arr.weights is None else arr.weights[rows]
    cell_keys, cell_idx = np.unique(
        np.stack([g[tr], time[tr]], axis=1), axis=0, return_inverse=True
    )
    n_t, n_cells = arr.n_periods, len(cell_keys)
    level = time.copy()
    level[tr] = n_t + cell_idx.ravel()
    fe = TwoWayFE(unit, level, w, arr.n_units, n_t + n_cells)
    coef_a, coef_b = fe.coefficients(y)
    resid = y - coef_a[unit] - coef_b[level]
    cl = np.unique(arr.cluster[rows], return_inverse=True)[1]
    n_cl = int(cl.max() + 1)
    # Per-cluster contributions to the coefficients: G right-hand sides of the normal eqs.
    score = w * resid
    _, infl_b = fe.solve(
        pair_sums(cl, n_cl, unit, fe.n_a, score).T, pair_sums(cl, n_cl, level, fe.n_b, score).T
    )
    cell_time = cell_keys[:, 1]
    delta = coef_b[n_t:] - coef_b[cell_time]
    psi_delta = (infl_b[n_t:] - infl_b[cell_time]).T  # G x C
    nested = (
        np.sum(np.bincount(unit, minlength=arr.n_units) > 0) if arr.units_nested_in_clusters else 0
    )
    factor = small_sample_factor(ssc, len(y), n_cl, 0, fe.rank, int(nested))
    psi_delta = psi_delta * np.sqrt(factor)

    cell_g = cell_keys[:, 0]
    cell_e = arr.periods[cell_time] - cell_g
    cell_n = np.bincount(cell_idx.ravel(), w[tr], n_cells)
    obs_cell = np.full(len(rows), -1)
    obs_cell[tr] = cell_idx.ravel()

    def aggregate(select_cells: np.ndarray, with_shares: bool) -> tuple[float, float]:
        wts = np.where(select_cells, cell_n, 0.0)
        total = wts.sum()
        est = float(wts @ delta / total)
        psi = psi_delta @ (wts / total)
        if with_shares:
            in_sel = tr & select_cells[np.maximum(obs_cell, 0)]
            contrib = np.where(in_sel, w * (delta[np.maximum(obs_cell, 0)] - est) / total, 0.0)
            psi = psi + cluster_sums(contrib[:, None], cl, n_cl)[:, 0]
        return est, float(np.sqrt(psi @ psi))

    df = n_cl - 1
    event_study = []
    for ev in np.unique(cell_e):
        est, se = aggregate(cell_e == ev, share_uncertainty)
        event_study.append(
            t_record(
                "event_time", int(ev), est, se, alpha, df, n_obs=float(cell_n[cell_e == ev].sum())
            )
        )
    groups = []
    for gg in np.unique(cell_g):
        sel = (cell_g == gg) & (cell_e >= 0)
        if sel.any():
            est, se = aggregate(sel, False)
            groups.append(t_record("group", int(gg), est, se, alpha, df))
    overall = None
    if (cell_e >= 0).any():
        overall = t_estimate(*aggregate(cell_e >= 0, share_uncertainty), alpha, df)
    se_delta = np.sqrt(np.sum(psi_delta**2, axis=0))
    att_gt = [
        {
            "group": int(cell_g[c]),
            "time": int(arr.periods[cell_time[c]]),
            "event_time": int(cell_e[c]),
            "estimate": float(delta[c]),
            "se": float(se_delta[c]),
        }
        for c in range(n_cells)
    ]
    notes = [
        f"reference event time {reference}",
        *notes,
        f"cluster-robust SE, correction '{ssc}' (factor {factor:.6f})"
        + ("; cohort-share uncertainty included" if share_uncertainty else ""),
    ]
    return RegressionDiDResult(
        method="sun-abraham",
        overall=overall,
        event_study=event_study,
        group=groups,
        att_gt=att_gt,
        n_units=int(len(np.unique(unit))),
        n_obs=len(rows),
        n_clusters=n_cl,
        alpha=alpha,
        notes=notes,
        vcov=psi_delta.T @ psi_delta,
    )

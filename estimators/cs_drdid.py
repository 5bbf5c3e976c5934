"""Two-period, two-group DiD estimators with their influence functions (Sant'Anna & Zhao 2020).

These are the building blocks of each Callaway-Sant'Anna ATT(g,t) cell and follow the R package
`DRDID` exactly as R `did::att_gt` calls it, so numbers agree with R, moderndid and csdid:

- panel data (one row per unit, outcome change `dy`): `reg_did_panel`, `std_ipw_did_panel`
  (normalised / Hajek IPW) and `drdid_panel` (locally efficient doubly robust, logit propensity
  score and linear outcome regression on the comparison units);
- repeated cross-sections (one row per observation with a `post` flag), used for unbalanced
  panels: `reg_did_rc`, `std_ipw_did_rc`, `drdid_rc` (locally efficient DR).

Every function takes the covariate matrix with its intercept column already included and
sampling weights (normalised here to mean one) and returns `(att, influence_function)` where
the influence function is scaled so that ``se = sqrt(mean(psi**2) / n)``.

The propensity-score logit and the weighted least squares fits are written in numpy (Newton
iterations to machine precision) instead of statsmodels: a staggered design runs hundreds of
these small fits and the model-object overhead would dominate the run time.
"""

from __future__ import annotations

import numpy as np

PS_UPPER = 1 - 1e-6  # R DRDID: pmin(ps.fit, 1 - 1e-6)
TRIM_LEVEL = 0.995  # comparison units with a propensity score above this get zero weight


class CellEstimationError(ValueError):
    """A 2x2 cell cannot be estimated (no comparison units, singular design, separation)."""


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape[0] and np.linalg.cond(a) > 1 / np.finfo(float).eps:
        raise CellEstimationError("singular design matrix (collinear covariates or no variation)")
    return np.linalg.solve(a, b)


def weighted_ols(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares coefficients; raises if the design is singular."""
    if x.shape[0] < x.shape[1]:
        raise CellEstimationError("fewer comparison observations than covariates")
    xw = x * w[:, None]
    return _solve(xw.T @ x, xw.T @ y)


def logit_pscore(d: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted logit fitted values by Newton-Raphson (same MLE as R `glm(binomial)`)."""
    if x.shape[1] == 1:  # intercept only: the MLE is the weighted treated share
        p = np.full(len(d), np.sum(w * d) / np.sum(w))
        return np.minimum(p, PS_UPPER)
    from scipy.special import expit  # only fits with covariates pay for importing scipy

    beta = np.zeros(x.shape[1])
    for _ in range(100):
        p = expit(x @ beta)
        hess = (x * (w * p * (1 - p))[:, None]).T @ x
        step = _solve(hess, x.T @ (w * (d - p)))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-11 * (1 + np.max(np.abs(beta))):
            break
    else:
        raise CellEstimationError("propensity-score logit did not converge (separation?)")
    return np.minimum(expit(x @ beta), PS_UPPER)


def _ps_linear_rep(d, x, w, ps) -> np.ndarray:
    """Asymptotic linear representation of the logit coefficients (score times Hessian^-1)."""
    n = len(d)
    hess_inv = np.linalg.inv((x * (ps * (1 - ps) * w)[:, None]).T @ x) * n
    return ((w * (d - ps))[:, None] * x) @ hess_inv


def _ols_linear_rep(x, resid, wsub) -> np.ndarray:
    """Asymptotic linear representation of WLS coefficients fitted on the rows with wsub > 0."""
    n = len(resid)
    gram = (x * wsub[:, None]).T @ x / n
    return ((wsub * resid)[:, None] * x) @ _solve(gram, np.eye(x.shape[1]))


def _normalise(w: np.ndarray) -> np.ndarray:
    return w / np.mean(w)


def _trim(d, ps):
    keep = np.ones(len(d), dtype=bool)
    keep[d == 0] = ps[d == 0] < TRIM_LEVEL
    return keep


def _check_groups(d):
    if not np.any(d == 1):
        raise CellEstimationError("no treated units in the cell")
    if not np.any(d == 0):
        raise CellEstimationError("no comparison units in the cell")


# ---------------------------------------------------------------- panel (outcome change dy)


def _unconditional_did_panel(dy, d, w):
    """Without covariates the three panel estimators reduce to the weighted difference of mean
    changes, with influence function w*d*(dy - m_t)/p_t - w*(1-d)*(dy - m_c)/p_c."""
    w = _normalise(w)
    wt, wc = w * d, w * (1 - d)
    p_t, p_c = np.mean(wt), np.mean(wc)
    m_t, m_c = np.sum(wt * dy) / np.sum(wt), np.sum(wc * dy) / np.sum(wc)
    return m_t - m_c, wt * (dy - m_t) / p_t - wc * (dy - m_c) / p_c


def _is_unconditional(d, x, w, uses_pscore):
    if x.shape[1] != 1:
        return False
    if not uses_pscore:
        return True
    share = np.sum(w * d) / np.sum(w)  # intercept-only propensity score
    return min(share, PS_UPPER) < TRIM_LEVEL


def reg_did_panel(dy, d, x, w):
    """Outcome-regression DiD (Heckman, Ichimura & Todd 1997) for panel data."""
    _check_groups(d)
    if _is_unconditional(d, x, w, uses_pscore=False):
        return _unconditional_did_panel(dy, d, w)
    w = _normalise(w)
    ctrl = d == 0
    out = x @ weighted_ols(x[ctrl], dy[ctrl], w[ctrl])
    w_t = w * d
    w_c = w * d
    att_t, att_c = w_t * dy, w_c * out
    eta_t = np.mean(att_t) / np.mean(w_t)
    eta_c = np.mean(att_c) / np.mean(w_c)
    lin_ols = _ols_linear_rep(x, dy - out, w * (1 - d))
    inf_t = (att_t - w_t * eta_t) / np.mean(w_t)
    inf_c = (att_c - w_c * eta_c + lin_ols @ np.mean(w_c[:, None] * x, axis=0)) / np.mean(w_c)
    return eta_t - eta_c, inf_t - inf_c


def std_ipw_did_panel(dy, d, x, w):
    """Normalised (Hajek) inverse-probability-weighted DiD (Abadie 2005) for panel data."""
    _check_groups(d)
    if _is_unconditional(d, x, w, uses_pscore=True):
        return _unconditional_did_panel(dy, d, w)
    w = _normalise(w)
    ps = logit_pscore(d, x, w)
    keep = _trim(d, ps)
    w_t = keep * w * d
    w_c = keep * w * ps * (1 - d) / (1 - ps)
    eta_t = w_t * dy / np.mean(w_t)
    eta_c = w_c * dy / np.mean(w_c)
    att_t, att_c = np.mean(eta_t), np.mean(eta_c)
    inf_t = eta_t - w_t * att_t / np.mean(w_t)
    inf_c = eta_c - w_c * att_c / np.mean(w_c)
    mom = np.mean((w_c * (dy - att_c))[:, None] * x, axis=0) / np.mean(w_c)
    inf_c = inf_c + _ps_linear_rep(d, x, w, ps) @ mom
    return att_t - att_c, inf_t - inf_c


def drdid_panel(dy, d, x, w):
    """Locally efficient doubly robust DiD (Sant'Anna & Zhao 2020, R `DRDID::drdid_panel`)."""
    _check_groups(d)
    if _is_unconditional(d, x, w, uses_pscore=True):
        return _unconditional_did_panel(dy, d, w)
    w = _normalise(w)
    ps = logit_pscore(d, x, w)
    keep = _trim(d, ps)
    ctrl = d == 0
    out = x @ weighted_ols(x[ctrl], dy[ctrl], w[ctrl])
    w_t = keep * w * d
    w_c = keep * w * ps * (1 - d) / (1 - ps)
    att_t = w_t * (dy - out)
    att_c = w_c * (dy - out)
    eta_t = np.mean(att_t) / np.mean(w_t)
    eta_c = np.mean(att_c) / np.mean(w_c)
    lin_ols = _ols_linear_rep(x, dy - out, w * (1 - d))
    lin_ps = _ps_linear_rep(d, x, w, ps)
    inf_t = (att_t - w_t * eta_t - lin_ols @ np.mean(w_t[:, None] * x, axis=0)) / np.mean(w_t)
    inf_c1 = att_c - w_c * eta_c
    inf_c2 = lin_ps @ np.mean(inf_c1[:, None] * x, axis=0)
    inf_c3 = lin_ols @ np.mean(w_c[:, None] * x, axis=0)
    inf_c = (inf_c1 + inf_c2 - inf_c3) / np.mean(w_c)
    return eta_t - eta_c, inf_t - inf_c


# ------------------------------------------------- repeated cross-sections (y with post flag)


def _lead(wv, z):
    """Hajek mean of z with weights wv: (summands, estimate, leading influence term)."""
    eta = wv * z / np.mean(wv)
    est = np.mean(eta)
    return est, eta - wv * est / np.mean(wv)


def _check_rc(d, post):
    _check_groups(d)
    for grp, name in ((d == 1, "treated"), (d == 0, "comparison")):
        if not np.any(grp & (post == 1)) or not np.any(grp & (post == 0)):
            raise CellEstimationError(f"no {name} observations in one of the two periods")


def _cell_fit(x, y, rows, w):
    return x @ weighted_ols(x[rows], y[rows], w[rows])


def reg_did_rc(y, post, d, x, w):
    """Outcome-regression DiD for repeated cross-sections (R `DRDID::reg_did_rc`)."""
    _check_rc(d, post)
    w = _normalise(w)
    out_pre = _cell_fit(x, y, (d == 0) & (post == 0), w)
    out_post = _cell_fit(x, y, (d == 0) & (post == 1), w)
    w_tpre, w_tpost, w_c = w * d * (1 - post), w * d * post, w * d
    att_tpre, inf_tpre = _lead(w_tpre, y)
    att_tpost, inf_tpost = _lead(w_tpost, y)
    r_c = w_c * (out_post - out_pre)
    eta_c = np.mean(r_c) / np.mean(w_c)
    lin_pre = _ols_linear_rep(x, y - out_pre, w * (1 - d) * (1 - post))
    lin_post = _ols_linear_rep(x, y - out_post, w * (1 - d) * post)
    m1 = np.mean(w_c[:, None] * x, axis=0)
    inf_c = (r_c - w_c * eta_c + lin_post @ m1 - lin_pre @ m1) / np.mean(w_c)
    return (att_tpost - att_tpre) - eta_c, (inf_tpost - inf_tpre) - inf_c


def std_ipw_did_rc(y, post, d, x, w):
    """Normalised IPW DiD for repeated cross-sections (R `DRDID::std_ipw_did_rc`)."""
    _check_rc(d, post)
    w = _normalise(w)
    ps = logit_pscore(d, x, w)
    keep = _trim(d, ps)
    odds = ps * (1 - d) / (1 - ps)
    w_cpre, w_cpost = keep * w * odds * (1 - post), keep * w * odds * post
    att_tpre, inf_tpre = _lead(keep * w * d * (1 - post), y)
    att_tpost, inf_tpost = _lead(keep * w * d * post, y)
    att_cpre, inf_cpre = _lead(w_cpre, y)
    att_cpost, inf_cpost = _lead(w_cpost, y)
    m2_pre = np.mean((w_cpre * (y - att_cpre))[:, None] * x, axis=0) / np.mean(w_cpre)
    m2_post = np.mean((w_cpost * (y - att_cpost))[:, None] * x, axis=0) / np.mean(w_cpost)
    inf_c = inf_cpost - inf_cpre + _ps_linear_rep(d, x, w, ps) @ (m2_post - m2_pre)
    att = (att_tpost - att_tpre) - (att_cpost - att_cpre)
    return att, (inf_tpost - inf_tpre) - inf_c


def drdid_rc(y, post, d, x, w):
    """Locally efficient doubly robust DiD for repeated cross-sections (R `DRDID::drdid_rc`)."""
    _check_rc(d, post)
    w = _normalise(w)
    ps = logit_pscore(d, x, w)
    keep = _trim(d, ps)
    c_pre, c_post = (d == 0) & (post == 0), (d == 0) & (post == 1)
    t_pre, t_post = (d == 1) & (post == 0), (d == 1) & (post == 1)
    out_c_pre, out_c_post = _cell_fit(x, y, c_pre, w), _cell_fit(x, y, c_post, w)
    out_t_pre, out_t_post = _cell_fit(x, y, t_pre, w), _cell_fit(x, y, t_post, w)
    out_c = post * out_c_post + (1 - post) * out_c_pre
    odds = ps * (1 - d) / (1 - ps)
    w_tpre, w_tpost = keep * w * d * (1 - post), keep * w * d * post
    w_cpre, w_cpost = keep * w * odds * (1 - post), keep * w * odds * post
    w_d, w_dt1, w_dt0 = keep * w * d, keep * w * d * post, keep * w * d * (1 - post)
    resid = y - out_c
    att_tpre, inf_tpre = _lead(w_tpre, resid)
    att_tpost, inf_tpost = _lead(w_tpost, resid)
    att_cpre, inf_cpre = _lead(w_cpre, resid)
    att_cpost, inf_cpost = _lead(w_cpost, resid)
    gap_post, gap_pre = out_t_post - out_c_post, out_t_pre - out_c_pre
    att_dpost, inf_e1 = _lead(w_d, gap_post)
    att_dt1, inf_e2 = _lead(w_dt1, gap_post)
    att_dpre, inf_e3 = _lead(w_d, gap_pre)
    att_dt0, inf_e4 = _lead(w_dt0, gap_pre)
    att = (
        (att_tpost - att_tpre)
        - (att_cpost - att_cpre)
        + (att_dpost - att_dt1)
        - (att_dpre - att_dt0)
    )

    lin_c_pre = _ols_linear_rep(x, y - out_c_pre, w * c_pre)
    lin_c_post = _ols_linear_rep(x, y - out_c_post, w * c_post)
    lin_t_pre = _ols_linear_rep(x, y - out_t_pre, w * t_pre)
    lin_t_post = _ols_linear_rep(x, y - out_t_post, w * t_post)
    lin_ps = _ps_linear_rep(d, x, w, ps)

    def moment(wv, z):
        return np.mean((wv * z)[:, None] * x, axis=0) / np.mean(wv)

    # Outcome-regression estimation effects enter as (post - pre), the derivative of
    # (att_post - att_pre); DRDID >= 1.3 and csdid use this sign (moderndid 0.2 adds them).
    inf_treat = (
        inf_tpost
        - inf_tpre
        - lin_c_post @ moment(w_tpost, post)
        + lin_c_pre @ moment(w_tpre, 1 - post)
    )
    inf_cont = (
        inf_cpost
        - inf_cpre
        + lin_ps @ (moment(w_cpost, resid - att_cpost) - moment(w_cpre, resid - att_cpre))
        - lin_c_post @ moment(w_cpost, post)
        + lin_c_pre @ moment(w_cpre, 1 - post)
    )
    inf_eff = (inf_e1 - inf_e2) - (inf_e3 - inf_e4)
    mom_post = np.mean((w_d / np.mean(w_d) - w_dt1 / np.mean(w_dt1))[:, None] * x, axis=0)
    mom_pre = np.mean((w_d / np.mean(w_d) - w_dt0 / np.mean(w_dt0))[:, None] * x, axis=0)
    inf_or = (lin_t_post - lin_c_post) @ mom_post - (lin_t_pre - lin_c_pre) @ mom_pre
    return att, inf_treat - inf_cont + inf_eff + inf_or


PANEL_ESTIMATORS = {"reg": reg_did_panel, "ipw": std_ipw_did_panel, "dr": drdid_panel}
RC_ESTIMATORS = {"reg": reg_did_rc, "ipw": std_ipw_did_rc, "dr": drdid_rc}

"""Poisson (PPML) extended two-way fixed effects for counts, reporting proportional effects.

Wooldridge (2023) extended TWFE: log E[y_it] = a_i + l_t + tau_{g,t} D_{g,t} + offset, with a
separate tau for every treated (cohort, period) cell. With counts the interesting effect is
proportional (Chen & Roth 2024: log(1+y) is not a percentage), so the headline is

    theta = sum_treated (mu1 - mu0) / sum_treated mu0,  mu1 = exp(a + l + tau), mu0 = exp(a + l),

the percentage change in the expected count of the treated cells; the same ratio over one
event time (or a bin of event times) or cohort gives the dynamic and group aggregations, and
sum(mu1 - mu0) / (treated cells) the effect in incidents per treated unit-period.

Anticipation: the `anticipation` periods before roll-out get cells of their own, so they are
neither treated (not in theta) nor clean pre-periods (not in the unit effects' base).

Event study with leads (`leads=True`): every period of a treated unit gets its own cell except
the reference bin (event times floor(e / bin_months) == -1 - ceil(anticipation / bin_months)),
so the unit effect is pinned by the reference bin alone and each lead's ratio of sums is the
proportional departure from the comparison units' path since the reference bin: a
common-base (long-difference) event study on the headline's multiplicative scale, with the
joint covariance of all its event times.

Computation: "period effect + cell effect" is one categorical (a level per period for
untreated cells, one per treated cell), so the model is a two-way fixed-effect Poisson
(units x levels). IRLS solves each weighted least-squares step exactly with `TwoWayFE`
(Schur complement on the smaller factor), without dummies. Units or levels whose counts are
all zero have no finite MLE and are set aside; treated cells with zero counts keep mu1 = 0.

Inference (`vcov`; all t(G-1), G = clusters):
- "cluster" (default): cluster-robust delta method, h = H^- grad(theta), influence per cluster
  sum (y - mu)(h_a + h_b), small-sample factor by `ssc` ("statsmodels" matches GLM with
  dummies). In a saturated model a one-district cohort's residuals in its own cells are zero,
  so its noise is missing from this variance (coverage 81-91% with few districts).
- "restricted": the same influence functions h, but residuals from a restricted fit in which
  every treated district shares one proportional effect path, log-linear in event time
  (a_i + l_t + c0 D + c1 D e), so a lone treated district's own post-roll-out deviation stays
  in its residuals (the score evaluated under a restriction, as in Kline & Santos 2012).
  Effect heterogeneity across cohorts also enters, which errs on the wide side.
- "jackknife": leave-one-cluster-out refits (warm-started IRLS), CV3 variance (MacKinnon,
  Nielsen & Webb 2023), see `estimators.few_clusters`.
Measured coverage of the 95% overall interval (`bench/coverage_crime.py`, few-district
battery of `simulator.few_district`, 1,000 cities per design, MC SE <= 0.012): cluster
0.82-0.93, restricted 0.92-0.95, jackknife 0.939-0.957 (10-25 districts, cohorts of 1-5,
AR(1) lognormal overdispersion 0.15-0.3); with one treated district in all every method
covers about 54%, with two treated districts the jackknife about 90%. The jackknife costs
G refits (warm-started; about 0.05-0.1 s for 10-25 districts x 96 months).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from estimators._design import PanelArrays, RegressionDiDResult, panel_arrays
from estimators.few_clusters import grouped_jackknife_label, jackknife_groups, jackknife_vcov
from estimators.fixed_effects import TwoWayFE, codes, pair_sums, small_sample_factor
from estimators.panel import EstimationInputError, PanelData
from estimators.results import Estimate
from estimators.twfe import t_estimate, t_record

VCOV_CHOICES = ("cluster", "restricted", "jackknife")


def _irls(
    y,
    w,
    a_codes,
    b_codes,
    n_a,
    n_b,
    offset,
    x=None,
    mu_start=None,
    tol=1e-12,
    max_iter=200,
    want_fe=True,
):
    """Two-way FE Poisson MLE (optional slopes `x`, solved by FWL inside each IRLS step).

    Returns (coef_a, coef_b, beta, mu, fe at the solution); fe is None unless `want_fe` (a
    jackknife refit needs only the statistics, and the projection costs a Schur solve)."""
    mu = (y + y.mean()) / 2 + 1e-3 if mu_start is None else np.maximum(mu_start, 1e-8)
    eta = np.log(mu)
    dev_old = np.inf
    beta = np.zeros(0 if x is None else x.shape[1])
    for _ in range(max_iter):
        z = eta - offset + (y - mu) / mu
        fe = TwoWayFE(a_codes, b_codes, w * mu, n_a, n_b)
        if x is not None:
            xt = fe.residualize(x)
            zt = fe.residualize(z)
            xw = xt * (w * mu)[:, None]
            beta = np.linalg.lstsq(xw.T @ xt, xw.T @ zt, rcond=None)[0]
            z = z - x @ beta
        ca, cb = fe.coefficients(z)
        eta = ca[a_codes] + cb[b_codes] + offset + (0 if x is None else x @ beta)
        mu = np.exp(eta)
        ratio = np.where(y > 0, y / mu, 1.0)
        dev = 2 * np.sum(w * (np.where(y > 0, y * np.log(ratio), 0.0) - (y - mu)))
        if abs(dev - dev_old) <= tol * (abs(dev) + 0.1):
            break
        dev_old = dev
    else:
        raise RuntimeError("Poisson IRLS did not converge")
    fe = TwoWayFE(a_codes, b_codes, w * mu, n_a, n_b) if want_fe else None
    return ca, cb, beta, mu, fe


@dataclass
class PoissonDiDResult(RegressionDiDResult):
    """`RegressionDiDResult` plus what the few-district evaluation needs.

    event_times / event_vcov: labels (bins of `bin_months` periods) and joint covariance of the
    `event_study` estimates (leads included when fitted with leads); `reference`: the omitted
    bin. target_weights: per event time, its share of the treated cells' expected untreated
    count (0 for leads): sum(target_weights * estimates) is this fit's overall effect exactly.
    effect_count: sum(mu1 - mu0) per treated unit-period. inference: method, df, vcov name.
    """

    event_times: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    event_vcov: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    reference: int = -1
    bin_months: int = 1
    target_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    effect_count: Estimate | None = None
    inference: dict = field(default_factory=dict)


@dataclass
class _Fit:
    labels: list
    stat: np.ndarray
    grad_a: np.ndarray | None = None
    grad_b: np.ndarray | None = None
    fe: TwoWayFE | None = None
    rows: np.ndarray | None = None  # fit rows
    level: np.ndarray | None = None
    mu: np.ndarray | None = None
    ca: np.ndarray | None = None
    cb: np.ndarray | None = None
    keys: np.ndarray | None = None
    n_levels: int = 0
    level_pos: np.ndarray | None = None
    weights0: np.ndarray | None = None
    notes: list = field(default_factory=list)


def _cell_keys(cohort: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (cohort, time) pairs in lexicographic order, and each row's pair index: what
    `np.unique(..., axis=0)` gives, through one integer code per pair (several times faster;
    it runs once per jackknife refit)."""
    cohort = np.asarray(cohort, np.int64)
    time = np.asarray(time, np.int64)
    if not len(cohort):
        return np.zeros((0, 2), np.int64), np.zeros(0, np.int64)
    low, span = time.min(), int(time.max() - time.min()) + 1
    cell, pairs = codes((cohort - cohort.min()) * span + (time - low))
    keys = np.column_stack([pairs // span + cohort.min(), pairs % span + low])
    return keys, cell


def _bins(arr: PanelArrays, anticipation: int, bin_months: int):
    """(event-time bin per row, reference bin, first anticipation bin) for treated rows."""
    e = (arr.period - arr.cohort).astype(np.int64)
    k = np.floor_divide(e, bin_months)
    antic_bins = -(-anticipation // bin_months)
    return k, -1 - antic_bins, -antic_bins


def _fit(
    arr, y, w, offset, anticipation, leads, bin_months, keep=None, mu_start=None, grad=True
) -> _Fit:
    """One fit on rows `keep` (all when None): statistics, and their gradients if `grad`."""
    keep = np.ones(len(y), bool) if keep is None else keep
    k, ref, first_antic = _bins(arr, anticipation, bin_months)
    is_t = arr.cohort > 0
    post = is_t & (k >= 0) & (arr.period >= arr.cohort)
    antic = is_t & ~post & (k >= first_antic)
    lead = is_t & (k < ref) if leads else np.zeros(len(y), bool)
    if not leads and anticipation > 0:
        # without leads the anticipation months are excluded month by month, not by bin
        e = arr.period - arr.cohort
        antic = is_t & (e < 0) & (e >= -anticipation)
    cellrow = (post | antic | lead) & keep
    n_t = arr.n_periods
    keys, cell = _cell_keys(arr.cohort[cellrow], arr.time[cellrow])
    level = arr.time.copy()
    level[cellrow] = n_t + cell.ravel()
    n_levels = n_t + len(keys)
    wy = np.where(keep, w * y, 0.0)
    unit_pos = np.bincount(arr.unit, wy, arr.n_units) > 0
    # A treated unit needs base rows (untreated level) to pin its unit effect.
    base = keep & ~cellrow
    has_base = np.bincount(arr.unit, base.astype(float), arr.n_units) > 0
    unit_ok = unit_pos & has_base
    level_pos = np.bincount(level, wy, n_levels) > 0
    fit_rows = keep & unit_ok[arr.unit] & level_pos[level]
    stat_rows = (post | lead) & keep & unit_ok[arr.unit] & level_pos[arr.time]
    notes = []
    lost = keep & (post | lead) & ~stat_rows
    if lost.any():
        notes.append(
            f"{int(lost.sum())} treated observations dropped: their unit has only zero "
            "counts, no base period, or their period only zero counts (no finite effect)"
        )
    ti = np.flatnonzero(stat_rows & post)
    if not len(ti):
        raise EstimationInputError("no treated observation with an estimable counterfactual")
    fr = np.flatnonzero(fit_rows)
    ca, cb, _, mu_fit, fe = _irls(
        y[fr],
        w[fr],
        arr.unit[fr],
        level[fr],
        arr.n_units,
        n_levels,
        offset[fr],
        mu_start=None if mu_start is None else mu_start[fr],
        want_fe=grad,
    )
    si = np.flatnonzero(stat_rows)
    lvl = level[si]
    mu0 = np.exp(ca[arr.unit[si]] + cb[arr.time[si]] + offset[si])
    mu1 = np.where(level_pos[lvl], np.exp(ca[arr.unit[si]] + cb[lvl] + offset[si]), 0.0)
    ws = w[si]
    is_post = post[si]
    g_s = arr.cohort[si].astype(np.int64)
    k_s = k[si]
    cells = _Aggregations(is_post, k_s, g_s)
    labels, diff = cells.labels, cells.diff
    s0 = cells.sums(ws * mu0)
    s1 = cells.sums(ws * mu1)
    n_w = cells.sums(ws)
    stat = np.where(diff, (s1 - s0) / n_w, s1 / s0 - 1)
    ev = [j for j, lab in enumerate(labels) if lab[0] == "event"]
    weights0 = np.array([s0[j] / s0[0] if labels[j][1] >= 0 else 0.0 for j in ev])
    out = _Fit(
        labels,
        stat,
        keys=keys,
        n_levels=n_levels,
        level=level,
        rows=fr,
        mu=mu_fit,
        ca=ca,
        cb=cb,
        fe=fe,
        level_pos=level_pos,
        weights0=weights0,
        notes=notes,
    )
    if not grad:
        return out
    # d stat_j / d mu of each row, summed within units and levels: stat_j is a ratio (or a
    # difference per cell) of the two sums over the rows of aggregation j
    den1 = np.where(diff, n_w, s0)
    c0 = np.where(diff, 1.0 / n_w, s1 / s0**2)
    units = arr.unit[si]
    out.grad_a = cells.sums(ws * mu1, units, arr.n_units) / den1 - c0 * cells.sums(
        ws * mu0, units, arr.n_units
    )
    out.grad_b = cells.sums(ws * mu1, lvl, n_levels) / den1 - c0 * cells.sums(
        ws * mu0, arr.time[si], n_levels
    )
    return out


def _restricted_resid(arr, y, w, offset, fit: _Fit, anticipation: int) -> np.ndarray:
    """Residuals of a_i + l_t + c0 D + c1 D e (+ anticipation dummy) on the full fit's rows.

    One proportional effect path shared by all treated units (log-linear in event time, e in
    years), no leads: parallel trends imposed before roll-out."""
    fr = fit.rows
    e = (arr.period - arr.cohort)[fr].astype(float)
    treated = (arr.cohort[fr] > 0) & (e >= 0)
    cols = [treated.astype(float), np.where(treated, e / 12.0, 0.0)]
    ant = (arr.cohort[fr] > 0) & (e < 0) & (e >= -anticipation)
    if ant.any():
        cols.append(ant.astype(float))
    x = np.column_stack(cols)
    _, _, _, mu, _ = _irls(
        y[fr], w[fr], arr.unit[fr], arr.time[fr], arr.n_units, arr.n_periods, offset[fr], x=x
    )
    return w[fr] * (y[fr] - mu)


def fit_poisson(
    panel: PanelData,
    *,
    exposure: str | np.ndarray | None = None,
    anticipation: int = 0,
    ssc: str = "nested",
    alpha: float = 0.05,
    vcov: str = "cluster",
    leads: bool = False,
    bin_months: int = 1,
    jackknife_max_groups: int | None = None,
) -> PoissonDiDResult:
    """Extended-TWFE Poisson; `exposure` (e.g. population) enters as a log offset.

    `exposure` is a column of `panel.frame` (prepare_panel keeps only the columns it is told
    about, so pass it e.g. among the covariates, which Poisson does not otherwise use) or an
    array aligned with the panel's rows. Covariates are not modelled. `vcov`: see the module
    docstring. `leads`: common-base event study with leads; `bin_months`: event-time bins of
    that many periods for `event_study` (the cells stay monthly; a bin's effect is its ratio
    of sums). `jackknife_max_groups`: with more clusters than this, the "jackknife" leaves out
    groups of clusters (`estimators.few_clusters.jackknife_groups`); None: one at a time.
    """
    if vcov not in VCOV_CHOICES:
        raise ValueError(f"vcov must be one of {VCOV_CHOICES}, got {vcov!r}")
    if bin_months < 1:
        raise ValueError("bin_months must be >= 1")
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
    fit = _fit(arr, y, w, offset, anticipation, leads, bin_months)
    notes = list(fit.notes)
    keys, n_levels, n_t = fit.keys, fit.n_levels, arr.n_periods
    n_cells = len(keys)
    # Cell effects exp(tau) - 1 with tau = b_cell - b_period: gradient e_cell - e_period.
    cell_grad = np.zeros((n_levels, n_cells))
    cell_grad[n_t + np.arange(n_cells), np.arange(n_cells)] = 1.0
    cell_grad[keys[:, 1], np.arange(n_cells)] -= 1.0
    grad_a = np.column_stack([fit.grad_a, np.zeros((arr.n_units, n_cells))])
    grad_b = np.column_stack([fit.grad_b, cell_grad])
    h_a, h_b = fit.fe.solve(grad_a, grad_b)
    fr = fit.rows
    resid = w[fr] * (y[fr] - fit.mu)
    cl = np.unique(arr.cluster[fr], return_inverse=True)[1].ravel()
    n_cl = int(cl.max() + 1)
    lv = fit.level[fr]

    def influence(r):
        # Cluster influence: sum over a cluster's rows of r * (h_a[unit] + h_b[level]).
        return (
            pair_sums(cl, n_cl, arr.unit[fr], arr.n_units, r) @ h_a
            + pair_sums(cl, n_cl, lv, n_levels, r) @ h_b
        )

    nested = (
        int(np.sum(np.bincount(arr.unit[fr], minlength=arr.n_units) > 0))
        if arr.units_nested_in_clusters
        else 0
    )
    factor = small_sample_factor(ssc, len(fr), n_cl, 0, fit.fe.rank, nested)
    k = len(fit.labels)
    df_jack = None  # the grouped jackknife's t reference has (groups - 1) df
    infl = influence(resid)
    cell_se = np.sqrt(factor * np.sum(infl[:, k:] ** 2, axis=0))
    if vcov == "cluster":
        v = factor * infl[:, :k].T @ infl[:, :k]
        how = f"cluster-robust delta-method SE, correction '{ssc}' (factor {factor:.6f})"
    elif vcov == "restricted":
        infl_r = influence(_restricted_resid(arr, y, w, offset, fit, anticipation))[:, :k]
        v = factor * infl_r.T @ infl_r
        how = (
            "delta-method SE with residuals from a restricted fit (one log-linear effect "
            f"path for all treated districts), correction '{ssc}' (factor {factor:.6f})"
        )
    else:
        # districts in the fit (one without a count is not) are left out one at a time up to
        # `jackknife_max_groups`, in groups beyond; a row outside the fit is in no group (-1)
        grouped = jackknife_max_groups is not None and n_cl > jackknife_max_groups
        fit_groups, n_groups = jackknife_groups(
            arr.cluster[fr], arr.cohort[fr], jackknife_max_groups if grouped else None
        )
        groups = np.full(len(y), -1, np.int64)
        groups[fr] = fit_groups
        pos = {lab: j for j, lab in enumerate(fit.labels)}
        mu_start = np.full(len(y), np.nan)
        mu_start[fr] = fit.mu
        mu_start = np.where(np.isnan(mu_start), 1.0, mu_start)
        reps = np.full((n_groups, k), np.nan)
        for c in range(n_groups):
            drop = groups == c
            try:
                sub = _fit(
                    arr,
                    y,
                    w,
                    offset,
                    anticipation,
                    leads,
                    bin_months,
                    keep=~drop,
                    mu_start=mu_start,
                    grad=False,
                )
            except EstimationInputError:
                continue
            for lab, val in zip(sub.labels, sub.stat, strict=True):
                if lab in pos:
                    reps[c, pos[lab]] = val
        v = jackknife_vcov(reps, fit.stat)
        if grouped:
            how = grouped_jackknife_label(n_groups) + ", CV3"
            df_jack = n_groups - 1
        else:
            how = "cluster jackknife (leave one district out, CV3)"
    se_all = np.sqrt(np.clip(np.diag(v), 0, None))
    df = n_cl - 1 if df_jack is None else df_jack
    stat = fit.stat
    event_study, group = [], []
    ev_idx = []
    overall = count = None
    for j, (kind, key) in enumerate(fit.labels):
        if kind == "overall":
            overall = t_estimate(stat[j], se_all[j], alpha, df)
        elif kind == "count":
            count = t_estimate(stat[j], se_all[j], alpha, df)
        elif kind == "event":
            ev_idx.append(j)
            event_study.append(t_record("event_time", key, stat[j], se_all[j], alpha, df))
        else:
            group.append(t_record("group", key, stat[j], se_all[j], alpha, df))
    tau = fit.cb[n_t:] - fit.cb[keys[:, 1]]
    ok = fit.level_pos[n_t:]
    att_gt = [
        {
            "group": int(keys[c, 0]),
            "time": int(arr.periods[keys[c, 1]]),
            "estimate": float(np.expm1(tau[c])) if ok[c] else -1.0,
            "se": float(np.exp(tau[c]) * cell_se[c]) if ok[c] else float("nan"),
            "log_coef": float(tau[c]) if ok[c] else float("-inf"),
            "log_coef_se": float(cell_se[c]) if ok[c] else float("nan"),
        }
        for c in range(n_cells)
    ]
    notes.append(f"proportional effects: sum(mu1 - mu0) / sum(mu0) over treated cells; {how}")
    if vcov != "cluster":
        notes.append("cell effects (att_gt) keep the cluster-robust delta-method SE")
    if exposure is not None:
        notes.append("offset log(exposure)")
    _, ref, _ = _bins(arr, anticipation, bin_months)
    return PoissonDiDResult(
        method="poisson",
        overall=overall,
        event_study=event_study,
        group=group,
        att_gt=att_gt,
        n_units=arr.n_units,
        n_obs=len(fr),
        n_clusters=n_cl,
        alpha=alpha,
        notes=notes,
        vcov=v,
        event_times=np.array([fit.labels[j][1] for j in ev_idx], int),
        event_vcov=v[np.ix_(ev_idx, ev_idx)],
        reference=ref if leads else -1,
        bin_months=bin_months,
        target_weights=fit.weights0,
        effect_count=count,
        inference={
            "vcov": vcov,
            "df": df,
            "n_clusters": n_cl,
            "jackknife_groups": df_jack + 1 if df_jack is not None else None,
        },
    )


class _Aggregations:
    """The fit's aggregations over the statistic rows: overall (post rows), one per event-time
    bin, one per cohort (post rows) and the count difference (post rows), in that column order.

    Sums go through `np.bincount` on (code, aggregation) pairs instead of a dense rows x
    aggregations indicator matrix: with 240 monthly event times and 60,000 treated rows the
    dense matrix was 100+ MB per fit, built again for each of the jackknife's refits."""

    def __init__(self, is_post: np.ndarray, event_bin: np.ndarray, cohort: np.ndarray):
        self.is_post = is_post
        self.event_idx, events = codes(event_bin)
        self.post_cohort_idx, cohorts = codes(cohort[is_post])
        self.n_events, self.n_cohorts = len(events), len(cohorts)
        self.labels = (
            [("overall", 0)]
            + [("event", int(kk)) for kk in events]
            + [("group", int(gg)) for gg in cohorts]
            + [("count", 0)]
        )
        self.diff = np.zeros(len(self.labels), bool)
        self.diff[-1] = True

    def sums(self, values: np.ndarray, by: np.ndarray | None = None, n_by: int = 1):
        """Sum of `values` over each aggregation's rows: a vector, or with `by` (integer codes
        0..n_by-1 of the rows) a (n_by x aggregations) matrix of the sums within each code."""
        flat = by is None
        by = np.zeros(len(values), np.int64) if flat else np.asarray(by, np.int64)
        post = self.is_post
        overall = np.bincount(by[post], values[post], n_by)
        events = np.bincount(
            by * self.n_events + self.event_idx, values, n_by * self.n_events
        ).reshape(n_by, self.n_events)
        cohorts = np.bincount(
            by[post] * self.n_cohorts + self.post_cohort_idx,
            values[post],
            n_by * self.n_cohorts,
        ).reshape(n_by, self.n_cohorts)
        out = np.column_stack([overall, events, cohorts, overall])
        return out[0] if flat else out

"""DiD with an average-of-pre-periods base (imputation form), linear in the cell outcomes,
with few-cluster inference (cluster jackknife) and exact propagation of known cell variances.

Why this estimator: Callaway-Sant'Anna with a universal base compares every post period with
ONE pre period (the last), so the noise of that single period enters every post comparison.
Here each treated cell's untreated outcome is imputed from unit and period effects fitted on
all untreated cells (never treated, not yet treated, outside the anticipation window):
the unit effect averages all the unit's pre periods, the period effect all untreated units
of that period (Borusyak, Jaravel & Spiess 2024; with one treated cohort and a balanced panel
this is exactly "post minus the average of all pre periods, minus the same for the
comparison units"). Under parallel trends and no anticipation it is unbiased and, with
independent homoskedastic cell noise, the most precise linear unbiased estimator. It uses
every untreated cell, so the comparison group is always "not yet treated" plus never treated.

Every estimand is `sum_c v_c y_c` with weights v that depend only on which cells are treated
(`LinearFit.weights`), so:
- the variance due to known, independent cell noise (e.g. survey sampling error, `cell_var`)
  is exactly `sum_c v_c^2 var_c` (no simulation draws);
- the cluster jackknife (leave one cluster out, refit, Var = (G-1)/G sum (theta_(g) -
  theta_bar)^2) is a deterministic function of the same weights. Why jackknife: with
  cohort x period effects in the residuals a one-district cohort contributes zero to the usual
  cluster-robust variance (its residuals are its deviation from its own cohort mean, which is
  zero), and a two-district cohort half of what it should. Leaving the district out instead
  moves the estimate by that district's own noise, so its contribution is counted. The
  jackknife is the CR3 variance of linear regression; its coverage on the few-district battery
  is measured in `bench/coverage_survey.py` and pinned in tests/estimators/test_avgbase_*.
  When a replicate cannot be computed (the left-out cluster is the only treated one of an
  estimand) the estimand has no valid few-cluster interval and its SE is NaN.

Event studies (`leads` > 0): leads and lags against a common base. The `leads` pre periods
before the (anticipation-shifted) roll-out are excluded from the fit of the untreated model
and estimated like treated cells, so every lead and lag is "this event time minus the average
of the cohort's pre periods before the lead window" (minus the same for the comparison
units): leads test parallel trends against the same base the lags use. The headline (overall)
always comes from the fit without excluded leads (all pre periods in the base).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from estimators.few_clusters import grouped_jackknife_label, jackknife_groups
from estimators.fixed_effects import TwoWayFE, codes, indicator

JACKKNIFE = "cluster jackknife (leave one district out)"


@dataclass
class LinearFit:
    """Estimands as linear maps of the outcomes of the rows of the input frame.

    `labels[j]` is ("overall", 0), ("event", e), ("lead", e) or ("group", g); `weights[:, j]`
    the weights of estimand j on the input rows (zero for rows it does not use).
    """

    labels: list[tuple[str, int]]
    estimates: np.ndarray
    weights: np.ndarray = field(repr=False)
    n_target: np.ndarray  # treated (or lead) cells averaged per estimand


@dataclass
class AvgBaseResult:
    fit: LinearFit
    se: np.ndarray  # chosen method (jackknife by default); NaN where not computable
    vcov: np.ndarray  # joint covariance of all estimands by the same method
    dfs: np.ndarray  # t degrees of freedom per estimand (NaN where no SE)
    method: str
    n_clusters: int
    cluster_sizes: dict  # treated cohort -> number of clusters (districts) in it
    se_cell: np.ndarray | None  # SE from the known cell variances alone (None if not given)
    bias_factor: np.ndarray  # |v|^2 / E[plain jackknife variance] under the working model
    replicates: np.ndarray | None = field(default=None, repr=False)  # (G x k) jackknife
    notes: list[str] = field(default_factory=list)

    def index(self, kind: str, key: int = 0) -> int:
        return self.fit.labels.index((kind, int(key)))

    @property
    def df(self) -> float:
        """Degrees of freedom of the overall estimand."""
        return float(self.dfs[0])

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        crit = stats.t.ppf(1 - alpha / 2, self.dfs)
        est = self.fit.estimates
        return pd.DataFrame(
            {
                "kind": [k for k, _ in self.fit.labels],
                "key": [v for _, v in self.fit.labels],
                "estimate": est,
                "se": self.se,
                "ci_low": est - crit * self.se,
                "ci_high": est + crit * self.se,
                "n_cells": self.fit.n_target,
            }
        )


def linear_weights(
    unit: np.ndarray,
    time: np.ndarray,
    cohort: np.ndarray,
    *,
    anticipation: int = 0,
    leads: int = 0,
    horizons: tuple[int, int] | None = None,
    labels: list[tuple[str, int]] | None = None,
) -> LinearFit:
    """Weights of every estimand on the rows (outcomes not needed: the map is linear).

    `unit`, `time` integer codes/periods per row; `cohort` first treated period (0 never).
    With `leads` > 0 the event-time (and lead) estimands come from the fit that also leaves
    the lead window out; overall and group estimands always from the fit without.
    `labels`, when given, fixes the estimands (used by the jackknife so replicates line up);
    an estimand with no cells gets a zero column and NaN estimate.
    """
    cohort = np.asarray(cohort, dtype=np.int64)
    time = np.asarray(time, dtype=np.int64)
    g = np.where(cohort > 0, cohort, 0)
    e = np.where(g > 0, time - g, np.iinfo(np.int64).min // 2)
    treated = (g > 0) & (e >= -anticipation)
    lead_cells = (g > 0) & (e < -anticipation) & (e >= -anticipation - leads)
    if labels is None:
        labels = [("overall", 0)]
        ev = np.unique(e[treated])
        if horizons is not None:
            ev = ev[(ev >= horizons[0]) & (ev <= horizons[1])]
        leads_e = np.unique(e[lead_cells]) if leads else np.array([], int)
        labels += [("lead", int(x)) for x in leads_e]
        labels += [("event", int(x)) for x in ev]
        labels += [("group", int(x)) for x in np.unique(g[treated])]
    n, k = len(unit), len(labels)
    coded = _Codes.of(unit, time)
    weights = np.zeros((n, k))
    n_target = np.zeros(k, dtype=np.int64)
    fits = {False: [j for j, (kind, _) in enumerate(labels) if kind in ("overall", "group")]}
    fits[bool(leads)] = fits.get(bool(leads), []) + [
        j for j, (kind, _) in enumerate(labels) if kind in ("event", "lead")
    ]
    for with_leads, cols in fits.items():
        if not cols:
            continue
        target = treated | lead_cells if with_leads else treated
        untreated = ~target
        ok = _imputable(coded, untreated) & target
        w1 = np.zeros((n, len(cols)))
        for c, j in enumerate(cols):
            kind, key = labels[j]
            sel = (
                ok
                & {
                    "overall": treated,
                    "group": treated & (g == key),
                    "event": treated & (e == key),
                    "lead": lead_cells & (e == key),
                }[kind]
            )
            n_target[j] = int(sel.sum())
            if n_target[j]:
                w1[sel, c] = 1.0 / n_target[j]
        v0 = _untreated_weights(coded, untreated, ok, w1)
        weights[:, cols] = w1 + v0
    return LinearFit(labels, np.full(k, np.nan), weights, n_target)


class _Codes(NamedTuple):
    """Unit and period codes (0..n-1) of the rows, computed once per `linear_weights` call."""

    unit: np.ndarray
    time: np.ndarray
    n_units: int
    n_times: int

    @classmethod
    def of(cls, unit: np.ndarray, time: np.ndarray) -> _Codes:
        ucode, uu = codes(unit)
        tcode, tt = codes(time)
        return cls(ucode, tcode, len(uu), len(tt))


def _imputable(coded: _Codes, untreated) -> np.ndarray:
    """Rows whose unit and period both have an untreated row (so y0 can be imputed)."""
    return (np.bincount(coded.unit[untreated], minlength=coded.n_units) > 0)[coded.unit] & (
        np.bincount(coded.time[untreated], minlength=coded.n_times) > 0
    )[coded.time]


def _untreated_weights(coded: _Codes, untreated, target, w1) -> np.ndarray:
    """v0 = -Z0 (Z0'Z0)^- Z1' w1: the imputed y0 of the target rows as weights on untreated rows
    (Z: unit and period indicators). The normal equations are solved by `TwoWayFE` (the
    larger factor eliminated, a Cholesky solve on the smaller; one level pinned per connected
    component): any solution gives the same unit + period sums on the untreated rows, which
    is all v0 uses, so this equals the pseudo-inverse solution to rounding at a fraction of
    its cost (the jackknife calls this twice per replicate)."""
    ucode, tcode, nu, nt = coded
    rows = np.flatnonzero(target)
    rhs_u = indicator(ucode[rows], nu) @ w1[rows]
    rhs_t = indicator(tcode[rows], nt) @ w1[rows]
    fe = TwoWayFE(ucode[untreated], tcode[untreated], None, nu, nt)
    coef_u, coef_t = fe.solve(rhs_u, rhs_t)
    out = np.zeros_like(w1)
    out[untreated] = -(coef_u[ucode[untreated]] + coef_t[tcode[untreated]])
    return out


def fit_avg_base(
    frame: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    cohort: str,
    cluster: str | None = None,
    anticipation: int = 0,
    leads: int = 0,
    horizons: tuple[int, int] | None = None,
    cell_var: str | None = None,
    small_sample: bool = True,
    jackknife_max_groups: int | None = None,
) -> AvgBaseResult:
    """Average-of-pre-base DiD (imputation form) with cluster-jackknife inference.

    `cell_var`: column of each cell's known noise variance (e.g. squared survey SE), to report
    `se_cell`, the SE due to that noise alone. Clusters: `cluster` (default `unit`).
    `small_sample` (default): jackknife variance scaled to be unbiased, and t degrees of
    freedom by Satterthwaite, both under a working model of independent equal-variance cells
    (`jackknife_dof`; the Bell-McCaffrey recipe applied to the jackknife). Off: the plain
    jackknife with t(G - 1). See the module docstring for why the jackknife.
    `jackknife_max_groups`: with more clusters than this, groups of clusters are left out
    (`estimators.few_clusters.jackknife_groups`; G then counts groups); None: one at a time.
    """
    f = frame.loc[frame[outcome].notna()].reset_index(drop=True)
    u = np.unique(f[unit].to_numpy(), return_inverse=True)[1]
    t = f[time].to_numpy()
    c = f[cohort].fillna(0).to_numpy().astype(np.int64)
    y = f[outcome].to_numpy(float)
    fit = linear_weights(u, t, c, anticipation=anticipation, leads=leads, horizons=horizons)
    fit.estimates = _estimates(fit, y)
    cl_codes = np.unique(f[cluster or unit].to_numpy(), return_inverse=True)[1].ravel()
    n_cl = int(cl_codes.max() + 1)
    groups, n_groups = jackknife_groups(cl_codes, c, jackknife_max_groups)
    k = len(fit.labels)
    reps = np.full((n_groups, k), np.nan)
    rep_w = np.zeros((k, n_groups, len(y)))  # estimand x replicate x row (jackknife_dof)
    for gidx in range(n_groups):
        keep = groups != gidx
        sub = linear_weights(
            u[keep], t[keep], c[keep], anticipation=anticipation, leads=leads, labels=fit.labels
        )
        reps[gidx] = _estimates(sub, y[keep])
        rep_w[:, gidx, keep] = sub.weights.T
    vcov = jackknife_vcov(reps)
    dfs, factor = jackknife_dof(fit.weights, rep_w)
    if small_sample:
        # scale to unbiasedness under the working model (CR2's aim): V * s_i s_j
        sf = np.sqrt(np.where(np.isfinite(factor), factor, np.nan))
        vcov = vcov * np.outer(sf, sf)
    se = np.sqrt(np.diag(vcov))
    se_cell = None
    if cell_var is not None:
        var = f[cell_var].to_numpy(float)
        se_cell = np.sqrt((fit.weights**2 * var[:, None]).sum(axis=0))
    units_cohort = pd.Series(c, index=f[cluster or unit].to_numpy()).groupby(level=0).first()
    sizes = {int(k): int(v) for k, v in units_cohort[units_cohort > 0].value_counts().items()}
    notes = []
    bad = [lab for lab, s in zip(fit.labels, se, strict=True) if not np.isfinite(s)]
    if bad:
        notes.append(
            f"no jackknife SE for {len(bad)} estimand(s) resting on a single district "
            f"({', '.join(f'{a} {b}' for a, b in bad[:5])}{'...' if len(bad) > 5 else ''})"
        )
    # Whole degrees of freedom, rounded down (results report an integer; never narrower).
    dfs = np.where(np.isfinite(se), np.floor(dfs) if small_sample else n_groups - 1.0, np.nan)
    dfs = np.where(np.isfinite(dfs), np.maximum(dfs, 1.0), np.nan)
    return AvgBaseResult(
        fit,
        se,
        vcov,
        dfs,
        (JACKKNIFE if n_groups == n_cl else grouped_jackknife_label(n_groups))
        + (", bias-corrected, Satterthwaite df" if small_sample else ", t(G-1)"),
        n_cl,
        dict(sorted(sizes.items())),
        se_cell,
        factor,
        reps,
        notes,
    )


def jackknife_vcov(reps: np.ndarray) -> np.ndarray:
    """(G-1)/G sum_g (theta_(g) - mean)(theta_(g) - mean)'; NaN rows/cols where a replicate
    is missing (an estimand without a leave-one-out estimate has no jackknife variance)."""
    g = reps.shape[0]
    dev = reps - reps.mean(axis=0, keepdims=True)
    return (g - 1) / g * (dev.T @ dev)


def jackknife_dof(weights: np.ndarray, rep_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per estimand: Satterthwaite df of the jackknife variance and its bias factor, under a
    working model of independent cells with equal variance s^2.

    The jackknife variance of estimand j is a quadratic form V = y'Ay with A = (G-1)/G D'D,
    D the (G x n) leave-one-out weight vectors centred over replicates. Under the working
    model E[V] = s^2 tr(A), Var[V] = 2 s^4 tr(A^2) and the estimator's variance is
    s^2 |v|^2, so V |v|^2 / tr(A) is unbiased and refers to t with tr(A)^2 / tr(A^2) df
    (Bell & McCaffrey 2002; Imbens & Kolesar 2016, for CR2). Why: with a one- or two-district
    cohort the jackknife variance rests on very few districts, so t(G-1) is far too
    optimistic about it; this df says how few. Returns (df, |v|^2 / tr(A)), NaN where a
    replicate is missing.

    `weights`: (n x k) full-sample weights; `rep_w`: (k x G x n) replicate weights, estimand
    first so that each estimand's G x G Gram matrix is one BLAS product. D D' is the Gram
    matrix of the uncentred weights centred on both sides, so D itself (another k x G x n
    array) is never formed.
    """
    g = rep_w.shape[1]
    c = (g - 1) / g
    raw = np.matmul(rep_w, rep_w.transpose(0, 2, 1))  # k x G x G
    row = raw.mean(axis=2, keepdims=True)
    gram = raw - row - row.transpose(0, 2, 1) + raw.mean(axis=(1, 2), keepdims=True)
    tr_a = c * np.trace(gram, axis1=1, axis2=2)
    tr_a2 = c**2 * np.einsum("kgh,kgh->k", gram, gram)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = tr_a**2 / tr_a2
        factor = (weights**2).sum(axis=0) / tr_a
    return df, factor


def _estimates(fit: LinearFit, y: np.ndarray) -> np.ndarray:
    est = fit.weights.T @ y
    est[fit.n_target == 0] = np.nan
    return est

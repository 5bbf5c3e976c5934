"""`fit_poisson` options added for issue 12, each against an independent computation.

Reference: statsmodels GLM (Poisson, explicit unit/time/cell dummies, offset, cluster-robust
covariance with its own small-sample factor, i.e. `ssc="statsmodels"`), converged to 1e-13;
the quantities the options report are recomputed from its coefficients and their SEs by a
numerical-gradient delta method on its covariance. Tolerances: coefficients/ratios 1e-8
(IRLS vs Newton at ~1e-12), SEs 1e-6 (finite-difference error, as in test_poisson.py).
The jackknife is checked against leave-one-out refits done from scratch (new panels, cold
IRLS start): 1e-8.
"""

import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from estimators.few_clusters import jackknife_vcov, leave_one_out
from estimators.panel import prepare_panel
from estimators.poisson import _restricted_resid, fit_poisson
from simulator.panel_dgp import simulate_staggered_panel


@pytest.fixture(scope="module")
def small():
    df, _ = simulate_staggered_panel(n_units=30, n_periods=8, cohorts=(4, 6), seed=5, poisson=True)
    df["pop"] = np.exp(np.random.default_rng(1).normal(8, 0.3, len(df)))
    return df


def _glm(df, cells):
    """statsmodels GLM with one dummy per (cohort, time) cell in `cells` (a row mask)."""
    df = df.copy()
    cols = []
    for g, t in sorted(set(zip(df.cohort[cells], df.time[cells], strict=True))):
        name = f"c_{g}_{t}"
        df[name] = ((df.cohort == g) & (df.time == t)).astype(float)
        cols.append(name)
    offset = np.log(df["pop"].to_numpy())
    ref = smf.glm(
        "y ~ " + " + ".join(cols) + " + C(unit) + C(time)",
        df,
        family=sm.families.Poisson(),
        offset=offset,
    ).fit(cov_type="cluster", cov_kwds={"groups": df.unit.to_numpy()}, tol=1e-13)
    x = ref.model.exog
    idx = [ref.model.exog_names.index(c) for c in cols]
    return ref, x, idx, offset


def _delta(fun, ref):
    p = ref.params.to_numpy()
    h = 1e-6
    grad = np.array([(fun(p + h * e) - fun(p - h * e)) / (2 * h) for e in np.eye(len(p))])
    return fun(p), grad @ ref.cov_params().to_numpy() @ grad


def _mus(x, idx, offset, p):
    x0 = x.copy()
    x0[:, idx] = 0
    return np.exp(x @ p + offset), np.exp(x0 @ p + offset)


def test_anticipation_months_are_own_cells_not_treated(small):
    df = small
    e = (df.time - df.cohort).to_numpy()
    treated = ((df.cohort > 0) & (e >= 0)).to_numpy()
    antic = ((df.cohort > 0) & (e >= -1) & (e < 0)).to_numpy()
    ref, x, idx, offset = _glm(df, treated | antic)
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    res = fit_poisson(panel, exposure=df["pop"].to_numpy(), anticipation=1, ssc="statsmodels")

    def theta(p):
        mu1, mu0 = _mus(x, idx, offset, p)
        return mu1[treated].sum() / mu0[treated].sum() - 1

    est, var = _delta(theta, ref)
    assert abs(res.overall.estimate - est) < 1e-8
    assert abs(res.overall.se - np.sqrt(var)) < 1e-6
    # the old behaviour (anticipation months inside theta) is a different number
    old = _mus(x, idx, offset, ref.params.to_numpy())
    both = treated | antic
    assert abs(res.overall.estimate - (old[0][both].sum() / old[1][both].sum() - 1)) > 1e-4


def test_effect_count_is_sum_mu1_minus_mu0_per_treated_cell(small):
    df = small
    treated = ((df.cohort > 0) & (df.time >= df.cohort)).to_numpy()
    ref, x, idx, offset = _glm(df, treated)
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    res = fit_poisson(panel, exposure=df["pop"].to_numpy(), ssc="statsmodels")

    def count(p):
        mu1, mu0 = _mus(x, idx, offset, p)
        return (mu1 - mu0)[treated].sum() / treated.sum()

    est, var = _delta(count, ref)
    assert abs(res.effect_count.estimate - est) < 1e-8 * max(1, abs(est))
    assert abs(res.effect_count.se - np.sqrt(var)) < 1e-6 * max(1, np.sqrt(var))


@pytest.mark.parametrize("bin_months", [1, 2])
def test_leads_event_study_and_joint_covariance(small, bin_months):
    df = small
    e = (df.time - df.cohort).to_numpy()
    k = np.floor_divide(e, bin_months)
    is_t = (df.cohort > 0).to_numpy()
    base = is_t & (k == -1)
    cells = is_t & ~base
    ref, x, idx, offset = _glm(df, cells)
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    res = fit_poisson(
        panel, exposure=df["pop"].to_numpy(), ssc="statsmodels", leads=True, bin_months=bin_months
    )
    assert res.reference == -1
    times = res.event_times
    assert -1 not in times and times.min() < -1 and times.max() >= 0

    def event_vec(p):
        mu1, mu0 = _mus(x, idx, offset, p)
        return np.array(
            [mu1[cells & (k == t)].sum() / mu0[cells & (k == t)].sum() - 1 for t in times]
        )

    p = ref.params.to_numpy()
    h = 1e-6
    jac = np.array(
        [(event_vec(p + h * v) - event_vec(p - h * v)) / (2 * h) for v in np.eye(len(p))]
    )
    vcov = jac.T @ ref.cov_params().to_numpy() @ jac
    est = np.array([r["estimate"] for r in res.event_study])
    assert np.max(np.abs(est - event_vec(p))) < 1e-8
    assert np.max(np.abs(res.event_vcov - vcov)) < 1e-6 * max(1, np.abs(vcov).max())
    # target weights reproduce the fit's overall effect exactly
    w = res.target_weights
    assert abs(w.sum() - 1) < 1e-12
    assert abs(np.sum(w * est) - res.overall.estimate) < 1e-12


def test_jackknife_matches_refits_from_scratch(small):
    df = small
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    res = fit_poisson(panel, exposure=df["pop"].to_numpy(), vcov="jackknife")

    def estimate(keep):
        sub = df[keep].reset_index(drop=True)
        p = prepare_panel(sub, unit="unit", time="time", outcome="y", cohort="cohort")
        return np.array([fit_poisson(p, exposure=sub["pop"].to_numpy()).overall.estimate])

    reps = leave_one_out(estimate, df.unit.to_numpy())
    v = jackknife_vcov(reps, np.array([res.overall.estimate]))
    assert abs(res.overall.se - np.sqrt(v[0, 0])) < 1e-8
    # hand formula: (G-1)/G * sum (t_g - mean)^2
    g = len(reps)
    assert abs(v[0, 0] - (g - 1) / g * np.sum((reps[:, 0] - reps[:, 0].mean()) ** 2)) < 1e-15


def test_restricted_residuals_match_glm_with_shared_effect_path(small):
    from estimators._design import panel_arrays
    from estimators.poisson import _fit

    df = small
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    arr = panel_arrays(panel)
    offset = np.log(df["pop"].to_numpy())
    fit = _fit(arr, arr.y, np.ones(len(df)), offset, 0, False, 1)
    r = _restricted_resid(arr, arr.y, np.ones(len(df)), offset, fit, 0)
    d = df.assign(
        D=((df.cohort > 0) & (df.time >= df.cohort)).astype(float),
    )
    d["De"] = d["D"] * (d.time - d.cohort) / 12.0
    ref = smf.glm(
        "y ~ D + De + C(unit) + C(time)", d, family=sm.families.Poisson(), offset=offset
    ).fit(tol=1e-13)
    assert np.max(np.abs(r - ref.resid_response.to_numpy()[fit.rows])) < 1e-6


def test_unknown_vcov_rejected(small):
    panel = prepare_panel(small, unit="unit", time="time", outcome="y", cohort="cohort")
    with pytest.raises(ValueError, match="vcov"):
        fit_poisson(panel, vcov="cr3")


def test_fast_unique_and_cell_keys_equal_numpy():
    """The refits' sort-free `np.unique` replacements give numpy's result exactly (small
    ranges by bincount, wide ranges and empty input by numpy itself)."""
    from estimators.fixed_effects import codes
    from estimators.poisson import _cell_keys

    rng = np.random.default_rng(0)
    for v in (
        rng.integers(-50, 50, 1000),
        rng.integers(0, 10**9, 100),
        np.array([5], np.int32),
        np.zeros(0, np.int64),
        np.array(["b", "a", "b"]),
    ):
        inv, got = codes(v)
        want, want_inv = np.unique(v, return_inverse=True)
        assert (got == want).all() and got.dtype == want.dtype
        assert (inv == want_inv.ravel()).all()
    cohort, time = rng.integers(0, 40, 500), rng.integers(3, 90, 500)
    keys, cell = _cell_keys(cohort, time)
    want, want_cell = np.unique(np.stack([cohort, time], 1), axis=0, return_inverse=True)
    assert (keys == want).all() and (cell == want_cell.ravel()).all()

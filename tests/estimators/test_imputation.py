"""BJS imputation against an independent dense implementation on small unbalanced panels.

Point estimates: statsmodels OLS with unit and time dummies on untreated observations, then
prediction for treated ones (1e-8). Standard errors: the BJS formulas written with explicit
dummy matrices, a pseudo-inverse and a literal loop over cells and clusters (1e-8): Theorem
3 with v^2-weighted cell means (the R didimputation package's formula, `leave_out=False`),
and the leave-out version of Appendix A.6 as did_imputation computes it (`leaveout`: each
cluster's cell mean excludes that cluster, with cluster-aware weights sum_c W_c T_c /
sum_c W_c^2). These checks are loops, not the library's closed-form S / (S - W_c^2) rescaling.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from estimators.imputation import fit_imputation
from estimators.panel import prepare_panel
from simulator.panel_dgp import simulate_staggered_panel

TOL = 1e-8


@pytest.fixture(scope="module")
def data():
    df, truth = simulate_staggered_panel(n_units=50, n_periods=8, cohorts=(3, 5, 7), seed=21)
    df = df.sample(frac=0.9, random_state=5).sort_values(["unit", "time"]).reset_index(drop=True)
    return df, truth


def _dense_bjs(df, weights_on_treated, cluster="unit", cells=("cohort", "time"), leave_out=False):
    """(estimate, se, effective clusters, event times of treated rows) by brute force."""
    treated = ((df.cohort > 0) & (df.time >= df.cohort)).to_numpy()
    z = pd.get_dummies(df[["unit", "time"]].astype(str), dtype=float).to_numpy()
    z0, z1 = z[~treated], z[treated]
    y = df.y.to_numpy()
    gamma = np.linalg.pinv(z0.T @ z0) @ z0.T @ y[~treated]
    tau = y[treated] - z1 @ gamma
    w1 = weights_on_treated / weights_on_treated.sum()
    v0 = -z0 @ np.linalg.pinv(z0.T @ z0) @ z1.T @ w1
    resid0 = y[~treated] - z0 @ gamma
    cl = df[cluster].to_numpy()
    cl1 = cl[treated]
    cell = df.loc[treated, list(cells)].astype(str).agg("|".join, axis=1).to_numpy()
    eps1 = np.zeros_like(tau)
    for key in np.unique(cell):
        in_cell = cell == key
        members = np.unique(cl1[in_cell])
        big_w = {c: w1[in_cell & (cl1 == c)].sum() for c in members}
        big_t = {c: (w1 * tau)[in_cell & (cl1 == c)].sum() for c in members}
        for c in members:
            pool = [d for d in members if d != c] if leave_out else list(members)
            den = sum(big_w[d] ** 2 for d in pool)
            bar = sum(big_w[d] * big_t[d] for d in pool) / den if den > 0 else 0.0
            rows = in_cell & (cl1 == c)
            eps1[rows] = tau[rows] - bar
    contrib = pd.Series(np.concatenate([v0 * resid0, w1 * eps1]))
    clusters = np.concatenate([cl[~treated], cl1])
    se = float(np.sqrt((contrib.groupby(clusters).sum() ** 2).sum()))
    gam = pd.Series(np.concatenate([v0, w1]) ** 2).groupby(clusters).sum()
    g_star = gam.sum() ** 2 / (gam**2).sum()
    return float(w1 @ tau), se, g_star, (df.time - df.cohort).to_numpy()[treated]


def _fit(df, **kw):
    cluster = kw.pop("cluster", None)
    panel = prepare_panel(
        df, unit="unit", time="time", outcome="y", cohort="cohort", cluster=cluster
    )
    return fit_imputation(panel, **kw)


@pytest.mark.parametrize("leave_out", [False, True])
def test_overall_and_event_time_match_dense_formula(data, leave_out):
    df, _ = data
    res = _fit(df, leave_out=leave_out)
    treated = (df.cohort > 0) & (df.time >= df.cohort)
    est, se, g_star, e = _dense_bjs(df, np.ones(int(treated.sum())), leave_out=leave_out)
    assert abs(res.overall.estimate - est) < TOL
    assert abs(res.overall.se - se) < TOL
    crit = stats.t.ppf(0.975, g_star - 1)
    assert res.overall.ci_high - res.overall.estimate == pytest.approx(crit * se, rel=1e-9)
    for row in res.event_study:
        est_e, se_e, _, _ = _dense_bjs(
            df, (e == row["event_time"]).astype(float), leave_out=leave_out
        )
        assert abs(row["estimate"] - est_e) < TOL
        assert abs(row["se"] - se_e) < TOL


def test_leave_out_widens_and_plain_matches_unit_v_squared_weights(data):
    df, _ = data
    plain, loo = _fit(df, leave_out=False), _fit(df)
    assert loo.overall.se > plain.overall.se
    assert loo.overall.se < 1.2 * plain.overall.se  # cells of ~15 units: a few per cent


@pytest.mark.parametrize("leave_out", [False, True])
def test_clusters_coarser_than_units_use_cluster_weights(leave_out):
    df, _ = simulate_staggered_panel(n_units=60, n_periods=7, cohorts=(3, 5), seed=4, n_clusters=9)
    res = _fit(df, cluster="cluster", leave_out=leave_out)
    treated = (df.cohort > 0) & (df.time >= df.cohort)
    est, se, g_star, _ = _dense_bjs(
        df, np.ones(int(treated.sum())), cluster="cluster", leave_out=leave_out
    )
    assert abs(res.overall.estimate - est) < TOL
    assert abs(res.overall.se - se) < TOL
    assert res.n_clusters == 9
    assert g_star < 9


def test_single_unit_cohort_falls_back_to_event_time_cells():
    df, _ = simulate_staggered_panel(n_units=40, n_periods=8, cohorts=(3, 5), seed=9)
    df.loc[df.unit == df.unit.max(), "cohort"] = 6  # a cohort of one district
    res = _fit(df)
    assert any("averaged by event time" in n for n in res.notes)
    treated = (df.cohort > 0) & (df.time >= df.cohort)
    _, se, _, _ = _dense_bjs(
        df.assign(event=df.time - df.cohort),
        np.ones(int(treated.sum())),
        cells=("event",),
        leave_out=True,
    )
    assert abs(res.overall.se - se) < TOL
    # Cohort 5's own estimand has cells with many units: it keeps the finest partition.
    assert not any(n.startswith("group 5:") for n in res.notes)


def test_point_estimate_matches_statsmodels_prediction(data):
    df, _ = data
    treated = (df.cohort > 0) & (df.time >= df.cohort)
    fit = smf.ols("y ~ C(unit) + C(time)", df[~treated]).fit()
    tau = df.y[treated] - fit.predict(df[treated])
    res = _fit(df)
    assert abs(res.overall.estimate - tau.mean()) < TOL
    by_group = tau.groupby(df.cohort[treated]).mean()
    for row in res.group:
        assert abs(row["estimate"] - by_group[row["group"]]) < TOL


def test_units_treated_from_first_period_are_dropped_with_note():
    df, _ = simulate_staggered_panel(n_units=40, n_periods=6, cohorts=(1, 4), seed=3)
    res = _fit(df)
    assert any("dropped" in n for n in res.notes)
    assert [r["group"] for r in res.group] == [4]

"""BJS imputation against an independent dense implementation on a small unbalanced panel.

Point estimates: statsmodels OLS with unit and time dummies on untreated observations, then
prediction for treated ones (1e-8). Standard errors: the BJS Theorem 3 formula written with
explicit dummy matrices and a pseudo-inverse (1e-8), checking the Schur-complement solve
and the cell-mean residualisation of the library.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from estimators.imputation import fit_imputation
from estimators.panel import prepare_panel
from simulator.panel_dgp import simulate_staggered_panel

TOL = 1e-8


@pytest.fixture(scope="module")
def data():
    df, truth = simulate_staggered_panel(n_units=50, n_periods=8, cohorts=(3, 5, 7), seed=21)
    df = df.sample(frac=0.9, random_state=5).sort_values(["unit", "time"]).reset_index(drop=True)
    return df, truth


def _dense_bjs(df, weights_on_treated):
    treated = ((df.cohort > 0) & (df.time >= df.cohort)).to_numpy()
    z = pd.get_dummies(df[["unit", "time"]].astype(str), dtype=float).to_numpy()
    z0, z1 = z[~treated], z[treated]
    y = df.y.to_numpy()
    gamma = np.linalg.pinv(z0.T @ z0) @ z0.T @ y[~treated]
    tau = y[treated] - z1 @ gamma
    w1 = weights_on_treated / weights_on_treated.sum()
    v0 = -z0 @ np.linalg.pinv(z0.T @ z0) @ z1.T @ w1
    resid0 = y[~treated] - z0 @ gamma
    g = df.cohort.to_numpy()[treated]
    e = (df.time - df.cohort).to_numpy()[treated]
    eps1 = np.empty_like(tau)
    for key in set(zip(g, e, strict=True)):
        m = (g == key[0]) & (e == key[1])
        eps1[m] = (
            tau[m] - np.sum(w1[m] ** 2 * tau[m]) / np.sum(w1[m] ** 2)
            if np.sum(w1[m] ** 2) > 0
            else tau[m]
        )
    units = df.unit.to_numpy()
    contrib = pd.Series(
        np.concatenate([v0 * resid0, w1 * eps1]),
        index=np.concatenate([units[~treated], units[treated]]),
    )
    return float(w1 @ tau), float(np.sqrt((contrib.groupby(level=0).sum() ** 2).sum())), e


def test_overall_and_event_time_match_dense_formula(data):
    df, _ = data
    res = fit_imputation(prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort"))
    treated = (df.cohort > 0) & (df.time >= df.cohort)
    est, se, e = _dense_bjs(df, np.ones(int(treated.sum())))
    assert abs(res.overall.estimate - est) < TOL
    assert abs(res.overall.se - se) < TOL
    for row in res.event_study:
        est_e, se_e, _ = _dense_bjs(df, (e == row["event_time"]).astype(float))
        assert abs(row["estimate"] - est_e) < TOL
        assert abs(row["se"] - se_e) < TOL


def test_point_estimate_matches_statsmodels_prediction(data):
    df, _ = data
    treated = (df.cohort > 0) & (df.time >= df.cohort)
    fit = smf.ols("y ~ C(unit) + C(time)", df[~treated]).fit()
    tau = df.y[treated] - fit.predict(df[treated])
    res = fit_imputation(prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort"))
    assert abs(res.overall.estimate - tau.mean()) < TOL
    by_group = tau.groupby(df.cohort[treated]).mean()
    for row in res.group:
        assert abs(row["estimate"] - by_group[row["group"]]) < TOL


def test_units_treated_from_first_period_are_dropped_with_note():
    df, _ = simulate_staggered_panel(n_units=40, n_periods=6, cohorts=(1, 4), seed=3)
    res = fit_imputation(prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort"))
    assert any("dropped" in n for n in res.notes)
    assert [r["group"] for r in res.group] == [4]

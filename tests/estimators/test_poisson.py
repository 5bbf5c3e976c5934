"""Extended-TWFE Poisson against statsmodels GLM with dummies and cluster-robust covariance.

Cell coefficients and their SEs: 1e-6 (both are Newton/IRLS solutions converged to ~1e-12).
Proportional ATT: the same ratio computed from statsmodels' coefficients, its SE by a
numerical-gradient delta method on statsmodels' covariance (1e-6, finite-difference error).
"""

import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from estimators.panel import EstimationInputError, prepare_panel
from estimators.poisson import fit_poisson
from simulator.panel_dgp import simulate_staggered_panel


@pytest.fixture(scope="module")
def small():
    df, truth = simulate_staggered_panel(
        n_units=40, n_periods=7, cohorts=(4, 6), seed=2, poisson=True
    )
    df["pop"] = np.exp(np.random.default_rng(0).normal(8, 0.3, len(df)))
    return df, truth


def test_matches_statsmodels_glm(small):
    df, _ = small
    offset = np.log(df["pop"].to_numpy())
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    res = fit_poisson(panel, ssc="statsmodels", exposure=df["pop"].to_numpy())
    cols = []
    for c in res.att_gt:
        name = f"c_{c['group']}_{c['time']}"
        df[name] = ((df.cohort == c["group"]) & (df.time == c["time"])).astype(float)
        cols.append(name)
    ref = smf.glm(
        "y ~ " + " + ".join(cols) + " + C(unit) + C(time)",
        df,
        family=sm.families.Poisson(),
        offset=offset,
    ).fit(cov_type="cluster", cov_kwds={"groups": df.unit.to_numpy()}, tol=1e-13)
    log_coef = np.array([c["log_coef"] for c in res.att_gt])
    log_se = np.array([c["log_coef_se"] for c in res.att_gt])
    assert np.max(np.abs(log_coef - ref.params[cols].to_numpy())) < 1e-6
    assert np.max(np.abs(log_se - ref.bse[cols].to_numpy())) < 1e-6

    treated = ((df.cohort > 0) & (df.time >= df.cohort)).to_numpy()
    x = ref.model.exog
    idx = [ref.model.exog_names.index(c) for c in cols]

    def theta(p):
        x0 = x.copy()
        x0[:, idx] = 0
        return np.exp(x @ p + offset)[treated].sum() / np.exp(x0 @ p + offset)[treated].sum() - 1

    p = ref.params.to_numpy()
    h = 1e-6
    grad = np.array([(theta(p + h * e) - theta(p - h * e)) / (2 * h) for e in np.eye(len(p))])
    assert abs(res.overall.estimate - theta(p)) < 1e-8
    assert abs(res.overall.se - np.sqrt(grad @ ref.cov_params().to_numpy() @ grad)) < 1e-6


def test_recovers_proportional_truth():
    df, truth = simulate_staggered_panel(
        n_units=400, n_periods=10, seed=7, poisson=True, noise_sd=0.0
    )
    res = fit_poisson(prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort"))
    assert abs(res.overall.estimate - truth.overall) < 3 * res.overall.se + 0.01
    for row in res.event_study:
        e = row["event_time"]
        assert abs(row["estimate"] - truth.att_by_event_time[e]) < 4 * row["se"] + 0.01


def test_zero_count_units_are_set_aside():
    df, _ = simulate_staggered_panel(n_units=60, n_periods=8, seed=3, poisson=True)
    df.loc[df.unit == 1, "y"] = 0.0
    res = fit_poisson(prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort"))
    assert res.n_obs == len(df) - 8
    assert np.isfinite(res.overall.se)


def test_negative_counts_rejected():
    df, _ = simulate_staggered_panel(n_units=20, n_periods=6, cohorts=(3,), seed=1)
    with pytest.raises(EstimationInputError, match="non-negative"):
        fit_poisson(prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort"))

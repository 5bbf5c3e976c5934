"""Average-of-pre-base DiD (`estimators.avgbase`) against independent computations.

- Point estimates: the overall, event-time and cohort effects equal BJS imputation
  (`estimators.imputation.fit_imputation`, itself checked against statsmodels OLS in
  test_imputation.py) to 1e-10; with one cohort and a balanced panel, the overall effect is the
  hand formula (treated post mean - treated pre mean) - (comparison post - comparison pre).
- Leads against a common base: a lead equals the imputation estimate of a panel in which the
  lead window is declared treated (so it is imputed from the quarters before it), 1e-10.
- Jackknife: the plain variance equals (G-1)/G sum (theta_(g) - mean)^2 with theta_(g) from
  `fit_imputation` on the panel without cluster g (1e-10).
- Small-sample scaling and df: with independent N(0, 1) cells (the working model) the scaled
  variance is unbiased for the estimator's variance |v|^2 and the variance of the jackknife
  variance is 2 E[V]^2 / df. Checked over 300 pure-noise draws (seeds 0-299) on a 12-unit,
  8-period design with cohorts of 5, 1 and 2 units and 4 never treated: mean V / |v|^2 within
  0.08 of 1 (MC SE sqrt(2 / (10 * 300)) = 0.026; 1,000 draws gave 0.994), while the plain
  jackknife's is 1/0.887 = 1.13 (so a missing factor fails), and the empirical
  2 E[V]^2 / Var(V) within 30% of the reported df (1,000 draws: 9.9 against 10.x, floored).
- Known cell variances: `se_cell` equals the SD of the estimate over noise-only draws with
  those variances (400 draws, within 10%; MC SE of an SD about 3.5%).
"""

import numpy as np
import pandas as pd
import pytest

from estimators.avgbase import fit_avg_base, linear_weights
from estimators.imputation import fit_imputation
from estimators.panel import prepare_panel
from simulator.panel_dgp import simulate_staggered_panel

TOL = 1e-10


@pytest.fixture(scope="module")
def data():
    df, _ = simulate_staggered_panel(n_units=14, n_periods=10, cohorts=(4, 6, 8), seed=3)
    df = df.sample(frac=0.95, random_state=2).sort_values(["unit", "time"]).reset_index(drop=True)
    return df


def _fit(df, **kw):
    return fit_avg_base(df, unit="unit", time="time", outcome="y", cohort="cohort", **kw)


def _imp(df, **kw):
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    return fit_imputation(panel, leave_out=False, **kw)


def test_estimates_equal_imputation(data):
    r, imp = _fit(data), _imp(data)
    assert r.fit.estimates[r.index("overall")] == pytest.approx(imp.overall.estimate, abs=TOL)
    for row in imp.event_study:
        got = r.fit.estimates[r.index("event", row["event_time"])]
        assert got == pytest.approx(row["estimate"], abs=TOL)
    for row in imp.group:
        assert r.fit.estimates[r.index("group", row["group"])] == pytest.approx(
            row["estimate"], abs=TOL
        )


def test_one_cohort_is_post_minus_average_of_all_pre_periods():
    rng = np.random.default_rng(0)
    units, periods, g = 6, 8, 5
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(units), periods),
            "time": np.tile(np.arange(1, periods + 1), units),
            "cohort": np.repeat([g, g, 0, 0, 0, 0], periods),
        }
    )
    df["y"] = rng.normal(size=len(df))
    tr, post = df.cohort > 0, df.time >= g
    hand = (df.y[tr & post].mean() - df.y[tr & ~post].mean()) - (
        df.y[~tr & post].mean() - df.y[~tr & ~post].mean()
    )
    assert _fit(df).fit.estimates[0] == pytest.approx(hand, abs=TOL)


def test_leads_are_imputed_from_the_periods_before_the_lead_window(data):
    leads = 2
    r = _fit(data, leads=leads)
    # Declare the lead window treated: cohort moved `leads` periods earlier.
    shifted = data.assign(cohort=np.where(data.cohort > 0, data.cohort - leads, 0))
    imp = _imp(shifted)
    for row in imp.event_study:
        e = row["event_time"] - leads  # event time relative to the real roll-out
        kind = "lead" if e < 0 else "event"
        if (kind, e) in r.fit.labels:
            assert r.fit.estimates[r.index(kind, e)] == pytest.approx(row["estimate"], abs=TOL)
    # the headline keeps all pre periods in the base
    assert r.fit.estimates[0] == pytest.approx(_imp(data).overall.estimate, abs=TOL)


def test_plain_jackknife_equals_leave_one_district_out_refits(data):
    r = _fit(data, small_sample=False)
    units = np.sort(data.unit.unique())
    theta = np.array([_imp(data[data.unit != u]).overall.estimate for u in units])
    g = len(units)
    var = (g - 1) / g * ((theta - theta.mean()) ** 2).sum()
    assert r.se[0] ** 2 == pytest.approx(var, abs=TOL)
    assert r.df == g - 1


def test_scaled_jackknife_is_unbiased_and_df_matches_its_variance():
    cohorts = [3] * 5 + [5] + [7] * 2 + [0] * 4  # a one-unit cohort among them
    design = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(len(cohorts)), 8),
            "time": np.tile(np.arange(1, 9), len(cohorts)),
            "cohort": np.repeat(cohorts, 8),
        }
    )
    first = _fit(design.assign(y=0.0))
    target = (first.fit.weights[:, 0] ** 2).sum()  # Var(theta) with unit-variance cells
    v = np.array(
        [
            _fit(design.assign(y=np.random.default_rng(seed).normal(size=len(design)))).se[0] ** 2
            for seed in range(300)
        ]
    )
    assert v.mean() / target == pytest.approx(1.0, abs=0.08)
    assert v.mean() / first.bias_factor[0] / target > 1.06  # plain jackknife: conservative
    assert first.df == 10  # Satterthwaite 10.x, floored
    assert 2 * v.mean() ** 2 / v.var() / (first.df + 0.5) == pytest.approx(1.0, abs=0.3)


def test_se_cell_is_the_sd_over_noise_draws(data):
    var = np.random.default_rng(1).uniform(0.2, 2.0, len(data))
    r = _fit(data.assign(v=var), cell_var="v")
    draws = []
    for seed in range(400):
        noise = np.random.default_rng([seed, 7]).normal(size=len(data)) * np.sqrt(var)
        w = linear_weights(data.unit.to_numpy(), data.time.to_numpy(), data.cohort.to_numpy())
        draws.append(w.weights[:, 0] @ noise)
    assert r.se_cell[0] == pytest.approx(np.std(draws, ddof=1), rel=0.10)


def test_single_treated_district_has_no_interval(data):
    one = data[(data.cohort == 0) | (data.unit == data.loc[data.cohort > 0, "unit"].iloc[0])]
    r = _fit(one)
    assert np.isfinite(r.fit.estimates[0])
    assert not np.isfinite(r.se[0]) and not np.isfinite(r.df)
    assert any("single district" in n for n in r.notes)

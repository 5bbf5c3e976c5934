"""MDE by simulation: agrees with the analytic two-group value on iid normal data."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from estimators.power import _scale_counts, analytic_mde, fit_power

N_UNITS, N_PERIODS, START, NOISE = 200, 10, 6, 1.0


def iid_panel(seed=1):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(N_UNITS), N_PERIODS)
    time = np.tile(np.arange(1, N_PERIODS + 1), N_UNITS)
    y = rng.normal(0, 1, N_UNITS)[unit] + 0.1 * time + rng.normal(0, NOISE, unit.size)
    return pd.DataFrame({"unit": unit, "time": time, "y": y})


def two_group_did(frame):
    """Pre/post DiD of unit means with a Welch SE (vectorised; frame sorted by unit, time)."""
    y = frame["y"].to_numpy().reshape(N_UNITS, N_PERIODS)
    treated = frame["cohort"].to_numpy().reshape(N_UNITS, N_PERIODS)[:, 0] > 0
    change = y[:, START - 1 :].mean(1) - y[:, : START - 1].mean(1)
    est = change[treated].mean() - change[~treated].mean()
    se = np.sqrt(
        change[treated].var(ddof=1) / treated.sum()
        + change[~treated].var(ddof=1) / (~treated).sum()
    )
    return est, se


def test_simulated_mde_matches_analytic_two_group_value():
    calls = []
    res = fit_power(
        iid_panel(),
        unit="unit",
        time="time",
        outcome="y",
        estimator=two_group_did,
        n_treated=N_UNITS // 2,
        start_periods=[START],
        n_sims=300,
        seed=3,
        progress=lambda done, total, msg: calls.append(done),
    )
    n_pre, n_post = START - 1, N_PERIODS - START + 1
    true_se = NOISE * np.sqrt(4 / N_UNITS) * np.sqrt(1 / n_pre + 1 / n_post)
    expected = analytic_mde(true_se)
    # Monte Carlo error of the 80% point with 300 draws is ~3% of the MDE; allow ~3 MC se.
    assert res.mde == pytest.approx(expected, rel=0.09)
    assert res.mde_analytic == pytest.approx(expected, rel=0.12)
    assert res.mde_analytic_reported_se == pytest.approx(expected, rel=0.05)
    lo, hi = stats.binom.ppf([0.001, 0.999], 300, 0.05) / 300
    assert lo <= res.false_positive_rate <= hi
    assert calls and calls == sorted(calls)
    rates = res.curve.sort_values("effect")["rejection_rate"].to_numpy()
    assert np.all(np.diff(rates) >= 0)  # common random numbers: power rises with d


def test_same_seed_same_numbers_and_reductions():
    kwargs = dict(
        unit="unit",
        time="time",
        outcome="y",
        estimator=two_group_did,
        n_treated=50,
        start_periods=[START],
        n_sims=60,
        direction=-1,
    )
    a = fit_power(iid_panel(), seed=11, **kwargs)
    b = fit_power(iid_panel(), seed=11, **kwargs)
    assert a.mde == b.mde and a.mde < 0
    assert a.to_dict()["curve"] == b.to_dict()["curve"]


def test_count_scaling_keeps_counts_and_mean():
    rng = np.random.default_rng(0)
    y = rng.poisson(20, 200_000).astype(float)
    u = rng.random(y.size)
    for effect in (-0.25, 0.3):
        scaled = _scale_counts(y, effect, u)
        assert np.all(scaled == np.round(scaled)) and np.all(scaled >= 0)
        assert scaled.mean() == pytest.approx(20 * (1 + effect), rel=5e-3)


def test_multiplicative_mde_on_counts_with_planned_cohorts():
    rng = np.random.default_rng(4)
    n, t = 40, 24
    unit = np.repeat(np.arange(n), t)
    time = np.tile(np.arange(1, t + 1), n)
    y = rng.poisson(np.exp(3 + rng.normal(0, 0.3, n))[unit]).astype(float)
    df = pd.DataFrame({"unit": unit, "time": time, "y": y})

    def log_did(frame):
        ly = np.log1p(frame["y"].to_numpy()).reshape(n, t)
        g = frame["cohort"].to_numpy().reshape(n, t)[:, 0]
        post = np.arange(1, t + 1)[None, :] >= np.where(g > 0, g, 10**9)[:, None]
        treated = g > 0
        start = g[treated].min()
        change = ly[:, start - 1 :].mean(1) - ly[:, : start - 1].mean(1)
        est = change[treated].mean() - change[~treated].mean()
        se = np.sqrt(
            change[treated].var(ddof=1) / treated.sum()
            + change[~treated].var(ddof=1) / (~treated).sum()
        )
        assert post.any()
        return est, se

    plan = {u: 13 for u in range(10)}
    res = fit_power(
        df,
        unit="unit",
        time="time",
        outcome="y",
        estimator=log_did,
        cohorts=plan,
        kind="multiplicative",
        direction=-1,
        n_sims=80,
        seed=2,
    )
    assert -0.5 < res.mde < 0
    assert res.to_dict()["kind"] == "multiplicative"


def test_plan_validation():
    with pytest.raises(ValueError, match="cohorts or n_treated"):
        fit_power(iid_panel(), unit="unit", time="time", outcome="y", estimator=two_group_did)
    with pytest.raises(Exception, match="comparisons"):
        fit_power(
            iid_panel(),
            unit="unit",
            time="time",
            outcome="y",
            estimator=two_group_did,
            n_treated=N_UNITS,
            start_periods=[START],
        )

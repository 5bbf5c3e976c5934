"""Pre-trend test and power: Roth's pretrends README (He & Wang 2017) and Monte Carlo checks."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from estimators.pretrends import (
    fit_pretrends,
    pretest_power,
    slope_for_power,
    truncated_normal_mean,
    wald_pretrend_test,
)

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def he_wang():
    return json.loads((DATA / "pretrends_he_wang.json").read_text())


def test_slope_for_50_percent_power_matches_r_package(he_wang):
    # R uses uniroot's default tolerance (~1e-4 absolute on the slope) and a randomised
    # Genz integration, so its printed slope is good to ~3e-4 relative.
    slope = slope_for_power(
        he_wang["sigma"], he_wang["t"], 0.5, rule="individual", critical_value=1.96
    )
    assert slope == pytest.approx(he_wang["published"]["slope_for_power_50"], rel=1e-3)
    power = pretest_power(
        slope * (np.array([-4, -3, -2]) + 1),
        np.array(he_wang["sigma"])[:3, :3],
        rule="individual",
        critical_value=1.96,
    )
    assert power == pytest.approx(0.5, abs=1e-6)


def test_power_bayes_factor_and_conditional_means_match_r_package(he_wang):
    pub = he_wang["published"]
    res = fit_pretrends(
        he_wang["beta"],
        he_wang["sigma"],
        he_wang["t"],
        rule="individual",
        critical_value=1.96,
        slope=pub["slope_for_power_50"],
    )
    # Power/Bayes factor: R's pmvnorm is Monte Carlo (error ~1e-4); ours is Genz at 1e-7.
    assert res.power == pytest.approx(pub["power_at_slope50"], abs=3e-4)
    assert res.bayes_factor == pytest.approx(pub["bayes_factor"], abs=3e-4)
    assert res.likelihood_ratio == pytest.approx(pub["likelihood_ratio"], abs=2e-7)
    table = res.table[res.table.event_time != -1]
    np.testing.assert_allclose(table["se"], pub["se"], atol=1e-7)
    np.testing.assert_allclose(table["mean_after_pretest"], pub["mean_after_pretesting"], atol=1e-4)


def test_truncated_mean_agrees_with_simulation():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + np.eye(3) * 0.5
    mean = np.array([0.4, -0.8, 1.1])
    ub = 1.5 * np.sqrt(np.diag(cov))
    exact, prob = truncated_normal_mean(mean, cov, -ub, ub)
    draws = rng.multivariate_normal(mean, cov, size=1_000_000)
    keep = (np.abs(draws) <= ub).all(axis=1)
    sim = draws[keep].mean(axis=0)
    mc_se = draws[keep].std(axis=0) / np.sqrt(keep.sum())
    assert prob == pytest.approx(keep.mean(), abs=2e-3)
    assert np.all(np.abs(sim - exact) < 4 * mc_se)


def test_wald_test_and_its_power_against_monte_carlo():
    sigma = (
        np.array(
            [[1.0, 0.3, 0.1, 0.2], [0.3, 1.5, 0.2, 0.1], [0.1, 0.2, 0.8, 0.3], [0.2, 0.1, 0.3, 2.0]]
        )
        * 0.01
    )
    beta = np.array([0.05, -0.1, 0.02, 0.3])
    times = np.array([-4, -3, -2, 0])
    w = wald_pretrend_test(beta, sigma, times)
    b = beta[:3]
    stat = b @ np.linalg.solve(sigma[:3, :3], b)
    assert w.statistic == pytest.approx(stat, rel=1e-12)
    assert w.p_value == pytest.approx(stats.chi2.sf(stat, 3), rel=1e-12)
    delta = np.array([-0.3, -0.2, -0.1])
    rng = np.random.default_rng(2)
    draws = rng.multivariate_normal(delta, sigma[:3, :3], size=400_000)
    stats_sim = np.einsum("ij,ij->i", draws @ np.linalg.inv(sigma[:3, :3]), draws)
    mc = np.mean(stats_sim > stats.chi2.ppf(0.95, 3))
    assert pretest_power(delta, sigma[:3, :3], rule="wald") == pytest.approx(mc, abs=3e-3)


def test_default_wald_rule_result_is_consistent(he_wang):
    res = fit_pretrends(he_wang["beta"], he_wang["sigma"], he_wang["t"], n_sim=100_000)
    assert res.power == pytest.approx(0.5, abs=1e-6)  # default trend: the 50%-power slope
    assert res.slope_power_80 > res.slope_power_50 > 0
    assert res.bayes_factor == pytest.approx(0.5 / 0.95, rel=1e-6)
    post = res.table[res.table.event_time >= 0]
    # Passing the pre-test selects small pre-trends, so the conditional bias of the post
    # estimates differs from the unconditional trend (here it is pulled towards zero at t=0).
    assert not np.allclose(post["mean_after_pretest"], post["delta"], atol=1e-3)
    d = res.to_dict()
    assert d["pre_trend_p"] == pytest.approx(res.wald.p_value)
    json.dumps(d)


def test_reference_period_row_and_bad_input(he_wang):
    with pytest.raises(ValueError, match="must agree"):
        fit_pretrends(he_wang["beta"][:-1], he_wang["sigma"], he_wang["t"])
    with pytest.raises(ValueError, match="no pre-period"):
        wald_pretrend_test([0.1, 0.2], np.eye(2), [0, 1])

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


# ------------------------------------------------- small-sample (Hotelling F) version


def _he_wang_pre(he_wang):
    beta, sigma, t = (np.asarray(he_wang[k], float) for k in ("beta", "sigma", "t"))
    keep = t != -1
    return beta[keep], sigma[np.ix_(keep, keep)], t[keep].astype(int)


def test_hotelling_f_statistic_equals_hand_computation(he_wang):
    beta, sigma, t = _he_wang_pre(he_wang)
    pre = t < -1
    b, s = beta[pre], sigma[np.ix_(pre, pre)]
    k, g = int(pre.sum()), 12
    wald = float(b @ np.linalg.inv(s) @ b)
    f_hand = wald * (g - k) / (k * (g - 1))
    w = wald_pretrend_test(beta, sigma, t, n_clusters=g)
    assert (w.df, w.df_denom, w.n_clusters) == (k, g - k, g)
    assert w.statistic == pytest.approx(wald, rel=1e-12)
    assert w.f_statistic == pytest.approx(f_hand, rel=1e-12)
    assert w.p_value == pytest.approx(stats.f.sf(f_hand, k, g - k), rel=1e-12)
    chi = wald_pretrend_test(beta, sigma, t)
    assert chi.f_statistic is None and chi.statistic == w.statistic
    assert w.p_value > chi.p_value  # fewer clusters, weaker evidence
    # Many clusters: the F p-value tends to the chi-square one.
    huge = wald_pretrend_test(beta, sigma, t, n_clusters=10**7)
    assert huge.p_value == pytest.approx(chi.p_value, rel=1e-4)


def test_hotelling_power_formula_and_limits(he_wang):
    _, sigma, t = _he_wang_pre(he_wang)
    pre = t < -1
    s = sigma[np.ix_(pre, pre)]
    k, g = int(pre.sum()), 12
    delta = 0.05 * (t[pre] + 1)
    nc_hand = float(delta @ np.linalg.inv(s) @ delta) * (g - k) / (g - 1)
    power_hand = stats.ncf.sf(stats.f.ppf(0.95, k, g - k), k, g - k, nc_hand)
    power = pretest_power(delta, s, n_clusters=g)
    assert power == pytest.approx(power_hand, rel=1e-10)
    assert 0.05 < power < pretest_power(delta, s)  # less power than the chi-square claims
    assert pretest_power(delta, s, n_clusters=10**7) == pytest.approx(
        pretest_power(delta, s), rel=1e-4
    )
    assert pretest_power(np.zeros(k), s, n_clusters=g) == 0.05  # scipy's ncf fails at nc=0
    slope = slope_for_power(sigma, t, 0.8, n_clusters=g)
    assert pretest_power(slope * (t[pre] + 1), s, n_clusters=g) == pytest.approx(0.8, abs=1e-8)
    assert slope > slope_for_power(sigma, t, 0.8)


def test_hotelling_version_in_fit_pretrends_and_bad_input(he_wang):
    res = fit_pretrends(he_wang["beta"], he_wang["sigma"], he_wang["t"], n_clusters=9, n_sim=20_000)
    assert res.power == pytest.approx(0.5, abs=1e-6)
    assert res.wald.df_denom == 9 - 3
    assert "Hotelling" in res.summary() and "F(3, 6)" in res.summary()
    d = res.to_dict()
    assert d["pre_trend_p"] == res.wald.p_value and d["n_clusters"] == 9
    json.dumps(d)
    beta, sigma, t = _he_wang_pre(he_wang)
    with pytest.raises(ValueError, match="more clusters than coefficients"):
        wald_pretrend_test(beta, sigma, t, n_clusters=3)
    with pytest.raises(ValueError, match="wald rule only"):
        pretest_power(np.zeros(3), sigma[:3, :3], rule="individual", n_clusters=12)


def _pretrend_rejections(reps: int, n_districts: int = 12, leads: int = 5):
    """Share of simulated 12-district panels (parallel trends hold, effects only after
    roll-out) whose joint pre-trend test rejects at 5%: (chi-square, Hotelling F). Every
    district is its own cluster; TWFE event study with CR1 cluster-robust covariance."""
    from estimators.panel import prepare_panel
    from estimators.twfe import fit_event_study
    from simulator.panel_dgp import simulate_staggered_panel

    p_values = []
    for seed in range(reps):
        df, _ = simulate_staggered_panel(
            n_units=n_districts, n_periods=20, cohorts=(10, 12, 14), never_share=0.35, seed=seed
        )
        panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
        fit = fit_event_study(panel, window=(-leads - 1, 3))
        times = np.array([int(c["term"].split("::")[1]) for c in fit.coefficients])
        beta = np.array([c["estimate"] for c in fit.coefficients])
        sigma = fit.vcov[: beta.size, : beta.size]
        chi = wald_pretrend_test(beta, sigma, times)
        f = wald_pretrend_test(beta, sigma, times, n_clusters=fit.n_clusters)
        assert fit.n_clusters == n_districts and chi.df == leads
        p_values.append((chi.p_value, f.p_value))
    return (np.array(p_values) < 0.05).mean(axis=0)


def test_hotelling_size_with_12_clusters_fast():
    reps = 120
    chi_rate, f_rate = _pretrend_rejections(reps)
    mc_se = np.sqrt(0.05 * 0.95 / reps)
    assert f_rate <= 0.05 + 3 * mc_se
    assert chi_rate > 0.2  # measured ~0.4 over 2,000 panels


@pytest.mark.slow
def test_hotelling_size_with_12_clusters():
    # 2,000 panels gave chi-square 0.40 and F 0.068 (5 leads); the F test is slightly liberal
    # with 12 single-district clusters but within 3 Monte Carlo SE of 5% at 400 panels.
    reps = 400
    chi_rate, f_rate = _pretrend_rejections(reps)
    mc_se = np.sqrt(0.05 * 0.95 / reps)
    assert abs(f_rate - 0.05) <= 3 * mc_se
    assert chi_rate > 0.05 + 10 * mc_se

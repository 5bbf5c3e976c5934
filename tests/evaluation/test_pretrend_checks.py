"""Pre-trend checks (evaluation/pretrend_checks.py, issue 12 item 3).

References: R HonestDiD on BCdata_EventStudy (tests/data/honestdid_bc.json, tolerances as in
tests/data/SOURCES.md: FLCI 1.5e-3, C-LF 2e-3 absolute), statsmodels GLS for the linear
slope (1e-10), and Monte Carlo on multivariate normal event studies with Wishart covariances
(tests/evaluation/pretrend_mc.py); rates are compared with their Monte Carlo standard error.
"""

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from pretrend_mc import DESIGNS, McDesign, mc_se, replicate
from scipy import stats

from estimators.honest import flci_separable
from estimators.honest_arp import flci
from estimators.pretrends import wald_pretrend_test
from evaluation.pretrend_checks import (
    common_base_leads,
    curvature_se,
    linear_test_power,
    linear_trend_test,
    pretrend_checks,
    small_sample_scale,
)

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def bc():
    r = json.loads((DATA / "honestdid_bc.json").read_text())
    r["beta"], r["sig"] = np.array(r["betahat"]), np.array(r["sigma"])
    r["es"] = {
        "event_times": [-5, -4, -3, -2, 0, 1, 2, 3],
        "estimates": r["betahat"],
        "vcov": r["sigma"],
        "df": None,
        "bin_months": 12,
        "target_weights": [1, 0, 0, 0],
        "reference": -1,
    }
    return r


@pytest.fixture(scope="module")
def he_wang():
    return json.loads((DATA / "pretrends_he_wang.json").read_text())


# ------------------------------------------------------------------ reference values


def test_honest_sd_and_rm_match_r_on_bc(bc):
    ref_sd, ref_rm = bc["sd_flci"], bc["rm_clf"]
    res = pretrend_checks(bc["es"], bc["beta"][4], n_leads=4, sd_grid=ref_sd["M"], rm_max_pre=4)
    assert res.leads_used == [-5, -4, -3, -2]
    for row, lo, hi in zip(res.honest_sd, ref_sd["lb"], ref_sd["ub"], strict=True):
        assert row["ci_low"] == pytest.approx(lo, abs=1.5e-3)
        assert row["ci_high"] == pytest.approx(hi, abs=1.5e-3)
    rm = {r["mbar"]: r for r in res.honest_rm}
    for mbar, lo, hi in zip(ref_rm["Mbar"], ref_rm["lb"], ref_rm["ub"], strict=True):
        assert rm[mbar]["ci_low"] == pytest.approx(lo, abs=2e-3)
        if mbar < 2:  # R's Mbar = 2 upper bound is its grid edge (censored)
            assert rm[mbar]["ci_high"] == pytest.approx(hi, abs=2e-3)
    # R: significant at Mbar = 1.5 (lb 0.0133), not at 2 (lb -0.042).
    assert 1.5 <= res.honest_rm_breakdown < 2.0
    # Delta-SD breakdown: R's FLCI at M = 0.2 has lb 0.0194 > 0, so the breakdown exceeds 0.2;
    # at the breakdown the lower end is zero.
    assert res.honest_sd_breakdown > 0.2
    lo, _, _, _ = flci_separable(bc["beta"], bc["sig"], 4, np.eye(4)[0], res.honest_sd_breakdown)
    assert lo == pytest.approx(0.0, abs=1e-4)
    json.dumps(res.to_dict())


@pytest.mark.parametrize("l_vec", [np.eye(4)[0], np.full(4, 0.25), np.array([0, 0.2, 0.3, 0.5])])
def test_separable_flci_is_the_same_optimum_as_flci(bc, l_vec):
    # Same convex problem, fewer variables: half-lengths agree to 1e-8 relative (both solved
    # to SLSQP precision), against R for the first-period target in test_honest.py.
    for m in (0.0, 0.005, 0.02, 0.1, 0.3):
        a, b = (
            flci(bc["beta"], bc["sig"], 4, l_vec, m),
            flci_separable(bc["beta"], bc["sig"], 4, l_vec, m),
        )
        assert b[2] == pytest.approx(a[2], rel=1e-8)
        assert b[0] == pytest.approx(a[0], abs=1e-5 * a[2])  # flat optimum: centre to 1e-5


def test_linear_slope_is_statsmodels_gls(he_wang):
    import statsmodels.api as sm

    t = np.array(he_wang["t"])
    beta, sigma = np.array(he_wang["beta"]), np.array(he_wang["sigma"])
    pre = t < -1
    x = (t[pre] + 1).astype(float)
    fit = sm.GLS(beta[pre], x[:, None], sigma=sigma[np.ix_(pre, pre)]).fit()
    gls = linear_trend_test(beta[pre], sigma[np.ix_(pre, pre)], x, method="gls")
    assert gls.slope == pytest.approx(fit.params[0], rel=1e-10)
    # statsmodels scales the covariance by the residual variance; with sigma known, scale 1.
    se_known = float(np.sqrt(fit.normalized_cov_params[0, 0]))
    assert gls.se == pytest.approx(se_known, rel=1e-10)
    assert gls.p_value == pytest.approx(2 * stats.norm.sf(abs(gls.slope / se_known)), rel=1e-10)
    ols = linear_trend_test(beta[pre], sigma[np.ix_(pre, pre)], x, method="ols")
    assert ols.slope == pytest.approx(float(np.linalg.lstsq(x[:, None], beta[pre])[0][0]))


def test_rao_adjustment_is_the_hotelling_decomposition(he_wang):
    # t^2 (n + W_resid) / (n - K + 1) must equal T2_K - T2_{K-1}, the two Hotelling statistics
    # computed directly: all K leads, and the K - 1 contrasts orthogonal to the trend.
    t = np.array(he_wang["t"])
    beta, sigma = np.array(he_wang["beta"]), np.array(he_wang["sigma"])
    pre = t < -1
    b, v, x = beta[pre], sigma[np.ix_(pre, pre)], (t[pre] + 1).astype(float)
    n = 11
    res = linear_trend_test(b, v, x, df=n, method="gls")
    contrasts = np.linalg.svd(x[None, :])[2][1:]  # rows c with c'x = 0
    t2_k = b @ np.linalg.solve(v, b)
    cb = contrasts @ b
    t2_rest = cb @ np.linalg.solve(contrasts @ v @ contrasts.T, cb)
    dfd = n - x.size + 1
    assert res.df == dfd
    assert res.t**2 * (n + t2_rest) / dfd == pytest.approx(t2_k - t2_rest, rel=1e-10)
    # With one lead it is the plain t(n).
    one = linear_trend_test(b[-1:], v[-1:, -1:], x[-1:], df=n, method="gls")
    assert one.df == n and one.t == pytest.approx(b[-1] / math.sqrt(v[-1, -1]) * -1, rel=1e-12)


def test_joint_test_is_the_library_hotelling_test(he_wang):
    t = np.array(he_wang["t"])
    es = {
        "event_times": t.tolist(),
        "estimates": he_wang["beta"],
        "vcov": he_wang["sigma"],
        "df": 11,
        "bin_months": 3,
        "target_weights": [0.25] * 4,
        "reference": -1,
    }
    res = pretrend_checks(es, float(np.mean(he_wang["beta"][3:])))
    ref = wald_pretrend_test(he_wang["beta"], he_wang["sigma"], t, n_clusters=12)
    assert res.joint_p == pytest.approx(ref.p_value, rel=1e-12)
    assert res.joint_df == [3, 9]
    assert res.linear_method == "ols" and res.linear_df == 11


# ------------------------------------------------------------------ definitions


def test_common_base_leads_from_varying_base():
    # A violation path delta_t; varying-base leads are one-period changes delta_t - delta_{t-1}
    # (event time -1 included), post periods long differences against -1.
    times = np.array([-4, -3, -2, -1, 0, 1])
    delta = {-5: 0.7, -4: 0.1, -3: -0.4, -2: 0.3, -1: 0.2, 0: 1.0, 1: 1.5}
    varying = np.array([delta[e] - delta[e - 1] if e < 0 else delta[e] - delta[-1] for e in times])
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    v = a @ a.T
    t_out, b_out, v_out = common_base_leads(times, varying, v)
    assert t_out.tolist() == [-4, -3, -2, 0, 1]
    assert b_out == pytest.approx([delta[e] - delta[-1] for e in t_out], abs=1e-12)
    lmap = np.array(
        [
            [0, -1, -1, -1, 0, 0],
            [0, 0, -1, -1, 0, 0],
            [0, 0, 0, -1, 0, 0],
            [0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 1],
        ]
    )
    assert v_out == pytest.approx(lmap @ v @ lmap.T, abs=1e-12)
    with pytest.raises(ValueError, match="all needed"):
        common_base_leads([-3, -1, 0], [0.1, 0.2, 0.3], np.eye(3))


def test_explaining_slope_reproduces_the_headline():
    d = McDesign("q", 6, 5, 3, None)
    t = d.times
    w = np.array([0.1, 0.1, 0.2, 0.3, 0.3])
    es = {
        "event_times": t.tolist(),
        "estimates": np.zeros(t.size).tolist(),
        "vcov": d.cov().tolist(),
        "df": None,
        "bin_months": 3,
        "target_weights": w.tolist(),
        "reference": -1,
    }
    res = pretrend_checks(es, -0.12, rm_grid=())
    # A linear trend of that slope through the reference period, extrapolated with the
    # target weights, is the headline.
    assert float(w @ (res.explaining_slope * (np.arange(5) + 1))) == pytest.approx(-0.12)
    assert res.explaining_lever == pytest.approx(float(w @ (np.arange(5) + 1)))
    assert res.linear_method == "gls" and res.linear_df is None
    # Power against it: recomputed by hand (normal, GLS).
    pre = t < -1
    x = (t[pre] + 1).astype(float)
    v_pre = d.cov()[np.ix_(pre, pre)]
    lam = abs(res.explaining_slope) * math.sqrt(x @ np.linalg.solve(v_pre, x))
    z = stats.norm.ppf(0.975)
    assert res.power_linear_vs_explaining == pytest.approx(
        stats.norm.sf(z - lam) + stats.norm.cdf(-z - lam), rel=1e-12
    )
    assert res.target_estimate == 0.0 and any("differs from the headline" in n for n in res.notes)


def test_weights_over_lags_only_and_anticipation():
    # Reference -2 (one anticipation period): event time -1 is post; weights given over the
    # lags >= 0 only get a zero for -1.
    d = McDesign("q", 5, 4, 3, None)
    v = d.cov()
    t = np.concatenate([np.arange(-7, -2), np.arange(-1, 4)])  # ref -2 omitted
    rng = np.random.default_rng(3)
    b = rng.multivariate_normal(np.zeros(t.size), np.pad(v, ((0, 1), (0, 1))) + np.eye(10) * 1e-3)
    vv = np.pad(v, ((0, 1), (0, 1))) + np.eye(10) * 1e-3
    es = {
        "event_times": t.tolist(),
        "estimates": b.tolist(),
        "vcov": vv.tolist(),
        "df": 14,
        "bin_months": 3,
        "target_weights": [0.25] * 4,
        "reference": -2,
    }
    res = pretrend_checks(es, float(b[-4:].mean()), rm_grid=())
    assert res.target_estimate == pytest.approx(float(b[-4:].mean()))
    assert res.explaining_lever == pytest.approx(np.mean([2, 3, 4, 5]))
    assert res.leads_used[-1] == -3 and res.reference == -2


def test_few_leads_and_bad_input(bc):
    es = dict(bc["es"], event_times=[-2, 0, 1, 2, 3])
    es["estimates"] = bc["betahat"][3:]
    es["vcov"] = bc["sig"][3:, 3:].tolist()
    res = pretrend_checks(es, bc["beta"][4])
    assert res.leads_used == [-2] and res.honest_sd == []
    assert any("two leads" in n for n in res.notes)
    assert res.linear_p is not None and res.joint_p is not None
    with pytest.raises(ValueError, match="target_weights"):
        pretrend_checks(dict(bc["es"], target_weights=[1, 0]), 0.2)
    with pytest.raises(ValueError, match="reference"):
        pretrend_checks(dict(bc["es"], reference=-2), 0.2)


def test_grid_unit_is_the_curvature_se_and_data_free(bc):
    es = dict(bc["es"], df=40)
    a = pretrend_checks(es, bc["beta"][4], n_leads=4, rm_grid=())
    b = pretrend_checks(dict(es, estimates=(bc["beta"] * 0.5).tolist()), 0.1, n_leads=4, rm_grid=())
    assert (
        a.honest_sd_unit
        == b.honest_sd_unit
        == pytest.approx(curvature_se(bc["sig"][:4, :4], np.array([-4.0, -3, -2, -1])))
    )
    assert [r["m_units"] for r in a.honest_sd] == [0.0, 0.25, 0.5, 1.0, 2.0, 4.0]
    widths = [r["ci_high"] - r["ci_low"] for r in a.honest_sd]
    assert np.all(np.diff(widths) > 0)


# ------------------------------------------------------------------ Monte Carlo (fast)


def test_linear_test_size_power_and_sd_coverage_fast():
    """12 districts, quarterly: the linear test keeps its size, the naive GLS t(G-1) test
    (the GLS weights from the estimated covariance, no adjustment) over-rejects (~0.3 at
    2,000 replications), and against a trend that biases the target by 5 SE the linear test
    has far more power than the joint test (0.99 against 0.67 at 2,000); SD(M=0) keeps its
    coverage only with the small-sample scale (unadjusted ~0.65)."""
    d = DESIGNS[1]
    reps = 300
    null = replicate(d, reps, 0.0, 0.0, seed=11)
    se = mc_se(0.05, reps)
    assert null["linear"] <= 0.05 + 3 * se
    assert null["linear_naive"] > 0.15
    assert null["sd0_covers"] >= 0.95 - 3 * mc_se(0.95, reps)
    assert null["sd0_naive_covers"] < 0.85
    trend = replicate(d, reps, d.slope_for_bias(5.0), 0.0, seed=12)
    assert trend["linear"] > trend["joint"] + 0.2
    assert trend["sd0_covers"] >= 0.95 - 3 * mc_se(0.95, reps)


def test_ols_power_formula_against_simulation():
    # With a Wishart covariance the OLS slope's t is exactly noncentral t(n): the predicted
    # power at the true slope and covariance must match the simulated rejection rate.
    d = DESIGNS[2]
    slope = d.slope_for_bias(3.0)
    reps = 400
    r = replicate(d, reps, slope, 0.0, seed=21)
    k_lin, _ = d.n_used()
    v = d.cov()
    idx = np.arange(d.n_leads - k_lin, d.n_leads)
    x = (d.times[idx] + 1).astype(float)
    pred = linear_test_power(slope, v[np.ix_(idx, idx)], x, 0.05, d.df)
    assert abs(r["linear"] - pred) <= 3.5 * mc_se(pred, reps)


def test_small_sample_scale_limits(he_wang):
    t = np.array(he_wang["t"])
    pre = t < -1
    b = np.array(he_wang["beta"])[pre]
    v = np.array(he_wang["sigma"])[np.ix_(pre, pre)]
    x = (t[pre] + 1).astype(float)
    assert small_sample_scale(b, v, x, None, 0.05) == 1.0
    assert small_sample_scale(b, v, x, 10**7, 0.05) == pytest.approx(1.0, rel=1e-5)
    assert small_sample_scale(b, v, x, 9, 0.05) > 1.2
    with pytest.raises(ValueError):
        small_sample_scale(b, v, x, 1, 0.05)


def test_runtime_of_a_quarterly_and_a_monthly_outcome():
    rng = np.random.default_rng(5)
    for d, limit in ((McDesign("q", 8, 10, 3, 11), 3.0), (McDesign("m", 24, 30, 1, 21), 4.0)):
        b = rng.multivariate_normal(np.zeros(d.times.size), d.cov())
        es = {
            "event_times": d.times.tolist(),
            "estimates": b.tolist(),
            "vcov": d.cov().tolist(),
            "df": d.df,
            "bin_months": d.bin_months,
            "target_weights": d.weights.tolist(),
            "reference": -1,
        }
        start = time.process_time()  # CPU time: other jobs on the machine do not count
        res = pretrend_checks(es, float(d.weights @ b[d.n_leads :]))
        # Measured ~0.3 s (quarterly) and ~0.6 s (monthly) of CPU; the limit leaves room for
        # slower machines but catches the old FLCI (3-45 s per call on the monthly study).
        assert time.process_time() - start < limit
        assert res.honest_sd and res.honest_rm == []


# ------------------------------------------------------------------ Monte Carlo (slow)


@pytest.mark.slow
@pytest.mark.parametrize("design", DESIGNS, ids=[d.name for d in DESIGNS])
def test_monte_carlo_size_power_coverage(design):
    """2,000 replications per design and scenario (table in docs/pretrend_checks.md)."""
    reps = 2000
    null = replicate(design, reps, 0.0, 0.0, seed=101)
    se = mc_se(0.05, reps)
    assert abs(null["linear"] - 0.05) <= 3 * se
    assert abs(null["joint"] - 0.05) <= 3 * se
    assert abs(null["sd0_covers"] - 0.95) <= 3 * mc_se(0.95, reps)
    for n_se in (3.0, 5.0):
        r = replicate(design, reps, design.slope_for_bias(n_se), 0.0, seed=102 + int(n_se))
        assert abs(r["sd0_covers"] - 0.95) <= 3 * mc_se(0.95, reps)
        if design.df is not None:
            assert r["linear"] >= r["joint"] + 0.15
        else:
            assert r["linear"] >= r["joint"]


@pytest.mark.parametrize("m_units", [0.0, 1.0, 4.0])
def test_sd_coverage_is_exact_for_the_worst_case_quadratic(m_units):
    # With a known covariance the FLCI's weights do not depend on the data, so its coverage
    # of a given violation is a normal probability. A quadratic bending away with curvature
    # exactly M is the worst case for an average post-period target: coverage must be 95%
    # exactly (more means a loose bias bound, less a wrong one).
    from estimators.honest_arp import second_difference_basis

    d = DESIGNS[0]
    v, t, k = d.cov(), d.times, d.n_leads
    x = (t[:k] + 1).astype(float)
    m = m_units * curvature_se(v[:k, :k], x)
    rel = (t + 1).astype(float)
    mu = 0.5 * m * rel * (rel - 1)
    _, _, half, vv = flci_separable(np.zeros(t.size), v, k, d.weights, m)
    sd, bias = math.sqrt(vv @ v @ vv), float(vv @ mu)
    assert bias == pytest.approx(m * np.abs(second_difference_basis(k, d.n_post).T @ vv).sum())
    coverage = stats.norm.cdf((half - bias) / sd) - stats.norm.cdf((-half - bias) / sd)
    assert coverage == pytest.approx(0.95, abs=1e-6)


def test_treated_district_count_caps_the_degrees_of_freedom():
    d = McDesign("q", 8, 5, 3, 21)
    rng = np.random.default_rng(8)
    b = rng.multivariate_normal(np.zeros(d.times.size), d.cov())
    es = {
        "event_times": d.times.tolist(),
        "estimates": b.tolist(),
        "vcov": d.cov().tolist(),
        "df": 21,
        "bin_months": 3,
        "target_weights": d.weights.tolist(),
        "reference": -1,
    }
    plain = pretrend_checks(es, float(d.weights @ b[8:]), rm_grid=())
    capped = pretrend_checks(dict(es, n_treated=7), float(d.weights @ b[8:]), rm_grid=())
    assert (plain.df_used, plain.linear_df, plain.joint_df) == (21, 21, [8, 14])
    assert (capped.df_used, capped.linear_df, capped.joint_df) == (6, 6, [3, 4])
    assert capped.leads_linear == plain.leads_linear and len(capped.leads_used) == 3
    assert capped.linear_p > plain.linear_p  # same statistic, heavier tails
    assert any("treated districts - 1" in n for n in capped.notes)
    # n_treated above G - 1 changes nothing
    same = pretrend_checks(dict(es, n_treated=30), float(d.weights @ b[8:]), rm_grid=())
    assert same.to_dict() == plain.to_dict()

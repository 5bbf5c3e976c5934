"""TWFE, event-study TWFE and 2x2 DiD against statsmodels (dummies) and linearmodels PanelOLS.

Tolerance 1e-8: both references solve the same least-squares problem; the only legitimate
difference is the small-sample factor, which each test sets to the reference's own:
statsmodels G/(G-1)(N-1)/(N-K) with K counting every dummy; linearmodels N/(N-K) (its
defaults debiased=True, count_effects=True, no G/(G-1)).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from linearmodels.panel import PanelOLS

from estimators.fixed_effects import TwoWayFE
from estimators.panel import EstimationInputError, prepare_panel
from estimators.twfe import fit_did2x2, fit_event_study, fit_twfe
from simulator.panel_dgp import simulate_staggered_panel

TOL = 1e-8


@pytest.fixture(scope="module")
def unbalanced():
    df, _ = simulate_staggered_panel(n_units=45, n_periods=9, seed=11)
    df = df.sample(frac=0.88, random_state=3).sort_values(["unit", "time"]).reset_index(drop=True)
    df["D"] = ((df.cohort > 0) & (df.time >= df.cohort)).astype(float)
    df["x2"] = np.random.default_rng(1).normal(size=len(df))
    return df


def _panel(df, **kw):
    return prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort", **kw)


def test_twoway_projection_matches_dummy_regression(unbalanced):
    df = unbalanced
    w = np.random.default_rng(0).uniform(0.5, 2, len(df))
    fe = TwoWayFE(df.unit.to_numpy() - 1, df.time.to_numpy() - 1, w)
    ours = fe.residualize(df.y.to_numpy())
    ref = smf.wls("y ~ C(unit) + C(time)", df, weights=w).fit().resid.to_numpy()
    assert np.max(np.abs(ours - ref)) < TOL


def test_twfe_matches_statsmodels_dummies(unbalanced):
    df = unbalanced
    ref = smf.ols("y ~ D + x2 + C(unit) + C(time)", df).fit(
        cov_type="cluster", cov_kwds={"groups": df.unit.to_numpy()}
    )
    res = fit_twfe(_panel(df, covariates=["x2"]), ssc="statsmodels")
    assert abs(res.overall.estimate - ref.params["D"]) < TOL
    assert abs(res.overall.se - ref.bse["D"]) < TOL
    assert abs(res.coefficients[1]["se"] - ref.bse["x2"]) < TOL


def test_twfe_matches_linearmodels_panelols(unbalanced):
    df = unbalanced
    ref = PanelOLS.from_formula(
        "y ~ D + EntityEffects + TimeEffects", df.set_index(["unit", "time"])
    ).fit(cov_type="clustered", cluster_entity=True)
    res = fit_twfe(_panel(df), ssc="linearmodels")
    assert abs(res.overall.estimate - ref.params["D"]) < TOL
    assert abs(res.overall.se - ref.std_errors["D"]) < TOL


def test_nested_correction_drops_unit_effects_from_k(unbalanced):
    df = unbalanced
    n, n_units, n_t = len(df), df.unit.nunique(), df.time.nunique()
    se_sm = fit_twfe(_panel(df), ssc="statsmodels").overall.se
    se_nested = fit_twfe(_panel(df)).overall.se
    k_all, k_nested = 1 + n_units + n_t - 1, 1 + n_t - 1
    assert (se_nested / se_sm) ** 2 == pytest.approx((n - k_all) / (n - k_nested), rel=1e-10)


def test_twfe_cluster_coarser_than_unit_and_weights(unbalanced):
    df = unbalanced.assign(wt=lambda d: 1 + (d.unit % 3))
    res = fit_twfe(
        _panel(df.assign(cluster=df.unit % 7), weights="wt", cluster="cluster"), ssc="statsmodels"
    )
    ref = smf.wls("y ~ D + C(unit) + C(time)", df, weights=df.wt).fit(
        cov_type="cluster", cov_kwds={"groups": (df.unit % 7).to_numpy()}
    )
    assert abs(res.overall.estimate - ref.params["D"]) < TOL
    assert abs(res.overall.se - ref.bse["D"]) < TOL
    assert res.n_clusters == 7


@pytest.mark.parametrize("bin_endpoints", [False, True])
def test_event_study_matches_statsmodels(unbalanced, bin_endpoints):
    df = unbalanced.copy()
    lo, hi = -3, 2
    rel = np.where(df.cohort > 0, df.time - df.cohort, 0)
    if bin_endpoints:
        rel = np.where(df.cohort > 0, np.clip(rel, lo, hi), 0)
        sub = df
    else:
        keep = (df.cohort == 0) | ((rel >= lo) & (rel <= hi))
        sub, rel = df[keep].copy(), rel[keep]
    names = []
    for e in range(lo, hi + 1):
        if e == -1:
            continue
        name = f"e_{'m' if e < 0 else 'p'}{abs(e)}"
        sub[name] = ((sub.cohort > 0) & (rel == e)).astype(float)
        names.append((e, name))
    ref = smf.ols("y ~ " + " + ".join(n for _, n in names) + " + C(unit) + C(time)", sub).fit(
        cov_type="cluster", cov_kwds={"groups": sub.unit.to_numpy()}
    )
    res = fit_event_study(
        _panel(df), window=(lo, hi), bin_endpoints=bin_endpoints, ssc="statsmodels"
    )
    got = {r["event_time"]: r for r in res.event_study}
    assert sorted(got) == [e for e, _ in names]
    for e, name in names:
        assert abs(got[e]["estimate"] - ref.params[name]) < TOL
        assert abs(got[e]["se"] - ref.bse[name]) < TOL


def test_did2x2_matches_interaction_regression():
    df, _ = simulate_staggered_panel(n_units=40, n_periods=6, cohorts=(4,), seed=5)
    sub = df.assign(treat=(df.cohort == 4).astype(float), post=(df.time >= 4).astype(float))
    ref = smf.ols("y ~ treat * post", sub).fit(
        cov_type="cluster", cov_kwds={"groups": sub.unit.to_numpy()}
    )
    res = fit_did2x2(_panel(df))
    assert abs(res.overall.estimate - ref.params["treat:post"]) < TOL
    assert abs(res.overall.se - ref.bse["treat:post"]) < TOL
    means = sub.groupby(["treat", "post"]).y.mean()
    manual = (means[1, 1] - means[1, 0]) - (means[0, 1] - means[0, 0])
    assert res.overall.estimate == pytest.approx(manual, abs=1e-10)


def test_did2x2_needs_never_treated():
    df, _ = simulate_staggered_panel(
        n_units=30, n_periods=6, cohorts=(3, 5), never_share=0.0, seed=2
    )
    with pytest.raises(EstimationInputError, match="never-treated"):
        fit_did2x2(_panel(df))


def test_result_dict_shape(unbalanced):
    res = fit_event_study(_panel(unbalanced))
    out = res.to_dict()
    assert set(out) >= {"overall", "event_study", "group", "att_gt", "n_units", "n_obs"}
    assert set(out["overall"]) == {"estimate", "se", "ci_low", "ci_high", "p_value"}
    assert out["n_obs"] == len(unbalanced)
    assert all(
        set(r) == {"event_time", "estimate", "se", "ci_low", "ci_high"} for r in out["event_study"]
    )
    assert "event_time::0" in res.summary()
    assert isinstance(res.tidy(), pd.DataFrame) and len(res.tidy()) == 1 + len(res.event_study)

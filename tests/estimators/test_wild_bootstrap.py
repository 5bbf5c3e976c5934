"""Restricted wild cluster bootstrap (WCR-t).

Reference: the `wildboottest` package (Python port of fwildclusterboot) on OLS with explicit
unit and time dummies. With G <= 12 clusters both enumerate all 2^G Rademacher sign vectors,
so p-values must agree exactly, not within Monte Carlo error, except for ties: the two
identity draws (all +1 / all -1) reproduce |t| itself; we never count them, wildboottest counts
them when rounding happens to put |t*| a hair above |t|. Hence the tolerance 2 / 2^G.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from test_monte_carlo_regression import few_cluster_panel, wcr_p_value
from wildboottest.wildboottest import wildboottest

from estimators.fixed_effects import TwoWayFE
from estimators.panel import prepare_panel
from estimators.twfe import fit_twfe
from estimators.wild_bootstrap import wild_cluster_bootstrap
from simulator.panel_dgp import simulate_staggered_panel


def _data(seed, n_units=10, n_clusters=None):
    df, _ = simulate_staggered_panel(
        n_units=n_units, n_periods=6, cohorts=(3, 5), seed=seed, n_clusters=n_clusters
    )
    df["D"] = ((df.cohort > 0) & (df.time >= df.cohort)).astype(float)
    return df


def _dummy_ols(df):
    x = pd.get_dummies(
        df[["D"]].assign(u=df.unit.astype(str), t=df.time.astype(str)),
        columns=["u", "t"],
        drop_first=True,
        dtype=float,
    )
    return sm.OLS(df.y, sm.add_constant(x)), x


@pytest.mark.parametrize("seed", [5, 6])
def test_full_enumeration_matches_wildboottest(seed):
    df = _data(seed)
    model, _ = _dummy_ols(df)
    with pytest.warns(UserWarning, match="full_enumeration"):
        ref = wildboottest(model, param="D", cluster=df.unit, B=9999, seed=1, show=False)
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    ours = fit_twfe(panel, wild_bootstrap=999, seed=123)
    assert abs(ours.overall.p_value - float(ref["p-value"].iloc[0])) <= 2 / 2**10 + 1e-12


def test_clusters_coarser_than_units_match_wildboottest():
    df = _data(8, n_units=30, n_clusters=9)
    model, _ = _dummy_ols(df)
    with pytest.warns(UserWarning, match="full_enumeration"):
        ref = wildboottest(model, param="D", cluster=df.cluster, B=9999, seed=1, show=False)
    panel = prepare_panel(
        df, unit="unit", time="time", outcome="y", cohort="cohort", cluster="cluster"
    )
    ours = fit_twfe(panel, wild_bootstrap=999)
    assert abs(ours.overall.p_value - float(ref["p-value"].iloc[0])) <= 2 / 2**9 + 1e-12


def test_absorbed_effects_equal_explicit_dummies():
    """Partialling out both factors (time effects cut across clusters) changes nothing."""
    df = _data(3, n_units=16)
    _, x = _dummy_ols(df)
    cl = df.unit.to_numpy() - 1
    y = df.y.to_numpy()
    xd = np.column_stack([x.to_numpy(), np.ones(len(df))])
    fe = TwoWayFE(cl, df.time.to_numpy() - 1)
    common = dict(n_boot=499, weight_type="webb", seed=4)
    a = wild_cluster_bootstrap(None, xd, y, cl, np.eye(xd.shape[1])[0], **common)
    b = wild_cluster_bootstrap(fe, df[["D"]].to_numpy(), y, cl, np.array([1.0]), **common)
    assert np.allclose(a.t_draws, b.t_draws, atol=1e-9)
    assert a.p_value == b.p_value
    assert (a.ci_low, a.ci_high) == pytest.approx((b.ci_low, b.ci_high), abs=1e-8)


def test_interval_inverts_the_test_and_is_deterministic():
    df = _data(11, n_units=40)
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    arr_fe = TwoWayFE(df.unit.to_numpy() - 1, df.time.to_numpy() - 1)
    args = (arr_fe, df[["D"]].to_numpy(), df.y.to_numpy(), df.unit.to_numpy() - 1, np.array([1.0]))
    res = wild_cluster_bootstrap(*args, n_boot=999, weight_type="webb", seed=9)
    again = wild_cluster_bootstrap(*args, n_boot=999, weight_type="webb", seed=9)
    assert (res.p_value, res.ci_low, res.ci_high) == (again.p_value, again.ci_low, again.ci_high)
    assert res.ci_low < res.estimate < res.ci_high
    span = res.ci_high - res.ci_low
    for bound, inside in ((res.ci_low, 1), (res.ci_high, -1)):
        p_in = wild_cluster_bootstrap(
            *args,
            null=bound + inside * 1e-3 * span,
            n_boot=999,
            weight_type="webb",
            seed=9,
            ci=False,
        ).p_value
        p_out = wild_cluster_bootstrap(
            *args,
            null=bound - inside * 1e-3 * span,
            n_boot=999,
            weight_type="webb",
            seed=9,
            ci=False,
        ).p_value
        assert p_out < 0.05 <= p_in
    cr1 = fit_twfe(panel).overall
    assert span == pytest.approx(cr1.ci_high - cr1.ci_low, rel=0.5)


@pytest.mark.parametrize("null", [0.0, 0.7])
def test_identity_draw_reproduces_the_original_statistic(null):
    """With all weights +1 the bootstrap sample is the data itself (y* = X b_r + u_r = y), so
    t* must equal t(null): checks the restricted fit, including the absorbed fixed effects."""
    df = _data(12, n_units=12)
    fe = TwoWayFE(df.unit.to_numpy() - 1, df.time.to_numpy() - 1)
    res = wild_cluster_bootstrap(
        fe,
        df[["D"]].to_numpy(),
        df.y.to_numpy(),
        df.unit.to_numpy() - 1,
        np.array([1.0]),
        null=null,
        ci=False,
    )
    assert res.enumerated and res.n_draws == 2**12
    assert res.t_draws[0] == pytest.approx(res.t_stat, rel=1e-10)  # first row: all +1
    assert res.t_draws[-1] == pytest.approx(-res.t_stat, rel=1e-10)  # all -1


@pytest.mark.parametrize("seed", [0, 1])
def test_few_treated_ar1_design_matches_wildboottest(seed):
    """The Monte Carlo size design (12 districts, 4 treated, AR(1), no effect) p-value by p-value."""
    panel = few_cluster_panel(seed)
    df = panel.frame.assign(D=lambda d: ((d.cohort > 0) & (d.time >= d.cohort)).astype(float))
    model, _ = _dummy_ols(df)
    with pytest.warns(UserWarning, match="full_enumeration"):
        ref = wildboottest(model, param="D", cluster=df.unit, B=9999, seed=1, show=False)
    assert abs(wcr_p_value(panel) - float(ref["p-value"].iloc[0])) <= 2 / 2**12 + 1e-12

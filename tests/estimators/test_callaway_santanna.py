"""Callaway-Sant'Anna on mpdta against published R `did` output and live csdid / moderndid.

Tolerances: point estimates vs R to half a unit of the printed 4th decimal; analytic SEs and
all estimates vs csdid/moderndid to 1e-6 (they agree with each other to ~1e-15, so 1e-6
leaves room only for optimiser tolerance, not for a formula difference); bootstrap SEs vs
R's printed bootstrap SEs cell by cell within 20 % and 7 % on the median ratio (R's numbers
are one random draw of 1,000; IQR standard errors from few treated counties vary by up to
~13 % between seeds, as measured), and ours vs our analytic SEs within 10 % with 1,999+ draws.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from estimators.callaway_santanna import att_gt, fit_cs
from estimators.panel import EstimationInputError, prepare_panel

DATA = Path(__file__).resolve().parents[1] / "data"
COLS = dict(unit="countyreal", time="year", outcome="lemp", cohort="first.treat")


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(DATA / "mpdta.csv")


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return pd.read_csv(DATA / "did_reference" / "mpdta_r_published.csv", dtype={"key": str})


def _rows(published, case, aggregation):
    return published[(published.case == case) & (published.aggregation == aggregation)]


@pytest.mark.parametrize("case,est_method", [("vignette_dr", "dr"), ("rpubs_reg", "reg")])
def test_att_gt_point_estimates_match_published_r(mpdta, published, case, est_method):
    res = att_gt(mpdta, **COLS, est_method=est_method)
    ref = _rows(published, case, "att_gt")
    ours = {f"{int(g)}-{int(t)}": a for g, t, a in zip(res.group, res.time, res.att, strict=True)}
    assert set(ours) == set(ref.key)
    for key, est in zip(ref.key, ref.estimate, strict=True):
        assert ours[key] == pytest.approx(est, abs=5.1e-5), key


def test_aggregations_match_published_r(mpdta, published):
    res = att_gt(mpdta, **COLS)
    for agg_name, kwargs in (("dynamic", {}), ("dynamic_balance_e1", {"balance_e": 1})):
        agg = res.aggregate("dynamic", **kwargs)
        ref = _rows(published, "vignette_dr", agg_name)
        overall = ref[ref.key == "overall"].estimate.item()
        assert agg.overall.estimate == pytest.approx(overall, abs=5.1e-5)
        table = ref[ref.key != "overall"]
        assert agg.table.event_time.tolist() == table.key.astype(int).tolist()
        np.testing.assert_allclose(agg.table.estimate, table.estimate, atol=5.1e-5)
    group = res.aggregate("group")
    ref = _rows(published, "pr223_dr", "group").iloc[0]
    assert group.overall.estimate == pytest.approx(ref.estimate, abs=5.1e-4)  # printed -0.031
    assert group.overall.se == pytest.approx(ref.se, abs=5.1e-5)  # analytic SE in R
    # the simple ATT is a weighted mean of post-treatment cells (R: -0.04)
    assert res.aggregate("simple").overall.estimate == pytest.approx(-0.0400, abs=5.1e-5)


def test_bootstrap_se_close_to_published_r_bootstrap(mpdta, published):
    res = att_gt(mpdta, **COLS, bootstrap=4999, seed=11)
    ref = _rows(published, "vignette_dr", "att_gt")
    ratio = res.se / ref.se.to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.20) and abs(np.median(ratio) - 1) < 0.07
    dyn = res.aggregate("dynamic")
    ref_dyn = _rows(published, "vignette_dr", "dynamic")
    ratio = dyn.table.se.to_numpy() / ref_dyn[ref_dyn.key != "overall"].se.to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.20) and abs(np.median(ratio) - 1) < 0.07
    assert dyn.overall.se == pytest.approx(ref_dyn[ref_dyn.key == "overall"].se.item(), rel=0.2)
    # sup-t band is wider than pointwise, and in R's range for 12 cells (R printed ~2.7)
    assert 2.3 < res.crit_val < 3.2


def test_bootstrap_agrees_with_analytic_and_is_reproducible(mpdta):
    analytic = att_gt(mpdta, **COLS, covariates=["lpop"])
    boot = att_gt(mpdta, **COLS, covariates=["lpop"], bootstrap=1999, seed=5)
    again = att_gt(mpdta, **COLS, covariates=["lpop"], bootstrap=1999, seed=5)
    np.testing.assert_allclose(boot.se, analytic.se, rtol=0.10)
    np.testing.assert_array_equal(boot.se, again.se)
    for typ in ("simple", "dynamic", "group", "calendar"):
        a, b = analytic.aggregate(typ), boot.aggregate(typ)
        assert b.overall.se == pytest.approx(a.overall.se, rel=0.10), typ
        assert b.overall.estimate == a.overall.estimate
    mammen = att_gt(mpdta, **COLS, bootstrap=1999, seed=5, bootstrap_weights="mammen")
    np.testing.assert_allclose(mammen.se, att_gt(mpdta, **COLS).se, rtol=0.10)


# ----------------------------------------------------------- live independent implementations


def _csdid(df, control, est_method, xformla=None, **kw):
    from csdid.att_gt import ATTgt

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ATTgt(
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            data=df,
            control_group=control,
            xformla=xformla,
            **kw,
        ).fit(est_method=est_method, bstrap=False)
        aggs = {}
        for typ in ("simple", "dynamic", "group", "calendar"):
            fit.aggte(typec=typ, bstrap=False)
            aggs[typ] = dict(fit.atte)
    return fit.results, aggs


def _moderndid(df, control, est_method, xformla=None, base_period="varying", **kw):
    import moderndid

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = moderndid.att_gt(
            df,
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            xformla=xformla,
            est_method=est_method,
            control_group=control,
            base_period=base_period,
            boot=False,
            **kw,
        )
        aggs = {
            typ: moderndid.aggte(fit, type=typ)
            for typ in ("simple", "dynamic", "group", "calendar")
        }
    return fit, aggs


def _ours(df, control, est_method, covariates=(), **kw):
    control = control.replace("treated", "")
    return att_gt(
        df, **COLS, control_group=control, est_method=est_method, covariates=covariates, **kw
    )


CONFIGS = [
    (control, est, cov)
    for control in ("nevertreated", "notyettreated")
    for est in ("dr", "ipw", "reg")
    for cov in ((), ("lpop",))
]


@pytest.mark.parametrize("control,est_method,covariates", CONFIGS)
@pytest.mark.parametrize("base_period", ["varying", "universal"])
def test_matches_moderndid(mpdta, control, est_method, covariates, base_period):
    xformla = "~lpop" if covariates else None
    ref, ref_aggs = _moderndid(mpdta, control, est_method, xformla, base_period)
    res = _ours(mpdta, control, est_method, covariates, base_period=base_period)
    np.testing.assert_allclose(res.att, np.asarray(ref.att_gt), atol=1e-8)
    np.testing.assert_allclose(res.se, np.asarray(ref.se_gt), atol=1e-6)
    for typ, agg in ref_aggs.items():
        ours = res.aggregate(typ)
        assert ours.overall.estimate == pytest.approx(agg.overall_att, abs=1e-8)
        assert ours.overall.se == pytest.approx(agg.overall_se, abs=1e-6)
        if typ != "simple":
            np.testing.assert_allclose(ours.table.estimate, agg.att_by_event, atol=1e-8)
            np.testing.assert_allclose(ours.table.se, agg.se_by_event, atol=1e-6)


def _assert_matches_csdid(res, ref, ref_aggs):
    np.testing.assert_allclose(res.att, np.asarray(ref["att"]), atol=1e-8)
    np.testing.assert_allclose(res.se, np.asarray(ref["se"]), atol=1e-6)
    for typ, agg in ref_aggs.items():
        ours = res.aggregate(typ)
        assert ours.overall.estimate == pytest.approx(agg["overall_att"], abs=1e-8), typ
        assert ours.overall.se == pytest.approx(agg["overall_se"], abs=1e-6), typ
        if typ != "simple":
            np.testing.assert_allclose(ours.table.estimate, agg["att_egt"], atol=1e-8)
            np.testing.assert_allclose(ours.table.se, agg["se_egt"], atol=1e-6)


@pytest.mark.parametrize("control,est_method,covariates", CONFIGS)
def test_matches_csdid(mpdta, control, est_method, covariates):
    xformla = "lemp~lpop" if covariates else None
    ref, ref_aggs = _csdid(mpdta, control, est_method, xformla)
    _assert_matches_csdid(_ours(mpdta, control, est_method, covariates), ref, ref_aggs)


@pytest.fixture(scope="module")
def mpdta_extra(mpdta):
    rng = np.random.default_rng(1)
    df = mpdta.copy()
    df["w"] = np.repeat(rng.uniform(0.5, 2.0, df.countyreal.nunique()), 5)
    df["state"] = df.countyreal // 1000  # FIPS state: 29 clusters of unequal size
    return df


@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
@pytest.mark.parametrize("est_method", ["dr", "ipw", "reg"])
def test_unbalanced_panel_matches_csdid(mpdta_extra, control, est_method):
    """Random rows dropped: R's allow_unbalanced_panel path (repeated cross-section DRDID)."""
    rng = np.random.default_rng(3)
    df = mpdta_extra.drop(index=rng.choice(len(mpdta_extra), 150, replace=False))
    df = df.reset_index(drop=True)
    ref, ref_aggs = _csdid(df, control, est_method, "lemp~lpop", allow_unbalanced_panel=True)
    res = _ours(df, control, est_method, ("lpop",))
    assert res.settings["panel"].startswith("unbalanced")
    assert res.n_units == df.countyreal.nunique()
    _assert_matches_csdid(res, ref, ref_aggs)


@pytest.mark.parametrize("est_method", ["dr", "ipw", "reg"])
def test_sampling_weights_match_csdid(mpdta_extra, est_method):
    ref, ref_aggs = _csdid(mpdta_extra, "notyettreated", est_method, "lemp~lpop", weights_name="w")
    res = _ours(mpdta_extra, "notyettreated", est_method, ("lpop",), weights="w")
    _assert_matches_csdid(res, ref, ref_aggs)
    unweighted = _ours(mpdta_extra, "notyettreated", est_method, ("lpop",))
    assert np.max(np.abs(res.att - unweighted.att)) > 1e-3  # the weights do matter


def test_analytic_cluster_se_match_csdid(mpdta_extra):
    ref, ref_aggs = _csdid(mpdta_extra, "nevertreated", "dr", "lemp~lpop", clustervar="state")
    res = _ours(mpdta_extra, "nevertreated", "dr", ("lpop",), cluster="state")
    assert res.n_clusters == mpdta_extra.state.nunique()
    _assert_matches_csdid(res, ref, ref_aggs)
    boot = _ours(
        mpdta_extra, "nevertreated", "dr", ("lpop",), cluster="state", bootstrap=1999, seed=2
    )
    np.testing.assert_allclose(boot.se, res.se, rtol=0.15)  # 29 clusters: noisier


@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
def test_anticipation_matches_moderndid(mpdta, control):
    ref, ref_aggs = _moderndid(mpdta, control, "dr", "~lpop", anticipation=1)
    res = _ours(mpdta, control, "dr", ("lpop",), anticipation=1)
    np.testing.assert_allclose(res.att, np.asarray(ref.att_gt), atol=1e-8)
    np.testing.assert_allclose(res.se, np.asarray(ref.se_gt), atol=1e-6)
    for typ, agg in ref_aggs.items():
        assert res.aggregate(typ).overall.se == pytest.approx(agg.overall_se, abs=1e-6)


# ------------------------------------------------------------------------ behaviour


def test_universal_base_period_reference_cell_is_zero(mpdta):
    res = att_gt(mpdta, **COLS, base_period="universal")
    ref_cells = res.time == res.group - 1
    assert ref_cells.sum() == 3
    assert np.all(res.att[ref_cells] == 0) and np.all(np.isnan(res.se[ref_cells]))
    post = res.time >= res.group
    varying = att_gt(mpdta, **COLS)
    np.testing.assert_allclose(res.att[post], varying.att[varying.time >= varying.group])


def test_periods_may_be_any_increasing_integers(mpdta):
    """Month-index or year coding gives the same estimates (event time is t - g)."""
    base = att_gt(mpdta, **COLS).aggregate("dynamic")
    shifted = mpdta.assign(
        year=mpdta.year - 2003 + 100,
        **{"first.treat": np.where(mpdta["first.treat"] > 0, mpdta["first.treat"] - 2003 + 100, 0)},
    )
    moved = att_gt(shifted, **COLS).aggregate("dynamic")
    np.testing.assert_allclose(moved.table.estimate, base.table.estimate, atol=1e-12)
    np.testing.assert_array_equal(moved.table.event_time, base.table.event_time)


def test_never_treated_required_for_never_comparison(mpdta):
    treated_only = mpdta[mpdta["first.treat"] > 0]
    with pytest.raises(EstimationInputError, match="never-treated"):
        att_gt(treated_only, **COLS, control_group="never")
    # not-yet-treated: the last cohort becomes the comparison group, as R did
    res = att_gt(treated_only, **COLS, control_group="notyet")
    assert set(res.group) == {2004.0, 2006.0} and res.time.max() < 2007
    assert any("comparison group" in n for n in res.notes)


def test_fit_cs_dict_has_the_cli_shape(mpdta):
    panel = prepare_panel(mpdta, **COLS)
    fit = fit_cs(panel, control_group="notyet")
    d = fit.to_dict()
    assert d["method"] == "cs" and d["n_units"] == 500 and d["n_obs"] == 2500
    assert set(d["overall"]) == {"estimate", "se", "ci_low", "ci_high", "p_value"}
    assert d["overall"]["estimate"] == pytest.approx(fit.simple.overall.estimate)
    assert [r["event_time"] for r in d["event_study"]] == [-3, -2, -1, 0, 1, 2, 3]
    assert [r["group"] for r in d["group"]] == [2004, 2006, 2007]
    assert len(d["att_gt"]) == 12 and {"group", "time", "estimate", "se"} <= set(d["att_gt"][0])
    text = fit.summary()
    assert "Overall ATT" in text and "event_time" in text

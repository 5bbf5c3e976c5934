"""Goodman-Bacon decomposition: exact identity with TWFE (statsmodels) and each 2x2."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from estimators.bacon import (
    EARLIER_VS_LATER,
    LATER_VS_ALWAYS,
    LATER_VS_EARLIER,
    TREATED_VS_UNTREATED,
    fit_bacon,
)
from estimators.panel import EstimationInputError, prepare_panel
from simulator.panel_dgp import simulate_staggered_panel

DATA = Path(__file__).resolve().parents[1] / "data"


def castle_panel():
    df = pd.read_csv(DATA / "castle.csv")
    first = df[df["post"] == 1].groupby("sid")["year"].min()
    df["cohort"] = df["sid"].map(first).fillna(0).astype(int)
    return df, prepare_panel(df, unit="sid", time="year", outcome="l_homicide", cohort="cohort")


def twfe_coefficient(df, unit, time, outcome, treat):
    fit = smf.ols(f"{outcome} ~ {treat} + C({unit}) + C({time})", data=df).fit()
    return float(fit.params[treat])


def test_castle_weighted_sum_equals_statsmodels_twfe():
    df, panel = castle_panel()
    res = fit_bacon(panel)
    twfe = twfe_coefficient(df, "sid", "year", "l_homicide", "post")
    assert res.twfe_estimate == pytest.approx(twfe, abs=1e-10)
    assert res.twfe_direct == pytest.approx(twfe, abs=1e-10)
    assert res.comparisons["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert set(res.by_type["type"]) == {TREATED_VS_UNTREATED, EARLIER_VS_LATER, LATER_VS_EARLIER}
    # Castle (Mixtape/causaldata version): treated-vs-never comparisons dominate.
    tvu = res.by_type.set_index("type").loc[TREATED_VS_UNTREATED, "weight"]
    assert 0.85 < tvu < 0.95


def test_each_two_by_two_is_the_twfe_of_its_subsample():
    df, panel = castle_panel()
    res = fit_bacon(panel)
    years = df["year"]
    for row in res.comparisons.itertuples():
        pair = df[df["cohort"].isin([row.treated, row.control])]
        if row.type == EARLIER_VS_LATER:
            pair = pair[pair["year"] < row.control]
        elif row.type == LATER_VS_EARLIER:
            pair = pair[pair["year"] >= row.control]
        assert pair["year"].between(years.min(), years.max()).all()
        treat = ((pair["cohort"] == row.treated) & (pair["year"] >= row.treated)).astype(float)
        sub = pair.assign(d=treat)
        assert row.estimate == pytest.approx(
            twfe_coefficient(sub, "sid", "year", "l_homicide", "d"), abs=1e-10
        )


def test_always_treated_units_are_controls_and_identity_holds():
    df, truth = simulate_staggered_panel(n_units=60, n_periods=8, cohorts=(1, 4, 6), seed=3)
    df["d"] = ((df["cohort"] > 0) & (df["time"] >= df["cohort"])).astype(float)
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    res = fit_bacon(panel)
    assert LATER_VS_ALWAYS in set(res.comparisons["type"])
    assert res.twfe_estimate == pytest.approx(
        twfe_coefficient(df, "unit", "time", "y", "d"), abs=1e-10
    )
    # Growing effects: comparisons with already-treated controls pull TWFE below the ATT.
    assert res.forbidden_weight > 0
    assert res.twfe_estimate < truth.overall


def test_unbalanced_panel_is_refused():
    df, _ = castle_panel()
    df = df.drop(index=[3, 17])
    panel = prepare_panel(df, unit="sid", time="year", outcome="l_homicide", cohort="cohort")
    with pytest.raises(EstimationInputError, match="balanced panel"):
        fit_bacon(panel)


def test_results_interface():
    _, panel = castle_panel()
    res = fit_bacon(panel)
    d = res.to_dict()
    assert d["n_units"] == 50 and d["n_periods"] == 11
    assert len(d["comparisons"]) == len(res.tidy())
    assert "Treated vs Untreated" in res.summary()
    assert np.isclose(sum(c["weight"] for c in d["comparisons"]), 1.0)

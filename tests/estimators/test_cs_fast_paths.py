"""The fast paths of the CS estimator and panel preparation against the plain versions.

The scale work (issue 17) replaced pandas' duplicated/groupby/sort_values checks with one
integer key, the units x keepers weight-influence matrix with a lookup by cohort, and the
broadcast cell computation with a per-cell loop. Each test compares with the straightforward
computation on data where the two could differ (unsorted rows, duplicates in several places,
cohorts outside the keepers, unequal weights), to floating-point accuracy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estimators.callaway_santanna import att_gt
from estimators.cs_aggregate import weight_influence, weight_influence_dot
from estimators.cs_core import estimate_cells
from estimators.panel import EstimationInputError, prepare_panel
from simulator.panel_dgp import simulate_staggered_panel

COLS = dict(unit="unit", time="time", outcome="y", cohort="cohort")


def _shuffled(seed=3, n_units=60, n_periods=8):
    df, _ = simulate_staggered_panel(n_units=n_units, n_periods=n_periods, seed=seed)
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("unit_kind", ["int", "str"])
def test_prepared_panel_is_sorted_like_pandas(unit_kind):
    df = _shuffled()
    if unit_kind == "str":
        df["unit"] = "u" + df["unit"].astype(str)
    got = prepare_panel(df, **COLS).frame
    want = (
        df[["unit", "time", "y", "cohort"]]
        .sort_values(["unit", "time"], kind="mergesort")
        .reset_index(drop=True)
    )
    want["cohort"] = want["cohort"].astype(got["cohort"].dtype)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("presorted", [True, False])
def test_first_duplicate_named_as_pandas_finds_it(presorted):
    df = _shuffled()
    if presorted:
        df = df.sort_values(["unit", "time"]).reset_index(drop=True)
    dups = df.iloc[[40, 7, 25]].copy()
    dups["y"] += 1.0
    df = pd.concat([df.iloc[:30], dups, df.iloc[30:]], ignore_index=True)
    first = df.loc[df.duplicated(["unit", "time"]), ["unit", "time"]].iloc[0].tolist()
    with pytest.raises(EstimationInputError) as err:
        prepare_panel(df, **COLS)
    assert f"unit={first[0]}, time={first[1]}" in str(err.value)


@pytest.mark.parametrize("presorted", [True, False])
def test_cohort_changing_within_a_unit_is_refused(presorted):
    df = _shuffled()
    if presorted:
        df = df.sort_values(["unit", "time"]).reset_index(drop=True)
    row = df.index[(df["unit"] == df["unit"].iloc[0])][-1]
    df.loc[row, "cohort"] = df.loc[row, "cohort"] + 1
    with pytest.raises(EstimationInputError, match="constant within each unit"):
        prepare_panel(df, **COLS)


def test_weight_influence_dot_equals_matrix_product():
    rng = np.random.default_rng(7)
    n = 500
    unit_cohort = rng.choice([0.0, 4.0, 6.0, 9.0], size=n)
    unit_weight = rng.uniform(0.5, 2.0, size=n)
    cell_group = np.array([4.0, 4.0, 6.0, 6.0, 6.0, 9.0, 9.0])
    pg = np.array([np.mean(unit_weight * (unit_cohort == g)) for g in cell_group])
    coef = rng.normal(size=len(cell_group))
    for keepers in (np.arange(7), np.array([0, 2, 3]), np.array([5])):
        want = weight_influence(keepers, pg, unit_weight, unit_cohort, cell_group) @ coef[keepers]
        got = weight_influence_dot(keepers, pg, unit_weight, unit_cohort, cell_group, coef[keepers])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_vectorised_cells_equal_the_per_cell_estimator(control, monkeypatch):
    """Without covariates the fast path must equal the general DR cell estimator."""
    df, _ = simulate_staggered_panel(n_units=300, n_periods=10, seed=11)
    df["w"] = np.random.default_rng(2).uniform(0.5, 2.0, df["unit"].nunique())[df["unit"] - 1]
    fast = att_gt(df, **COLS, weights="w", control_group=control)
    import estimators.cs_core as core

    monkeypatch.setattr(core, "_unconditional_cells", lambda *a, **k: None)
    slow = att_gt(df, **COLS, weights="w", control_group=control)
    assert estimate_cells is core.estimate_cells
    np.testing.assert_allclose(fast.att, slow.att, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.inf_func, slow.inf_func, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.se, slow.se, rtol=1e-10)


def test_normal_functions_match_scipy():
    from scipy import stats

    from estimators.normal import norm_ppf, norm_sf

    q = np.array([1e-300, 1e-12, 0.001, 0.025, 0.3, 0.5, 0.7, 0.95, 0.975, 1 - 1e-12])
    np.testing.assert_allclose(norm_ppf(q), stats.norm.ppf(q), rtol=1e-14)
    assert norm_ppf(0.975) == pytest.approx(stats.norm.ppf(0.975), rel=1e-15)
    x = np.array([-40.0, -8.0, -1.5, -0.3, 0.0, 1e-9, 0.4, 0.70710678, 0.8, 3.0, 9.0, 37.0])
    # deep-tail erfc differs from Cephes by a few units in the last place (3e-14 at x = 37)
    np.testing.assert_allclose(norm_sf(x), stats.norm.sf(x), rtol=1e-13, atol=0)
    assert np.isnan(norm_sf(np.nan)) and np.isnan(norm_ppf(1.5))
    assert norm_sf(np.array([])).shape == (0,)

"""The demo city does its job: naive two-way fixed effects is visibly biased, while a
never-treated comparison cohort by cohort (the logic of Callaway-Sant'Anna) recovers the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from simulator_cities import load_truth


def _crime_panel(folder, truth) -> pd.DataFrame:
    incidents = pd.read_parquet(
        folder / "crime_incidents.parquet", columns=["occurred_at", "district_id"]
    )
    month = incidents.occurred_at.str.slice(0, 7).rename("month")
    panel = incidents.groupby([incidents.district_id, month]).size().rename("y").reset_index()
    districts = pd.read_csv(folder / "districts.csv", dtype={"district_id": str})
    panel = panel.merge(districts[["district_id", "population"]], on="district_id")
    panel["start"] = panel.district_id.map(truth["cohorts"])
    panel["treated"] = panel.start.notna() & (panel.month >= panel.start.fillna("9999"))
    return panel


def _twfe_dummies(panel: pd.DataFrame, unit: str, time: str) -> pd.DataFrame:
    fe = pd.get_dummies(panel[[unit, time]].astype(str), drop_first=True, dtype=float)
    return sm.add_constant(pd.concat([panel.treated.astype(float), fe], axis=1))


def _cohort_ratio_did(panel: pd.DataFrame) -> float:
    """Per cohort: post counts vs pre counts scaled by the never-treated change; pooled."""
    never = panel[panel.start.isna()].groupby("month").y.sum()
    effect = baseline = 0.0
    for start, rows in panel[panel.start.notna()].groupby("start"):
        by_month = rows.groupby("month").y.sum()
        pre, post = by_month.index < start, by_month.index >= start
        counterfactual = by_month[pre].sum() * never[post].sum() / never[pre].sum()
        effect += by_month[post].sum() - counterfactual
        baseline += counterfactual
    return effect / baseline


def test_crime_twfe_is_biased_and_cohort_comparison_is_not(default_city):
    folder, _ = default_city
    truth = load_truth(folder)
    target = truth["outcomes"]["crime_total"]["overall"]
    panel = _crime_panel(folder, truth)
    assert len(panel) == 25 * 120

    poisson = sm.GLM(
        panel.y,
        _twfe_dummies(panel, "district_id", "month"),
        family=sm.families.Poisson(),
        offset=np.log(panel.population),
    ).fit()
    twfe_poisson = float(np.exp(poisson.params["treated"]) - 1)
    log_rate = np.log(panel.y / panel.population)
    ols = sm.OLS(log_rate, _twfe_dummies(panel, "district_id", "month")).fit()
    twfe_log = float(np.exp(ols.params["treated"]) - 1)
    cohort_did = _cohort_ratio_did(panel)

    assert target < -0.03
    # TWFE misses more than a quarter of the effect. The cohort comparison's sampling sd over
    # seeds is about 0.004 (Poisson noise only; parallel trends hold by construction).
    assert abs(twfe_poisson - target) > 0.25 * abs(target)
    assert abs(twfe_log - target) > 0.25 * abs(target)
    assert cohort_did == pytest.approx(target, abs=0.012)
    assert abs(twfe_poisson - target) > 1.5 * abs(cohort_did - target)


def _trust_panel(folder, truth) -> pd.DataFrame:
    survey = pd.read_csv(folder / "survey_responses.csv", dtype={"district_id": str})
    survey["y"] = survey[["trust_police", "police_fair"]].mean(axis=1) * survey.weight
    survey["quarter"] = pd.PeriodIndex(pd.to_datetime(survey.response_date), freq="Q")
    cells = survey.groupby(["district_id", "quarter"])[["y", "weight"]].sum().reset_index()
    cells["mean"] = cells.y / cells.weight
    start = cells.district_id.map(truth["cohorts"])
    cells["start"] = [pd.Period(s, "M").asfreq("Q") if isinstance(s, str) else None for s in start]
    cells["treated"] = [
        s is not None and q >= s for s, q in zip(cells.start, cells.quarter, strict=True)
    ]
    cells["start"] = cells.start.astype(object)
    return cells


def test_trust_twfe_is_biased_and_cohort_comparison_is_not(default_city):
    folder, _ = default_city
    truth = load_truth(folder)
    target = truth["outcomes"]["trust_index"]["overall"]
    cells = _trust_panel(folder, truth)
    ols = sm.OLS(cells["mean"], _twfe_dummies(cells, "district_id", "quarter")).fit()
    twfe = float(ols.params["treated"])

    never = cells[cells.start.isna()].groupby("quarter")["mean"].mean()
    total, n_cells = 0.0, 0
    for start, rows in cells[cells.start.notna()].groupby("start"):
        gap = rows.groupby("quarter")["mean"].mean() - never
        post = gap.index >= start
        total += (gap[post].mean() - gap[~post].mean()) * rows.treated.sum()
        n_cells += rows.treated.sum()
    cohort_did = total / n_cells

    assert target > 0.15
    assert abs(twfe - target) > 0.25 * target
    # Sampling sd of this comparison over seeds is about 0.022 (60 responses per cell).
    assert cohort_did == pytest.approx(target, abs=0.07)
    assert abs(twfe - target) > 1.5 * abs(cohort_did - target)


@pytest.mark.slow
@pytest.mark.parametrize("effect_scale", [1.0, 0.0])
def test_purpose_holds_across_seeds(tmp_path, effect_scale):
    """Over several seeds the cohort comparison is unbiased (also with no effect at all) and
    TWFE is biased towards zero whenever there is an effect."""
    from simulator.city import simulate_city

    errors, twfe_shares = [], []
    for seed in range(1, 7):
        folder = simulate_city(
            tmp_path / f"city{seed}", seed=seed, effect_scale=effect_scale, incidents_per_1000=2.0
        )
        truth = load_truth(folder)
        target = truth["outcomes"]["crime_total"]["overall"]
        panel = _crime_panel(folder, truth)
        errors.append(_cohort_ratio_did(panel) - target)
        fit = sm.GLM(
            panel.y,
            _twfe_dummies(panel, "district_id", "month"),
            family=sm.families.Poisson(),
            offset=np.log(panel.population),
        ).fit()
        if effect_scale:
            twfe_shares.append((np.exp(fit.params["treated"]) - 1) / target)
    assert abs(np.mean(errors)) < 0.006
    assert np.max(np.abs(errors)) < 0.02
    if effect_scale:
        assert np.mean(twfe_shares) < 0.8  # TWFE recovers well under 80% of the effect

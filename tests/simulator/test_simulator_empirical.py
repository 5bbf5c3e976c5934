"""The generated records agree with the latent model: counts within Poisson error, weighted
survey means on the population target, attendance rising after roll-out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from simulator_cities import load_truth
from simulator_reference import expected_crime, expected_survey, index_frame

from simulator.city import simulate_city


def test_incident_counts_match_expected_within_poisson_error(small_city):
    truth = load_truth(small_city)
    expected = expected_crime(truth)
    expected["mu"] = np.where(expected.e >= 0, expected.mu1, expected.mu0)
    expected["year"] = expected.month.str.slice(0, 4)
    mu = expected.groupby(["district_id", "year", "offense"]).mu.sum()
    incidents = pd.read_parquet(small_city / "crime_incidents.parquet")
    incidents["year"] = incidents.occurred_at.str.slice(0, 4)
    observed = incidents.groupby(["district_id", "year", "offense_category"]).size()
    observed.index.names = mu.index.names
    observed = observed.reindex(mu.index, fill_value=0)
    z = (observed - mu) / np.sqrt(mu)
    assert len(z) > 500
    assert z.abs().max() < 5.0
    # Pearson chi-square over all cells: a wrong expectation anywhere inflates it.
    chi2 = float((z**2).sum())
    assert stats.chi2.sf(chi2, df=len(z)) > 1e-4
    assert observed.sum() == pytest.approx(mu.sum(), rel=4 / np.sqrt(mu.sum()))


def test_incidents_fall_in_their_month_and_follow_seasonality(small_city):
    truth = load_truth(small_city)
    incidents = pd.read_parquet(small_city / "crime_incidents.parquet")
    expected = expected_crime(truth)
    expected["mu"] = np.where(expected.e >= 0, expected.mu1, expected.mu0)
    by_month = incidents.occurred_at.str.slice(0, 7).value_counts().sort_index()
    mu = expected.groupby("month").mu.sum()
    assert list(by_month.index) == list(mu.index)
    corr = np.corrcoef(by_month.to_numpy(), mu.to_numpy())[0, 1]
    assert corr > 0.9


@pytest.fixture(scope="module")
def survey_city(tmp_path_factory):
    """Few cells, many respondents each: sampling error small enough to see bias."""
    return simulate_city(
        tmp_path_factory.mktemp("survey_city"),
        seed=5,
        n_districts=6,
        months=24,
        start="2020-01",
        incidents_per_1000=0.2,
        survey_responses_per_cell=4000,
    )


def _cell_means(responses: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    responses = responses.assign(score=responses[items].mean(axis=1))
    quarter = pd.PeriodIndex(pd.to_datetime(responses.response_date), freq="Q").astype(str)
    responses["quarter"] = quarter
    rows = []
    for (district, q), cell in responses.groupby(["district_id", "quarter"]):
        w = cell.weight.to_numpy()
        y = cell.score.to_numpy()
        weighted = np.sum(w * y) / w.sum()
        # Linearised SE of a ratio mean.
        se = np.sqrt(np.sum(w**2 * (y - weighted) ** 2)) / w.sum()
        rows.append((district, q, weighted, se, y.mean(), len(y)))
    return pd.DataFrame(
        rows, columns=["district_id", "quarter", "weighted", "se", "unweighted", "n"]
    )


@pytest.mark.parametrize("items", [["trust_police", "police_fair"], ["feel_safe"]])
def test_weighted_survey_means_hit_population_expectation(survey_city, items):
    truth = load_truth(survey_city)
    responses = pd.read_csv(survey_city / "survey_responses.csv", dtype={"district_id": str})
    cells = _cell_means(responses, items).merge(
        index_frame(expected_survey(truth), items), on=["district_id", "quarter"]
    )
    assert len(cells) == 6 * 8 and cells.n.min() > 1000
    cells["target"] = np.where(cells.e >= 0, cells.m1, cells.m0)
    z = (cells.weighted - cells.target) / cells.se
    assert z.abs().max() < 4.5
    assert abs(z.mean()) < 4.5 / np.sqrt(len(z))
    if items == ["trust_police", "police_fair"]:
        # Older residents answer more and trust more: unweighted means are biased upwards.
        bias = (cells.unweighted - cells.target).mean()
        assert bias > 5 * cells.se.mean() / np.sqrt(len(cells))


def test_weighted_effect_matches_trust_truth(survey_city):
    truth = load_truth(survey_city)
    items = ["trust_police", "police_fair"]
    responses = pd.read_csv(survey_city / "survey_responses.csv", dtype={"district_id": str})
    cells = _cell_means(responses, items).merge(
        index_frame(expected_survey(truth), items), on=["district_id", "quarter"]
    )
    treated = cells[cells.e >= 0]
    effect = (treated.weighted - treated.m0).mean()
    se = np.sqrt((treated.se**2).sum()) / len(treated)
    stated = truth["outcomes"]["trust_index"]["overall"]
    assert stated > 0.05
    assert effect == pytest.approx(stated, abs=4 * se)


def test_survey_weights_are_post_stratification(survey_city):
    responses = pd.read_csv(survey_city / "survey_responses.csv", dtype={"district_id": str})
    assert (responses.weight > 0).all()
    per_cell = responses.groupby(
        [
            "district_id",
            responses.response_date.str.slice(0, 4),
            pd.to_datetime(responses.response_date).dt.quarter,
        ]
    ).weight
    assert np.allclose(per_cell.mean(), 1.0, atol=1e-5)


def test_attendance_rises_after_rollout(small_city):
    truth = load_truth(small_city)
    meetings = pd.read_csv(small_city / "meetings.csv", dtype={"district_id": str})
    population = pd.read_csv(small_city / "districts.csv", dtype={"district_id": str})
    meetings["month"] = meetings.meeting_date.str.slice(0, 7)
    monthly = meetings.groupby(["district_id", "month"]).attendees.sum().reset_index()
    monthly = monthly.merge(population, on="district_id")
    monthly["per_1000"] = monthly.attendees / monthly.population * 1000
    monthly["start"] = monthly.district_id.map(truth["cohorts"])
    treated = monthly.start.notna() & (monthly.month >= monthly.start.fillna("9999"))
    pre_mean = monthly.loc[~treated, "per_1000"].mean()
    post_mean = monthly.loc[treated, "per_1000"].mean()
    assert pre_mean < 1.0 < 2.0 < post_mean

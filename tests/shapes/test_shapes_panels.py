"""Issue 9: counts, scores and beats give the panels (and estimates) of the same data as
incidents and responses per district, at the grain the data come in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapes_helpers import build, panels, settings

from evaluation.crime import evaluate_crime
from evaluation.outcomes import spec
from evaluation.survey import evaluate_survey
from simulator.city import simulate_city
from simulator.shapes import OutputShape

CITY = dict(seed=5, n_districts=10, start="2018-01", months=48, incidents_per_1000=4.0)
CRIME_COLUMNS = [
    "district_id",
    "month",
    "period",
    "population",
    "crimes_total",
    "crimes_violent",
    "crimes_property",
    "crimes_other",
    "rate_total",
    "cohort_period",
    "treated",
    "reported",
]


@pytest.fixture(scope="module")
def incidents_city(tmp_path_factory):
    return simulate_city(tmp_path_factory.mktemp("incidents"), **CITY)


@pytest.fixture(scope="module")
def counts_city(tmp_path_factory):
    return simulate_city(
        tmp_path_factory.mktemp("counts"), shape=OutputShape(crime="counts"), **CITY
    )


def test_monthly_counts_give_the_incident_panel_and_estimates(incidents_city, counts_city):
    con_i, _ = build(incidents_city)
    con_c, _ = build(counts_city)
    dm_i, _ = panels(con_i)
    dm_c, _ = panels(con_c)
    assert dm_i["reported"].all()  # no zero month: both shapes mean the same thing here
    assert (dm_c["grain"] == "month").all()
    pd.testing.assert_frame_equal(
        dm_i[CRIME_COLUMNS], dm_c[CRIME_COLUMNS], check_dtype=False, check_exact=False, rtol=1e-12
    )
    s = settings()
    a = evaluate_crime(dm_i, spec("crime_total"), s)
    b = evaluate_crime(dm_c, spec("crime_total"), s)
    for key in ("estimate", "ci_low", "ci_high", "pre_trend_p"):
        assert a[key] == pytest.approx(b[key], rel=1e-9), key
    assert [e["estimate"] for e in a["event_study"]] == pytest.approx(
        [e["estimate"] for e in b["event_study"]], rel=1e-9, abs=1e-12
    )


def test_beats_with_crosswalk_give_the_district_results(counts_city, tmp_path):
    beats = simulate_city(tmp_path / "beats", shape=OutputShape(crime="counts", beats=True), **CITY)
    con_d, _ = build(counts_city)
    con_b, _ = build(beats)
    dm_d, _ = panels(con_d)
    dm_b, _ = panels(con_b)
    pd.testing.assert_frame_equal(dm_d[CRIME_COLUMNS], dm_b[CRIME_COLUMNS], check_dtype=False)
    s = settings()
    a = evaluate_crime(dm_d, spec("crime_violent"), s)
    b = evaluate_crime(dm_b, spec("crime_violent"), s)
    assert a["estimate"] == pytest.approx(b["estimate"], rel=1e-9)
    assert a["ci_high"] == pytest.approx(b["ci_high"], rel=1e-9)

    # per beat: every beat is a place, its counts add up to its district's
    con_u, _ = build(beats, {"analysis_unit": "unit"})
    dm_u, _ = panels(con_u)
    units = con_u.execute("SELECT unit_id, district_id FROM staging.units").df()
    assert set(dm_u["district_id"]) == set(units["unit_id"])
    rolled = (
        dm_u.merge(units, left_on="district_id", right_on="unit_id", suffixes=("_u", ""))
        .groupby(["district_id", "month"])["crimes_total"]
        .sum()
        .reset_index()
    )
    merged = dm_d.merge(rolled, on=["district_id", "month"], suffixes=("", "_beats"))
    assert len(merged) == len(dm_d)
    assert (merged["crimes_total"] == merged["crimes_total_beats"]).all()
    beat_cohorts = dm_u.merge(units, left_on="district_id", right_on="unit_id", suffixes=("_u", ""))
    per_district = beat_cohorts.groupby("district_id")["cohort_period"].agg(["min", "max"])
    assert (per_district["min"] == per_district["max"]).all()  # beats share the district date


def _trust(tmp_path, name: str, responses: float, score_se: bool = True):
    shape = OutputShape(survey="scores", grain="quarter", score_se=score_se)
    city = simulate_city(
        tmp_path / name,
        shape=shape,
        survey_responses_per_cell=responses,
        **{**CITY, "n_districts": 12},
    )
    con, _ = build(city)
    _, dq = panels(con)
    out = evaluate_survey(dq, spec("trust_index"), settings(survey_grain="quarter"))
    import json

    truth = json.loads((city / "truth.json").read_text())["outcomes"]["trust_index"]
    return out, truth, dq


def test_scores_on_0_100_and_interval_widens_with_fewer_respondents(tmp_path):
    many, truth, dq = _trust(tmp_path, "many", 200.0)
    few, _, dq_few = _trust(tmp_path, "few", 8.0)
    assert dq["mean"].dropna().between(0, 100).all()
    assert dq["mean"].dropna().max() > 5  # on the 0-100 scale, not 1-5
    assert (dq["se_source"].dropna() == "column").all()
    assert truth["scale"].startswith("points on the 0-100")
    # within 3 standard errors of the true effect (points on the 0-100 scale)
    assert abs(many["estimate"] - truth["overall"]) < 3 * many["se"]
    width_many = many["ci_high"] - many["ci_low"]
    width_few = few["ci_high"] - few["ci_low"]
    assert width_few > 1.5 * width_many
    assert dq_few["n_responses"].mean() < dq["n_responses"].mean() / 10


def test_scores_without_se_estimate_it_from_respondent_counts(tmp_path):
    out, truth, dq = _trust(tmp_path, "nose", 30.0, score_se=False)
    assert set(dq["se_source"].dropna()) == {"estimated"}
    # se ~ s / sqrt(n): the estimated within-cell SD is the same for every cell
    cells = dq.loc[dq["index_name"] == "trust_index"].dropna(subset=["se"])
    sd = cells["se"] * np.sqrt(cells["n_responses"])
    assert 5 < sd.mean() < 60  # a plausible within-district SD on the 0-100 scale
    assert sd.std() / sd.mean() < 1e-9
    assert out["details"]["se_survey_sampling"] is not None
    assert abs(out["estimate"] - truth["overall"]) < 3 * out["se"]

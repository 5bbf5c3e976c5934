"""The demo city is in exactly the input contract format, deterministic, and the size promised."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml
from simulator_cities import SMALL, load_truth

from simulator.city import CONTRACT_FILES, simulate_city
from simulator.design import NEVER, build_design
from simulator.params import CityParams

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def _read_text_csv(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def check_contract(folder) -> dict:
    """Assert every contract rule on one city folder; return a few sizes."""
    truth = load_truth(folder)
    start, end = truth["study_window"]["start"], truth["study_window"]["end"]

    districts = _read_text_csv(folder / "districts.csv")
    assert list(districts.columns) == ["district_id", "district_name", "population"]
    assert districts.district_id.str.fullmatch(r"\d{3,}").all()
    assert districts.district_id.iloc[0] == "001" and districts.district_id.is_unique
    population = districts.population.astype(int)
    assert population.between(20_000, 150_000).all() and population.nunique() == len(population)
    ids = set(districts.district_id)

    programs = _read_text_csv(folder / "programs.csv")
    assert list(programs.columns) == ["district_id", "program", "start_date"]
    assert set(programs.district_id) <= ids and programs.district_id.is_unique
    assert programs.start_date.str.match(ISO_DATE).all()
    assert programs.start_date.str.slice(0, 7).between(start, end).all()

    config = yaml.safe_load((folder / "city.yaml").read_text(encoding="utf-8"))
    assert config["city"] == "Demo City" and config["timezone"] == "America/Chicago"
    assert config["study_window"] == {"start": start, "end": end}
    assert set(config["offense_map"].values()) == {"violent", "property", "other"}

    table = pq.read_table(folder / "crime_incidents.parquet")
    assert table.column_names == ["incident_id", "occurred_at", "district_id", "offense_category"]
    incidents = table.to_pandas()
    assert incidents.incident_id.is_unique
    assert incidents.occurred_at.str.match(ISO_DATETIME).all()
    assert incidents.occurred_at.str.slice(0, 7).between(start, end).all()
    parsed = pd.to_datetime(incidents.occurred_at, format="%Y-%m-%dT%H:%M:%S")
    assert parsed.notna().all()
    # No local time in the spring-forward gap (it does not exist in America/Chicago).
    localized = parsed.dt.tz_localize("America/Chicago", nonexistent="NaT", ambiguous=True)
    assert localized.notna().all()
    assert set(incidents.district_id) <= ids
    assert set(incidents.offense_category) == set(config["offense_map"])
    assert {"BATTERY", "THEFT", "HOMICIDE", "MOTOR VEHICLE THEFT"} <= set(config["offense_map"])

    survey = _read_text_csv(folder / "survey_responses.csv")
    assert list(survey.columns) == [
        "response_id",
        "district_id",
        "response_date",
        "trust_police",
        "police_fair",
        "feel_safe",
        "weight",
        "age_group",  # issue 15: resident group columns
        "years_in_neighborhood",
    ]
    assert set(survey.age_group) == {"18-34", "35-64", "65+"}
    assert set(survey.years_in_neighborhood) == {"0-4", "5+"}
    assert config["survey"]["groups"] == ["age_group", "years_in_neighborhood"]
    assert survey.response_id.is_unique and set(survey.district_id) <= ids
    assert survey.response_date.str.match(ISO_DATE).all()
    assert survey.response_date.str.slice(0, 7).between(start, end).all()
    for item in ("trust_police", "police_fair", "feel_safe"):
        assert survey[item].isin(list("12345")).all()
        assert survey[item].nunique() == 5
    assert (survey.weight.astype(float) > 0).all()

    meetings = _read_text_csv(folder / "meetings.csv")
    assert list(meetings.columns) == [
        "meeting_id",
        "district_id",
        "meeting_date",
        "meeting_type",
        "attendees",
    ]
    assert meetings.meeting_id.is_unique and set(meetings.district_id) <= ids
    assert meetings.meeting_date.str.match(ISO_DATE).all()
    assert meetings.meeting_date.str.slice(0, 7).between(start, end).all()
    assert set(meetings.meeting_type) <= {"beat_meeting", "town_hall", "community_event", "other"}
    assert meetings.attendees.str.fullmatch(r"\d+").all()
    return {
        "incidents": len(incidents),
        "responses": len(survey),
        "meetings": len(meetings),
        "never": len(ids) - len(programs),
        "cohorts": programs.start_date.nunique(),
    }


def test_small_city_follows_the_contract(small_city):
    sizes = check_contract(small_city)
    assert sizes["cohorts"] == 4 and sizes["never"] >= 2


def test_default_city_follows_the_contract_and_has_the_promised_size(default_city):
    folder, seconds = default_city
    sizes = check_contract(folder)
    assert 1_300_000 < sizes["incidents"] < 1_700_000
    assert 54_000 < sizes["responses"] < 66_000
    assert 10_500 < sizes["meetings"] < 13_500
    assert sizes["never"] >= 6 and sizes["cohorts"] >= 4
    truth = load_truth(folder)
    assert truth["study_window"] == {"start": "2016-01", "end": "2025-12"}
    assert seconds < 30  # a few seconds on a laptop; generous for a loaded CI runner


def _digests(folder) -> dict[str, str]:
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in CONTRACT_FILES
    }


def test_same_seed_same_bytes(small_city, tmp_path):
    again = simulate_city(tmp_path / "again", **SMALL)
    assert _digests(again) == _digests(small_city)
    other = simulate_city(tmp_path / "other", **{**SMALL, "seed": SMALL["seed"] + 1})
    differing = {k for k, v in _digests(other).items() if _digests(small_city)[k] != v}
    assert {"crime_incidents.parquet", "survey_responses.csv", "truth.json"} <= differing


def test_rollout_design_for_many_seeds():
    """Default size: >= 6 never-treated districts and 4 distinct quarter-aligned dates."""
    for seed in range(20):
        design = build_design(CityParams(seed=seed), np.random.default_rng(seed))
        assert (design.cohort_of == NEVER).sum() >= 6
        starts = design.calendar.months[design.cohort_starts]
        assert len(set(starts.tolist())) == 4
        assert all(m.astype(int) % 3 == 0 for m in starts)  # first month of a quarter
        sizes = np.bincount(design.cohort_of[design.cohort_of != NEVER])
        assert sizes.min() >= 4

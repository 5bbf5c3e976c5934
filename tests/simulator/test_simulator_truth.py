"""truth.json is what the generating parameters imply, recomputed independently."""

from __future__ import annotations

import pytest
from simulator_cities import SMALL, load_truth
from simulator_reference import (
    crime_truth_from,
    expected_crime,
    expected_survey,
    index_frame,
)

from simulator.city import simulate_city

CRIME = {"crime_total": None, "crime_violent": "violent", "crime_property": "property"}
INDICES = {"trust_index": ["trust_police", "police_fair"], "safety_index": ["feel_safe"]}


@pytest.mark.parametrize("outcome", sorted(CRIME))
def test_crime_truth_matches_recomputed_expected_counts(small_city, outcome):
    truth = load_truth(small_city)
    overall, by_e = crime_truth_from(expected_crime(truth), CRIME[outcome])
    stated = truth["outcomes"][outcome]
    assert stated["overall"] == pytest.approx(overall, rel=1e-9, abs=1e-12)
    assert overall < -0.005  # the program does something in this city
    assert {int(k) for k in stated["by_event_time"]} == set(by_e)
    for e, value in by_e.items():
        assert stated["by_event_time"][str(e)] == pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("index", sorted(INDICES))
def test_survey_truth_matches_exact_likert_expectation(small_city, index):
    truth = load_truth(small_city)
    cells = index_frame(expected_survey(truth), INDICES[index])
    treated = cells[cells.e >= 0]
    diff = treated.m1 - treated.m0
    stated = truth["outcomes"][index]
    assert stated["overall"] == pytest.approx(diff.mean(), abs=1e-10)
    assert diff.mean() > 0.02
    by_e = diff.groupby(treated.e).mean()
    assert {int(k) for k in stated["by_event_time"]} == set(by_e.index)
    for e, value in by_e.items():
        assert stated["by_event_time"][str(e)] == pytest.approx(value, abs=1e-10)
    # Untreated district-quarters carry no effect at all (no anticipation).
    untreated = cells[cells.e < 0]
    assert (untreated.m1 - untreated.m0).abs().max() == 0.0


def test_likert_truth_is_not_the_latent_shift(small_city):
    """The bounded scale shrinks the latent shift; truth must use the expected answer."""
    truth = load_truth(small_city)
    expected = expected_survey(truth)
    treated = expected[(expected.e >= 0) & (expected.item == "feel_safe")]
    assert (treated.m1 - treated.m0).max() > 0
    latent = truth["parameters"]["survey"]["effect"]["feel_safe"]
    multipliers = truth["parameters"]["cohort_multiplier"].values()
    # The largest possible latent shift times the largest slope of E[Y] (< 1.4) bounds it.
    assert (treated.m1 - treated.m0).max() < latent * max(multipliers) * 1.4 * 1.4


def test_cohorts_and_effect_growth(small_city):
    truth = load_truth(small_city)
    programs = (small_city / "programs.csv").read_text().splitlines()[1:]
    from_programs = {line.split(",")[0]: line.split(",")[2][:7] for line in programs}
    stated = {d: c for d, c in truth["cohorts"].items() if c is not None}
    assert stated == from_programs
    by_e = truth["outcomes"]["crime_total"]["by_event_time"]
    assert by_e["0"] > by_e["12"] > by_e["24"]  # effects grow (more negative) with time
    by_cohort = truth["outcomes"]["trust_index"]["by_cohort"]
    assert len(set(round(v, 6) for v in by_cohort.values())) == len(by_cohort)


def test_no_effect_city_is_the_same_city_without_the_program(small_city, tmp_path):
    null = simulate_city(tmp_path / "null", **{**SMALL, "effect_scale": 0.0})
    truth, null_truth = load_truth(small_city), load_truth(null)
    for outcome in null_truth["outcomes"].values():
        assert outcome["overall"] == 0.0
        assert all(v == 0.0 for v in outcome["by_event_time"].values())
    assert null_truth["cohorts"] == truth["cohorts"]
    assert null_truth["parameters"]["crime"] == truth["parameters"]["crime"]
    assert null_truth["parameters"]["survey"] == truth["parameters"]["survey"]
    assert (null / "districts.csv").read_bytes() == (small_city / "districts.csv").read_bytes()

"""End-to-end evaluation on simulated cities with known truth (truth.json)."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest
from evaluation_sizes import FAST

from evaluation.results_json import clean, dumps, shape_errors
from evaluation.run import evaluate
from evaluation.settings import EvaluationSettings
from evaluation.store import frames
from warehouse.results_store import write_results

OUTCOMES = ("crime_total", "crime_violent", "crime_property", "trust_index", "safety_index")


@pytest.mark.parametrize("name", OUTCOMES)
def test_interval_contains_truth_and_twfe_bias_is_reported(small_city, small_results, name):
    _, _, truth = small_city
    o = small_results["outcomes"][name]
    assert "reason" not in o, o.get("reason")
    true = truth["outcomes"][name]["overall"]
    assert o["ci_low"] <= true <= o["ci_high"], (name, true, o["ci_low"], o["ci_high"])
    assert o["ci_low"] < o["estimate"] < o["ci_high"]
    # TWFE on the same scale, and its Bacon components add up to it
    bias = o["twfe_estimate"] - true
    assert abs(bias) < 1.0
    total = sum(c["weight"] * c["estimate"] for c in o["twfe_bacon"])
    assert total == pytest.approx(o["twfe_estimate"], rel=1e-8, abs=1e-12)
    assert sum(c["weight"] for c in o["twfe_bacon"]) == pytest.approx(1.0)


def test_effects_have_the_simulated_sign(small_city, small_results):
    _, _, truth = small_city
    for name in OUTCOMES:
        est = small_results["outcomes"][name]["estimate"]
        assert est * truth["outcomes"][name]["overall"] > 0, name


@pytest.mark.parametrize("name", OUTCOMES)
def test_diagnostics_are_complete(small_results, name):
    o = small_results["outcomes"][name]
    assert 0 <= o["pre_trend_p"] <= 1 and 0 <= o["ri_p"] <= 1
    assert 0.05 <= o["pre_trend_power"] <= 1
    assert o["mde"] > 0
    at_zero = next(r for r in o["honestdid"] if r["m"] == 0)
    if o["honestdid_breakdown"] is None:  # not applicable: the target's interval holds zero
        assert at_zero["ci_low"] <= 0 <= at_zero["ci_high"]
        assert any("not applicable" in n for n in o["notes"])
    else:
        assert o["honestdid_breakdown"] >= 0 and not at_zero["ci_low"] <= 0 <= at_zero["ci_high"]
    assert "average effect over event times 0.." in o["honestdid_target"]
    assert [r["m"] for r in o["honestdid"]] == list(FAST.honestdid_grid)
    es = {p["event_time"]: p for p in o["event_study"]}
    assert es[-1]["estimate"] == 0 and es[-1]["ci_low"] is None  # reference period
    assert min(es) < -1 and max(es) >= 0
    post = [p for t, p in es.items() if t >= 0 and p["ci_low"] is not None]
    assert all(p["ci_low"] <= p["estimate"] <= p["ci_high"] for p in post)
    assert (
        o["dose_response"]["bins"] and "strong parallel trends" in o["dose_response"]["assumption"]
    )


def test_uniform_band_is_wider_than_pointwise(small_results):
    o = small_results["outcomes"]["trust_index"]
    assert o["details"]["uniform_band"] is True
    assert o["details"]["band_critical_value"] > 1.96


def test_survey_sampling_error_is_propagated(small_results):
    """The exact sampling SE is reported with its share of the headline's variance. The
    headline's jackknife SE holds the sampling noise in expectation, not in every city (few
    districts, few df; the interval is no longer widened to it), so `se >= se_survey_sampling`
    is checked over many cities below, not on this one (it failed here when the simulator's
    answers changed with the resident groups of issue 15)."""
    o = small_results["outcomes"]["trust_index"]
    d = o["details"]
    assert d["se_survey_sampling"] > 0
    share = min(1.0, (d["se_survey_sampling"] / o["se"]) ** 2)
    assert d["sampling_variance_share"] == pytest.approx(share, rel=1e-6)


def test_jackknife_variance_holds_the_sampling_variance_over_cities():
    """Over 30 few-district cities with district-quarter shocks the headline's jackknife
    variance exceeds the exact sampling variance on average (it holds both)."""
    from evaluation.survey import fit_headline
    from simulator.few_district import design, draw_city

    jk, samp = [], []
    for seed in range(30):
        f = draw_city(design("g16_c123").with_(survey_effect=0.1), seed).survey
        res = fit_headline(f, FAST, leads=0)
        jk.append(res.se[0] ** 2)
        samp.append(res.se_cell[0] ** 2)
    assert np.mean(jk) > 1.2 * np.mean(samp), (np.mean(jk), np.mean(samp))


def test_no_effect_city_intervals_contain_zero(null_city, null_results):
    truth, res = null_city[2], null_results
    for name in OUTCOMES:
        assert truth["outcomes"][name]["overall"] == 0
        o = res["outcomes"][name]
        assert o["ci_low"] <= 0 <= o["ci_high"], (name, o["ci_low"], o["ci_high"])
        # parallel trends hold by construction: the few-cluster-corrected test must not
        # reject at 0.1% (a chi-square test with 11 leads and 14 districts did)
        assert o["pre_trend_p"] > 0.001, (name, o["pre_trend_p"])


def test_results_json_is_deterministic_and_has_the_issue_shape(small_city, small_results):
    dm, dq, _ = small_city
    again = evaluate(dm, dq, FAST, city="Small City", generated_at="2026-01-01T00:00:00Z")
    first, second = dumps(small_results), dumps(again)
    assert first == second
    doc = json.loads(first)
    assert shape_errors(doc) == []
    assert "NaN" not in first and "_timings" not in first
    assert doc["rollout_source"] == "programs.csv"
    assert len(doc["rollout"]) == dm["district_id"].nunique()


def test_another_seed_changes_the_bootstrap_numbers(small_city, small_results):
    dm, dq, _ = small_city
    other = EvaluationSettings(**{**FAST.to_dict(), "seed": 99, "outcomes": ["trust_index"]})
    res = evaluate(dm, dq, other, city="Small City", generated_at="2026-01-01T00:00:00Z")
    a = small_results["outcomes"]["trust_index"]
    b = res["outcomes"]["trust_index"]
    assert a["estimate"] == b["estimate"]  # point estimates do not depend on the seed
    assert a["details"]["band_critical_value"] != b["details"]["band_critical_value"]


def test_store_writes_all_tables_in_one_transaction(small_results):
    con = duckdb.connect()
    counts = write_results(con, frames(clean(small_results), "run-1"))
    assert counts["estimates"] >= len(OUTCOMES) and counts["run_metadata"] == 1
    n_es = sum(len(o["event_study"]) for o in small_results["outcomes"].values())
    assert counts["event_studies"] == n_es
    stored = con.execute("SELECT results_json FROM results.run_metadata").fetchone()[0]
    assert json.loads(stored)["outcomes"]["crime_total"]["estimate"] == pytest.approx(
        small_results["outcomes"]["crime_total"]["estimate"], rel=1e-9
    )
    bad = clean(small_results)
    bad["outcomes"]["crime_total"]["event_study"][0]["event_time"] = "not an integer"
    with pytest.raises(duckdb.Error):
        write_results(con, frames(bad, "run-2"))
    runs = con.execute("SELECT count(*) FROM results.estimates WHERE run_id = 'run-2'").fetchone()
    assert runs[0] == 0  # rolled back: no partial run

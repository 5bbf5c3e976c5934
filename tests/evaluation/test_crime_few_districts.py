"""Crime evaluation for issue 12: few-district inference status, the Poisson event study the
diagnostics use, and the review fixes (bins with gaps, reported zeros, the count effect,
anticipation). Small cities from `simulator.few_district`, cheap settings (few RI
permutations and bootstrap draws: those parts are not under test here)."""

import numpy as np
import pandas as pd
import pytest

from evaluation.crime import binned, crime_frame, evaluate_crime, inference_status
from evaluation.outcomes import CRIME
from evaluation.settings import EvaluationSettings
from reports.wording import count_effect
from simulator.few_district import Design, design, draw_city

SPEC = CRIME["crime_total"]
CHEAP = EvaluationSettings(ri_permutations=19, bootstrap_draws=49)


@pytest.fixture(scope="module")
def g10():
    d = design("g10_c112").with_(crime_effect=-0.1)
    city = draw_city(d, 11)
    return city, evaluate_crime(city.crime, SPEC, CHEAP)


def _flat_city(months=12, rate=5.0):
    """Two districts, constant rate per resident-month, counts exactly rate x pop / 1000."""
    rows = []
    for dist, pop in (("A", 10_000.0), ("B", 30_000.0)):
        for m in range(1, months + 1):
            p = pop * (1 + 0.01 * m)
            rows.append((dist, m, p, 0, True, rate * p / 1000, rate))
    cols = [
        "district_id",
        "period",
        "population",
        "cohort_period",
        "reported",
        "crimes_total",
        "rate_total",
    ]
    return pd.DataFrame(rows, columns=cols)


def test_binned_rate_is_per_resident_month_with_gaps_and_partial_bins():
    dm = _flat_city(months=11)  # last quarter partial (2 months)
    dm.loc[(dm.district_id == "A") & (dm.period == 5), "reported"] = False  # a gap
    f, dropped = crime_frame(dm, SPEC)
    assert dropped == 1
    q = binned(f, SPEC, 3)
    # every bin reads the true rate; averaging population (the old rule) read 2/3 of it in
    # the gap bin and in the partial last bin
    assert np.allclose(q["rate"], 5.0, rtol=1e-12)
    assert set(q["n_months"]) == {2, 3}


def test_reported_zero_is_a_zero_and_only_unreported_months_are_gaps():
    dm = _flat_city(months=6)
    dm["reported"] = dm["reported"].astype(object)
    dm.loc[0, ["crimes_total", "rate_total"]] = 0.0  # reported, no incident
    dm.loc[1, "reported"] = False
    dm.loc[2, "reported"] = None  # missing flag: a gap
    f, dropped = crime_frame(dm, SPEC)
    assert dropped == 2
    assert len(f) == len(dm) - 2
    assert (f["crimes_total"] == 0).sum() == 1


def test_inference_status_flags_single_districts():
    info, notes = inference_status({"49": 1}, "restricted", 9)
    assert info["valid"] is False and "one district" in info["reason"]
    assert any("single district" in n for n in notes)
    info, notes = inference_status({"49": 1, "55": 1, "61": 2}, "restricted", 9)
    assert info["valid"] is True and info["reason"] is None and info["df"] == 9
    assert any("2 roll-out cohort(s) with a single district" in n for n in notes)
    info, notes = inference_status({"49": 2, "55": 3}, "restricted", 19)
    assert info["valid"] and not notes
    for sizes in ({"49": 1, "55": 1}, {"49": 2}):  # measured 90% coverage: not valid
        info, _ = inference_status(sizes, "jackknife", 9)
        assert info["valid"] is False and "only 2 districts" in info["reason"]


def test_output_has_inference_cohorts_and_count(g10):
    city, o = g10
    assert o["cohort_sizes"] == {"49": 1, "55": 1, "61": 2}
    assert o["inference"]["df"] == 9 and o["inference"]["valid"] is True
    assert any("single district" in n for n in o["notes"])
    c = o["effect_count_per_unit_period"]
    assert c["ci_low"] < c["estimate"] < c["ci_high"]
    # the count effect is the model's sum(mu1 - mu0): same sign as the proportional effect,
    # and its ratio to it is the model's counterfactual mean count per treated
    # district-month, which must be of the order of the treated districts' observed counts
    f, _ = crime_frame(city.crime, SPEC)
    treated = f[(f.cohort_period > 0) & (f.period >= f.cohort_period)]
    assert np.sign(c["estimate"]) == np.sign(o["estimate"])
    ratio = c["estimate"] / o["estimate"]
    assert 0.7 < ratio / (treated[SPEC.count].mean() / (1 + o["estimate"])) < 1.3
    assert count_effect(o) == c["estimate"]


def test_event_study_is_the_poisson_one_on_the_headline_scale(g10):
    _, o = g10
    es = o["_es_for_diagnostics"]
    assert es["bin_months"] == 6 and es["reference"] == -1 and es["df"] == 9
    t = np.array(es["event_times"])
    w, est = np.array(es["target_weights"]), np.array(es["estimates"])
    assert np.all(w[t < 0] == 0) and abs(w.sum() - 1) < 1e-9
    assert abs(np.sum(w * est) - es["headline_from_event_study"]) < 1e-9
    v = np.array(es["vcov"])
    assert v.shape == (len(t), len(t)) and np.allclose(v, v.T)
    for sub, months in (("monthly", 1), ("quarterly", 3)):
        assert es[sub]["bin_months"] == months
        assert (
            abs(
                np.dot(es[sub]["target_weights"], es[sub]["estimates"])
                - es[sub]["headline_from_event_study"]
            )
            < 1e-9
        )
    chart = {p["event_time"]: p for p in o["event_study"]}
    assert chart[-1]["estimate"] == 0 and chart[-1]["se"] is None
    assert min(chart) == -12 and max(chart) == 24
    assert "Poisson event study" in o["details"]["event_study_source"]
    assert "Poisson event study" in o["details"]["honestdid_method"]
    assert o["secondary"][0]["estimator"].startswith("Callaway-Sant'Anna")


def test_one_treated_district_is_not_given_a_confident_interval():
    city = draw_city(Design("one", (1,), 9), 3)
    o = evaluate_crime(city.crime, SPEC, CHEAP)
    assert o["inference"]["valid"] is False
    assert o["cohort_sizes"] == {"49": 1}
    assert any("No trustworthy interval" in n for n in o["notes"])


def test_anticipation_months_are_neither_treated_nor_reference(g10):
    city, _ = g10
    s = EvaluationSettings(ri_permutations=19, bootstrap_draws=49, anticipation=2)
    o = evaluate_crime(city.crime, SPEC, s)
    chart = {p["event_time"] for p in o["event_study"]}
    assert -3 in chart and -2 not in chart and -1 not in chart  # reference -1 - anticipation
    month = o["_es_for_diagnostics"]["monthly"]
    assert month["reference"] == -3 and not {-2, -1} & set(month["event_times"])
    assert o["_es_for_diagnostics"]["reference"] == -2  # half-years: the bin before [-6, -1]

"""evaluate_survey's few-district fields (issue 12): inference, cohort sizes, single-district
warnings, the event study for diagnostics, and no interval where none can be valid.

Cities come from `simulator.few_district` (10 districts, cohorts of 1/1/2 districts, survey
effect 0.15 points); coverage of the interval is measured in test_survey_coverage.py.
"""

import math

import numpy as np
import pytest

from estimators.imputation import fit_imputation
from estimators.panel import prepare_panel
from evaluation.outcomes import spec
from evaluation.settings import EvaluationSettings
from evaluation.survey import evaluate_survey, survey_frame
from simulator.few_district import design, draw_city

CHEAP = EvaluationSettings(bootstrap_draws=99, ri_permutations=0, survey_sampling_draws=0)
G10 = design("g10_c112").with_(survey_effect=0.15)


@pytest.fixture(scope="module")
def g10():
    city = draw_city(G10, 5)
    return city, evaluate_survey(city.survey, spec("trust_index"), CHEAP)


def test_headline_is_the_average_of_pre_base_estimate_with_a_t_interval(g10):
    city, out = g10
    f = survey_frame(city.survey, spec("trust_index"))
    panel = prepare_panel(
        f, unit="district_id", time="period", outcome="mean", cohort="cohort_period"
    )
    assert out["estimate"] == pytest.approx(fit_imputation(panel).overall.estimate, abs=1e-10)
    inf = out["inference"]
    assert inf["valid"] and inf["reason"] is None and "jackknife" in inf["method"]
    assert isinstance(inf["df"], int) and 1 <= inf["df"] <= 9  # at most G - 1
    from scipy import stats

    half = stats.t.ppf(0.975, inf["df"]) * out["se"]
    assert out["ci_low"] == pytest.approx(out["estimate"] - half, rel=1e-9)
    assert out["ci_high"] == pytest.approx(out["estimate"] + half, rel=1e-9)
    # sampling error alone is part of, and smaller than, the district-level variance here
    assert 0 < out["details"]["se_survey_sampling"] < out["se"]


def test_cohort_sizes_and_single_district_warning(g10):
    _, out = g10
    assert out["cohort_sizes"] == {"17": 1, "19": 1, "21": 2}
    assert any("single district" in n and "17, 19" in n for n in out["notes"])


def test_event_study_for_diagnostics(g10):
    _, out = g10
    es = out["_es_for_diagnostics"]
    # leads: window -12 months = 4 quarters; lags: every post quarter seen by two districts
    # or more (cohorts start in quarters 17, 19, 21 of 32; 14 and 15 only in the one-district
    # cohort 17, no jackknife replicate)
    # leads now cover every pre-roll-out quarter but one of the first cohort (17 - 2 = 15):
    # the verdict's checks want the whole span (evaluation.survey.fit_diagnostics)
    assert es["event_times"] == list(range(-15, 14))
    assert es["dropped_event_times"] == [14, 15]
    assert es["window"] == [-4, 8]
    k = len(es["event_times"])
    v = np.array(es["vcov"])
    assert v.shape == (k, k) and np.allclose(v, v.T)
    assert np.linalg.eigvalsh(v).min() > -1e-12
    assert len(es["estimates"]) == k and isinstance(es["df"], int) and es["df"] >= 1
    in_window = [d for t, d in zip(es["event_times"], es["dfs"], strict=True) if t <= 8]
    assert es["df"] == min(in_window) and len(es["dfs"]) == k
    assert es["bin_months"] == 3
    w = np.array(es["target_weights"])
    times = np.array(es["event_times"])
    assert w.sum() == pytest.approx(1.0) and (w[times < 0] == 0).all() and (w[times >= 0] > 0).all()
    assert es["target_estimate"] == pytest.approx(float(w @ np.array(es["estimates"])))
    assert es["target_gap"] == pytest.approx(out["estimate"] - es["target_estimate"])
    # the old keys still come from the Callaway-Sant'Anna event study
    for key in ("event_study", "pre_trend_p", "honestdid_breakdown", "honestdid_target"):
        assert key in out


def test_one_treated_district_gives_no_interval():
    one = G10.with_(name="one", cohort_sizes=(1,))
    out = evaluate_survey(draw_city(one, 2).survey, spec("trust_index"), CHEAP)
    assert math.isfinite(out["estimate"])
    assert out["se"] is None and out["ci_low"] is None and out["ci_high"] is None
    assert out["p_value"] is None
    inf = out["inference"]
    assert not inf["valid"] and inf["df"] is None and "single program district" in inf["reason"]
    assert out["notes"][0].startswith("no valid interval")
    assert out["cohort_sizes"] == {"17": 1}

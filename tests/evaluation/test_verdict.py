"""The verdict rules (`evaluation.verdict.decide`) on hand-built outcome entries.

These pin the logic; the rates the rules produce on simulated cities are measured by
`bench/verdict_study.py` and asserted in tests/evaluation/test_verdict_study.py.
"""

from pathlib import Path

import pytest

from evaluation.verdict import CONCERNS, VerdictRules, decide, pre_trend_concerns

CLEAN_CHECKS = {
    "linear_p": 0.6,
    "joint_p": 0.5,
    "power_linear_vs_explaining": 0.97,
    "honest_sd": [
        {"m": 0.0, "ci_low": -0.12, "ci_high": -0.03},
        {"m": 0.001, "ci_low": -0.15, "ci_high": -0.01},
    ],
}
CLEAN = {
    "scale": "proportional",
    "estimate": -0.08,
    "ci_low": -0.11,
    "ci_high": -0.05,
    "n_units": 25,
    "cohort_sizes": {"49": 3, "55": 4},
    "inference": {"method": "cluster jackknife", "df": 24, "valid": True, "reason": None},
    "pre_trend_checks": CLEAN_CHECKS,
}


def test_clean_large_effect_is_strong():
    v = decide(CLEAN)
    assert (v.level, v.direction, v.concerns) == ("strong", "decrease", [])
    assert v.text == "Strong evidence of a decrease."
    up = decide({**CLEAN, "estimate": 0.2, "ci_low": 0.1, "ci_high": 0.3})
    assert up.text == "Strong evidence of an increase."


def test_interval_through_zero_is_none_whatever_the_checks():
    v = decide({**CLEAN, "ci_low": -0.1, "ci_high": 0.01, "pre_trend_checks": None})
    assert v.level == "none" and v.direction is None
    assert "not_checked" not in v.concerns  # checks only matter for an effect we would claim


def test_linear_trend_rejected_names_the_trend():
    checks = {**CLEAN_CHECKS, "linear_p": 0.01}
    v = decide({**CLEAN, "pre_trend_checks": checks})
    assert v.level == "some" and v.concerns[0] == "pre_trend"
    assert v.text.startswith("Some evidence of a decrease, but the program districts were")


def test_joint_test_uses_its_own_stricter_level():
    rules = VerdictRules()
    at = {**CLEAN_CHECKS, "joint_p": rules.joint_alpha * 2}
    assert "pre_trend" not in pre_trend_concerns(at, rules)
    below = {**CLEAN_CHECKS, "joint_p": rules.joint_alpha / 2}
    assert "pre_trend" in pre_trend_concerns(below, rules)


def test_estimate_that_a_linear_trend_explains_is_a_weak_check_when_asked():
    sd = [{"m": 0.0, "ci_low": -0.2, "ci_high": 0.05}]
    o = {**CLEAN, "pre_trend_checks": {**CLEAN_CHECKS, "honest_sd": sd}}
    v = decide(o, VerdictRules(require_sd0=True))
    assert v.level == "some" and "pre_test_weak" in v.concerns
    assert decide(o).level == "strong"  # default: the power rule alone decides


def test_low_power_against_the_explaining_trend_is_a_weak_check():
    checks = {**CLEAN_CHECKS, "power_linear_vs_explaining": 0.5}
    assert decide({**CLEAN, "pre_trend_checks": checks}).concerns == ["pre_test_weak"]


def test_missing_checks_block_strong():
    v = decide({**CLEAN, "pre_trend_checks": None})
    assert v.level == "some" and v.concerns == ["not_checked"]
    v = decide({**CLEAN, "pre_trend_checks": {"linear_p": None, "joint_p": None}})
    assert v.concerns == ["not_checked"]


def test_informational_concerns_do_not_downgrade():
    o = {**CLEAN, "n_units": 10, "cohort_sizes": {"49": 1, "55": 2}}
    v = decide(o)
    assert v.level == "strong"
    assert v.concerns == ["few_districts", "single_district_cohort"]
    assert not any(CONCERNS[c].blocking for c in v.concerns)


def test_sensitivity_to_a_bend_is_reported():
    sd = [
        {"m": 0.0, "ci_low": -0.12, "ci_high": -0.03},
        {"m": 0.002, "ci_low": -0.2, "ci_high": 0.04},
    ]
    v = decide({**CLEAN, "pre_trend_checks": {**CLEAN_CHECKS, "honest_sd": sd}})
    assert "sensitivity" in v.concerns and v.level == "strong"


def test_no_valid_interval_is_unavailable():
    o = {**CLEAN, "inference": {"valid": False, "reason": "only one district had the program"}}
    v = decide(o)
    assert v.level == "unavailable" and v.direction is None
    assert v.text == "No verdict: only one district had the program."
    assert decide({"scale": "points", "reason": "no survey data"}).level == "unavailable"


def test_every_code_is_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "evaluation.md").read_text()
    for code in CONCERNS:
        assert f"`{code}`" in doc, code


def test_base_center_lever_predicts_the_bias_a_trend_puts_in_the_crime_headline():
    """Independent check of the explaining trend's lever: on a near noise-free city (huge
    population, no overdispersion, no effect) whose program districts follow a known linear
    trend s, the Poisson headline's log effect must equal s x (sum_j w_j t_j - base_center).
    Measured 3-4% off (Poisson weighting and the simulator's seasonality); the lever from the
    reference period alone would be 2.3x too short and fails the 10% tolerance."""
    import warnings

    import numpy as np

    from bench.verdict_study import STUDY_SETTINGS
    from evaluation.crime import evaluate_crime
    from evaluation.outcomes import spec
    from evaluation.verdict import checks_input
    from simulator.few_district import design, draw_city

    slope = -0.003
    d = design("g16_c123").with_(crime_trend=slope, overdispersion_sd=0.0, mean_population=5e7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o = evaluate_crime(draw_city(d, 5).crime, spec("crime_total"), STUDY_SETTINGS)
    es = checks_input(o["_es_for_diagnostics"], o["cohort_sizes"])
    w = np.asarray(es["target_weights"])
    t = np.array([x for x in es["event_times"] if x > es["reference"]])
    bias = np.log1p(o["estimate"])
    assert bias == pytest.approx(slope * float(w @ t - es["base_center"]), rel=0.10)
    assert bias != pytest.approx(slope * float(w @ (t - es["reference"])), rel=0.5)

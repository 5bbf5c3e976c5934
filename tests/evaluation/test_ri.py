"""Studentized randomization inference, drawn once for all outcomes, and Romano-Wolf.

Fast tests. The Monte Carlo rates (size on the few-district battery, family-wise error and
power against Bonferroni/Holm) are in test_ri_slow.py and docs/evaluation.md; here the same
designs run loosely, and the rules are checked on panels built to trigger them.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import ri_sim

from engagement_eval.config import config_from_dict
from engagement_eval.errors import UserError
from estimators.panel import prepare_panel
from estimators.randomization import (
    holm,
    permutation_p,
    randomization_inference,
    step_down_max_t,
)
from evaluation.inference import (
    MIN_VALID_PERMUTATIONS,
    ReassignedCS,
    StudentizedCS,
    ri_entry,
)
from evaluation.permutations import (
    SEPARATE,
    families,
    outcome_panel,
    primary_outcome,
    randomization_step,
)
from evaluation.settings import EvaluationSettings, settings_from_config
from simulator.few_district import Design, design, draw_city

STAT = StudentizedCS("notyet", 0)


# ------------------------------------------------------------------ the statistic


def _refit(panel, unit_ids, cohorts):
    f = panel.frame.copy()
    f[panel.cohort] = f[panel.unit].map(dict(zip(unit_ids, cohorts, strict=True)))
    return STAT(dataclasses.replace(panel, frame=f))


@pytest.mark.parametrize("name", ri_sim.OUTCOMES)
def test_reassigned_design_gives_the_refitted_statistic(name):
    """The design reused across draws must give exactly what a full att_gt refit gives,
    also on an unbalanced panel (crime rows with reporting gaps) and with weights."""
    crime, survey = ri_sim.five_outcome_city(design("g16_c123"), 4)
    crime = crime.drop(crime.sample(frac=0.05, random_state=1).index)  # gaps: unbalanced
    panel = outcome_panel(name, crime, survey)
    fast = ReassignedCS.build(STAT, panel)
    units = fast.unit_ids
    own = panel.frame.groupby(panel.unit)[panel.cohort].first().loc[units].to_numpy()
    assert fast(own) == pytest.approx(STAT(panel), abs=1e-10)
    rng = np.random.default_rng(2)
    for _ in range(4):
        c = rng.permutation(own)
        assert fast(c) == pytest.approx(_refit(panel, units, c), abs=1e-10)


def test_studentized_statistic_is_estimate_over_se():
    crime, survey = ri_sim.five_outcome_city(design("g10_c112"), 1)
    panel = outcome_panel("trust_index", crime, survey)
    est = STAT.overall(panel)
    assert STAT(panel) == pytest.approx(est.estimate / est.se)


# ------------------------------------------------------------------ dropped permutations


def test_permutations_without_a_statistic_leave_the_denominator():
    """Old rule: a NaN draw counted as 'not extreme', p = (1 + #extreme) / (1 + B)."""
    draws = np.array([3.0, -0.5, np.nan, 2.5, np.nan, 0.1, -4.0, np.nan, 1.0, 0.2])
    p, n_valid = permutation_p(2.0, draws)
    assert n_valid == 7 and p == pytest.approx((1 + 3) / (1 + 7))
    assert p != pytest.approx((1 + 3) / (1 + 10))  # what the old rule gave


def test_library_result_reports_dropped_draws():
    df = pd.DataFrame(
        {
            "u": np.repeat(np.arange(8), 4),
            "t": np.tile(np.arange(1, 5), 8),
            "y": np.random.default_rng(0).normal(size=32),
            "g": np.repeat([3, 3, 0, 0, 0, 0, 0, 0], 4),
        }
    )
    panel = prepare_panel(df, unit="u", time="t", outcome="y", cohort="g")

    def stat(p):  # fails whenever unit 7 is treated
        treated = p.frame.loc[p.frame["g"] > 0, "u"].unique()
        return math.nan if 7 in treated else p.frame.loc[p.frame["g"] > 0, "y"].mean()

    res = randomization_inference(panel, stat, n_permutations=200, seed=1)
    assert 0 < res.n_dropped < 200 and res.n_valid == 200 - res.n_dropped
    valid = res.null_draws[np.isfinite(res.null_draws)]
    extreme = int((np.abs(valid) >= abs(res.observed) - 1e-12).sum())
    assert res.p_value == pytest.approx((1 + extreme) / (1 + res.n_valid))
    assert res.to_dict()["n_dropped"] == res.n_dropped


def _late_district_city():
    """One treated district (month 30 of 48), seven comparison districts, one of them with
    no data before month 31: a reassignment that treats it has no pre-roll-out period, so
    its statistic cannot be computed (about 1 draw in 8)."""
    d = Design("late", (1,), 7, n_months=48, first_rollout=30, overdispersion_sd=0.2)
    city = draw_city(d, 5)
    late = city.crime.loc[city.crime["cohort_period"] == 0, "district_id"].iloc[0]
    crime = city.crime.loc[(city.crime["district_id"] != late) | (city.crime["period"] > 30)]
    survey = city.survey.loc[(city.survey["district_id"] != late) | (city.survey["period"] > 10)]
    return crime.reset_index(drop=True), survey.reset_index(drop=True)


def test_pipeline_drops_reassignments_that_cannot_be_analysed():
    crime, survey = _late_district_city()
    s = EvaluationSettings(outcomes=("crime_total", "trust_index"), ri_permutations=119, seed=3)
    outs = {"crime_total": {}, "trust_index": {}}
    multiple = randomization_step(crime, survey, s, outs)
    for name in outs:
        ri = outs[name]["ri"]
        assert ri["permutations"] + ri["dropped"] == 119
        assert 3 <= ri["dropped"] <= 30, ri  # about one draw in eight: 15
        assert ri["p"] is not None and outs[name]["ri_p"] == ri["p"]
        n_extreme = ri["p"] * (1 + ri["permutations"]) - 1
        assert n_extreme == pytest.approx(round(n_extreme), abs=1e-9)  # denominator: valid only
        assert f"{ri['dropped']} reshufflings could not be analysed" in ri["interpretation"]
    assert multiple["permutations"] <= 119 - max(outs[n]["ri"]["dropped"] for n in outs)


def test_too_few_valid_permutations_withhold_the_p_value():
    few = ri_entry(1.0, [0.5] * (MIN_VALID_PERMUTATIONS - 1), statistic="t", exact=False)
    assert few["p"] is None and "at least" in few["reason"] and few["exact"] is False
    mostly_failed = ri_entry(1.0, [0.5] * 40 + [math.nan] * 59, statistic="t", exact=True)
    assert mostly_failed["p"] is None and "59 of 99" in mostly_failed["reason"]
    assert mostly_failed["interpretation"].startswith("Randomization check not available")
    ok = ri_entry(1.0, [0.5] * 60 + [2.0] * 39, statistic="t", exact=True)
    assert ok["p"] == pytest.approx(40 / 100) and ok["dropped"] == 0


# ------------------------------------------------------------------ exact only when randomized


def test_exact_only_when_the_rollout_was_randomized():
    crime, survey = ri_sim.five_outcome_city(design("g10_c112"), 2)
    for randomized in (False, True):
        s = EvaluationSettings(
            outcomes=("crime_total", "trust_index"),
            ri_permutations=39,
            rollout_randomized=randomized,
        )
        outs = {"crime_total": {}, "trust_index": {}}
        randomization_step(crime, survey, s, outs)
        for o in outs.values():
            text = o["ri"]["interpretation"]
            assert o["ri"]["exact"] is randomized
            assert ("exact test of no effect" in text) is randomized
            assert ("not an exact test" in text) is (not randomized)
            assert "studentized" in o["ri"]["statistic"]


def test_settings_carry_rollout_randomized_and_validate_primary_outcome():
    s = settings_from_config(config_from_dict({"rollout": {"randomized": True}}))
    assert s.rollout_randomized is True and s.primary_outcome is None
    s = settings_from_config(config_from_dict({"model": {"primary_outcome": "trust_index"}}))
    assert s.primary_outcome == "trust_index"
    for bad in ("burglary", "crime_total"):
        cfg = {"model": {"primary_outcome": bad, "outcomes": ["trust_index", "safety_index"]}}
        with pytest.raises(UserError) as info:
            settings_from_config(config_from_dict(cfg))
        assert "model.primary_outcome" in info.value.cause and "trust_index" in info.value.fix


def test_default_primary_is_the_first_crime_outcome_with_an_estimate():
    s = EvaluationSettings(outcomes=("trust_index", "crime_total", "crime_violent"))
    assert primary_outcome(s, {"trust_index": {}, "crime_total": {}, "crime_violent": {}}) == (
        "crime_total"
    )
    no_crime = {"trust_index": {}, "crime_total": {"reason": "no crime data delivered"}}
    assert primary_outcome(s, no_crime) == "trust_index"
    chosen = dataclasses.replace(s, primary_outcome="crime_violent")
    assert primary_outcome(chosen, no_crime) == "crime_violent"


# ------------------------------------------------------------------ one reshuffle for all


def test_crime_and_survey_panels_read_the_same_reshuffled_rollout():
    """Also when the one district of a single-district cohort has no survey answers at all
    (its cells are empty rows in the survey panel, as the warehouse writes them)."""
    crime, survey = ri_sim.five_outcome_city(design("g16_c123"), 6)
    first = crime.loc[crime["cohort_period"] == 49, "district_id"].unique()
    assert len(first) == 1  # g16_c123: the first cohort is one district
    survey.loc[survey["district_id"] == first[0], ["mean", "se"]] = np.nan
    panels = {n: outcome_panel(n, crime, survey) for n in ri_sim.OUTCOMES}
    assert first[0] not in set(panels["trust_index"].frame["district_id"])
    (fam,) = families(panels, crime, survey)
    _, _, crime_map = fam.members["crime_total"]
    _, _, survey_map = fam.members["trust_index"]
    for key in fam.keys:
        assert crime_map[key] == key  # the months themselves
        assert survey_map[key] == (0 if key == 0 else (key - 1) // 3 + 1)  # their quarter


def test_survey_on_other_places_is_adjusted_separately_and_bonferroni_across():
    """A beat-level analysis: crime per beat, surveys per district; no common reshuffle."""
    crime, survey = ri_sim.five_outcome_city(design("g10_c112"), 7)
    survey = survey.assign(district_id="S" + survey["district_id"])
    s = EvaluationSettings(outcomes=ri_sim.OUTCOMES, ri_permutations=49, seed=1)
    outs = {n: {} for n in ri_sim.OUTCOMES}
    multiple = randomization_step(crime, survey, s, outs)
    assert multiple["method"] == SEPARATE
    assert all(outs[n]["adjusted_p"] >= outs[n]["ri_p"] for n in outs)


def test_results_keys_and_switch_off():
    crime, survey = ri_sim.five_outcome_city(design("g10_c112"), 8)
    s = EvaluationSettings(outcomes=ri_sim.OUTCOMES, ri_permutations=39, seed=2)
    outs = {n: {} for n in ri_sim.OUTCOMES}
    outs["safety_index"] = {"reason": "no survey data delivered for this index"}
    multiple = randomization_step(crime, survey, s, outs)
    assert set(multiple) >= {"primary", "method", "adjusted_p", "permutations"}
    assert multiple["primary"] == "crime_total" and multiple["method"] == "Romano-Wolf"
    assert set(multiple["adjusted_p"]) == set(ri_sim.OUTCOMES) - {"safety_index"}
    assert multiple["permutations"] == 39 and "ri" not in outs["safety_index"]
    for n in multiple["adjusted_p"]:
        o = outs[n]
        assert set(o["ri"]) >= {"p", "statistic", "permutations", "dropped", "exact"}
        assert o["adjusted_p"] == multiple["adjusted_p"][n] >= o["ri_p"] == o["ri"]["p"]
    off = {n: {} for n in ri_sim.OUTCOMES}
    section = randomization_step(crime, survey, dataclasses.replace(s, ri_permutations=0), off)
    assert section["adjusted_p"] == {} and off["crime_total"]["ri_p"] is None
    assert "switched off" in off["crime_total"]["ri"]["reason"]


# ------------------------------------------------------------------ Romano-Wolf


def _brute_force_step_down(obs, draws):
    """Definition: p_j = max over steps i <= j (in |T| order) of the max-|T| p over S_i."""
    order = np.argsort(-np.abs(obs))
    out = np.empty(len(obs))
    running = 0.0
    for j, idx in enumerate(order):
        rest = order[j:]
        mx = np.abs(draws[:, rest]).max(axis=1)
        running = max(running, (1 + np.sum(mx >= abs(obs[idx]))) / (1 + len(draws)))
        out[idx] = running
    return out


def test_step_down_matches_its_definition_and_orders_against_holm_and_bonferroni():
    rng = np.random.default_rng(0)
    for rho in (0.0, 0.6, 0.95):
        cov = rho + (1 - rho) * np.eye(5)
        draws = rng.multivariate_normal(np.zeros(5), cov, size=999)
        obs = np.array([3.1, 2.4, -2.2, 0.4, 1.9])
        adj, used = step_down_max_t(obs, draws)
        assert np.allclose(adj, _brute_force_step_down(obs, draws)) and (used == 999).all()
        marginal = np.array([permutation_p(o, draws[:, k])[0] for k, o in enumerate(obs)])
        assert (adj >= marginal - 1e-12).all()
        # max-|T| is at most Bonferroni up to the draws' own noise (independent case)
        assert (adj <= np.minimum(1, 5 * marginal) + 0.01).all()
        if rho >= 0.6:  # correlated: below Holm, strictly for the largest statistic
            assert (adj <= holm(marginal) + 1e-12).all() and adj[0] < holm(marginal)[0]
    single, _ = step_down_max_t(np.array([2.0]), draws[:, :1])
    assert single[0] == pytest.approx(permutation_p(2.0, draws[:, 0])[0])


def test_step_down_drops_draws_with_a_missing_statistic():
    draws = np.array([[0.5, 0.1], [np.nan, 3.0], [2.5, 0.2], [0.1, np.nan]])
    adj, used = step_down_max_t(np.array([2.0, 1.0]), draws)
    assert used[0] == 2  # draws 2 and 4 have a NaN in the full set
    assert adj[0] == pytest.approx((1 + 1) / (1 + 2))


def test_holm_is_monotone_and_capped():
    assert np.allclose(holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan], equal_nan=True)


# ------------------------------------------------------------------ loose Monte Carlo


@pytest.mark.parametrize("name", ["g10_c112", "g16_c123"])
def test_null_rejection_rates_loosely(name):
    """20 null cities x 5 outcomes, 19 reassignments: each outcome's RI p-values average
    about 0.5, and few reject (slow test: 500 cities, 199 reassignments)."""
    rows = [ri_sim.replicate(design(name), seed, 19) for seed in range(100, 120)]
    p = np.array([[r["p"][n] for n in ri_sim.OUTCOMES] for r in rows])
    assert 0.3 < p.mean() < 0.7  # 20 cities, outcomes correlated: SE of the mean ~0.05
    assert (p <= 0.05).mean() < 0.15
    summary = ri_sim.summarize(rows)
    assert summary["any_romano_wolf"]["rate"] <= 0.2
    assert summary["dropped_total"] == 0


def test_exchangeable_draw_count_is_reproducible():
    crime, survey = ri_sim.five_outcome_city(design("g10_c112"), 9)
    s = EvaluationSettings(outcomes=("crime_total", "trust_index"), ri_permutations=29, seed=4)
    a, b = ({"crime_total": {}, "trust_index": {}} for _ in range(2))
    randomization_step(crime, survey, s, a)
    randomization_step(crime, survey, s, b)
    assert [a[n]["ri_p"] for n in a] == [b[n]["ri_p"] for n in b]
    other = {"crime_total": {}, "trust_index": {}}
    randomization_step(crime, survey, dataclasses.replace(s, seed=5), other)
    assert [a[n]["ri_p"] for n in a] != [other[n]["ri_p"] for n in other]

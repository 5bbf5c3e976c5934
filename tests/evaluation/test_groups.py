"""Effects by resident group (evaluation/groups.py, issue 15.2): the headline's estimator per
group, the joint jackknife of the difference, coverage over seeds, and the publishing rule."""

from __future__ import annotations

import numpy as np
import pytest

from bench.coverage_groups import run_design
from evaluation.groups import combination, evaluate_groups, group_effect
from evaluation.settings import EvaluationSettings
from evaluation.survey import fit_headline
from simulator.few_district import design, draw_city
from simulator.few_district_groups import draw_group_panel

S = EvaluationSettings()


@pytest.mark.parametrize("name", ["g10_c112", "g25_c2345"])
def test_one_group_is_exactly_the_headline_estimator(name):
    """Same estimate, jackknife SE and Satterthwaite df as the headline's fit_avg_base."""
    f = draw_city(design(name).with_(survey_effect=0.2), 7).survey
    head = fit_headline(f, S)
    mine = combination([f], [1.0])
    assert mine["valid"]
    assert mine["estimate"] == pytest.approx(head.fit.estimates[0], abs=1e-12)
    assert mine["se"] == pytest.approx(head.se[0], rel=1e-9)
    assert mine["df"] == int(head.df)


def test_difference_is_linear_and_its_jackknife_counts_the_shared_shock():
    """The difference's estimate is the difference of the two effects; with a large shared
    district-quarter shock and small own noise its SE is far below the SE that treats the
    two effects as independent (the covariance is what the joint jackknife is for)."""
    d = design("g16_c123").with_(survey_shock_sd=0.3, respondents=4000)
    panel = draw_group_panel(d, 5, group_shock_sd=0.01)
    a = panel[panel.group_value == "newcomer"]
    b = panel[panel.group_value == "long_term"]
    ea, eb = combination([a], [1.0]), combination([b], [1.0])
    diff = combination([a, b], [1.0, -1.0])
    assert diff["estimate"] == pytest.approx(ea["estimate"] - eb["estimate"], abs=1e-12)
    assert diff["se"] < 0.5 * np.hypot(ea["se"], eb["se"])


def test_group_effects_and_difference_cover_over_seeds():
    """Coverage-type check (not one seed): 40 cities of the hardest design (10 districts,
    cohorts of 1, 1 and 2). Nominal 95%; P(binomial(40, 0.95) <= 33) < 0.01."""
    r = run_design(design("g10_c112"), reps=40, seed0=1000)
    assert r["valid"] == 1.0
    for key in ("cover_newcomer", "cover_long_term", "cover_diff"):
        assert r[key] >= 34 / 40, (key, r)
    assert abs(r["mean_diff"] - r["true_difference"]) < 4 * r["sd_diff"] / np.sqrt(40)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["g10_c112", "g25_c2345"])
def test_coverage_300_cities(name):
    """300 cities per design (bench/coverage_groups.py measured 0.95-0.98): within
    0.92-0.99 for each group's effect and for the difference."""
    r = run_design(design(name), reps=300, seed0=1)
    for key in ("cover_newcomer", "cover_long_term", "cover_diff"):
        assert 0.92 <= r[key] <= 0.99, (key, r)


def test_small_group_is_not_published_but_small_cells_are_used():
    panel = draw_group_panel(design("g12_c222"), 3)
    big = panel[panel.group_value == "newcomer"].copy()
    small = big.iloc[:1].assign(group_value="planted", n_responses=3)
    out = group_effect(small, S)
    assert out["estimate"] is None and out["n_responses"] is None and "reason" in out
    # a group whose cells are mostly under the threshold is still estimated from them
    tiny_cells = big.assign(n_responses=np.minimum(big["n_responses"], 4))
    assert (tiny_cells["n_responses"] < S.min_cell_size).all()
    assert group_effect(tiny_cells, S)["estimate"] is not None


def test_gaps_name_the_least_trusting_group_and_say_the_gap_narrowed():
    panel = draw_group_panel(design("g25_c2345").with_(respondents=400), 11)
    gaps = evaluate_groups(panel, "trust_index", S)["group_gaps"]["tenure"]
    assert gaps["reference"] == "newcomer"
    pair = gaps["pairs"]["long_term"]
    assert pair["gap_before"] == pytest.approx(0.45, abs=0.1)
    assert pair["gap_after"] < pair["gap_before"]
    assert pair["gap_change_due_to_program"] == "narrowed"

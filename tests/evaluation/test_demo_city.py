"""The full demo city (25 districts x 120 months) and coverage over several small cities."""

from __future__ import annotations

import json
import time

import pytest
import sim_panels
from evaluation_sizes import FAST, SMALL

from evaluation.results_json import dumps
from evaluation.run import evaluate
from evaluation.settings import EvaluationSettings
from simulator.city import simulate_city

OUTCOMES = ("crime_total", "crime_violent", "crime_property", "trust_index", "safety_index")


@pytest.mark.slow
def test_demo_city_intervals_contain_truth(tmp_path):
    folder = simulate_city(tmp_path / "demo", seed=2024)
    dm = sim_panels.district_month(folder)
    dq = sim_panels.district_quarter_survey(folder, dm)
    truth = json.loads((folder / "truth.json").read_text())["outcomes"]
    clock = time.perf_counter()
    res = evaluate(dm, dq, EvaluationSettings(), city="Demo City", generated_at="x")
    print(f"demo evaluation: {time.perf_counter() - clock:.1f}s", res["_timings"])
    for name in OUTCOMES:
        o = res["outcomes"][name]
        assert o["ci_low"] <= truth[name]["overall"] <= o["ci_high"], name
        print(
            name,
            "truth",
            truth[name]["overall"],
            "estimate",
            o["estimate"],
            "TWFE bias",
            o["twfe_estimate"] - truth[name]["overall"],
        )
    assert dumps(res) == dumps(
        evaluate(dm, dq, EvaluationSettings(), city="Demo City", generated_at="x")
    )


@pytest.mark.slow
def test_coverage_over_small_cities(tmp_path):
    """Across 10 cities, each outcome's interval misses the truth at most twice."""
    misses = dict.fromkeys(OUTCOMES, 0)
    settings = EvaluationSettings(**{**FAST.to_dict(), "ri_permutations": 0})
    for seed in range(40, 50):
        folder = simulate_city(tmp_path / str(seed), seed=seed, **SMALL)
        dm = sim_panels.district_month(folder)
        dq = sim_panels.district_quarter_survey(folder, dm)
        truth = json.loads((folder / "truth.json").read_text())["outcomes"]
        res = evaluate(dm, dq, settings, city="c", generated_at="x")
        for name in OUTCOMES:
            o = res["outcomes"][name]
            misses[name] += not o["ci_low"] <= truth[name]["overall"] <= o["ci_high"]
    assert max(misses.values()) <= 2, misses

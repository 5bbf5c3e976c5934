"""Is the survey headline (CS on weighted district-quarter means) unbiased for truth.json?

The chain is tested link by link, each with a tolerance taken from a Monte Carlo over seeds of
the same simulator and estimator (figures below; the slow test reproduces the default city's):

1. no sampling error at all (`expected_survey_panel`): the estimator must reproduce the truth's
   definition (equal weight per treated district-quarter, every post quarter, quarter holding
   the start date = first treated quarter). Over 200 default-city seeds the gap had mean
   +0.0001, sd 0.0014, max |gap| 0.0058 (parallel trends hold on the latent scale, the answer
   scale is nonlinear); tolerance 0.006. Mistakes it catches, on seed 12's trust index
   (truth 0.224): headline truncated to the event window (8 quarters) 0.134, cohort coded one
   quarter late 0.194, group aggregation 0.199, event-time aggregation 0.260;
2. the weighted cell means of the panel are unbiased for the population mean (unweighted ones
   are not: older residents answer more and trust more);
3. with many respondents the estimate from real responses is within sampling error of the
   truth: over 100 seeds of this city (12 districts, 60 months, 4,000 respondents per cell)
   estimate - truth had mean +0.0002 (MC se 0.0009) and sd 0.0086 for trust, -0.0005 (0.0010)
   and sd 0.0105 for safety; tolerance 3.5 sd;
4. the pandas test panels equal the pipeline's SQL panels, so all this holds for `marts`.

The slow test repeats the default city (25 districts, 120 months, 60 respondents per cell) over
30 seeds through the evaluation layer: no bias beyond Monte Carlo error and honest intervals.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import sim_panels

from evaluation.outcomes import spec
from evaluation.settings import EvaluationSettings
from evaluation.survey import evaluate_survey
from simulator.city import simulate_city

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assets"))
from data_layer_helpers import ingest, month_keys  # noqa: E402

from warehouse.panels import (  # noqa: E402
    build_district_month,
    build_district_quarter_survey,
)
from warehouse.sql import ensure_schemas  # noqa: E402

INDICES = ("trust_index", "safety_index")
CHEAP = EvaluationSettings(bootstrap_draws=99, ri_permutations=0, survey_sampling_draws=20)
LOW_CRIME = 0.05  # incidents per 1,000: crime is not under test; survey files do not change
LARGE_SAMPLE = dict(n_districts=12, months=60, survey_responses_per_cell=4000)
LARGE_SAMPLE_SD = {"trust_index": 0.0086, "safety_index": 0.0105}  # MC over 100 seeds


def _panels(folder: Path) -> tuple[pd.DataFrame, dict]:
    dm = sim_panels.district_month(folder)
    dq = sim_panels.district_quarter_survey(folder, dm)
    return dq, json.loads((folder / "truth.json").read_text())["outcomes"]


@pytest.fixture(scope="module")
def demo_city(tmp_path_factory) -> Path:
    return simulate_city(tmp_path_factory.mktemp("demo"), seed=12, incidents_per_1000=LOW_CRIME)


@pytest.fixture(scope="module")
def large_sample_city(tmp_path_factory) -> Path:
    return simulate_city(
        tmp_path_factory.mktemp("large"), seed=7, incidents_per_1000=LOW_CRIME, **LARGE_SAMPLE
    )


@pytest.mark.parametrize("name", INDICES)
def test_without_sampling_error_the_estimate_is_the_truth(demo_city, name):
    truth = json.loads((demo_city / "truth.json").read_text())["outcomes"][name]["overall"]
    exact = sim_panels.expected_survey_panel(demo_city)
    got = evaluate_survey(exact, spec(name), CHEAP)["estimate"]
    assert got == pytest.approx(truth, abs=0.006), (name, got, truth)


def test_expected_panel_matches_the_files_of_the_city(demo_city):
    """The noise-free panel has the layout, cohorts and treated flags of the real one."""
    dq, _ = _panels(demo_city)
    exact = sim_panels.expected_survey_panel(demo_city)
    keys = ["district_id", "period", "index_name"]
    both = dq.merge(exact, on=keys, suffixes=("", "_exact"), validate="one_to_one")
    assert len(both) == len(dq) == len(exact)
    assert (both["cohort_period"] == both["cohort_period_exact"]).all()
    assert (both["treated"] == both["treated_exact"]).all()
    assert (both["quarter"] == both["quarter_exact"]).all()


def test_weighted_cell_means_are_unbiased_for_the_population_mean(large_sample_city):
    dq, _ = _panels(large_sample_city)
    exact = sim_panels.expected_survey_panel(large_sample_city)
    both = dq.merge(exact, on=["district_id", "period", "index_name"], suffixes=("", "_exact"))
    resp = pd.read_csv(large_sample_city / "survey_responses.csv", dtype={"district_id": str})
    quarter = pd.to_datetime(resp["response_date"]).dt.to_period("Q")
    first = dq["quarter"].min().to_period("Q")
    resp["period"] = (quarter.dt.year - first.year) * 4 + quarter.dt.quarter - first.quarter + 1
    for name, items in sim_panels.INDICES.items():
        cells = both[both["index_name"] == name]
        gap = cells["mean"] - cells["mean_exact"]
        se = np.sqrt((cells["se"] ** 2).sum()) / len(cells)
        assert abs(gap.mean()) < 4 * se, (name, gap.mean(), se)
        unweighted = resp.assign(y=resp[items].mean(axis=1)).groupby(["district_id", "period"])
        plain = unweighted["y"].mean().rename("plain").reset_index()
        plain = plain.merge(cells, on=["district_id", "period"])
        # the test has teeth: the unweighted mean misses the population mean by many SEs
        assert abs((plain["plain"] - plain["mean_exact"]).mean()) > 10 * se, name


@pytest.mark.parametrize("name", INDICES)
def test_many_respondents_estimate_is_within_sampling_error(large_sample_city, name):
    dq, truth = _panels(large_sample_city)
    got = evaluate_survey(dq, spec(name), CHEAP)["estimate"]
    tolerance = 3.5 * LARGE_SAMPLE_SD[name]
    assert got == pytest.approx(truth[name]["overall"], abs=tolerance), (name, got)


def test_pandas_survey_panel_equals_the_pipeline_panel(tmp_path):
    folder = simulate_city(
        tmp_path / "city", seed=3, n_districts=8, months=36, incidents_per_1000=LOW_CRIME
    )
    dq, _ = _panels(folder)
    con = duckdb.connect()
    try:
        ensure_schemas(con)
        keys = month_keys("2016-01", "2018-12")
        config = ingest(con, folder, keys)
        build_district_month(con, config, keys[-1])
        build_district_quarter_survey(con, config)
        sql = con.execute("SELECT * FROM marts.district_quarter_survey").df()
    finally:
        con.close()
    both = dq.merge(sql, on=["district_id", "period", "index_name"], suffixes=("", "_sql"))
    assert len(both) == len(dq) == len(sql)
    for col in ("mean", "se", "sum_weights"):
        np.testing.assert_allclose(both[col], both[f"{col}_sql"], rtol=1e-9, atol=1e-12)
    for col in ("n_responses", "cohort_period", "treated"):
        assert (both[col].astype(int) == both[f"{col}_sql"].astype(int)).all(), col


@pytest.mark.slow
def test_no_bias_over_seeds_of_the_default_city(tmp_path):
    """30 default cities: mean(estimate - truth) within 3.5 Monte Carlo SE, honest intervals.

    Reference (seeds 100-149): bias -0.005 (MC se 0.007) trust, +0.002 (0.007)
    safety; sd 0.048 / 0.052; 95% intervals covered 94% / 96%. A shortfall like seed 2024's
    (trust 0.123 vs 0.224) is one draw: P(estimate - truth <= -0.10) was 0.5% over 200 seeds.
    """
    settings = EvaluationSettings(bootstrap_draws=199, ri_permutations=0, survey_sampling_draws=50)
    rows = []
    for seed in range(300, 330):
        folder = simulate_city(tmp_path / str(seed), seed=seed, incidents_per_1000=LOW_CRIME)
        dq, truth = _panels(folder)
        for name in INDICES:
            o = evaluate_survey(dq, spec(name), settings)
            true = truth[name]["overall"]
            rows.append((name, o["estimate"] - true, o["ci_low"] <= true <= o["ci_high"]))
    frame = pd.DataFrame(rows, columns=["index", "error", "covered"])
    for name, g in frame.groupby("index"):
        mc_se = g["error"].std(ddof=1) / np.sqrt(len(g))
        assert abs(g["error"].mean()) < 3.5 * mc_se, (name, g["error"].mean(), mc_se)
        assert g["error"].std(ddof=1) < 0.08, name  # reference sd ~0.05: precision kept
        assert g["covered"].sum() >= 24, (name, g["covered"].sum())  # P(< 24 of 30) < 0.1%

"""HonestDiD target and breakdown (evaluation.diagnostics.honest) and small-cell suppression of
published survey aggregates (evaluation.context.survey_trend, survey baseline)."""

from __future__ import annotations

import pandas as pd
import pytest
import sim_panels

from evaluation import context
from evaluation.diagnostics import honest_window
from evaluation.run import evaluate
from evaluation.settings import EvaluationSettings
from evaluation.survey import baseline_mean
from simulator.city import simulate_city

OUTCOMES = ("crime_total", "crime_violent", "crime_property", "trust_index", "safety_index")
# ARP hybrid at Mbar = 0 tests at size (alpha - kappa) / (1 - kappa) = 0.0452 and finds the
# edges by bisection: its interval is ~1-2% of a half-width wider than the plain one. A wrong
# target or a wrong covariance moves the edges by far more than 5%.
EDGE_TOLERANCE = 0.05
BIG = EvaluationSettings(
    outcomes=("crime_total", "trust_index"),
    bootstrap_draws=49,
    ri_permutations=0,
    survey_sampling_draws=0,
)


@pytest.fixture(scope="module")
def big_effect_results(tmp_path_factory):
    """Large, clean effects: 4x the demo effects, many incidents and responses."""
    folder = simulate_city(
        tmp_path_factory.mktemp("big"),
        seed=5,
        effect_scale=4.0,
        n_districts=14,
        months=48,
        incidents_per_1000=10.0,
        survey_responses_per_cell=80,
    )
    dm = sim_panels.district_month(folder)
    dq = sim_panels.district_quarter_survey(folder, dm)
    return evaluate(dm, dq, BIG, city="Big", generated_at="2026-01-01T00:00:00Z")


def _target(o: dict) -> tuple[float, float, float]:
    d = o["details"]
    lo, hi = d["honestdid_target_ci"]
    return d["honestdid_target_estimate"], lo, hi


@pytest.mark.parametrize("name", OUTCOMES)
def test_rm_interval_at_mbar_zero_is_the_plain_interval_of_the_target(small_results, name):
    o = small_results["outcomes"][name]
    est, lo, hi = _target(o)
    at_zero = next(r for r in o["honestdid"] if r["m"] == 0)
    assert at_zero["ci_low"] <= est <= at_zero["ci_high"]
    half = (hi - lo) / 2
    assert abs(at_zero["ci_low"] - lo) <= EDGE_TOLERANCE * half
    assert abs(at_zero["ci_high"] - hi) <= EDGE_TOLERANCE * half
    assert lo < est < hi


@pytest.mark.parametrize("name", OUTCOMES)
def test_breakdown_is_the_largest_mbar_whose_interval_excludes_zero(small_results, name):
    o = small_results["outcomes"][name]
    rows = o["honestdid"]
    grid = [r["m"] for r in rows]
    resolution = min(b - a for a, b in zip(grid, grid[1:], strict=False)) / 2**4

    def excludes(r):
        return (
            r["ci_low"] is not None
            and r["ci_high"] is not None
            and (r["ci_low"] > 0 or r["ci_high"] < 0)
        )

    bd = o["honestdid_breakdown"]
    if bd is None:
        assert not excludes(rows[0])
        return
    for r in rows:
        if r["m"] <= bd:
            assert excludes(r), (r, bd)
        elif r["m"] >= bd + resolution:
            assert not excludes(r), (r, bd)
    # robust intervals grow with Mbar
    finite = [r for r in rows if r["ci_low"] is not None and r["ci_high"] is not None]
    widths = [r["ci_high"] - r["ci_low"] for r in finite]
    assert widths == sorted(widths)


@pytest.mark.parametrize("name", BIG.outcomes)
def test_large_clean_effects_survive_a_positive_violation(big_effect_results, name):
    o = big_effect_results["outcomes"][name]
    est, lo, hi = _target(o)
    assert lo > 0 or hi < 0
    assert o["honestdid_breakdown"] > 0.25, o["honestdid"]
    # the target is the average over the whole event window (months 0..29 in half-years)
    assert o["honestdid_window"] == {"first_month": 0, "last_month": 29, "bin_months": 6}
    assert "months 0-29 after roll-out" in o["honestdid_target"]


@pytest.mark.parametrize("name", OUTCOMES)
def test_no_effect_city_target_interval_holds_zero_and_breakdown_is_not_applicable(
    null_results, name
):
    o = null_results["outcomes"][name]
    _, lo, hi = _target(o)
    assert lo <= 0 <= hi
    assert o["honestdid_breakdown"] is None
    assert any(
        n.startswith(f"{name}: HonestDiD breakdown not applicable") for n in null_results["notes"]
    )


def test_honest_window_covers_the_configured_event_window_in_half_years():
    assert honest_window(EvaluationSettings()) == (-4, 4)  # [-12, 24] months, 3 leads
    assert honest_window(EvaluationSettings(event_window=(-36, 11))) == (-6, 1)
    assert honest_window(EvaluationSettings(honestdid_pre=1, event_window=(-6, 24))) == (-2, 4)


def _cells(n_small: int) -> pd.DataFrame:
    """Two quarters; in the second the only comparison district has `n_small` responses."""
    rows = []
    for quarter, period in (("2023-01-01", 1), ("2023-04-01", 2)):
        rows += [
            ("A", quarter, period, 3.0, 40, 2),
            ("B", quarter, period, 3.5, 35, 2),
            ("C", quarter, period, 4.0, 30 if period == 1 else n_small, 0),
        ]
    f = pd.DataFrame(
        rows, columns=["district_id", "quarter", "period", "mean", "n_responses", "cohort_period"]
    )
    return f.assign(quarter=pd.to_datetime(f["quarter"]), index_name="trust_index")


def test_survey_trend_hides_group_means_below_min_cell_size():
    trend = context.survey_trend(_cells(3), "trust_index", min_cell_size=10)
    first, second = trend
    assert first["comparison_mean"] == 4.0 and first["comparison_n"] == 30
    assert second["comparison_mean"] is None and second["comparison_n"] == 3
    assert second["comparison_suppressed"] is True
    assert second["treated_mean"] == pytest.approx((3.0 * 40 + 3.5 * 35) / 75)
    assert context.suppressed_count(trend) == 1
    shown = context.survey_trend(_cells(10), "trust_index", min_cell_size=10)
    assert shown[1]["comparison_mean"] == 4.0 and "comparison_suppressed" not in shown[1]


def test_survey_baseline_is_not_published_from_too_few_responses():
    cells = pd.DataFrame({"mean": [3.0, 4.0], "n_responses": [4, 5]})
    assert baseline_mean(cells, 10) is None
    assert baseline_mean(cells, 9) == 3.5


def test_results_note_says_how_many_survey_averages_are_hidden(small_city):
    dm, dq, _ = small_city
    dq = dq.copy()
    never = dq.loc[dq["cohort_period"] == 0, "district_id"].unique()
    quarter = dq["quarter"].max()
    # last quarter: one resident per comparison district, fewer than 10 in all
    small = dq["district_id"].isin(never) & (dq["quarter"] == quarter)
    dq.loc[small, "n_responses"] = 1
    settings = EvaluationSettings(
        outcomes=("trust_index",), bootstrap_draws=0, ri_permutations=0, survey_sampling_draws=0
    )
    res = evaluate(dm, dq, settings, city="Small", generated_at="2026-01-01T00:00:00Z")
    last = res["trends"]["trust_index"][-1]
    assert last["comparison_mean"] is None and last["comparison_suppressed"] is True
    assert last["comparison_n"] == int(small.sum() / 2)  # two indices share the rows
    assert any("not published" in n for n in res["notes"])

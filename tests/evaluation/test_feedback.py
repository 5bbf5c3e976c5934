"""evaluation/feedback.py: the published numbers are what they claim to be.

Intervals are checked by Monte Carlo coverage (many replications, fixed seeds, bounds wide
enough for the Monte Carlo error: with 1,000 replications the standard error of a 95%
coverage is 0.7 points), the means by exact reproduction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.feedback import (
    cluster_ratio,
    item_means,
    meeting_feedback,
    slope_with_interval,
    theme_shift,
    trust_gains,
)

REPS = 1000


def test_pooled_mean_interval_covers_with_unequal_districts():
    rng = np.random.default_rng(11)
    for g in (4, 6, 12):
        cover = 0
        for _ in range(REPS):
            n = rng.integers(20, 200, g)
            mu = 3 + rng.normal(0, 0.3, g)
            sums = rng.normal(mu * n, np.sqrt(n))  # sum of n ratings with sd 1 around mu
            out = cluster_ratio(sums, n, 0.05)
            cover += out["ci_low"] <= 3 <= out["ci_high"]
        assert 0.93 <= cover / REPS <= 0.995, (g, cover / REPS)


def test_pooled_mean_is_the_ratio_of_sums_and_one_district_has_no_interval():
    out = cluster_ratio(np.array([30.0]), np.array([10.0]), 0.05)
    assert out["mean"] == 3.0 and out["ci_low"] is None and out["n"] == 10


@pytest.mark.slow  # about 15 s
def test_slope_interval_and_permutation_test_hold_with_few_districts():
    rng = np.random.default_rng(12)
    for g in (5, 6, 10):
        cover = reject = 0
        for rep in range(REPS):
            x = rng.normal(3.3, 0.3, g)
            y = 0.25 * (x - 3.3) + rng.normal(0, 0.05, g)
            out = slope_with_interval(x, y, 0.05, rep, 499)
            cover += out["ci_low"] <= 0.25 <= out["ci_high"]
            null = slope_with_interval(x, rng.normal(0, 0.05, g), 0.05, rep, 499)
            reject += null["p_permutation"] <= 0.05
        assert 0.935 <= cover / REPS <= 0.965, (g, cover / REPS)
        assert 0.03 <= reject / REPS <= 0.07, (g, reject / REPS)


def _theme_panel(rng, g: int, delta: float) -> pd.DataFrame:
    rows = []
    for d in range(g):
        p0 = rng.uniform(0.1, 0.3)
        size = rng.integers(40, 400)
        for treated, p in ((0, p0), (1, p0 + delta)):
            k = rng.binomial(size, p)
            for theme, n in (("property", k), ("other", size - k)):
                rows.append(
                    {
                        "district_id": f"{d:03d}",
                        "theme": theme,
                        "n": n,
                        "treated": treated,
                        "start_quarter": pd.Timestamp("2020-01-01"),
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.slow  # about 40 s
def test_theme_shift_interval_covers_the_change_in_share():
    rng = np.random.default_rng(13)
    for g in (5, 10):
        cover = 0
        for _ in range(REPS):
            out = theme_shift(_theme_panel(rng, g, -0.05), 0.05)["shift"]["property"]
            cover += out["ci_low"] <= -0.05 <= out["ci_high"]
        assert 0.93 <= cover / REPS <= 0.99, (g, cover / REPS)


def _items_panel() -> pd.DataFrame:
    rows = []
    for d, start in (("A", "2020-04-01"), ("B", None)):
        for q, (s, n) in enumerate(((7.0, 2), (9.0, 3), (20.0, 5))):
            quarter = pd.Timestamp("2020-01-01") + pd.DateOffset(months=3 * q)
            rows.append(
                {
                    "district_id": d,
                    "quarter": quarter,
                    "item": "felt_heard",
                    "sum": s,
                    "n": n,
                    "mean": s / n,
                    "start_quarter": pd.Timestamp(start) if start else pd.NaT,
                    "treated": int(start is not None and quarter >= pd.Timestamp(start)),
                }
            )
    return pd.DataFrame(rows)


def test_item_mean_is_response_weighted_and_small_cells_are_suppressed():
    out = item_means(_items_panel(), 0.05, 3)["felt_heard"]
    assert out["mean"] == pytest.approx((7 + 9 + 20) * 2 / 20, abs=1e-12)
    assert out["n"] == 20
    by = {p["event_time"]: p for p in out["by_period"]}  # treated district A only
    assert by[-1]["mean"] is None and by[-1]["n"] == 2 and "suppressed" in by[-1]
    assert by[0]["mean"] == 3.0 and by[1]["mean"] == 4.0


def test_trust_gain_nets_out_the_never_treated_change():
    rows = []
    for d, cohort, level, jump in (("A", 3, 3.0, 0.4), ("C", 0, 2.5, 0.0)):
        for period in range(1, 6):
            common = 0.1 * (period >= 3)
            own = jump * (period >= 3) if cohort else 0.0
            rows.append(
                {
                    "district_id": d,
                    "index_name": "trust_index",
                    "period": period,
                    "mean": level + common + own,
                    "cohort_period": cohort,
                }
            )
    assert trust_gains(pd.DataFrame(rows))["A"] == pytest.approx(0.4, abs=1e-12)


def test_absent_feedback_gives_a_reason_and_nothing_else():
    out = meeting_feedback(None, None, {}, alpha=0.05, min_cell_size=10, seed=1)
    assert set(out) == {"reason"} and "no meeting feedback" in out["reason"]

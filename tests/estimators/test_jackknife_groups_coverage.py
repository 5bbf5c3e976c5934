"""Coverage of the grouped cluster jackknife at many districts (issue 17), through
`bench.coverage_jackknife_groups` on `simulator.few_district.many_districts` cities (half
never treated, cohorts of 1, 2 and three larger unequal sizes, AR(1) lognormal
overdispersion, 72 months; crime effect -5% growing -0.05 points a month, survey +0.15).

MEASURED_PLACEHOLDER

The fast tests run a handful of cities of an 80-district design with 25 groups (three to
four districts a group, so the grouping matters) and check what a wrong grouping fails: the
grouped SEs agree on average with leave-one-out's on the same cities, and the errors in
grouped SEs are of the size the SEs claim (mean squared t-statistic, loosely). A grouping
that split a district's months across groups would understate the SE (a district's months
are correlated); `test_check_catches_a_wrong_grouping` shows the check fails then.
"""

import numpy as np
import pytest

import estimators.poisson as poisson_module
from bench.coverage_jackknife_groups import EFFECT, fit_city, run_design
from simulator.few_district import many_districts

FAST = many_districts(80, 60, **EFFECT)
FAST_METHODS = {"loo": None, "k25": 25}
FAST_SEEDS = range(700_000, 700_006)


def se_ratio_and_mean_t2(outcome: str, seeds=FAST_SEEDS) -> tuple[float, float]:
    """Mean over cities of SE(k25) / SE(loo), and of ((estimate - truth) / SE(k25))^2."""
    ratios, t2 = [], []
    for seed in seeds:
        r = fit_city(FAST, seed, FAST_METHODS, (outcome,))[outcome]
        (est, se, *_), se_loo = r["k25"], r["loo"][1]
        ratios.append(se / se_loo)
        t2.append(((est - r["truth"]) / se) ** 2)
    return float(np.mean(ratios)), float(np.mean(t2))


@pytest.mark.parametrize("outcome", ["crime", "survey"])
def test_grouped_se_agrees_with_leave_one_out(outcome):
    ratio, t2 = se_ratio_and_mean_t2(outcome)
    # per city the grouped SE varies by ~10% around leave-one-out's (24 df); over six cities
    # the mean ratio has an MC SE of ~0.05, so 0.8-1.25 allows 4 MC SEs
    assert 0.8 <= ratio <= 1.25, ratio
    # mean of six squared t(24) statistics: expectation ~1.1, sd ~0.7
    assert t2 < 4.0, t2


def _row_groups(cluster_codes, cohort, max_groups):
    """A wrong grouping: rows (district-months) dealt round-robin, splitting districts."""
    codes = np.unique(cluster_codes, return_inverse=True)[1].ravel()
    if max_groups is None:  # leave-one-out stays right: only the grouping is wrong
        return codes, int(codes.max()) + 1
    return np.arange(len(codes)) % max_groups, max_groups


def test_check_catches_a_wrong_grouping(monkeypatch):
    monkeypatch.setattr(poisson_module, "jackknife_groups", _row_groups)
    ratio, _ = se_ratio_and_mean_t2("crime", FAST_SEEDS[:3])
    assert ratio < 0.8, ratio


@pytest.mark.slow
def test_grouped_coverage_100_districts():
    d = many_districts(100, 72, **EFFECT)
    r = run_design(d, 400, seed0=0, methods={"k50": 50})
    for outcome in ("crime", "survey"):
        s = r["outcomes"][outcome]["k50"]
        assert s["reps"] == 400, r
        assert 0.93 <= s["coverage"] <= 0.97, (outcome, s)
        assert 0.85 <= s["se_sd_ratio"] <= 1.2, (outcome, s)
        assert abs(s["bias_sd"]) < 0.15, (outcome, s)

"""Coverage of the grouped cluster jackknife at many districts (issue 17), through
`bench.coverage_jackknife_groups` on `simulator.few_district.many_districts` cities (half
never treated, cohorts of 1, 2 and three larger unequal sizes, AR(1) lognormal
overdispersion, 72 months; crime effect -5% growing -0.05 points a month, survey +0.15).

Measured (Nov 2026, `python -m bench.coverage_jackknife_groups --designs 100 --reps 400`,
seeds 0-399, 100 districts = cohorts 1/2/7/15/25 + 50 never; MC SE of coverage 0.009-0.012;
full table with 150 and 300 districts in docs/evaluation.md, "Many districts"):

    outcome  method                 coverage  SE/SD  width / leave-one-out  mean df
    crime    leave one out          0.963     1.01   1                      99
    crime    50 groups (default)    0.955     1.00   1.001                  49
    crime    25 groups              0.950     0.99   1.021                  24
    survey   leave one out          0.940     1.00   1                      80
    survey   50 groups (default)    0.938     0.99   1.006                  44
    survey   25 groups              0.945     0.98   1.021                  23

Paired on the same cities, 50 groups cover 0.7 points (crime, MC SE 0.4) and 0.3 points
(survey, MC SE 0.3) less often than leave-one-out; bias/SD +0.10 (crime), +0.08 (survey).
The slow test recomputes the 50-group rows (the same seeds) and asserts 0.93-0.97, SE/SD
0.85-1.2 and |bias/SD| < 0.15; at MC SE 0.011 a grouping that lost a few points of
coverage fails.

The fast tests run a handful of cities of an 80-district design with 25 groups (three to
four districts a group, so the grouping matters) and check what a wrong grouping fails: the
grouped SEs agree on average with leave-one-out's on the same cities, and the errors in
grouped SEs are of the size the SEs claim (mean squared t-statistic, loosely). A grouping
that split a district's months across groups would understate the SE (a district's months
are correlated); `test_check_catches_a_wrong_grouping` shows the check fails then.
Measured on the fast seeds: mean SE ratio 1.01 (crime) and 0.97 (survey), mean squared t
2.7 and 0.9; with districts split across groups the crime ratio is 0.54.
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

"""The grouped cluster jackknife (`estimators.few_clusters.jackknife_groups`), used when a city
has more districts than `model.jackknife_groups`.

- The grouping: identity up to the limit; beyond it, exactly `max_groups` groups whose sizes
  differ by at most one, clusters of a cohort smaller than the number of groups in distinct
  groups, and the same groups whatever the row order (no seed).
- Poisson and average-of-pre-base: the grouped variance equals (K-1)/K sum (theta_(k) -
  mean)^2 with theta_(k) refitted from scratch on the panel without group k's districts
  (Poisson 1e-8, as test_poisson_options.py; the linear estimator 1e-10, as
  test_avgbase_estimator.py), with t(K-1); with the limit at or above G nothing changes.
Coverage of the grouped jackknife at 100-300 districts: bench/coverage_jackknife_groups.py
(docs/evaluation.md, "Many districts").
"""

import numpy as np
import pandas as pd
import pytest

from estimators.avgbase import fit_avg_base
from estimators.few_clusters import jackknife_groups, jackknife_vcov
from estimators.imputation import fit_imputation
from estimators.panel import prepare_panel
from estimators.poisson import fit_poisson
from simulator.panel_dgp import simulate_staggered_panel


def test_identity_up_to_the_limit():
    codes = np.array([3, 3, 7, 9, 7])
    groups, k = jackknife_groups(codes, np.zeros(5), 3)
    assert k == 3 and groups.tolist() == [0, 0, 1, 2, 1]
    groups, k = jackknife_groups(codes, np.zeros(5), None)
    assert k == 3 and groups.tolist() == [0, 0, 1, 2, 1]


def test_groups_are_balanced_mixed_and_independent_of_row_order():
    rng = np.random.default_rng(0)
    n = 137
    cohort_of = rng.choice([0, 0, 0, 5, 9, 13], n)
    cohort_of[:2] = 21  # a two-district cohort
    cohort_of[2] = 30  # a one-district cohort
    rows = np.repeat(np.arange(n), 4)
    groups, k = jackknife_groups(rows, cohort_of[rows], 20)
    assert k == 20
    per_cluster = groups[::4]
    sizes = np.bincount(per_cluster, minlength=k)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == n
    for c in np.unique(cohort_of):
        members = per_cluster[cohort_of == c]
        if len(members) <= k:
            assert len(set(members)) == len(members), c  # never two in one group
    order = rng.permutation(len(rows))
    shuffled, _ = jackknife_groups(rows[order], cohort_of[rows][order], 20)
    assert (shuffled == groups[order]).all()


def test_too_few_groups_refused():
    with pytest.raises(ValueError, match="at least 2 groups"):
        jackknife_groups(np.arange(5), np.zeros(5), 1)


@pytest.fixture(scope="module")
def counts():
    df, _ = simulate_staggered_panel(n_units=24, n_periods=8, cohorts=(4, 6), seed=11, poisson=True)
    df["pop"] = np.exp(np.random.default_rng(2).normal(8, 0.3, len(df)))
    return df


def _group_refits(df, groups, n_groups, estimate):
    unit_group = dict(zip(df["unit"], groups, strict=True))
    g = df["unit"].map(unit_group).to_numpy()
    return np.array([estimate(df[g != k].reset_index(drop=True)) for k in range(n_groups)])


def test_poisson_grouped_jackknife_matches_refits_from_scratch(counts):
    df = counts
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    res = fit_poisson(
        panel, exposure=df["pop"].to_numpy(), vcov="jackknife", jackknife_max_groups=7
    )
    groups, k = jackknife_groups(df["unit"].to_numpy(), df["cohort"].to_numpy(), 7)
    assert k == 7

    def estimate(sub):
        p = prepare_panel(sub, unit="unit", time="time", outcome="y", cohort="cohort")
        return fit_poisson(p, exposure=sub["pop"].to_numpy()).overall.estimate

    reps = _group_refits(df, groups, k, estimate)
    var = (k - 1) / k * np.sum((reps - reps.mean()) ** 2)
    assert abs(res.overall.se - np.sqrt(var)) < 1e-8
    assert res.inference["df"] == k - 1
    assert "grouped" in " ".join(res.notes)
    plain = fit_poisson(panel, exposure=df["pop"].to_numpy(), vcov="jackknife")
    same = fit_poisson(
        panel, exposure=df["pop"].to_numpy(), vcov="jackknife", jackknife_max_groups=24
    )
    assert same.overall.se == plain.overall.se and same.inference["df"] == 23
    assert abs(res.overall.se - plain.overall.se) > 1e-6  # the grouping did change something


def test_poisson_counts_only_districts_in_the_fit_against_the_limit(counts):
    """A district without a single count is not in the Poisson fit; three of them must not
    turn a 21-district fit (limit 22) into a grouped jackknife. (Grouping all 24 would pair the
    first two districts in cohort order with the last two, all four in the fit.)"""
    df = counts.copy()
    never = df.loc[df["cohort"] == 0, "unit"].unique()[-3:]  # not the first: see below
    df.loc[df["unit"].isin(never), "y"] = 0
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    pop = df["pop"].to_numpy()
    res = fit_poisson(panel, exposure=pop, vcov="jackknife", jackknife_max_groups=22)
    plain = fit_poisson(panel, exposure=pop, vcov="jackknife")
    assert res.inference["n_clusters"] == 21 and res.inference["jackknife_groups"] is None
    assert res.overall.se == plain.overall.se and res.inference["df"] == 20
    grouped = fit_poisson(panel, exposure=pop, vcov="jackknife", jackknife_max_groups=20)
    assert grouped.inference["jackknife_groups"] == 20 and grouped.inference["df"] == 19


def test_avg_base_grouped_jackknife_matches_refits_from_scratch():
    df, _ = simulate_staggered_panel(n_units=21, n_periods=9, cohorts=(4, 6, 8), seed=4)
    res = fit_avg_base(
        df,
        unit="unit",
        time="time",
        outcome="y",
        cohort="cohort",
        small_sample=False,
        jackknife_max_groups=6,
    )
    groups, k = jackknife_groups(df["unit"].to_numpy(), df["cohort"].to_numpy(), 6)

    def estimate(sub):
        p = prepare_panel(sub, unit="unit", time="time", outcome="y", cohort="cohort")
        return fit_imputation(p, leave_out=False).overall.estimate

    reps = _group_refits(df, groups, k, estimate)
    var = float(jackknife_vcov(reps[:, None], np.array([reps.mean()]))[0, 0])
    assert res.se[0] ** 2 == pytest.approx(var, abs=1e-10)
    assert res.df == k - 1 and res.n_clusters == 21
    assert "grouped" in res.method
    scaled = fit_avg_base(
        df, unit="unit", time="time", outcome="y", cohort="cohort", jackknife_max_groups=6
    )
    assert 1 <= scaled.df <= k - 1  # Satterthwaite df of a K-group jackknife
    full = fit_avg_base(
        df, unit="unit", time="time", outcome="y", cohort="cohort", small_sample=False
    )
    assert full.df == 20 and "leave one district out" in full.method
    assert isinstance(pd.DataFrame(res.table()), pd.DataFrame)

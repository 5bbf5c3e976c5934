"""Randomization inference over roll-out dates."""

import numpy as np
import pytest

from estimators.panel import prepare_panel
from estimators.randomization import TWFEStatistic, randomization_inference, unit_cohorts
from estimators.sun_abraham import fit_sun_abraham
from estimators.twfe import fit_twfe
from simulator.panel_dgp import simulate_staggered_panel


def _panel(effect=1.0, seed=0, frac=1.0, n_units=40):
    df, _ = simulate_staggered_panel(
        n_units=n_units,
        n_periods=8,
        base_effect=effect,
        growth=0.0 if effect == 0 else 0.5,
        seed=seed,
    )
    if frac < 1:
        df = df.sample(frac=frac, random_state=seed).sort_values(["unit", "time"])
    return prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")


def test_vectorised_twfe_batch_equals_refitting_each_draw():
    panel = _panel(frac=0.85)  # unbalanced: the batch must not assume a balanced panel
    _, per_unit = unit_cohorts(panel)
    rng = np.random.default_rng(1)
    draws = np.stack([rng.permutation(per_unit) for _ in range(15)])
    stat = TWFEStatistic()
    batch = stat.batch(panel, draws)
    from estimators.randomization import with_cohorts

    row_unit, _ = unit_cohorts(panel)
    loop = [fit_twfe(with_cohorts(panel, row_unit, d)).overall.estimate for d in draws]
    assert np.max(np.abs(batch - loop)) < 1e-10


def test_permutations_keep_the_cohort_multiset_and_seed_reproduces():
    panel = _panel()
    a = randomization_inference(panel, n_permutations=199, seed=3)
    b = randomization_inference(panel, n_permutations=199, seed=3)
    c = randomization_inference(panel, n_permutations=199, seed=4)
    assert np.array_equal(a.null_draws, b.null_draws) and a.p_value == b.p_value
    assert not np.array_equal(a.null_draws, c.null_draws)
    assert a.observed == pytest.approx(fit_twfe(panel).overall.estimate)


def test_strong_effect_gives_minimal_p_and_null_is_not_rejected():
    strong = randomization_inference(_panel(effect=3.0), n_permutations=199, seed=0)
    assert strong.p_value == pytest.approx(1 / 200)  # +1 correction: never 0
    pvals = [
        randomization_inference(_panel(effect=0.0, seed=s), n_permutations=99, seed=s).p_value
        for s in range(12)
    ]
    assert min(pvals) >= 0.01 and np.mean(pvals) > 0.25


def test_generic_callable_statistic():
    panel = _panel(n_units=30)
    res = randomization_inference(
        panel, lambda p: fit_sun_abraham(p).overall.estimate, n_permutations=19, seed=2
    )
    assert len(res.null_draws) == 19 and 1 / 20 <= res.p_value <= 1
    assert res.observed == pytest.approx(fit_sun_abraham(panel).overall.estimate)
    greater = randomization_inference(panel, n_permutations=99, seed=2, alternative="greater")
    assert (
        greater.p_value <= randomization_inference(panel, n_permutations=99, seed=2).p_value + 1e-12
    )

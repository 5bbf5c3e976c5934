"""The batched RI statistic (evaluation/ri_batch.py) against the per-draw one it replaces.

The claim is "same numbers": every draw the batch covers equals `ReassignedCS` (itself tested
against a full att_gt refit in test_ri.py) to 1e-10, the draws it hands back are exactly those
where a rule could change the result, and `randomization_step` gives the same p-values and
Romano-Wolf adjusted p-values with and without it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import ri_sim

import evaluation.permutations as permutations
from estimators.cs_core import estimate_cells, plan_cells
from evaluation.inference import ReassignedCS, StudentizedCS
from evaluation.permutations import outcome_panel, randomization_step
from evaluation.ri_batch import BatchedCS
from evaluation.ri_batch_rc import BatchedRC, build_batch
from evaluation.settings import EvaluationSettings
from simulator.few_district import design


def _pair(name, control, anticipation, design_name="g16_c123", seed=4):
    crime, survey = ri_sim.five_outcome_city(design(design_name), seed)
    stat = StudentizedCS(control, anticipation)
    fast = ReassignedCS.build(stat, outcome_panel(name, crime, survey))
    return fast, build_batch(fast.design, control, anticipation)


def _assert_batch_matches(fast, batch, draws):
    """Every draw the batch covers equals the per-draw statistic to 1e-10; the rest are NaN
    and handed back, and they are the minority."""
    values, fallback = batch(draws)
    assert fallback.mean() < 0.5  # the batch does the work, not the fallback
    for c, v, back in zip(draws, values, fallback, strict=True):
        if back:
            assert math.isnan(v)
            continue
        ref = fast(c)
        assert ref is not None and math.isfinite(ref)
        assert v == pytest.approx(ref, rel=1e-10, abs=1e-10)
    return values, fallback


@pytest.mark.parametrize("name", ["crime_total", "trust_index"])
@pytest.mark.parametrize(("control", "anticipation"), [("notyet", 0), ("never", 0), ("notyet", 1)])
def test_batch_equals_the_per_draw_statistic(name, control, anticipation):
    fast, batch = _pair(name, control, anticipation)
    own = fast.design.unit_cohort
    rng = np.random.default_rng(7)
    draws = np.array([own] + [rng.permutation(own) for _ in range(150)])
    _assert_batch_matches(fast, batch, draws)


def test_draws_a_rule_could_change_go_back_to_the_per_draw_path():
    fast, batch = _pair("crime_total", "notyet", 0)
    own = fast.design.unit_cohort
    first = fast.design.periods[0]
    early = own.copy()
    early[np.flatnonzero(own > 0)[0]] = first  # treated from the first period: R drops it
    none_never = np.where(own == 0, own.max(), own)  # no never-treated unit
    alone = np.where(own > 0, own.max(), 0.0)  # one cohort; still analysable
    values, fallback = batch(np.array([early, none_never, alone, own]))
    assert fallback.tolist() == [True, True, False, False]
    assert fast(early) is None and fast(none_never) is None  # the per-draw path refits these
    assert values[2] == pytest.approx(fast(alone), rel=1e-10)


def test_trimming_bound_goes_back_to_the_per_draw_path():
    """A cohort holding nearly all the weight would trigger propensity trimming in R's cells."""
    fast, batch = _pair("crime_total", "never", 0)
    c = fast.design.unit_cohort.copy()
    heavy = BatchedCS(fast.design, "never", 0)
    heavy.w = heavy.w.copy()
    treated = np.flatnonzero(c > 0)
    heavy.w[treated] *= 1e4
    _, fallback = heavy(c[None, :])
    assert fallback.all()


def _unbalanced_city(design_name="g16_c123", seed=4, frac=0.05, crime_frac=None):
    """The five-outcome city with a share of district-months (`crime_frac`, default `frac`)
    and district-quarters missing (R did's repeated-cross-section cells, `BatchedRC`)."""
    crime, survey = ri_sim.five_outcome_city(design(design_name), seed)
    crime_frac = frac if crime_frac is None else crime_frac
    crime = crime.drop(crime.sample(frac=crime_frac, random_state=seed).index)
    survey = survey.drop(survey.sample(frac=frac, random_state=seed + 1).index)
    return crime, survey


def _unbalanced_pair(name, control, anticipation, crime, survey):
    fast = ReassignedCS.build(
        StudentizedCS(control, anticipation), outcome_panel(name, crime, survey)
    )
    assert not fast.design.balanced
    return fast, build_batch(fast.design, control, anticipation)


@pytest.mark.parametrize("name", ["crime_total", "trust_index"])
@pytest.mark.parametrize(("control", "anticipation"), [("notyet", 0), ("never", 0), ("notyet", 1)])
def test_unbalanced_batch_equals_the_per_draw_statistic(name, control, anticipation):
    """Crime carries population weights, the survey panel unit weights; 5% of rows missing."""
    fast, batch = _unbalanced_pair(name, control, anticipation, *_unbalanced_city())
    assert isinstance(batch, BatchedRC)
    own = fast.design.unit_cohort
    rng = np.random.default_rng(8)  # ~0.1 s per draw in the per-draw reference
    draws = np.array([own] + [rng.permutation(own) for _ in range(30)])
    _assert_batch_matches(fast, batch, draws)


def test_unbalanced_block_size_does_not_change_the_numbers(monkeypatch):
    fast, batch = _unbalanced_pair("trust_index", "notyet", 0, *_unbalanced_city())
    own = fast.design.unit_cohort
    rng = np.random.default_rng(9)
    draws = np.array([rng.permutation(own) for _ in range(40)])
    whole, _ = batch(draws)
    monkeypatch.setattr(BatchedRC, "_chunk", lambda self, groups: 3)
    np.testing.assert_allclose(batch(draws)[0], whole, rtol=1e-12, atol=1e-12)


def test_unbalanced_cells_without_observations_are_dropped_as_per_draw():
    """No unit of a cohort observed in its base period: R's `reg_did_rc` cannot estimate that
    cohort's post cells, the per-draw path drops them and aggregates the rest; so must the
    batch, also once the cohort's label moves to other districts in a reshuffle."""
    crime, survey = _unbalanced_city(frac=0.01)
    g = crime.loc[crime["cohort_period"] > 0, "cohort_period"].min()
    periods = np.sort(crime["period"].unique())
    base = periods[periods < g][-1]
    crime = crime.loc[~((crime["cohort_period"] == g) & (crime["period"] == base))]
    fast, batch = _unbalanced_pair("crime_total", "notyet", 0, crime, survey)
    own = fast.design.unit_cohort
    rng = np.random.default_rng(10)
    draws = np.array([own] + [rng.permutation(own) for _ in range(30)])
    values, fallback = _assert_batch_matches(fast, batch, draws)
    assert not fallback[0]
    d = dataclasses.replace(fast.design, unit_cohort=own, groups=np.unique(own[own > 0]))
    plans = plan_cells(d, "varying", 0)
    att, _, kept, _ = estimate_cells(d, plans, "notyet", 0, "reg")
    assert len(kept) < len(plans)  # the per-draw path did drop cells on the actual roll-out


def test_covariates_are_not_batched():
    fast, _ = _unbalanced_pair("crime_total", "notyet", 0, *_unbalanced_city())
    d = fast.design
    with_x = dataclasses.replace(d, row_x=np.column_stack([d.row_x, d.row_y**2]))
    assert build_batch(with_x, "notyet", 0) is None
    balanced, _ = _pair("crime_total", "notyet", 0)
    d = balanced.design
    assert (
        build_batch(dataclasses.replace(d, x_wide=np.repeat(d.x_wide, 2, axis=2)), "notyet", 0)
        is None
    )


@pytest.mark.parametrize(
    ("design_name", "control", "missing", "n_perm"),
    [
        ("g16_c123", "notyet", 0.0, 99),
        ("g10_c112", "never", 0.0, 99),
        ("g16_c123", "notyet", 0.05, 49),  # survey quarters missing (the beat city's case)
    ],
)
def test_randomization_step_numbers_unchanged(monkeypatch, design_name, control, missing, n_perm):
    """Old (per draw) vs new (batched) on a small city, balanced and with 3% of the
    district-quarters missing: p, adjusted p and draws to 1e-10 (missing district-months,
    slower in the per-draw path, are compared draw by draw above)."""
    if missing:
        crime, survey = _unbalanced_city(design_name, 2, missing, crime_frac=0.0)
    else:
        crime, survey = ri_sim.five_outcome_city(design(design_name), 2)
    s = EvaluationSettings(
        outcomes=ri_sim.OUTCOMES, ri_permutations=n_perm, seed=5, control_group=control
    )
    recorded = {}
    original = permutations._draws

    def record(fam, name, orders, stat):
        recorded[name] = original(fam, name, orders, stat)
        return recorded[name]

    monkeypatch.setattr(permutations, "_draws", record)
    new = {n: {} for n in ri_sim.OUTCOMES}
    new_section = randomization_step(crime, survey, s, new)
    new_draws = dict(recorded)
    monkeypatch.setattr(permutations, "build_batch", lambda *a: None)
    old = {n: {} for n in ri_sim.OUTCOMES}
    old_section = randomization_step(crime, survey, s, old)
    assert new_section == old_section
    for n in ri_sim.OUTCOMES:
        assert new[n]["ri"] == old[n]["ri"] and new[n]["adjusted_p"] == old[n]["adjusted_p"]
        np.testing.assert_allclose(new_draws[n], recorded[n], rtol=1e-10, atol=1e-10)

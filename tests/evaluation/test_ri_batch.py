"""The batched RI statistic (evaluation/ri_batch.py) against the per-draw one it replaces.

The claim is "same numbers": every draw the batch covers equals `ReassignedCS` (itself tested
against a full att_gt refit in test_ri.py) to 1e-10, the draws it hands back are exactly those
where a rule could change the result, and `randomization_step` gives the same p-values and
Romano-Wolf adjusted p-values with and without it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import ri_sim

import evaluation.permutations as permutations
from evaluation.inference import ReassignedCS, StudentizedCS
from evaluation.permutations import outcome_panel, randomization_step
from evaluation.ri_batch import BatchedCS
from evaluation.settings import EvaluationSettings
from simulator.few_district import design


def _pair(name, control, anticipation, design_name="g16_c123", seed=4):
    crime, survey = ri_sim.five_outcome_city(design(design_name), seed)
    stat = StudentizedCS(control, anticipation)
    fast = ReassignedCS.build(stat, outcome_panel(name, crime, survey))
    return fast, BatchedCS.build(fast.design, control, anticipation)


@pytest.mark.parametrize("name", ["crime_total", "trust_index"])
@pytest.mark.parametrize(("control", "anticipation"), [("notyet", 0), ("never", 0), ("notyet", 1)])
def test_batch_equals_the_per_draw_statistic(name, control, anticipation):
    fast, batch = _pair(name, control, anticipation)
    own = fast.design.unit_cohort
    rng = np.random.default_rng(7)
    draws = np.array([own] + [rng.permutation(own) for _ in range(150)])
    values, fallback = batch(draws)
    assert fallback.mean() < 0.5  # the batch does the work, not the fallback
    for c, v, back in zip(draws, values, fallback, strict=True):
        if back:
            assert math.isnan(v)
            continue
        ref = fast(c)
        assert ref is not None and math.isfinite(ref)
        assert v == pytest.approx(ref, rel=1e-10, abs=1e-10)


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


def test_unbalanced_panel_or_covariates_are_not_batched():
    crime, survey = ri_sim.five_outcome_city(design("g16_c123"), 4)
    crime = crime.drop(crime.sample(frac=0.05, random_state=1).index)
    fast = ReassignedCS.build(
        StudentizedCS("notyet", 0), outcome_panel("crime_total", crime, survey)
    )
    assert BatchedCS.build(fast.design, "notyet", 0) is None


@pytest.mark.parametrize(
    ("design_name", "control"), [("g16_c123", "notyet"), ("g10_c112", "never")]
)
def test_randomization_step_numbers_unchanged(monkeypatch, design_name, control):
    """Old (per draw) vs new (batched) on a small city: p, adjusted p and draws to 1e-10."""
    crime, survey = ri_sim.five_outcome_city(design(design_name), 2)
    s = EvaluationSettings(
        outcomes=ri_sim.OUTCOMES, ri_permutations=99, seed=5, control_group=control
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
    monkeypatch.setattr(BatchedCS, "build", classmethod(lambda cls, *a: None))
    old = {n: {} for n in ri_sim.OUTCOMES}
    old_section = randomization_step(crime, survey, s, old)
    assert new_section == old_section
    for n in ri_sim.OUTCOMES:
        assert new[n]["ri"] == old[n]["ri"] and new[n]["adjusted_p"] == old[n]["adjusted_p"]
        np.testing.assert_allclose(new_draws[n], recorded[n], rtol=1e-10, atol=1e-10)

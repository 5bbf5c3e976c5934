"""Monte Carlo checks of the studentized randomization inference (slow; `make test-slow`).

Cities from `simulator.few_district` with five correlated outcomes (`ri_sim`); roll-out order
random across districts, so under no effect every RI p-value is exact and should reject at
5%. The measured rates (docs/evaluation.md, "Randomization inference: measured") come from
these same seeds; bounds are 5% +- about 2.5-3 Monte Carlo SEs, wide enough for chance and
narrow enough to catch the analytic normal test (|t| > 1.96 on the same statistic, which
over-rejects at 10-25% with one- and two-district cohorts) or a broken reshuffle.
"""

from __future__ import annotations

import numpy as np
import pytest
import ri_sim

from simulator.few_district import design

pytestmark = pytest.mark.slow

REPS = 500


@pytest.mark.parametrize("name", ["g10_c112", "g16_c123"])
def test_size_and_family_wise_error_under_no_effect(name):
    """500 null cities x 5 outcomes, 199 reassignments each (11-12 min per design, shared CPU)."""
    rows = [ri_sim.replicate(design(name), seed, 199) for seed in range(1, REPS + 1)]
    s = ri_sim.summarize(rows)
    for outcome, r in s["marginal"].items():
        assert 0.02 <= r["rate"] <= 0.08, (outcome, r)  # MC SE ~0.0097
    assert 0.02 <= s["any_romano_wolf"]["rate"] <= 0.08, s["any_romano_wolf"]
    assert s["any_marginal"]["rate"] > 0.1  # five tests unadjusted: the reason to adjust
    naive = np.array(
        [[abs(t) > 1.96 for t in ri_sim.observed_t(design(name), r["seed"]).values()] for r in rows]
    )
    assert naive.mean() > 0.09  # the analytic normal test is not valid here


def test_romano_wolf_has_more_power_than_bonferroni_for_correlated_outcomes():
    """400 cities with crime 10% lower in program districts (all three crime outcomes, which
    share the districts' noise), surveys unaffected; 99 reassignments each (~5 min)."""
    d = design("g25_c2345").with_(crime_effect=-0.10)
    rows = [ri_sim.replicate(d, seed, 99) for seed in range(1, 401)]
    s = ri_sim.summarize(rows)
    crime = ("crime_total", "crime_violent", "crime_property")
    for outcome in crime:
        rw, bonf = s["romano_wolf"][outcome]["rate"], s["bonferroni"][outcome]["rate"]
        assert rw > bonf and rw >= s["holm"][outcome]["rate"], (outcome, rw, bonf)
    # measured: about 1.5x as many rejections of the (false) crime nulls as Bonferroni
    rw_all = sum(s["romano_wolf"][o]["rate"] for o in crime)
    assert rw_all >= 1.3 * sum(s["bonferroni"][o]["rate"] for o in crime)
    assert s["any_romano_wolf"]["rate"] > s["any_bonferroni"]["rate"]
    for outcome in ("trust_index", "safety_index"):  # no effect: adjusted still rejects rarely
        assert s["romano_wolf"][outcome]["rate"] <= 0.05

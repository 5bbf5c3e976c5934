"""`model.power_simulations`: the MDE by simulation on the city's own panel (evaluation/power_sim).

Reference: the closed-form `mde` of the same run, (z_{0.975} + z_{0.8}) x headline SE. Both
estimate the same quantity, the smallest effect the headline test detects with 80% power on
this city, with the same estimator; the closed form assumes a normal estimate with a correct SE,
the simulation measures the spread over 20 re-drawn roll-outs (the SD of 20 draws alone is off
by ~16% at one SE, and the rejection rate moves in steps of 5%). With 14 districts they agree
only roughly, hence a factor of 2 (observed 0.94-1.03 on this city); a wrong scale (a rate MDE
not divided by the base rate, points vs proportions) or a lost z factor is off by far more.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from evaluation_sizes import FAST

from estimators.callaway_santanna import att_gt
from estimators.panel import prepare_panel
from estimators.poisson import fit_poisson
from evaluation.crime import crime_frame
from evaluation.outcomes import spec
from evaluation.power_sim import residualized, residualized_counts, survey_simulated_mde
from evaluation.run import evaluate
from evaluation.store import frames
from evaluation.survey import survey_frame

OUTCOMES = ("crime_total", "trust_index")
KEYS = ("mde_simulated", "mde_simulations", "mde_false_positive_rate")
SIMULATED = replace(FAST, outcomes=OUTCOMES, ri_permutations=0, power_simulations=20)


def _run(city, settings):
    dm, dq, _ = city
    return evaluate(dm, dq, settings, city="Small City", generated_at="2026-01-01T00:00:00Z")


@pytest.fixture(scope="module")
def runs(small_city):
    return _run(small_city, SIMULATED), _run(small_city, SIMULATED)


def test_keys_only_when_enabled(small_city):
    off = _run(small_city, replace(SIMULATED, outcomes=("trust_index",), power_simulations=0))
    o = off["outcomes"]["trust_index"]
    assert o["mde"] > 0
    assert not set(KEYS) & set(o) and "mde_simulated_method" not in o["details"]
    assert "power_simulation" not in o["_timings"]


@pytest.mark.parametrize("name", OUTCOMES)
def test_simulated_mde_is_finite_and_near_the_closed_form(runs, name):
    o = runs[0]["outcomes"][name]
    assert "reason" not in o, o.get("reason")
    sim, closed = o["mde_simulated"], o["mde"]
    assert math.isfinite(sim) and sim > 0
    assert 0.5 <= sim / closed <= 2.0, (name, sim, closed)
    assert o["mde_simulations"] == 20
    assert 0 <= o["mde_false_positive_rate"] <= 1
    assert "simulation" in o["details"]["mde_simulated_method"]
    assert o["_timings"]["power_simulation"] > 0


def test_simulated_mde_is_deterministic_and_stored(runs):
    first, second = runs
    for name in OUTCOMES:
        a, b = first["outcomes"][name], second["outcomes"][name]
        assert [a[k] for k in KEYS] == [b[k] for k in KEYS]
        assert a["details"] == b["details"]
    diag = frames(first, "run-1")["diagnostics"]
    stored = diag.loc[diag["name"] == "mde_simulated"].set_index("outcome")["value"]
    assert stored.to_dict() == {n: first["outcomes"][n]["mde_simulated"] for n in OUTCOMES}


def test_another_seed_changes_the_simulated_mde(small_city):
    _, dq, _ = small_city
    f = survey_frame(dq, spec("trust_index"))
    a = survey_simulated_mde(f, SIMULATED)[0]["mde_simulated"]
    b = survey_simulated_mde(f, replace(SIMULATED, seed=7))[0]["mde_simulated"]
    assert a != b and 0.5 < a / b < 2


def test_residualized_panel_has_no_effect_left(small_city):
    """The simulation starts from the panel minus the estimated effect: on the actual roll-out
    that panel's CS estimate is zero (every treated ATT(g, t) removed), the raw one's not."""
    _, dq, _ = small_city
    f = survey_frame(dq, spec("trust_index"))
    kw = dict(unit="district_id", time="period", outcome="mean", cohort="cohort_period")
    base = residualized(f, weights=None, settings=SIMULATED, **kw)

    def overall(frame):
        res = att_gt(frame, control_group="notyet", est_method="reg", **kw)
        return res.aggregate("simple").overall.estimate

    assert abs(overall(f)) > 0.05
    assert overall(base) == pytest.approx(0.0, abs=1e-10)
    untreated = (f["cohort_period"] == 0) | (f["period"] < f["cohort_period"])
    assert (base.loc[untreated, "mean"] == f.loc[untreated, "mean"]).all()


def test_without_comparison_districts_it_says_why(small_city):
    """fit_power re-draws which districts are treated and needs some never treated."""
    _, dq, _ = small_city
    f = survey_frame(dq, spec("trust_index"))
    last = int(f["period"].max())
    f["cohort_period"] = f["cohort_period"].where(f["cohort_period"] > 0, last)
    fields, _, notes = survey_simulated_mde(f, SIMULATED)
    assert fields["mde_simulated"] is None and fields["mde_simulations"] == 20
    assert any("not computed" in n for n in notes)


def test_crime_panel_without_the_estimated_effect(small_city):
    """Crime counts divided by the Poisson cell effects: the headline re-fit on them is ~0
    (up to rounding to whole incidents), and untreated cells are untouched."""
    dm, _, _ = small_city
    sp = spec("crime_total")
    f, _ = crime_frame(dm, sp)
    fit = _poisson(f, sp.count)
    base = residualized_counts(f, sp.count, fit)
    left = _poisson(base, sp.count).overall.estimate
    assert fit.overall.estimate < -0.015  # the small city's effect: -2.6% (SE 0.9%)
    assert abs(left) < 0.1 * abs(fit.overall.estimate)
    untreated = (f["cohort_period"] == 0) | (f["period"] < f["cohort_period"])
    assert (base.loc[untreated, sp.count] == f.loc[untreated, sp.count]).all()
    assert (base[sp.count] == base[sp.count].round()).all()


def _poisson(f, count):
    panel = prepare_panel(
        f,
        unit="district_id",
        time="period",
        outcome=count,
        cohort="cohort_period",
        covariates=["population"],
    )
    return fit_poisson(panel, exposure="population")

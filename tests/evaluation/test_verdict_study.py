"""Verdict rates on simulated cities (the confusion matrix of docs/evaluation.md).

Each city goes through the evaluation layer as a real one does (evaluate_crime /
evaluate_survey, then `evaluation.verdict.finalize`), see bench/verdict_study.py. Required by the
few-district issue: no-effect cities read "strong" at most 5% of the time, with or without a
pre-existing trend in the program districts; when a trend city's interval excludes zero the
verdict names the trend or the weak check at least 90% of the time; clean cities with an effect
of 5 SE read "strong" at least 80% of the time.

Measured (Nov 2026, see docs/evaluation.md): the first three hold; the last does not on the
battery's designs, and cannot with these checks: the linear pre-trend that would produce a
5-SE headline is only about 5 / (3 to 5) SE of its own slope estimate, because the headline's
base is the average of every pre-roll-out period (a long lever). That shortfall is recorded
by a strict xfail, which fails loudly the day it is fixed.
"""

import pytest

from bench.verdict_study import run_design
from simulator.few_district import design

pytestmark = pytest.mark.filterwarnings("ignore")


def test_trend_city_is_never_strong_and_names_the_trend_fast():
    """Loose and quick: 4 cities of each kind (g25)."""
    r = run_design(design("g25_c2345"), "crime", reps=4, seed0=101)
    assert r["trend"]["strong"] <= 1 / 4
    named = r["trend"]["named_trend_or_weak_given_excludes"]
    assert named is None or named >= 3 / 4
    assert r["null"]["strong"] <= 1 / 4
    # the checks run and can clear a large clean effect at all (not a rule that never says strong)
    assert r["effect_12se"]["interval_excludes_zero"] == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["crime", "survey"])
@pytest.mark.parametrize("name", ["g10_c112", "g25_c2345"])
def test_no_effect_cities_are_rarely_strong(name, kind):
    r = run_design(design(name), kind, reps=100, seed0=1)
    # 100 cities: a true rate of 5% exceeds 9% with probability about 0.06
    assert r["null"]["strong"] <= 0.09
    assert r["trend"]["strong"] <= 0.09
    named = r["trend"]["named_trend_or_weak_given_excludes"]
    assert named is None or named >= 0.9


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="5-SE effects cannot be told from the linear trend that would produce them "
    "(measured: strong in well under 80%); see the module docstring",
)
def test_five_se_effects_read_strong():
    r = run_design(design("g25_c2345"), "crime", reps=100, seed0=1)
    assert r["effect_5se"]["strong"] >= 0.8

"""Verdict rules, number wording and small-cell suppression, tested on their own."""

from __future__ import annotations

import pytest
from report_fixtures import demo_results

from reports.suppression import suppress_small_cells
from reports.wording import effect_sentence, range_phrase, verdict

STRONG = {
    "scale": "proportional",
    "estimate": -0.06,
    "ci_low": -0.10,
    "ci_high": -0.02,
    "verdict": {
        "level": "strong",
        "direction": "decrease",
        "concerns": [],
        "text": "Strong evidence of a decrease.",
    },
}


def test_report_words_the_verdict_evaluation_decided():
    """The report never re-decides: it shows level and sentence from results.json."""
    assert verdict(STRONG).level == "strong"
    assert verdict(STRONG).text == "Strong evidence of a decrease."
    some = {
        "level": "some",
        "direction": "decrease",
        "concerns": ["pre_trend"],
        "text": "Some evidence of a decrease, but X.",
    }
    v = verdict({**STRONG, "verdict": some})
    assert (v.level, v.text, v.concerns) == (
        "some",
        "Some evidence of a decrease, but X.",
        ["pre_trend"],
    )


def test_interval_with_zero_is_no_clear_evidence_with_its_range():
    none = {
        "level": "none",
        "direction": None,
        "concerns": [],
        "text": "No clear evidence of a change.",
    }
    v = verdict({**STRONG, "ci_low": -0.04, "ci_high": 0.03, "verdict": none})
    assert v.level == "none"
    assert v.text == (
        "No clear evidence of a change; the data are consistent with anything "
        "from 4% fewer to 3% more."
    )


@pytest.mark.parametrize("bad", [None, {}, {"level": "certain"}, "strong"])
def test_document_without_a_verdict_reads_unavailable(bad):
    o = {**STRONG, "verdict": bad}
    assert verdict(o).level == "unavailable"


def test_range_phrases():
    assert range_phrase(-0.10, -0.02, "proportional") == "2% to 10% fewer"
    assert range_phrase(0.02, 0.10, "proportional") == "2% to 10% more"
    assert range_phrase(-0.004, 0.03, "proportional") == "0.4% fewer to 3% more"
    assert range_phrase(0.1, 0.32, "points") == "0.10 to 0.32 points higher"


def test_effect_sentence_without_baseline_falls_back_to_percent():
    o = {**STRONG, "baseline_mean": None, "units": "month", "unit_label": "district"}
    s = effect_sentence("crime_violent", o)
    assert s.startswith("Violent crime: roughly 6% fewer violent incidents per month per district")
    assert "about" not in s


def test_suppression_blanks_small_and_unknown_counts():
    trends = {
        "trust_index": [
            {
                "period": "2020-01",
                "treated_mean": 3.2,
                "comparison_mean": 3.0,
                "treated_n": 9,
                "comparison_n": 10,
            },
            {"period": "2020-04", "treated_mean": 3.3, "comparison_mean": 3.1, "treated_n": 50},
        ],
        "crime_total": [{"period": "2020-01", "treated_mean": 100.0, "comparison_mean": 90.0}],
    }
    out, hidden = suppress_small_cells(trends, 10)
    t = out["trust_index"]
    assert t[0]["treated_mean"] is None and t[0]["treated_suppressed"]
    assert t[0]["comparison_mean"] == 3.0  # exactly the threshold is allowed
    assert t[1]["comparison_mean"] is None  # count missing: cannot vouch, so hidden
    assert out["crime_total"][0]["treated_mean"] == 100.0  # crime has no respondents
    assert hidden == 2
    assert trends["trust_index"][0]["treated_mean"] == 3.2  # input untouched


def test_suppression_threshold_comes_from_config():
    r = demo_results()
    r["run"]["config"]["model"]["min_cell_size"] = 100
    from reports import render

    html = render(r)
    n_small = sum(
        1
        for k in ("trust_index", "safety_index")
        for p in r["trends"][k]
        for g in ("treated_n", "comparison_n")
        if p[g] < 100
    )
    assert f"fewer than 100 responses is shown ({n_small} values are hidden" in " ".join(
        html.split()
    )

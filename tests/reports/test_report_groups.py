"""The "Who changed" section (issue 15): a dot chart per survey outcome with groups, one
sentence per group column about the gap, withheld groups named without numbers."""

from __future__ import annotations

import copy

from report_fixtures import demo_results

from reports.groups_view import who_changed
from reports.render import render


def _effect(est, lo, hi, n):
    return {
        "estimate": est,
        "se": (hi - lo) / 4,
        "ci_low": lo,
        "ci_high": hi,
        "df": 12,
        "n_responses": n,
    }


def _with_groups() -> dict:
    r = copy.deepcopy(demo_results())
    o = r["outcomes"]["trust_index"]
    o["by_group"] = {
        "tenure": {
            "new": _effect(0.512345, 0.31, 0.71, 900),
            "old": _effect(0.013579, -0.12, 0.15, 1500),
            "tiny": {
                "estimate": None,
                "ci_low": None,
                "ci_high": None,
                "n_responses": None,
                "reason": "fewer than 10 responses in all (model.min_cell_size): not published",
            },
        }
    }
    o["group_gaps"] = {
        "tenure": {
            "reference": "new",
            "pairs": {
                "old": {
                    "gap_before": 0.41,
                    "gap_after": 0.02,
                    "effect_difference": _effect(0.498, 0.27, 0.72, 0),
                    "gap_change_due_to_program": "narrowed",
                }
            },
        }
    }
    return r


def test_section_has_chart_sentence_and_withheld_group():
    view = who_changed(_with_groups(), ["trust_index", "safety_index"])
    assert view["any"] and len(view["blocks"]) == 1
    block = view["blocks"][0]
    assert "+0.51 (+0.31 to +0.71)" in block["chart"].caption
    (sentence,) = block["sentences"]
    assert "from +0.41 points before roll-out to +0.02 after" in sentence
    assert "narrowed the gap" in sentence
    assert block["withheld"] == [
        "tenure: tiny (fewer than 10 responses in all (model.min_cell_size): not published)"
    ]
    html = render(_with_groups())
    assert 'id="who-changed"' in html and "Who changed" in html
    assert html.count("<svg") == render(demo_results()).count("<svg") + 1


def test_no_groups_no_section():
    assert 'id="who-changed"' not in render(demo_results())
    assert not who_changed(demo_results(), ["trust_index"])["any"]


def test_group_chart_has_its_numbers_in_a_details_table():
    block = who_changed(_with_groups(), ["trust_index", "safety_index"])["blocks"][0]
    rows = {r[0]: r[1:] for r in block["chart"].table["rows"]}
    assert rows["tenure: new"] == ["+0.51", "+0.31", "+0.71"]
    assert block["chart"].unit == "change (points on the survey scale)"
    page = render(_with_groups())
    assert f'id="{block["chart"].id}-data"' in page
    assert rows["tenure: tiny"] == ["—", "—", "—"]  # a withheld cell shows no number


def test_a_gap_that_closed_and_turned_round_is_not_called_merely_narrowed():
    from reports.groups_view import gap_sentence

    gaps = copy.deepcopy(_with_groups()["outcomes"]["trust_index"]["group_gaps"]["tenure"])
    assert gap_sentence("tenure", gaps, "trust index").endswith("it narrowed the gap.")
    gaps["pairs"]["old"]["gap_after"] = -0.25
    sentence = gap_sentence("tenure", gaps, "trust index")
    assert "it closed the gap, and new residents now score higher than old residents" in sentence

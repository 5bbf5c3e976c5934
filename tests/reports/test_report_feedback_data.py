"""The numbers behind the meeting-feedback chart: a <details> table under it with the plotted
means and intervals, and two council_data sheets (ratings by quarter, themes), all read from
results.json's `meeting_feedback` (a chart without its table was an issue-14 gap)."""

from __future__ import annotations

import copy
import html
import io
import re

import openpyxl
from report_fixtures import demo_results

from reports import export
from reports.render import render

POINTS = [
    {"event_time": t, "mean": 3.0 + 0.1 * t, "ci_low": 2.8 + 0.1 * t, "ci_high": 3.2 + 0.1 * t,
     "n": 40 + t, "districts": 5, "se": 0.1}
    for t in range(-2, 4)
]  # fmt: skip


def _results() -> dict:
    r = copy.deepcopy(demo_results())
    r["meeting_feedback"] = {
        "items": {
            "felt_heard": {"mean": 3.3, "n": 300, "by_period": POINTS,
                           "by_cohort": {"2020-01": POINTS[:3]}},
        },
        "themes": {
            "shares": {"property": 0.4, "traffic": 0.6},
            "shift": {"property": {"before": 0.5, "after": 0.3, "change": -0.2,
                                   "ci_low": -0.3, "ci_high": -0.1, "se": 0.05}},
        },
        "association_with_trust": {},
    }  # fmt: skip
    return r


def test_feedback_chart_has_its_numbers_in_a_details_table():
    page = render(_results())
    match = re.search(r'<details class="chart-data" id="feedback-chart-data">(.*?)</details>',
                      page, re.S)  # fmt: skip
    assert match, "no data table under the feedback chart"
    cells = [html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1))]
    for p in POINTS:
        t = f"{p['event_time']:+d}" if p["event_time"] else "0"
        i = cells.index(t)
        assert cells[i + 1 : i + 5] == [
            f"{p['mean']:.2f}", f"{p['ci_low']:.2f}", f"{p['ci_high']:.2f}", f"{p['n']:,}"
        ]  # fmt: skip


def test_feedback_sheets_carry_every_published_point():
    r = _results()
    book = openpyxl.load_workbook(io.BytesIO(export.xlsx_bytes(r)))
    rows = list(book["feedback ratings"].iter_rows(values_only=True))
    assert rows[0][:4] == ("item", "cohort", "event_time", "mean")
    assert len(rows) == 1 + len(POINTS) + 3  # all treated districts, then the one cohort
    assert [row[3] for row in rows[1 : 1 + len(POINTS)]] == [p["mean"] for p in POINTS]
    themes = {row[0]: row for row in book["feedback themes"].iter_rows(values_only=True)}
    assert themes["property"][1:5] == (0.4, 0.5, 0.3, -0.2)
    assert themes["traffic"][1] == 0.6 and themes["traffic"][4] is None


def test_concerns_sentence_is_never_surer_than_the_crime_verdict():
    from reports.feedback_view import feedback_section

    r = _results()
    r["meeting_feedback"]["concerns_vs_crime"] = [
        {"theme": "violence", "outcome": "crime_violent", "crime_label": "violent",
         "share_change": -0.03, "crime_estimate": -0.08, "crime_moved": True},
    ]  # fmt: skip
    words = {}
    for level in ("strong", "some", "none", "unavailable"):
        r["outcomes"]["crime_violent"]["verdict"] = {"level": level, "text": "x", "concerns": []}
        (sentence,) = [s for s in feedback_section(r)["sentences"] if "Concerns about" in s]
        words[level] = sentence.split("recorded violent crime ")[1]
    assert words == {
        "strong": "fell by about 8% (strong evidence).",
        "some": "fell by about 8% (some evidence).",
        "none": "did not change clearly.",
        "unavailable": "did not change clearly.",
    }

"""Issue 14 in the rendered report: plain words above the methods, one shared caution, charts
that plot the unit they name (checked against results.json), the data behind every chart, the
spreadsheet, and the since-last-report section."""

from __future__ import annotations

import io
import re
import time

import pytest
from html_probe import probe
from openpyxl import load_workbook
from report_fixtures import demo_results, null_results, with_previous_run

from reports import render, render_brief
from reports.charts import MONTHS
from reports.export import tables, xlsx_bytes
from reports.wording import fmt_pct_abs, outcome_info

JARGON = ("parallel trends", "HonestDiD", "TWFE", "Callaway", "Sant'Anna", "Sant&#39;Anna")


@pytest.fixture(scope="module", params=["demo", "null"])
def case(request):
    r = with_previous_run(demo_results() if request.param == "demo" else null_results())
    return r, render(r)


def _above_methods(html: str) -> str:
    return html[: html.index('id="h-methods"')]


def test_no_method_names_above_the_methods_section(case):
    r, html = case
    for text in (_above_methods(html), render_brief(r)):
        for word in JARGON:
            assert word.lower() not in text.lower(), word
    # ... and the methods carry a glossary that explains them
    glossary = probe(html).by_id("methods").text
    for term in ("Parallel trends", "HonestDiD", "TWFE", "Callaway-Sant'Anna"):
        assert term in glossary


def test_a_shared_caution_is_printed_once():
    r = demo_results()
    caution = "the years before the program are too noisy"
    for o in r["outcomes"].values():  # every estimated outcome carries the same caution
        if o.get("verdict", {}).get("level") in ("strong", "some"):
            o["verdict"] = {
                **o["verdict"],
                "level": "some",
                "text": f"Some evidence of a decrease, but {caution} to rule it out.",
            }
    summary = probe(render(r)).by_id("summary").text
    assert summary.lower().count(caution) == 1
    assert "see the caution below" in summary


def _details_rows(html: str, chart_id: str) -> tuple[str, list[list[str]]]:
    """(unit, rows) of the data table under chart `chart_id`."""
    p = probe(html)
    details = p.by_id(f"{chart_id}-data")
    assert details is not None, f"no data table under {chart_id}"
    table = next(e for e in details.children[1].children if e.tag == "table")
    body = next(e for e in table.children if e.tag == "tbody")
    rows = [[" ".join(c.text.split()) for c in tr.children] for tr in body.children]
    return table.attrs["data-unit"], rows


def _num(text: str) -> float | None:
    t = text.replace(",", "").replace("%", "").replace("+", "")
    return None if t in ("—", "") else float(t)


def _axis_label(html: str, chart_id: str) -> list[str]:
    svg = html[html.index(f'<svg class="chart" id="{chart_id}"') :]
    svg = svg[: svg.index("</svg>")]
    return re.findall(r'class="axis-label"[^>]*>([^<]+)<', svg)


def test_every_chart_plots_results_in_the_unit_it_names(case):
    r, html = case
    months = MONTHS
    for key, points in r["trends"].items():
        o = r["outcomes"][key]
        unit, rows = _details_rows(html, f"chart-trend-{key}")
        assert unit in _axis_label(html, f"chart-trend-{key}")  # the axis names this unit
        if key.startswith("crime"):
            assert unit == f"average {outcome_info(key).noun} per district per month"
            # the sentences speak of incidents per district per month before roll-out
            # (baseline_mean); the plotted pre-roll-out level must be of that size, which a
            # chart of rates per 1,000 residents would miss by orders of magnitude
            first = _num(rows[0][1])
            assert 0.5 < first / o["baseline_mean"] < 2
        else:
            assert "(1–5)" in unit
        by_period = {p["period"]: p for p in points}
        for row in rows:
            mon, year = row[0].split()
            period = f"{year}-{months.index(mon) + 1:02d}"
            p = by_period[period]
            for cell, k in ((row[1], "treated_mean"), (row[2], "comparison_mean")):
                want = None if p.get(f"{k[:-5]}_suppressed") else p.get(k)
                got = _num(cell)
                if (
                    want is None
                    or (key.startswith("trust") or key.startswith("safety"))
                    and (p.get(f"{k[:-5]}_n") or 0) < 10
                ):
                    assert got is None
                else:
                    assert got == pytest.approx(want, abs=0.51 if abs(want) >= 100 else 0.051)
    for key, o in r["outcomes"].items():
        if not o.get("event_study"):
            continue
        unit, rows = _details_rows(html, f"chart-event-{key}")
        assert unit in _axis_label(html, f"chart-event-{key}")
        mult = 100 if o["scale"] == "proportional" else 1
        assert unit == ("change (%)" if mult == 100 else "change (points)")
        by_t = {p["event_time"]: p for p in o["event_study"]}
        for row in rows:
            p = by_t[int(row[0])]
            if p.get("estimate") is not None:
                tol = 0.051 if mult == 100 else 0.0051
                assert _num(row[1]) == pytest.approx(p["estimate"] * mult, abs=tol)
            if p.get("ci_low") is not None:
                assert _num(row[2]) == pytest.approx(p["ci_low"] * mult, abs=tol)


def test_rollout_and_meetings_charts_have_their_data(case):
    r, html = case
    _, rows = _details_rows(html, "chart-rollout")
    assert len(rows) == len(r["rollout"])
    _, rows = _details_rows(html, "chart-meetings")
    assert sum(int(row[2].replace(",", "")) for row in rows) == sum(
        m["attendees"] for m in r["meetings"]
    )


def test_spreadsheet_headline_carries_every_outcome_and_is_deterministic(case):
    r, _ = case
    data = xlsx_bytes(r)
    time.sleep(1.1)  # a wall-clock stamp anywhere in the file would now differ
    assert data == xlsx_bytes(r)  # same results, same bytes
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames[:6] == [
        "headline",
        "event studies",
        "trends",
        "roll-out",
        "meetings",
        "data quality",
    ]
    rows = list(wb["headline"].iter_rows(values_only=True))
    cols = rows[0]
    got = {row[0]: dict(zip(cols, row, strict=True)) for row in rows[1:]}
    assert set(got) == set(r["outcomes"])
    for name, o in r["outcomes"].items():
        assert got[name]["estimate"] == pytest.approx(o.get("estimate"))
        assert got[name]["ci_low"] == pytest.approx(o.get("ci_low"))
        assert got[name]["verdict_level"] == o["verdict"]["level"]


def test_exported_trends_hide_small_survey_cells():
    r = demo_results()
    cols, rows = tables(r)["trends"]
    i_mean, i_n = cols.index("treated_mean"), cols.index("treated_n")
    survey = [row for row in rows if row[0] in ("trust_index", "safety_index")]
    small = [row for row in survey if (row[i_n] or 0) < 10]
    assert small, "the fixture should have small cells"
    assert all(row[i_mean] is None for row in small)
    assert all("treated" in (row[-1] or "") for row in small)


def test_since_last_report_opens_the_report(case):
    r, html = case
    p = probe(html)
    sections = [e for e in p.find("section") if "report-section" in e.attrs.get("class", "")]
    assert sections[0].attrs["id"] == "since-last-report"
    text = " ".join(sections[0].text.split())
    assert "Since the October 2025 report, two more months of data arrived" in text
    assert "3 district-months of crime data already analysed were revised" in text
    est = r["outcomes"]["crime_violent"]["estimate"]
    before = r["previous_run"]["outcomes"]["crime_violent"]["estimate"]
    a, b = fmt_pct_abs(before), fmt_pct_abs(est)
    kind = "drop" if est < 0 else "rise"
    if a != b:
        assert f"The estimated {kind} in violent crime moved from {a} to {b}." in text
    else:
        assert f"The estimated {kind} in violent crime stayed at about {b}." in text
    # a first run has no such section
    assert probe(render(demo_results())).by_id("since-last-report") is None

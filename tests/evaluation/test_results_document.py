"""The typed results document: it reads what evaluation writes and writes it back unchanged."""

from __future__ import annotations

import json

import pytest
from evaluation_sizes import FAST

from engagement_eval.results import (
    ABSENT,
    CRIME_OUTCOMES,
    SURVEY_OUTCOMES,
    OutcomeResult,
    ResultsDocument,
    json_schema,
)
from evaluation.outcomes import CRIME, SURVEY
from evaluation.results_json import dumps, shape_errors
from evaluation.run import build_document

SHAPE = {
    "grain": "month",
    "grain_source": "default",
    "survey_grain": "quarter",
    "analysis_unit": "district",
    "crime_input": "incidents",
    "survey_input": "responses",
    "units_crosswalk": False,
    "meetings": False,
}


@pytest.fixture(scope="module")
def built(small_city):
    dm, dq, _ = small_city
    return build_document(
        dm,
        dq,
        FAST,
        shape=SHAPE,
        shape_notes=["a shape note"],
        city="Small City",
        generated_at="2026-01-01T00:00:00Z",
    )


def test_round_trip_on_an_evaluated_city(small_results):
    doc = ResultsDocument.from_dict(small_results)
    assert ResultsDocument.from_dict(doc.to_dict()) == doc
    assert dumps(doc) == dumps(small_results)  # the same bytes as the dict evaluation built
    reread = ResultsDocument.from_dict(json.loads(dumps(doc)))
    assert dumps(reread) == dumps(doc)


def test_every_key_evaluation_writes_is_named_in_the_schema(small_results, built):
    assert shape_errors(small_results) == []
    assert built.document.problems() == []


def test_builder_puts_shape_meetings_and_grain_in_the_document(built):
    doc, timings, cells = built
    assert doc.shape == SHAPE
    assert doc.meetings == []  # meetings not delivered: no zero months
    assert doc.run.settings["grain"] == "month" and "a shape note" in doc.notes
    assert set(timings) >= {"randomization_inference", *FAST.outcomes}
    assert "_timings" not in dumps(doc) and "timings" not in doc.to_dict()["run"]
    assert doc.with_timings({"x": 1.0}).run.timings == {"x": 1.0}
    assert doc.meeting_feedback.reason.startswith("no meeting feedback")  # none delivered
    assert doc.previous_run is ABSENT and set(cells) == set(FAST.outcomes)


def test_absent_and_null_stay_different():
    o = OutcomeResult.from_dict({"scale": "points", "reason": "no data", "estimate": None})
    assert o.estimate is None and o.ci_low is ABSENT
    assert o.to_dict() == {"scale": "points", "reason": "no data", "estimate": None}


def test_unknown_keys_are_kept_and_reported():
    raw = {
        "city": "X",
        "generated_at": "t",
        "inputs": [],
        "outcomes": {},
        "quality": {},
        "meeting_feedbak": [1],
    }
    doc = ResultsDocument.from_dict(raw)
    assert doc.to_dict() == raw
    assert doc.problems() == ["meeting_feedbak: key not in the schema (ResultsDocument)"]
    bad = {**raw, "outcomes": {"a": {"scale": "percent", "estimate": 1.0}}}
    errors = ResultsDocument.from_dict(bad).problems()
    assert "outcomes.a.scale is 'percent', not one of ('proportional', 'points')" in errors
    assert "outcomes.a lacks 'ci_low'" in errors


def test_outcome_names_agree_with_the_evaluation_specs():
    assert tuple(CRIME) == CRIME_OUTCOMES and tuple(SURVEY) == SURVEY_OUTCOMES


def test_json_schema_names_every_section():
    schema = json_schema()
    props = schema["properties"]
    assert set(props) == set(ResultsDocument.keys())
    outcome = props["outcomes"]["additionalProperties"]["properties"]
    assert {"verdict", "inference", "event_study", "details"} <= set(outcome)
    assert outcome["verdict"]["properties"]["level"]["description"].startswith("strong")
    json.dumps(schema)  # serialisable

"""The `feedback:` config section (issue 15): defaults, topic mapping, and refusals."""

from __future__ import annotations

import pytest

from engagement_eval.config import config_from_dict
from engagement_eval.contract import INPUTS
from engagement_eval.errors import UserError


def test_defaults_and_topic_mapping():
    fb = config_from_dict({"feedback": {"topic_map": {" Car break-ins ": "Property"}}}).feedback
    assert fb.items == ("felt_heard", "concerns_addressed", "would_attend_again")
    assert fb.scale == (1.0, 5.0)
    assert fb.theme_of("car BREAK-INS") == "property"
    assert fb.theme_of(" Youth ") == "youth"  # a theme name passes through
    assert fb.theme_of("potholes") == "other" and fb.theme_of("  ") is None


def test_items_expand_the_contract_and_can_be_mapped():
    config = config_from_dict(
        {"feedback": {"items": ["heard"]}, "columns": {"meeting_feedback": {"heard": "Q1"}}}
    )
    columns = INPUTS["meeting_feedback"].columns((), (), config.feedback.items)
    assert columns["heard"] == "float" and "comment" not in columns


@pytest.mark.parametrize(
    "section, key",
    [
        ({"itmes": ["a"]}, "feedback.itmes"),
        ({"items": []}, "feedback.items"),
        ({"items": ["a b"]}, "feedback.items"),
        ({"scale": [5, 1]}, "feedback.scale"),
        ({"scale": [1, float("nan")]}, "feedback.scale"),
        ({"topic_map": {"Noise": "noise"}}, "feedback.topic_map"),
        ("yes", "feedback"),
    ],
)
def test_bad_values_are_refused_naming_the_key(section, key):
    columns = {"meetings": {"attendees": "people"}}  # the column check runs first
    with pytest.raises(UserError) as err:
        config_from_dict({"feedback": section, "columns": columns})
    assert key in str(err.value)

"""survey.groups (issue 15): plain, distinct names that are not survey items or contract
columns; a city's own column is mapped like any contract column."""

from __future__ import annotations

import pytest

from engagement_eval.config import load_config
from engagement_eval.contract import INPUTS
from engagement_eval.errors import UserError


def _load(tmp_path, text: str):
    (tmp_path / "city.yaml").write_text(text, encoding="utf-8")
    return load_config(tmp_path / "city.yaml")


def test_groups_default_empty_and_are_read(tmp_path):
    assert _load(tmp_path, "city: X\n").survey.groups == ()
    cfg = _load(
        tmp_path,
        "survey: {groups: [age_group, tenure]}\n"
        "columns: {survey_responses: {age_group: Age Band}}\n",
    )
    assert cfg.survey.groups == ("age_group", "tenure")
    cols = INPUTS["survey_responses"].columns(cfg.survey.items, survey_groups=cfg.survey.groups)
    assert cols["age_group"] == "text" and cols["tenure"] == "text"
    assert cfg.column_map("survey_responses") == {"age_group": "Age Band"}


@pytest.mark.parametrize(
    "groups",
    ["[age group]", "['x; DROP TABLE t']", "[weight]", "[trust_police]", "[a, a]", "age_group"],
)
def test_bad_group_names_are_refused_with_a_fix(tmp_path, groups):
    with pytest.raises(UserError) as err:
        _load(tmp_path, f"survey: {{groups: {groups}}}\n")
    assert "survey.groups" in str(err.value) and "columns:" in str(err.value)

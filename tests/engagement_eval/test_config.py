"""City config: defaults, preset, city.yaml pick-up and clear errors for bad values."""

from datetime import date

import pytest

from engagement_eval.config import DEFAULTS, config_from_dict, load_config
from engagement_eval.contract import INPUTS, resolve_columns
from engagement_eval.errors import UserError


def test_defaults_match_the_documented_values():
    c = config_from_dict({})
    assert c.window_start is None and c.window_end is None  # both drawn from the data
    assert c.window_source == "data"
    assert c.survey.indices == {
        "trust_index": ("trust_police", "police_fair"),
        "safety_index": ("feel_safe",),
    }
    assert c.quality.max_bad_row_share == 0.01 and c.model.bootstrap_draws == 999
    assert c.attendance_threshold_per_1000 == DEFAULTS["rollout"]["attendance_threshold_per_1000"]


def test_preset_then_file_keys_override(tmp_path):
    (tmp_path / "city.yaml").write_text(
        "preset: chicago\nstudy_window: {start: 2019-03}\noffense_map: {THEFT: other}\n"
        "columns: {crime_incidents: {district_id: Beat}}\n"
    )
    c = load_config(None, tmp_path)
    assert c.city == "Chicago" and c.timezone == "America/Chicago"
    assert c.offense_map["THEFT"] == "other" and c.offense_map["ROBBERY"] == "violent"
    assert c.columns["crime_incidents"]["district_id"] == "Beat"
    assert c.columns["crime_incidents"]["occurred_at"] == "Date"
    assert c.window_start == date(2019, 3, 1)
    assert c.source.endswith("city.yaml")


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("timezone: Mars/Olympus\n", "timezone"),
        ("study_window: {start: 2016-13}\n", "study_window.start"),
        ("study_window: {start: 2020-01, end: 2019-01}\n", "before"),
        ("offense_map: {THEFT: stolen}\n", "offense_map"),
        ("columns: {crimes: {incident_id: ID}}\n", "columns.crimes"),
        ("columns: {crime_incidents: {incident: ID}}\n", "incident"),
        ("date_formats: {crime_incidents: {district_id: '%Y'}}\n", "date_formats"),
        ("survey: {indices: {trust_index: [not_an_item]}}\n", "survey.indices"),
        ("quality: {max_bad_row_share: 2}\n", "quality.max_bad_row_share"),
        ("model: {control_group: sometimes}\n", "model.control_group"),
        ("rollout: {randomized: yes please}\n", "rollout.randomized"),
        ("rollout: {randomized: 1}\n", "rollout.randomized"),
        ("rollout: {randomised: true}\n", "randomised"),
        ("preset: atlantis\n", "preset"),
        ("colums: {}\n", "unknown config key"),
        ("- a list\n", "mapping"),
        ("city: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_values_raise_user_errors_with_a_fix(tmp_path, yaml_text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(UserError) as info:
        load_config(path, None)
    assert needle in info.value.cause
    assert info.value.fix


def test_missing_column_error_names_file_column_and_mapping():
    config = config_from_dict({"columns": {"crime_incidents": {"occurred_at": "When"}}})
    with pytest.raises(UserError) as info:
        resolve_columns(
            INPUTS["crime_incidents"],
            ["incident_id", "Date", "district_id", "offense_category"],
            config,
            "x.csv",
        )
    err = info.value
    assert err.file == "x.csv" and err.column == "When"
    assert "occurred_at" in err.cause and "columns: {crime_incidents: {occurred_at:" in err.fix


def test_column_names_match_case_insensitively():
    config = config_from_dict({})
    got = resolve_columns(INPUTS["districts"], ["District_ID", "Population"], config, "d.csv")
    assert got == {"district_id": "District_ID", "population": "Population"}


def test_rollout_randomized_defaults_to_false_and_reads_a_boolean():
    """RI may be called exact only when the config says the roll-out order was randomized."""
    assert config_from_dict({}).rollout_randomized is False
    assert DEFAULTS["rollout"]["randomized"] is False
    assert config_from_dict({"rollout": {"randomized": True}}).rollout_randomized is True
    with pytest.raises(UserError) as info:
        config_from_dict({"rollout": {"randomized": "true"}})
    assert "rollout.randomized" in info.value.cause and "true" in info.value.fix

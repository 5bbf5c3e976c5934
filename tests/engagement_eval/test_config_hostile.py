"""Careless and hostile city configs are refused by name, with the fix (issue 13)."""

import pytest

from engagement_eval.config import config_from_dict, load_config
from engagement_eval.errors import UserError
from quality.settings import gate_settings

QUALITY_GATE_KEYS = ("gap_min_typical", "chunk_rows")


def test_quality_keys_the_gate_reads_are_accepted_and_reach_it():
    cfg = config_from_dict({"quality": dict.fromkeys(QUALITY_GATE_KEYS, 7)})
    gate = gate_settings(cfg)
    assert all(getattr(gate, key) == 7 for key in QUALITY_GATE_KEYS)


@pytest.mark.parametrize(
    "user, key",
    [
        ({"model": {"alpah": 0.1}}, "model.alpah"),
        ({"quality": {"max_bad_row_shar": 0.5}}, "quality.max_bad_row_shar"),
        ({"survey": {"scales": [1, 5]}}, "survey.scales"),
        ({"study_window": {"ned": "2020-01"}}, "study_window.ned"),
        ({"rollout": {"randomised": True}}, "rollout.randomised"),
    ],
)
def test_nested_typos_stop_the_run(user, key):
    with pytest.raises(UserError) as err:
        config_from_dict(user, "city.yaml")
    assert key in str(err.value) and "city.yaml" in str(err.value)


def test_known_nested_keys_still_pass():
    cfg = config_from_dict({"model": {"alpha": 0.1, "ri_permutations": 99}, "city": "Springfield"})
    assert cfg.model.alpha == 0.1 and cfg.city == "Springfield"


@pytest.mark.parametrize(
    "user, key",
    [
        ({"quality": {"max_bad_row_share": float("nan")}}, "quality.max_bad_row_share"),
        ({"model": {"alpha": float("nan")}}, "model.alpha"),
        ({"model": {"alpha": float("inf")}}, "model.alpha"),
        ({"survey": {"scale": [float("nan"), 5]}}, "survey.scale"),
        ({"city": None}, "city"),
        ({"city": "  "}, "city"),
        ({"model": "fast"}, "model"),
    ],
)
def test_values_that_would_switch_a_check_off_are_refused(user, key):
    with pytest.raises(UserError) as err:
        config_from_dict(user, "city.yaml")
    assert key in str(err.value)


def test_yaml_alias_bomb_is_refused_before_expansion(tmp_path):
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        bomb.append(f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 9)}]")
    bomb.append("city: *i")
    path = tmp_path / "city.yaml"
    path.write_text("\n".join(bomb) + "\n")
    assert path.stat().st_size < 1000
    with pytest.raises(UserError) as err:
        load_config(path)
    assert "anchor or alias" in str(err.value) and "line 1" in str(err.value)


def test_huge_config_file_is_refused(tmp_path):
    path = tmp_path / "city.yaml"
    path.write_text("city: x\n# " + "y" * 1_100_000 + "\n")
    with pytest.raises(UserError, match="larger than"):
        load_config(path)

"""The one config schema (issue 16): declared once, nested checks, overrides, docs, names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engagement_eval.config import DEFAULTS, CityConfig, ModelConfig, config_from_dict
from engagement_eval.config_schema import describe, markdown_table
from engagement_eval.errors import UserError
from engagement_eval.names import file_stem, identifier_problem

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_docs_table_is_the_schema():
    text = DOC.read_text(encoding="utf-8")
    begin = text.index("<!-- schema table")
    begin = text.index("\n", begin) + 1
    end = text.index("<!-- end of schema table -->")
    assert text[begin:end] == markdown_table(CityConfig), (
        "docs/configuration.md's key table differs from the schema; regenerate it with "
        "`python -m engagement_eval.config`"
    )


def test_every_key_has_a_default_a_check_and_a_doc():
    rows = describe(CityConfig)
    assert len(rows) == len({path for path, _, _ in rows}) > 30
    assert all(doc.strip() for _, _, doc in rows)
    # the defaults mapping, fed back, is the default config
    assert config_from_dict(DEFAULTS) == config_from_dict({})
    # the keys evaluation/settings.py used to read from the raw dict are now declared
    model_keys = {f.name for f in dataclasses.fields(ModelConfig)}
    assert {"outcomes", "ri_permutations", "honestdid_grid", "primary_outcome"} <= model_keys


@pytest.mark.parametrize(
    "user, path, near",
    [
        ({"model": {"alpah": 0.1}}, "model.alpah", "model.alpha"),
        ({"quality": {"chunk_row": 5}}, "quality.chunk_row", "quality.chunk_rows"),
        ({"study_window": {"ned": "2020-01"}}, "study_window.ned", "study_window.end"),
        ({"survey": {"idices": {}}}, "survey.idices", "survey.indices"),
        ({"timezon": "UTC"}, "timezon", "timezone"),
    ],
)
def test_unknown_key_names_its_path_and_the_nearest_valid_key(user, path, near):
    with pytest.raises(UserError) as err:
        config_from_dict(user, "city.yaml")
    assert path in err.value.cause and "city.yaml" in err.value.cause
    assert f"did you mean {near}?" in err.value.fix


@pytest.mark.parametrize(
    "user, path",
    [
        ({"model": {"ri_permutations": -1}}, "model.ri_permutations"),
        ({"model": {"dose_bins": 1}}, "model.dose_bins"),
        ({"model": {"honestdid_grid": [0, float("nan")]}}, "model.honestdid_grid"),
        ({"model": {"honestdid_pre": 2.5}}, "model.honestdid_pre"),
        ({"quality": {"gap_min_typical": 0}}, "quality.gap_min_typical"),
        ({"quality": {"chunk_rows": True}}, "quality.chunk_rows"),
        ({"model": {"event_window": [3, 24]}}, "model.event_window"),
        ({"grain": "week"}, "grain"),
        ({"study_window": {"start": "2016-13"}}, "study_window.start"),
    ],
)
def test_values_out_of_range_name_the_key(user, path):
    with pytest.raises(UserError) as err:
        config_from_dict(user, "city.yaml")
    assert f"{path} = " in err.value.cause and f"set {path} to" in err.value.fix


def test_with_overrides_merges_deeply_validates_and_leaves_the_original():
    base = config_from_dict({"model": {"alpha": 0.1, "seed": 3}, "city": "Springfield"}, "c.yaml")
    new = base.with_overrides({"model": {"seed": 5}})
    assert (new.model.seed, new.model.alpha, new.city) == (5, 0.1, "Springfield")
    assert base.model.seed == 3
    assert base.with_overrides(None) is base
    with pytest.raises(UserError) as err:
        base.with_overrides({"model": {"sed": 5}})
    assert "model.sed" in err.value.cause and "model.seed" in err.value.fix
    with pytest.raises(UserError, match="model.alpha"):
        base.with_overrides({"model": {"alpha": float("nan")}})


def test_overrides_keep_a_window_drawn_from_the_data():
    from datetime import date

    base = config_from_dict({}).with_data_window(date(2003, 1, 1))
    new = base.with_overrides({"model": {"seed": 1}})
    assert new.window_start == date(2003, 1, 1) and new.window_source == "data"
    pinned = base.with_overrides({"study_window": {"start": "2005-01"}})
    assert pinned.window_start == date(2005, 1, 1) and pinned.window_source == "config"


def test_launchpad_overrides_go_through_the_schema():
    """ModelRunConfig lists no keys: any `model:` key is accepted and checked by the schema."""
    import dagster as dg

    from assets.models import ModelRunConfig

    assert issubclass(ModelRunConfig, dg.PermissiveConfig)
    assert not ModelRunConfig.model_fields
    overrides = ModelRunConfig(seed=7, honestdid_pre=2).model_dump()
    cfg = config_from_dict({}).with_overrides({"model": overrides})
    assert (cfg.model.seed, cfg.model.honestdid_pre) == (7, 2)


@pytest.mark.parametrize("name", ["trust index", "trust-index", "_rn", "1st", "é" * 3, "x" * 61])
def test_survey_names_that_cannot_be_identifiers_are_refused_with_the_fix(name):
    with pytest.raises(UserError) as err:
        config_from_dict({"survey": {"indices": {name: ["trust_police"]}}}, "city.yaml")
    assert "survey.indices" in err.value.cause and repr(name)[:20] in err.value.cause
    assert "letters, digits and underscores" in err.value.fix
    items = ["trust_police", name]
    with pytest.raises(UserError, match="survey.items"):
        config_from_dict({"survey": {"items": items, "indices": {}}}, "city.yaml")


def test_trust_index_gets_a_usable_suggestion():
    with pytest.raises(UserError) as err:
        config_from_dict({"survey": {"indices": {"trust index": ["trust_police"]}}})
    assert "'trust_index'" in err.value.fix
    assert identifier_problem("trust_index") is None


def test_file_stem_of_any_city_name_is_short_and_safe():
    long_a = "Ciudad de " + "Nuestra Señora / " * 16 + "A"
    long_b = long_a[:-1] + "B"
    assert len(long_a) > 280
    a, b = file_stem(long_a), file_stem(long_b)
    assert len(a) <= 60 and len(b) <= 60 and a != b
    for stem in (a, b, file_stem("../../etc"), file_stem("\x00\u202e"), file_stem("São Paulo")):
        assert stem and set(stem) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert file_stem("São Paulo (pilot)") == "sao-paulo-pilot"
    assert file_stem("***") == "city"

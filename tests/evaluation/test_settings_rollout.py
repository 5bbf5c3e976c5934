"""Settings from the city config, roll-out derivation and the summary views."""

from __future__ import annotations

import pandas as pd
import pytest

from engagement_eval.config import config_from_dict
from engagement_eval.errors import UserError
from evaluation import context
from evaluation.settings import settings_from_config
from evaluation.summary import event_study_png


def test_settings_read_documented_and_extra_model_keys():
    cfg = config_from_dict(
        {
            "model": {
                "alpha": 0.1,
                "ri_permutations": 49,
                "outcomes": ["trust_index"],
                "event_window": [-7, 10],
            }
        }
    )
    s = settings_from_config(cfg, {"seed": 5})
    assert (s.alpha, s.ri_permutations, s.outcomes, s.seed) == (0.1, 49, ("trust_index",), 5)
    assert s.window("month") == (-7, 10)
    # month e lies in quarter floor(e/3): months -7..10 touch quarters -3 (months -9..-7) to 3
    assert s.window("quarter") == (-3, 3)
    with pytest.raises(UserError):
        settings_from_config(config_from_dict({"model": {"outcomes": ["burglary"]}}))


def test_rollout_derived_from_attendance_is_labelled():
    months = pd.date_range("2020-01-01", periods=4, freq="MS")
    dm = pd.DataFrame(
        {
            "district_id": ["a"] * 4 + ["b"] * 4,
            "month": list(months) * 2,
            "attendees_per_1000": [0.5, 2.5, 1.0, 3.0, 0.1, 0.2, 0.1, 0.3],
            "program": ["inferred from attendance"] * 4 + [None] * 4,
            "start_month": [months[1]] * 4 + [pd.NaT] * 4,
        }
    )
    first = context.derive_rollout(dm, 2.0)
    assert first["a"] == months[1] and pd.isna(first["b"])
    assert "attendance" in context.rollout_source(dm, 2.0)
    assert context.rollout(dm, {"a": "Alpha"}) == [
        {"district": "a", "name": "Alpha", "start": "2020-02"},
        {"district": "b", "name": "b", "start": None},
    ]


def test_summary_views(small_results):
    img = event_study_png("crime_total", small_results["outcomes"]["crime_total"])
    assert img.startswith("![crime_total event study](data:image/png;base64,")


def test_randomization_inference_draws_fewer_permutations_only_for_many_units():
    from evaluation.inference import MANY_UNITS, MANY_UNITS_PERMUTATIONS, permutations_for

    assert permutations_for(999, 25) == 999
    assert permutations_for(999, MANY_UNITS) == 999
    assert permutations_for(999, MANY_UNITS + 1) == MANY_UNITS_PERMUTATIONS
    assert permutations_for(49, 300) == 49  # never more than asked for

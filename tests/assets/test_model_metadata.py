"""The model asset's headline metadata: numbers (so the Dagster UI plots them over runs)."""

import dagster as dg

from assets.models import headline_metadata


def test_each_headline_is_numeric_metadata_and_missing_values_are_left_out():
    results = {
        "outcomes": {
            "crime_total": {"estimate": -0.06, "ci_low": -0.1, "ci_high": -0.02},
            "trust_index": {"estimate": 0.2, "ci_low": None, "ci_high": float("nan")},
            "safety_index": {"reason": "no survey data delivered for this index"},
        }
    }
    meta = headline_metadata(results)
    assert set(meta) == {
        "crime_total/estimate",
        "crime_total/ci_low",
        "crime_total/ci_high",
        "trust_index/estimate",
    }
    assert all(isinstance(v, dg.FloatMetadataValue) for v in meta.values())
    assert meta["crime_total/estimate"].value == -0.06

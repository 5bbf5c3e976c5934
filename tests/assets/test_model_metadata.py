"""The model asset's headline metadata: numbers (so the Dagster UI plots them over runs) and a
typed table with the verdict evaluation decided."""

import dagster as dg

from assets.models import headline_metadata, headline_table
from engagement_eval.results import ResultsDocument


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


def test_headline_table_shows_the_verdict_and_the_reason():
    doc = ResultsDocument.from_dict(
        {
            "outcomes": {
                "crime_total": {
                    "scale": "proportional",
                    "estimate": -0.06,
                    "ci_low": -0.11,
                    "ci_high": -0.01,
                    "verdict": {"level": "some", "concerns": ["pre_test_weak", "sensitivity"]},
                },
                "trust_index": {
                    "scale": "points",
                    "reason": "no survey data delivered for this index",
                    "verdict": {"level": "unavailable", "concerns": []},
                },
            }
        }
    )
    table = headline_table(doc)
    assert isinstance(table, dg.TableMetadataValue)
    rows = {r.data["outcome"]: r.data for r in table.records}
    assert rows["crime_total"]["verdict"] == "some"
    assert rows["crime_total"]["concerns"] == "pre_test_weak, sensitivity"
    assert rows["crime_total"]["ci_low"] == -0.11 and rows["crime_total"]["reason"] is None
    assert rows["trust_index"]["verdict"] == "unavailable"
    assert rows["trust_index"]["estimate"] is None and "no survey" in rows["trust_index"]["reason"]
    assert {c.name for c in table.schema.columns} == set(rows["crime_total"])

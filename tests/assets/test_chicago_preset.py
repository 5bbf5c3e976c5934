"""The Chicago preset reads the 'Crimes - 2001 to Present' export exactly as downloaded."""

import shutil
from datetime import datetime

import yaml
from data_layer_helpers import DATA, ingest, month_keys

from engagement_eval.config import CATEGORIES, load_preset

KEYS = month_keys("2024-01", "2024-03")


def test_chicago_export_is_typed_mapped_and_keeps_leading_zeros(con, tmp_path):
    city = shutil.copytree(DATA / "chicago_city", tmp_path / "chicago")
    shutil.copy(DATA / "chicago_sample.csv", city / "crime_incidents.csv")
    ingest(con, city, KEYS)
    raw_cols = [r[0] for r in con.execute("DESCRIBE raw.crime_incidents").fetchall()]
    assert {"Case Number", "Primary Type", "X Coordinate", "Updated On", "Location"} <= set(
        raw_cols
    )
    assert con.execute("SELECT count(*) FROM raw.crime_incidents").fetchone()[0] == 11
    rows = con.execute(
        "SELECT incident_id, occurred_at, district_id, offense_label, offense_category, updated_at"
        " FROM staging.crime_incidents ORDER BY incident_id"
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    assert by_id["13311263"][1:5] == (datetime(2024, 1, 5, 0, 15), "019", "BATTERY", "violent")
    assert by_id["13311264"][1] == datetime(2024, 1, 5, 12, 45)  # 12:45 PM is after noon
    assert by_id["13311265"][1] == datetime(2024, 1, 31, 23, 59)
    assert by_id["13311265"][2:5] == ("011", "HOMICIDE", "violent")
    assert by_id["13311265"][5] == datetime(2024, 2, 1, 15, 41, 12)
    assert by_id["13311267"][4] == "property" and by_id["13311268"][4] == "other"
    assert by_id["13311272"][4] == "violent" and by_id["13311273"][4] == "other"
    assert all(r[4] in CATEGORIES for r in rows)
    # January in district 011 holds one homicide; February one robbery; partitions follow AM/PM
    keys = dict(
        con.execute("SELECT incident_id, _partition_key FROM staging.crime_incidents").fetchall()
    )
    assert keys["13311265"] == "2024-01" and keys["13311266"] == "2024-02"
    # no address or coordinate column is copied into staging
    staging_cols = {r[0] for r in con.execute("DESCRIBE staging.crime_incidents").fetchall()}
    assert not staging_cols & {"Block", "Latitude", "Longitude", "Location", "X Coordinate"}


def test_every_chicago_primary_type_is_mapped_to_a_category():
    preset = load_preset("chicago")
    mapping = preset["offense_map"]
    assert set(mapping.values()) <= set(CATEGORIES)
    for label in ("HOMICIDE", "CRIMINAL SEXUAL ASSAULT", "ROBBERY", "ASSAULT", "BATTERY"):
        assert mapping[label] == "violent"
    for label in ("BURGLARY", "THEFT", "MOTOR VEHICLE THEFT", "ARSON", "CRIMINAL DAMAGE"):
        assert mapping[label] == "property"
    assert len(mapping) >= 35  # the export's full list of Primary Type values
    sample_types = {
        line.split(",")[5] for line in (DATA / "chicago_sample.csv").read_text().splitlines()[1:]
    }
    assert sample_types <= set(mapping)
    assert yaml.safe_load((DATA / "chicago_city" / "city.yaml").read_text())["preset"] == "chicago"

"""Raw keeps every delivered row; partition re-runs replace only their month; re-deliveries
keep old versions in raw while the newest wins in staging."""

import shutil
from datetime import datetime

from data_layer_helpers import ingest, month_keys

KEYS = month_keys("2020-01", "2020-04")


def _count(con, sql, params=None):
    return con.execute(sql, params or []).fetchone()[0]


def test_raw_keeps_every_delivered_row_as_text(con, tiny_city):
    ingest(con, tiny_city, KEYS)
    delivered = len((tiny_city / "crime_incidents.csv").read_text().splitlines()) - 1
    assert _count(con, "SELECT count(*) FROM raw.crime_incidents") == delivered == 14
    owners = dict(
        con.execute(
            "SELECT incident_id, _partition_key FROM raw.crime_incidents"
            " WHERE incident_id IN ('A9', 'A10', 'A11')"
        ).fetchall()
    )
    assert owners == {"A9": None, "A10": "2020-01", "A11": None}  # edge ownership rules
    row = con.execute(
        "SELECT district_id, occurred_at, _row_number FROM raw.crime_incidents"
        " WHERE incident_id = 'A9'"
    ).fetchone()
    assert row == ("01", "not a date", 10)  # text as delivered, leading zero kept, 1-based row
    staged = con.execute(
        "SELECT occurred_at, _raw_occurred_at FROM staging.crime_incidents WHERE incident_id = 'A9'"
    ).fetchone()
    assert staged == (None, "not a date")  # the failed cast keeps its text for the gate
    dups = _count(
        con, "SELECT _duplicate_rows FROM staging.crime_incidents WHERE incident_id = 'A6'"
    )
    assert dups == 1


def test_rerunning_one_month_does_not_duplicate_rows(con, tiny_city):
    ingest(con, tiny_city, KEYS)
    before_raw = con.execute(
        "SELECT _partition_key, count(*) FROM raw.crime_incidents GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    before_staging = _count(con, "SELECT count(*) FROM staging.crime_incidents")
    for run in (["2020-03"], ["2020-03"], ["2020-04"], KEYS):
        ingest(
            con,
            tiny_city,
            KEYS,
            run_keys=run,
            loaded_at=datetime(2024, 2, 1),
            inputs=["crime_incidents", "meetings"],
        )
        after = con.execute(
            "SELECT _partition_key, count(*) FROM raw.crime_incidents GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        assert after == before_raw, run
        assert _count(con, "SELECT count(*) FROM staging.crime_incidents") == before_staging
        assert _count(con, "SELECT count(*) FROM raw.meetings") == 4
    # the re-run month carries the new load time, the others keep theirs
    times = dict(
        con.execute(
            "SELECT _partition_key, max(_loaded_at) FROM raw.crime_incidents"
            " WHERE _partition_key IN ('2020-01', '2020-03') GROUP BY ALL"
        ).fetchall()
    )
    assert times["2020-03"] == datetime(2024, 2, 1)


def test_redelivered_month_updates_staging_and_keeps_old_version_in_raw(con, tiny_city, tmp_path):
    ingest(con, tiny_city, KEYS)
    path = tiny_city / "crime_incidents.csv"
    text = path.read_text().replace(
        "A4,2020-02-01 00:00:00,02,violent", "A4,2020-02-01 00:00:00,02,property"
    )
    path.write_text(text + "A14,2020-02-20,01,violent\n")
    ingest(
        con,
        tiny_city,
        KEYS,
        run_keys=["2020-02"],
        loaded_at=datetime(2024, 3, 1),
        inputs=["crime_incidents"],
    )
    # raw: the first version's 14 rows stay, plus the new version's February rows (A4, A5, A14)
    assert _count(con, "SELECT count(DISTINCT _source_sha256) FROM raw.crime_incidents") == 2
    assert _count(con, "SELECT count(*) FROM raw.crime_incidents") == 14 + 3
    a4 = con.execute(
        "SELECT offense_category, _loaded_at FROM staging.crime_incidents WHERE incident_id = 'A4'"
    ).fetchall()
    assert a4 == [("property", datetime(2024, 3, 1))]  # the correction wins, no duplicate
    assert _count(con, "SELECT count(*) FROM staging.crime_incidents") == 13 + 1
    assert (
        _count(con, "SELECT count(*) FROM staging.crime_incidents WHERE _partition_key = '2020-01'")
        == 4
    )


def test_extra_period_file_and_renamed_columns_via_config(con, tmp_path):
    from data_layer_helpers import DATA

    city = shutil.copytree(DATA / "tiny_city", tmp_path / "city")
    (city / "crime_incidents.csv").write_text(
        "Case,When,Dist,Kind\nX1,2020-01-03,01,violent\nX2,2020-02-03,02,other\n"
    )
    (city / "crime_incidents_2020-04.csv").write_text(
        "Case,When,Dist,Kind\nX3,2020-04-01,10,violent\n"
    )
    (city / "city.yaml").write_text(
        "study_window: {start: 2020-01, end: 2020-04}\n"
        "columns: {crime_incidents: {incident_id: Case, occurred_at: When, district_id: Dist,"
        " offense_category: Kind}}\n"
    )
    ingest(con, city, KEYS, inputs=["crime_incidents"])
    rows = con.execute(
        "SELECT incident_id, district_id, _source_file FROM staging.crime_incidents ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("X1", "01", "crime_incidents.csv"),
        ("X2", "02", "crime_incidents.csv"),
        ("X3", "10", "crime_incidents_2020-04.csv"),
    ]


def test_parquet_delivery_is_read_as_text(con, tmp_path):
    import pandas as pd
    from data_layer_helpers import DATA

    city = shutil.copytree(DATA / "tiny_city", tmp_path / "city")
    (city / "crime_incidents.csv").unlink()
    pd.DataFrame(
        {
            "incident_id": [1, 2],
            "occurred_at": pd.to_datetime(["2020-01-05 10:00", "2020-03-01 00:00"]),
            "district_id": ["01", "02"],
            "offense_category": ["violent", "THEFT"],
        }
    ).to_parquet(city / "crime_incidents.parquet")
    ingest(con, city, KEYS, inputs=["crime_incidents"])
    assert con.execute(
        "SELECT occurred_at FROM raw.crime_incidents ORDER BY _row_number"
    ).fetchall() == [("2020-01-05 10:00:00",), ("2020-03-01 00:00:00",)]
    assert con.execute(
        "SELECT _partition_key, offense_category FROM staging.crime_incidents ORDER BY incident_id"
    ).fetchall() == [("2020-01", "violent"), ("2020-03", "property")]

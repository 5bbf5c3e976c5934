"""Time zones (issue 13): timestamps with a UTC offset are converted to the city's configured
`timezone`, timestamps without one are taken as city local time, tz-aware Parquet timestamps
are converted too, and month boundaries follow local time, across daylight-saving changes.

America/Chicago: CST (UTC-6) until 2020-03-08 02:00 local, CDT (UTC-5) until 2020-11-01
02:00 local (then CST again)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from reliability_helpers import DATA

from engagement_eval.config import load_config
from warehouse.ingest import ingest_city

# delivered text -> local time in America/Chicago
CASES = {
    "T1": ("2020-03-31T23:30:00-05:00", "2020-03-31 23:30:00"),  # already local (CDT)
    "T2": ("2020-04-01T04:30:00Z", "2020-03-31 23:30:00"),  # April in UTC, March locally
    "T3": ("2020-04-01T13:30:00+09:00", "2020-03-31 23:30:00"),  # the same instant again
    "T4": ("2020-03-31 23:30:00", "2020-03-31 23:30:00"),  # no offset: local already
    "T5": ("2020-03-08T01:30:00-06:00", "2020-03-08 01:30:00"),  # before the spring change
    "T6": ("2020-03-08T20:03-06:00", "2020-03-08 21:03:00"),  # a CST offset after it
    "T7": ("2020-03-08T08:30:00Z", "2020-03-08 03:30:00"),  # 02:00-03:00 was skipped
    "T8": ("2020-02-01T05:59:59Z", "2020-01-31 23:59:59"),  # January locally
    "T9": ("2020-11-01T01:30:00-05:00", "2020-11-01 01:30:00"),  # fall back: first 01:30
    "T10": ("2020-11-01T01:30:00-06:00", "2020-11-01 01:30:00"),  # ... and the second one
    "T11": ("2020-03-31 23:30:00.250+00", "2020-03-31 18:30:00.250"),  # Parquet-style text
}


def _city(tmp_path: Path, timezone: str = "America/Chicago") -> Path:
    city = Path(shutil.copytree(DATA / "tiny_city", tmp_path / "city"))
    yaml = (city / "city.yaml").read_text().replace("America/Chicago", timezone)
    (city / "city.yaml").write_text(yaml)
    lines = ["incident_id,occurred_at,district_id,offense_category"]
    lines += [f"{key},{text},01,violent" for key, (text, _) in CASES.items()]
    (city / "crime_incidents.csv").write_text("\n".join(lines) + "\n")
    return city


def _staged(city: Path, session_zone: str = "UTC") -> dict[str, tuple[datetime, str | None]]:
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{session_zone}'")  # the machine's zone must not matter
    ingest_city(con, city, load_config(None, city))
    rows = con.execute(
        "SELECT incident_id, occurred_at, _partition_key FROM staging.crime_incidents"
    ).fetchall()
    return {key: (at, month) for key, at, month in rows}


@pytest.mark.parametrize("session_zone", ["UTC", "Pacific/Auckland"])
def test_offsets_are_converted_to_city_time_and_naive_times_kept(tmp_path, session_zone):
    staged = _staged(_city(tmp_path), session_zone)
    for key, (text, local) in CASES.items():
        expected = datetime.fromisoformat(local)
        assert staged[key][0] == expected, (key, text, staged[key][0])


def test_month_boundaries_follow_local_time(tmp_path):
    staged = _staged(_city(tmp_path))
    assert {staged[k][1] for k in ("T1", "T2", "T3", "T4", "T11")} == {"2020-03"}
    assert staged["T8"][1] == "2020-01"


def test_the_configured_time_zone_is_the_one_applied(tmp_path):
    staged = _staged(_city(tmp_path, "Asia/Tokyo"))
    assert staged["T2"][0] == datetime(2020, 4, 1, 13, 30)  # UTC+9, no daylight saving
    assert staged["T3"][0] == datetime(2020, 4, 1, 13, 30)
    assert staged["T4"][0] == datetime(2020, 3, 31, 23, 30)  # no offset: as delivered


@pytest.mark.parametrize("session_zone", ["UTC", "Asia/Kolkata"])
def test_tz_aware_parquet_timestamps_are_converted(tmp_path, session_zone):
    """A Parquet TIMESTAMPTZ is an instant; whatever the DuckDB session's zone, it becomes
    Chicago local time (a naive Parquet timestamp stays as written)."""
    city = _city(tmp_path)
    (city / "crime_incidents.csv").unlink()
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES"
        " ('P1', TIMESTAMPTZ '2020-04-01 04:30:00+00', '01', 'violent'),"
        " ('P2', TIMESTAMPTZ '2020-03-08 08:30:00+00', '01', 'violent'))"
        " t(incident_id, occurred_at, district_id, offense_category))"
        " TO $path (FORMAT parquet)",
        {"path": str(city / "crime_incidents.parquet")},
    )
    con.close()
    staged = _staged(city, session_zone)
    assert staged["P1"] == (datetime(2020, 3, 31, 23, 30), "2020-03")
    assert staged["P2"][0] == datetime(2020, 3, 8, 3, 30)

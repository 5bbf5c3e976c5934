"""Monthly runs must not re-read unchanged history, and must give what a fresh load gives.

A file version (sha256) already loaded for a month under the same owner rule is not read
again; its rows are only re-stamped. Staging's duplicate handling (only repeated keys go
through the window) must equal the plain window over every row.
"""

import shutil
import sys
from datetime import datetime
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assets"))
from data_layer_helpers import DATA, month_keys  # noqa: E402

from engagement_eval.config import load_config  # noqa: E402
from engagement_eval.contract import INPUTS  # noqa: E402
from warehouse.ingest import PartitionScope, build_staging, delivered_files, load_raw  # noqa: E402
from warehouse.sql import ensure_schemas  # noqa: E402

KEYS = month_keys("2020-01", "2020-04")
SPEC = INPUTS["crime_incidents"]
COLUMNS = "incident_id, occurred_at, district_id, offense_category, _source_file, _row_number"


def _load(con, city, run_keys, loaded_at):
    config = load_config(None, city)
    files = delivered_files(con, SPEC, config, city)
    scope = PartitionScope(run_keys, KEYS[0], KEYS[-1], complete=run_keys == KEYS)
    summary = load_raw(con, SPEC, config, files, loaded_at, scope)
    build_staging(con, SPEC, config, files, scope)
    return {s["file"]: s for s in summary}


def _staged(con):
    return con.execute(
        f"SELECT {COLUMNS}, _duplicate_rows FROM staging.crime_incidents ORDER BY ALL"
    ).fetchall()


def _fresh_con():
    con = duckdb.connect()
    ensure_schemas(con)
    return con


def test_monthly_run_reuses_unchanged_history_and_matches_a_fresh_load(tmp_path):
    city = Path(shutil.copytree(DATA / "tiny_city", tmp_path / "city"))
    con = _fresh_con()
    first = _load(con, city, KEYS, datetime(2024, 1, 1))
    assert first["crime_incidents.csv"]["reused"] is False
    # the April delivery arrives as its own file and corrects A13
    (city / "crime_incidents_2020-04.csv").write_text(
        "incident_id,occurred_at,district_id,offense_category\n"
        "A13,2020-04-21,10,property\nA20,2020-04-25,02,violent\n"
    )
    monthly = _load(con, city, ["2020-04"], datetime(2024, 2, 1))
    assert monthly["crime_incidents.csv"]["reused"] is True  # history not read again
    assert monthly["crime_incidents_2020-04.csv"]["reused"] is False
    stamped = con.execute(
        "SELECT DISTINCT _loaded_at FROM raw.crime_incidents"
        " WHERE _source_file = 'crime_incidents.csv' AND _partition_key = '2020-04'"
    ).fetchall()
    assert stamped == [(datetime(2024, 2, 1),)]  # re-stamped as if re-read

    fresh = _fresh_con()
    _load(fresh, city, KEYS, datetime(2024, 2, 1))
    assert _staged(con) == _staged(fresh)
    a13 = con.execute(
        "SELECT offense_category, _duplicate_rows FROM staging.crime_incidents"
        " WHERE incident_id = 'A13'"
    ).fetchall()
    assert a13 == [("property", 1)]  # later file name wins the tie, one duplicate counted


def test_changed_file_or_owner_rule_is_read_again(tmp_path):
    city = Path(shutil.copytree(DATA / "tiny_city", tmp_path / "city"))
    con = _fresh_con()
    _load(con, city, KEYS, datetime(2024, 1, 1))
    path = city / "crime_incidents.csv"
    path.write_text(path.read_text() + "A30,2020-03-30,02,violent\n")  # new version
    again = _load(con, city, ["2020-03"], datetime(2024, 2, 1))
    assert again["crime_incidents.csv"]["reused"] is False
    assert con.execute(
        "SELECT count(*) FROM staging.crime_incidents WHERE incident_id = 'A30'"
    ).fetchone() == (1,)
    # the same bytes under another window start assign owners differently: re-read
    scope = PartitionScope(["2020-02"], "2020-02", "2020-04")
    config = load_config(None, city)
    files = delivered_files(con, SPEC, config, city)
    summary = load_raw(con, SPEC, config, files, datetime(2024, 3, 1), scope)
    assert summary[0]["reused"] is False


def test_dedup_of_repeated_keys_equals_the_window_over_every_row(tmp_path):
    city = Path(shutil.copytree(DATA / "tiny_city", tmp_path / "city"))
    rows = ["incident_id,occurred_at,district_id,offense_category,updated_at"]
    for i in range(300):  # keys repeated 1-4 times, some NULL keys, updated_at ties
        key = "" if i % 37 == 0 else f"K{i % 113}"
        rows.append(
            f"{key},2020-0{1 + i % 4}-{1 + i % 27:02d},0{1 + i % 2},violent,2020-05-0{i % 3 + 1}"
        )
    (city / "crime_incidents.csv").write_text("\n".join(rows) + "\n")
    con = _fresh_con()
    _load(con, city, KEYS, datetime(2024, 1, 1))
    reference = con.execute(
        f"""
        SELECT {COLUMNS}, _duplicate_rows FROM (
            SELECT r.incident_id, r.occurred_at, r.district_id, r.offense_category,
                   r._source_file, r._row_number,
                   count(*) OVER w - 1 AS _duplicate_rows,
                   row_number() OVER (w ORDER BY r._loaded_at DESC,
                       try_cast(r.updated_at AS TIMESTAMP) DESC NULLS LAST,
                       r._source_file DESC, r._row_number DESC) AS rn
            FROM raw.crime_incidents r
            WINDOW w AS (PARTITION BY r.incident_id,
                         CASE WHEN r.incident_id IS NULL THEN r._row_number END)
        ) WHERE rn = 1 ORDER BY ALL
        """
    ).fetchall()
    staged = con.execute(
        "SELECT incident_id, _raw_occurred_at, district_id, offense_label, _source_file,"
        " _row_number, _duplicate_rows FROM staging.crime_incidents ORDER BY ALL"
    ).fetchall()
    assert len(staged) == len(reference) == 113 + len([i for i in range(300) if i % 37 == 0])

    def picked(result):
        return sorted((r[0] or "", r[4], r[5], r[6]) for r in result)

    assert picked(staged) == picked(reference)
    assert sum(r[6] for r in staged) == 300 - len(staged)


def test_file_digest_cache_notices_rewrites(tmp_path):
    import hashlib
    import os

    from warehouse.sql import sha256_file

    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n")
    old = 1_600_000_000_000_000_000
    os.utime(path, ns=(old, old))  # old enough to be cached
    assert sha256_file(path) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    path.write_bytes(b"a,b\n1,3\n")  # same size, new mtime: hashed again
    assert sha256_file(path) == hashlib.sha256(b"a,b\n1,3\n").hexdigest()
    os.utime(path, ns=(old + 1, old + 1))
    path.write_bytes(b"a,b\n1,4\n")  # just written: never served from the cache
    assert sha256_file(path) == hashlib.sha256(b"a,b\n1,4\n").hexdigest()


def test_parquet_row_numbers_follow_file_order_across_row_groups(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    city = Path(shutil.copytree(DATA / "tiny_city", tmp_path / "city"))
    (city / "crime_incidents.csv").unlink()
    n = 5000
    table = pa.table(
        {
            "incident_id": [f"P{i}" for i in range(n)],
            "occurred_at": [f"2020-0{1 + i % 4}-01" for i in range(n)],
            "district_id": ["01"] * n,
            "offense_category": ["violent"] * n,
        }
    )
    pq.write_table(table, city / "crime_incidents.parquet", row_group_size=700)
    con = _fresh_con()
    _load(con, city, KEYS, datetime(2024, 1, 1))
    rows = con.execute("SELECT incident_id, _row_number FROM raw.crime_incidents").fetchall()
    assert len(rows) == n
    assert all(int(key[1:]) + 1 == number for key, number in rows)  # 1-based, file order

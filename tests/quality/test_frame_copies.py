"""The gate frame's copy numbers and keys against a straightforward reference.

`quality.frames.build_frame` numbers exact copies and drops superseded versions' keys among
only the rows whose key hash repeats (issue 17: it no longer types or windows every row). The
reference here is the plain definition, computed in pandas over every row of the frame in
`_rid` order: the n-th row with the same delivered text is copy n; a row keeps its key text
as `_key` when it is the first copy, its key is present and no row of the same key carries a
later `updated_at`. Every kind of row the shortcut could get wrong is delivered: copies within
and across files, a copy whose key differs only by surrounding spaces, copies without a key,
key conflicts, superseded versions, and a whole file delivered twice.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from engagement_eval.config import load_config
from engagement_eval.errors import UserError
from quality import frames, reduce
from quality.structural import check_delivery
from tests.quality.conftest import input_file, read_input
from warehouse.ingest import ingest_city

CONTENT = ["incident_id", "occurred_at", "district_id", "offense_category", "updated_at"]


def _deliver(city, frame: pd.DataFrame, name: str) -> None:
    frame.to_csv(city / name, index=False)


def _mutated(city, second_file: str) -> None:
    """crime_incidents as CSV with an `updated_at` column and every awkward case in it."""
    base = read_input(city, "crime_incidents").astype(str).reset_index(drop=True)
    input_file(city, "crime_incidents").unlink()
    base["updated_at"] = "2021-06-01T00:00:00"
    ids = base["incident_id"]
    base.loc[10, "incident_id"] = ids[20]  # key conflict: same id, other content
    base.loc[40, "updated_at"] = "2021-07-01T00:00:00"  # a later version of row 41's id
    base.loc[41, "incident_id"] = ids[40]
    base.loc[[50, 51], "incident_id"] = ""  # no key: numbered by their text alone
    base.loc[51, list(CONTENT[1:])] = base.loc[50, list(CONTENT[1:])].to_numpy()
    base.loc[60, "updated_at"] = ""  # same id, one version without a time: superseded
    base.loc[61, "incident_id"] = ids[60]
    extra = pd.concat(
        [
            base.iloc[100:110],  # copies within the file
            base.iloc[[5, 5]],  # a third and a second copy
            base.iloc[[50]],  # a copy of a row without key
        ]
    )
    padded = base.iloc[[70]].copy()
    padded["incident_id"] = "  " + padded["incident_id"] + " "  # the same key once trimmed
    _deliver(city, pd.concat([base, extra, padded], ignore_index=True), "crime_incidents.csv")
    later = pd.concat([base.iloc[200:205], base.iloc[[10]]], ignore_index=True)
    later.loc[0, "district_id"] = "not a copy"  # same id as a first-file row, other text
    _deliver(city, later, second_file)


def _reference(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values("_rid").reset_index(drop=True)
    content = frame[["incident_id", "occurred_at__raw", "district_id", "offense_category"]]
    content = content.assign(updated=frame["updated_at__raw"]).astype(object)
    content = content.where(content.notna(), "\0")  # None groups with None, as SQL does
    copy = content.groupby(list(content.columns), sort=False).cumcount() + 1
    key = frame["incident_id"]
    newest = frame.groupby(key.fillna("\0"), sort=False)["updated_at"].transform("max")
    latest = (frame["updated_at"] == newest) | (frame["updated_at"].isna() & newest.isna())
    kept = (copy == 1) & key.notna() & latest
    return pd.DataFrame(
        {"_rid": frame["_rid"], "_copy_number": copy, "_key": key.where(kept, None)}
    )


@pytest.fixture
def built(city):
    _mutated(city, "crime_incidents_resent.csv")
    con = duckdb.connect()
    config = load_config(None, city)
    check_delivery(city, config)
    ingest_city(con, city, config, ("crime_incidents",))
    frame = frames.build_frame(con, "crime_incidents", config)
    yield con, frame
    con.close()


def test_copy_numbers_and_keys_match_the_definition_over_every_row(built):
    con, frame = built
    got = con.execute(f"SELECT * FROM {frame.table} ORDER BY _rid").df()
    want = _reference(got)
    # copies delivered: 10 + 2 + 1 appended, row 51, the padded key, 4 + 1 in the second file
    assert (got["_copy_number"] > 1).sum() == 10 + 2 + 1 + 1 + 1 + 4 + 1
    assert got["_key"].isna().sum() > (got["_copy_number"] > 1).sum() + 2  # superseded, no key
    pd.testing.assert_series_equal(
        got["_copy_number"].astype("int64"), want["_copy_number"].astype("int64")
    )
    assert got["_key"].tolist() == want["_key"].tolist()


def test_key_uniqueness_rows_are_the_same_within_the_repeated_hashes(built):
    con, frame = built
    within = frame.duplicates_within("_key")
    assert within is not None and frame.duplicates_within("district_id") is None
    narrowed = reduce.reduce_columns(con, frame.table, ("_key",), reduce.DUPLICATES, [], within)
    every = reduce.reduce_columns(con, frame.table, ("_key",), reduce.DUPLICATES, [])
    rows = [
        con.execute(f"SELECT _vid, _key FROM {r.table} ORDER BY _vid").fetchall()
        for r in (narrowed, every)
    ]
    assert rows[0] == rows[1]
    assert len(rows[0]) >= 4  # the key conflicts within and across files
    frames.drop_frame(con, frame)
    left = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_gate_crime_incidents%'"
    ).fetchone()[0]
    assert left == 0


def test_a_file_delivered_twice_numbers_every_row_of_the_second_as_a_copy(city):
    path = input_file(city, "crime_incidents")
    (city / f"crime_incidents_resent{path.suffix}").write_bytes(path.read_bytes())
    con = duckdb.connect()
    config = load_config(None, city)
    ingest_city(con, city, config, ("crime_incidents",))
    frame = frames.build_frame(con, "crime_incidents", config)
    copies, keys = con.execute(
        f"SELECT list(_copy_number ORDER BY _rid), count(_key) FROM {frame.table}"
    ).fetchone()
    n = len(read_input(city, "crime_incidents"))
    assert np.array_equal(copies, [1] * n + [2] * n)
    assert keys == n
    con.close()


def test_a_format_duckdb_rejects_stops_the_input_and_leaves_no_tables(city):
    con = duckdb.connect()
    config = load_config(None, city)
    ingest_city(con, city, config, ("crime_incidents",))
    broken = config.with_overrides({"date_formats": {"crime_incidents": {"occurred_at": "%Q"}}})
    with pytest.raises(UserError, match="cannot check crime_incidents"):
        frames.build_frame(con, "crime_incidents", broken)
    left = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_gate%'")
    assert left.fetchone()[0] == 0
    con.close()


def test_current_versions_from_the_load_log_equal_those_of_the_current_rows(city):
    """The frame reads which file versions are current from `raw._loads` instead of the rows:
    after an export renamed and changed (raw keeps the old file's rows) and with a
    header-only file, the log gives the same (file, version) pairs as the rows themselves,
    and only the files delivered now, as staging reads them: the renamed export is not
    counted twice."""
    con = duckdb.connect()
    config = load_config(None, city)
    ingest_city(con, city, config, ("crime_incidents",))
    incidents = read_input(city, "crime_incidents").astype(str)
    input_file(city, "crime_incidents").unlink()
    incidents.loc[3, "district_id"] = "changed"
    _deliver(city, incidents, "crime_incidents_renamed.csv")
    _deliver(city, incidents.iloc[:0], "crime_incidents_empty.csv")
    ingest_city(con, city, config, ("crime_incidents",))
    assert (
        con.execute("SELECT count(DISTINCT _source_file) FROM raw.crime_incidents").fetchone()[0]
        == 2
    )  # the old export's rows are still in raw
    current, params = frames._current_rows_sql(con, "crime_incidents")
    from_rows = con.execute(
        f"SELECT DISTINCT _source_file, _source_sha256 FROM ({current}) ORDER BY 1, 2", params
    ).fetchall()
    assert frames._current_versions(con, "crime_incidents", current, params) == from_rows
    assert [f for f, _ in from_rows] == ["crime_incidents_renamed.csv"]
    frame = frames.build_frame(con, "crime_incidents", config)
    staged = con.execute("SELECT count(*) FROM staging.crime_incidents").fetchone()[0]
    assert frame.source_files == ("crime_incidents_renamed.csv",)
    assert frame.rows == len(incidents) == staged
    frames.drop_frame(con, frame)
    # every file taken away: staging is dropped and the gate sees the input as not delivered
    for name in ("crime_incidents_renamed.csv", "crime_incidents_empty.csv"):
        (city / name).unlink()
    ingest_city(con, city, config, ("crime_incidents",))
    assert frames.build_frame(con, "crime_incidents", config) is None
    con.close()


def test_inputs_staged_before_the_record_keep_every_file(city):
    """A database whose staging predates `raw._staged_files` (or an input not staged since):
    the frame falls back to every current file, as before, and is not read as undelivered."""
    con = duckdb.connect()
    config = load_config(None, city)
    ingest_city(con, city, config, ("crime_incidents",))
    con.execute("DELETE FROM raw._staged_files WHERE input = 'crime_incidents'")
    frame = frames.build_frame(con, "crime_incidents", config)
    assert frame is not None
    assert frame.rows == len(read_input(city, "crime_incidents"))
    con.close()

"""`held_open`: the CLI's in-process run opens the DuckDB file once; every step's `connect`
gets a cursor of that writer, and the file is closed (checkpointed) when the block ends."""

from __future__ import annotations

import duckdb
import pytest

from warehouse import connection
from warehouse.connection import connect, held_open


def _count_opens(monkeypatch) -> list[str]:
    opened: list[str] = []
    original = duckdb.connect

    def counting(database=":memory:", *args, **kwargs):
        opened.append(str(database))
        return original(database, *args, **kwargs)

    monkeypatch.setattr(connection.duckdb, "connect", counting)
    return opened


def test_steps_share_one_open_file_and_see_each_others_writes(tmp_path, monkeypatch):
    db = tmp_path / "city.duckdb"
    opened = _count_opens(monkeypatch)
    with held_open(db):
        for step in range(5):
            with connect(db) as con:
                con.execute("CREATE TABLE IF NOT EXISTS marts.steps (step INTEGER)")
                con.execute("INSERT INTO marts.steps VALUES (?)", [step])
        with connect(db, read_only=True) as con:  # a reader: a cursor of the same writer
            assert con.execute("SELECT count(*) FROM marts.steps").fetchall() == [(5,)]
        # the same file named another way is the same held connection
        with connect(tmp_path / "." / "city.duckdb") as con:
            assert con.execute("SELECT max(step) FROM marts.steps").fetchall() == [(4,)]
    assert opened == [str(db)]
    # closed: another configuration (read-only) can open it, and everything was kept
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT sum(step) FROM marts.steps").fetchall() == [(10,)]


def test_a_failed_step_leaves_the_held_connection_usable_and_its_writes_rolled_back(tmp_path):
    from warehouse.sql import transaction

    db = tmp_path / "city.duckdb"
    with held_open(db):
        with connect(db) as con:
            con.execute("CREATE TABLE staging.t AS SELECT 1 AS x")
        with pytest.raises(RuntimeError), connect(db) as con, transaction(con):
            con.execute("INSERT INTO staging.t VALUES (2)")
            raise RuntimeError("step failed")
        with connect(db) as con:
            assert con.execute("SELECT list(x) FROM staging.t").fetchall() == [([1],)]


def test_other_files_and_the_time_after_the_block_open_their_own_connection(tmp_path, monkeypatch):
    held, other = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    opened = _count_opens(monkeypatch)
    with held_open(held), connect(other) as con:
        con.execute("CREATE TABLE raw.t AS SELECT 1 AS x")
    with connect(held) as con:
        con.execute("SELECT 1").fetchall()
    assert opened == [str(held), str(other), str(held)]
    assert connection._HELD == {}


def test_the_held_connection_is_released_when_the_run_fails(tmp_path):
    db = tmp_path / "city.duckdb"
    with pytest.raises(RuntimeError), held_open(db):
        raise RuntimeError("run failed")
    assert connection._HELD == {}
    with duckdb.connect(str(db), read_only=True) as con:  # the file is not held any more
        assert con.execute("SELECT 1").fetchall() == [(1,)]

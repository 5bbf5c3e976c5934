"""`fewer_flushes`: WAL SQLite files get synchronous=NORMAL and one idle reader while a run
executes; other files and everything after the block are left as SQLite/Dagster set them."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from pipelines.run_history import fewer_flushes

FULL, NORMAL = 2, 1


def _engine(path):
    return create_engine(f"sqlite:///{path}", poolclass=NullPool)


def _wal_file(path):
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, body TEXT)")
    return path


def _synchronous(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("PRAGMA synchronous")).scalar_one()


def test_wal_files_are_written_without_a_flush_per_commit_and_nothing_is_lost(tmp_path):
    db = _wal_file(tmp_path / "events.db")
    engine = _engine(db)
    with fewer_flushes() as keepers:
        assert _synchronous(engine) == NORMAL
        for i in range(50):  # one connection per event, the way Dagster's event log writes
            with engine.connect() as conn, conn.begin():
                conn.execute(text("INSERT INTO events (body) VALUES (:b)"), {"b": f"e{i}"})
        assert list(keepers) == [str(db)]
        # the idle reader keeps the WAL: no close so far was the last one
        assert (tmp_path / "events.db-wal").exists()
    assert _synchronous(engine) == FULL  # the listener is gone
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 50
    engine.dispose()


def test_files_not_in_wal_mode_are_left_alone(tmp_path):
    db = tmp_path / "plain.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    engine = _engine(db)
    with fewer_flushes() as keepers:
        assert _synchronous(engine) == FULL
        assert keepers == {}
    engine.dispose()


def test_the_listener_is_removed_when_the_run_fails(tmp_path):
    engine = _engine(_wal_file(tmp_path / "events.db"))
    with pytest.raises(RuntimeError), fewer_flushes():
        raise RuntimeError("step failed")
    assert _synchronous(engine) == FULL
    engine.dispose()

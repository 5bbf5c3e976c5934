"""Dagster's run history (SQLite files under DAGSTER_HOME) written without a disk flush per event.

Why: a demo run stores about 1,700 events (one materialization and one planned event per month
for each monthly asset). Dagster's SQLite event log opens a new connection for every event,
commits it (WAL mode with SQLite's default synchronous=FULL: one fsync per commit) and closes it;
the close of the last connection to a file checkpoints the WAL into the database (more fsyncs)
and deletes it. On a disk where an fsync costs ~10 ms that was most of the run's time (issue 17:
the same demo run took 167 s with a DAGSTER_HOME and 60-70 s with an ephemeral instance, on the
same loaded machine; see docs/benchmarks.md).

`fewer_flushes()` changes only how those files are written while the CLI's run executes:
every SQLite connection that is in WAL mode gets synchronous=NORMAL, the setting SQLite
documents as safe for WAL (a power cut can lose the last transactions, never corrupt the
file; an application crash loses nothing), and one idle connection per database file stays open
until the run ends, so no per-event close is the last one and the WAL is checkpointed by SQLite's
own page threshold and once at the end instead of once per event. What is stored is unchanged.
Other databases (Postgres instances, DuckDB) are not touched.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def fewer_flushes() -> Iterator[dict[str, sqlite3.Connection]]:
    """While open: WAL SQLite connections opened through SQLAlchemy use synchronous=NORMAL and
    each database file keeps one idle reader open. Yields the open readers by file path."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    keepers: dict[str, sqlite3.Connection] = {}
    lock = threading.Lock()

    def on_connect(dbapi_connection, _record) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        mode = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
        if not mode or str(mode[0]).lower() != "wal":
            return  # a new file (Dagster sets WAL right after) or a rollback journal: as is
        dbapi_connection.execute("PRAGMA synchronous = NORMAL")
        path = next(
            (
                f
                for _, name, f in dbapi_connection.execute("PRAGMA database_list")
                if name == "main"
            ),
            "",
        )
        with lock:
            if path and path not in keepers:
                keeper = sqlite3.connect(path, check_same_thread=False)
                # a read maps the WAL index: only then does this connection count as open
                # (fetchall ends the read, so this reader holds no snapshot back from checkpoints)
                keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()
                keepers[path] = keeper

    event.listen(Engine, "connect", on_connect)
    try:
        yield keepers
    finally:
        event.remove(Engine, "connect", on_connect)
        with lock:
            for keeper in keepers.values():
                keeper.close()
            keepers.clear()

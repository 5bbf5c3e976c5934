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

`one_connection_per_file(instance)` removes the other half of the per-event cost (issue 17: a
quarter of the warm demo run's CPU after the flushes were gone): for the CLI's run, the
instance's SQLite event log keeps one SQLAlchemy engine and connection per database file
instead of creating, initialising and disposing of an engine for every event, and the events
Dagster already sends as batches (the planned events of a run, the materializations of a
partition range) are written in one transaction per file instead of one per event. Rows and
files are the same as Dagster's own code writes; only the CLI's process is changed, never the
UI's or the daemon's long-lived processes (which would hold every run's file open).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

# Dagster flushes a batch at its last event or at this many events, whichever comes first; a
# batch is at most (assets + checks) x partitions events, a few thousand for decades of months.
EVENT_BATCH_SIZE = 10_000


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


class _KeptConnections:
    """Stands in for `SqliteEventLogStorage._connect` and `store_event_batch` on one storage
    object: the same per-shard transactions, on connections that stay open until `close`."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._engines: dict[str, Any] = {}
        self._batch: dict[str, Any] | None = None  # shard -> connection inside a batch
        self._batch_stack: ExitStack | None = None
        self._batch_thread: int | None = None
        self._tables: set[str] = set()

    def _engine(self, shard: str):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool

        storage = self._storage
        engine = self._engines.get(shard)
        if engine is None:
            # one connection, reused; storage._db_lock makes its users take turns
            engine = create_engine(
                storage.conn_string_for_shard(shard),
                poolclass=StaticPool,
                connect_args={"timeout": _busy_timeout(), "check_same_thread": False},
            )
            self._engines[shard] = engine
        if shard not in storage._initialized_dbs:  # noqa: SLF001  (Dagster's own bookkeeping)
            storage._initdb(engine)  # noqa: SLF001
            storage._initialized_dbs.add(shard)  # noqa: SLF001
        return engine

    @contextmanager
    def connect(self, shard: str) -> Iterator[Any]:
        """A connection to `shard` inside a transaction, as Dagster's `_connect` yields it."""
        if self._batch is not None and self._batch_thread == threading.get_ident():
            # inside store_event_batch (which holds the lock): the batch's open transaction
            if shard not in self._batch:
                conn = self._batch_stack.enter_context(self._engine(shard).connect())
                self._batch_stack.enter_context(conn.begin())
                self._batch[shard] = conn
            yield self._batch[shard]
            return
        # (entered left to right: the engine is made under the lock)
        with self._storage._db_lock, self._engine(shard).connect() as conn, conn.begin():  # noqa: SLF001
            yield conn

    def has_table(self, table_name: str) -> bool:
        """Dagster asks before every asset event whether a table exists, on a new engine each
        time (it may hold the storage's lock then, so this never takes it); a table that exists
        stays for the run, so a yes is remembered."""
        if table_name not in self._tables:
            if not type(self._storage).has_table(self._storage, table_name):
                return False
            self._tables.add(table_name)
        return True

    def store_event_batch(self, events: Sequence[Any]) -> None:
        """Every event stored as `store_event` stores it, in one transaction per file: all of
        them or (on any error, after which Dagster stores them one by one) none."""
        with self._storage._db_lock, ExitStack() as stack:  # noqa: SLF001
            self._batch, self._batch_stack = {}, stack
            self._batch_thread = threading.get_ident()
            try:
                for event in events:
                    self._storage.store_event(event)
            finally:
                self._batch, self._batch_stack, self._batch_thread = None, None, None

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


def _busy_timeout() -> float:
    from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS

    return SQLITE_BUSY_TIMEOUT_SECONDS


@contextmanager
def one_connection_per_file(instance: Any) -> Iterator[bool]:
    """While open, `instance`'s SQLite event log keeps its connections and writes Dagster's
    event batches in one transaction per file. Yields False (and changes nothing) for any other
    event log (in-memory, Postgres, a subclass someone configured)."""
    from dagster._core.storage.event_log import SqliteEventLogStorage

    storage = instance.event_log_storage
    if type(storage) is not SqliteEventLogStorage:
        yield False
        return
    kept = _KeptConnections(storage)
    # attributes of these two objects only: other instances and storages keep Dagster's code
    overrides = {
        storage: {
            "_connect": kept.connect,
            "store_event_batch": kept.store_event_batch,
            "has_table": kept.has_table,
        },
        instance: {"_get_event_batch_size": lambda: EVENT_BATCH_SIZE},
    }
    for target, methods in overrides.items():
        for name, method in methods.items():
            setattr(target, name, method)
    try:
        yield True
    finally:
        for target, methods in overrides.items():
            for name in methods:
                vars(target).pop(name, None)
        kept.close()

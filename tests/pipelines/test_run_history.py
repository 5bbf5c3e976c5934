"""`fewer_flushes`: WAL SQLite files get synchronous=NORMAL and one idle reader while a run
executes; other files and everything after the block are left as SQLite/Dagster set them."""

from __future__ import annotations

import os
import sqlite3
import threading
import warnings

import dagster as dg
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from pipelines.partitions import range_tags
from pipelines.run_history import fewer_flushes, one_connection_per_file

ASSET_MATERIALIZATION = dg.DagsterEventType.ASSET_MATERIALIZATION.value

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


# --- one_connection_per_file: the CLI run's event log keeps its connections and batches ---------

MONTHS = dg.StaticPartitionsDefinition([f"m{i:02d}" for i in range(12)])


with warnings.catch_warnings():  # BackfillPolicy is beta; the pipeline's assets use it too
    warnings.simplefilter("ignore")

    @dg.asset(partitions_def=MONTHS, backfill_policy=dg.BackfillPolicy.single_run())
    def counts(context) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"months": len(context.partition_keys)})


@dg.asset_check(asset=counts, blocking=True)
def counts_ok() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset(deps=[counts])
def summary() -> None:
    """An unpartitioned asset downstream."""


def _persistent_instance(home):
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(home))


def _run(instance) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = dg.materialize(
            [counts, counts_ok, summary],
            instance=instance,
            tags=range_tags("m00", "m11"),
            raise_on_error=True,
        )
    return result.run_id


def _what_was_stored(instance, run_id) -> dict:
    """The run's events (type, step, asset, partition) in order, and the cross-run index."""
    records = instance.get_records_for_run(run_id, limit=10_000).records
    run_events = [
        (
            r.event_log_entry.dagster_event_type,
            r.event_log_entry.step_key,
            getattr(r.event_log_entry.dagster_event, "asset_key", None),
            getattr(r.event_log_entry.dagster_event, "partition", None),
        )
        for r in records
    ]
    index = {
        "materialized": sorted(instance.get_materialized_partitions(counts.key)),
        "latest_summary": instance.get_latest_materialization_event(summary.key) is not None,
        "planned": len(
            instance.get_event_records(
                dg.EventRecordsFilter(
                    dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, asset_key=counts.key
                )
            )
        ),
        "check": instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [counts_ok.check_key]
        )[counts_ok.check_key].status.value,
    }
    return {"run": [e for e in run_events if e[0] is not None], "index": index}


def _count_connections():
    """Connections opened to event log files (the run's shard, the index), by file."""
    opened = []

    def on_connect(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            files = [f for _, name, f in dbapi_connection.execute("PRAGMA database_list")]
            opened.extend(f for f in files if os.sep.join(("history", "runs", "")) in f)

    event.listen(Engine, "connect", on_connect)
    return opened, lambda: event.remove(Engine, "connect", on_connect)


def test_kept_connections_store_exactly_what_dagster_stores_with_a_few_connections(tmp_path):
    plain = _persistent_instance(tmp_path / "plain")
    opened, stop = _count_connections()
    plain_run = _run(plain)
    plain_connections = len(opened)
    stop()

    kept_instance = _persistent_instance(tmp_path / "kept")
    opened, stop = _count_connections()
    with one_connection_per_file(kept_instance) as active:
        assert active
        kept_run = _run(kept_instance)
    stop()

    plain_stored = _what_was_stored(plain, plain_run)
    kept_stored = _what_was_stored(kept_instance, kept_run)
    assert kept_stored["index"]["materialized"] == [f"m{i:02d}" for i in range(12)]
    assert kept_stored["index"]["planned"] >= 1 and kept_stored["index"]["check"] == "SUCCEEDED"
    assert kept_stored == plain_stored
    # Dagster opens a connection per event (and per index write): over a hundred here; kept,
    # one per event log file (the run's shard, the index), plus the index's once at start-up
    assert plain_connections > 100
    assert len(set(opened)) == 2 and len(opened) <= 4, opened


def test_everything_is_put_back_and_the_files_are_closed_after_the_run(tmp_path):
    instance = _persistent_instance(tmp_path / "home")
    storage = instance.event_log_storage
    with one_connection_per_file(instance):
        assert "_connect" in vars(storage) and "_get_event_batch_size" in vars(instance)
        run_id = _run(instance)
    assert not {"_connect", "store_event_batch", "has_table"} & set(vars(storage))
    assert "_get_event_batch_size" not in vars(instance)
    open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
    assert not [f for f in open_files if f.startswith(str(tmp_path)) and ".db" in f]
    # and the history reads back through Dagster's own code
    assert _what_was_stored(instance, run_id)["index"]["materialized"]


def test_a_batch_that_fails_part_way_stores_none_of_its_events(tmp_path, monkeypatch):
    instance = _persistent_instance(tmp_path / "home")
    run_id = _run(instance)
    entries = [
        r.event_log_entry for r in instance.get_records_for_run(run_id, limit=10_000).records
    ]
    before = len(entries)
    materializations = [e for e in entries if e.dagster_event_type == ASSET_MATERIALIZATION]
    assert len(materializations) >= 3
    storage = instance.event_log_storage
    calls = []
    original = storage._store_asset_event

    def fails_on_the_third(conn, event_, event_id):
        calls.append(event_id)
        if len(calls) == 3:
            raise RuntimeError("disk trouble")
        return original(conn, event_, event_id)

    monkeypatch.setattr(storage, "_store_asset_event", fails_on_the_third)
    with one_connection_per_file(instance), pytest.raises(RuntimeError, match="disk trouble"):
        storage.store_event_batch(materializations)
    monkeypatch.undo()
    assert len(instance.get_records_for_run(run_id, limit=10_000).records) == before
    assert len(calls) == 3


def test_other_event_logs_are_left_alone():
    instance = dg.DagsterInstance.ephemeral()
    with one_connection_per_file(instance) as active:
        assert active is False
        assert "_get_event_batch_size" not in vars(instance)


def test_single_asset_events_outside_a_batch_are_stored_too(tmp_path):
    """The first asset event of a process may come alone, not in a batch: Dagster then looks up
    a table while the storage's lock is held, and that look-up must not wait for the lock."""
    instance = _persistent_instance(tmp_path / "home")
    stored = threading.Event()

    def report() -> None:
        # a data version tag is indexed: that write asks whether the tag table exists
        instance.report_runless_asset_event(
            dg.AssetMaterialization("lone", tags={"dagster/data_version": "v1"})
        )
        stored.set()

    with one_connection_per_file(instance):
        worker = threading.Thread(target=report, daemon=True)
        worker.start()
        worker.join(timeout=60)
        assert stored.is_set(), "storing a single asset event did not finish (lock taken twice?)"
    assert instance.get_latest_materialization_event(dg.AssetKey("lone")) is not None

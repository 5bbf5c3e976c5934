"""Keeps `engagement-eval run` from colliding with other writers of the same DuckDB file.

Three things can go wrong when a run is started from the command line:

- another `engagement-eval run` is writing the same file: an OS lock (`flock`) on a file next
  to the database is held for the whole run and refused at once, naming the other process. The
  kernel drops the lock when a process dies, even from SIGKILL, so it can never go stale;
- a run launched from the UI, the schedule or the sensor is writing it: the Dagster instance
  knows (every run of the job carries the tag `engagement_eval/duckdb`), so the command stops
  with the run id instead of failing on the file lock halfway;
- an earlier command-line run was killed: Dagster keeps it as STARTED forever, and any pool
  slot it held would block the next run. Such runs (this host, process gone) are marked failed
  and their slots freed before the new run starts.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from engagement_eval.errors import UserError

TAG_DUCKDB = "engagement_eval/duckdb"
TAG_LAUNCHED_BY = "engagement_eval/launched_by"
TAG_PID = "engagement_eval/pid"
TAG_HOST = "engagement_eval/host"
CLI = "cli"

IN_PROGRESS = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def lock_path(duckdb_path: str | Path) -> Path:
    db = Path(duckdb_path)
    return db.with_name(db.name + ".run.lock")


def cli_run_tags(duckdb_path: str | Path) -> dict[str, str]:
    """Tags that let a later command recognise this run if its process dies."""
    return {
        TAG_DUCKDB: str(Path(duckdb_path).resolve()),
        TAG_LAUNCHED_BY: CLI,
        TAG_PID: str(os.getpid()),
        TAG_HOST: socket.gethostname(),
    }


@contextmanager
def exclusive_writer(duckdb_path: str | Path) -> Iterator[None]:
    """Hold the run lock of this DuckDB file for the whole block, or refuse at once."""
    path = lock_path(duckdb_path)
    try:
        handle = open(path, "a+")  # noqa: SIM115 (held open for the lock's lifetime)
    except OSError as exc:
        raise UserError(
            f"cannot create the run lock {path}: {exc.strerror or exc}",
            "make the output folder writable for this user (or pass another --out)",
        ) from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = _holder_text(handle.read())
            raise UserError(
                f"another engagement-eval run {holder}is writing {duckdb_path}",
                "wait for it to finish (it prints 'Done' when it does), or give this run "
                "another --out folder",
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "started": time.strftime("%H:%M:%S")}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the flock


def _holder_text(content: str) -> str:
    try:
        info = json.loads(content)
        return f"(process {int(info['pid'])}, started {info['started']}) "
    except (ValueError, KeyError, TypeError):
        return ""


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_dead_cli_run(run: dg.DagsterRun) -> bool:
    tags = run.tags
    if tags.get(TAG_LAUNCHED_BY) != CLI or tags.get(TAG_HOST) != socket.gethostname():
        return False
    try:
        pid = int(tags.get(TAG_PID, ""))
    except ValueError:
        return False
    return pid != os.getpid() and not _process_alive(pid)


def recover_stale_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail command-line runs whose process is gone and free pool slots of finished runs.

    Returns the ids of the runs marked failed (for one line of output).
    """
    recovered = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        if _is_dead_cli_run(run):
            instance.report_run_failed(
                run, "the engagement-eval process running it stopped (killed or crashed)"
            )
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            recovered.append(run.run_id)
    _free_slots_of_finished_runs(instance)
    return recovered


def _free_slots_of_finished_runs(instance: dg.DagsterInstance) -> None:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    holders = set()
    for key in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(key)
        holders |= {slot.run_id for slot in info.claimed_slots}
        holders |= {step.run_id for step in info.pending_steps}
    for run_id in holders:
        run = instance.get_run_by_id(run_id)
        if run is None or run.status in FINISHED:
            storage.free_concurrency_slots_for_run(run_id)


def refuse_if_busy(instance: dg.DagsterInstance, duckdb_path: str | Path) -> None:
    """Stop when a run launched elsewhere (UI, schedule, sensor) is writing this file."""
    target = str(Path(duckdb_path).resolve())
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=IN_PROGRESS, tags={TAG_DUCKDB: target}), limit=5
    )
    others = [r for r in runs if r.tags.get(TAG_LAUNCHED_BY) != CLI]
    others += _runs_holding_pool_slots(instance)
    if others:
        run = others[0]
        raise UserError(
            f"Dagster run {run.run_id} ({run.status.value}, launched from the UI, the schedule "
            f"or the sensor) is writing {duckdb_path} or holds the 'duckdb' pool",
            "wait for it to finish (Runs page of the UI); if its process is gone, terminate it "
            "there (Terminate, then 'Force termination') and start this run again",
        )


def _runs_holding_pool_slots(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Runs in progress holding op-level pool slots (only with `granularity: op`); an
    in-process run would otherwise wait for them without a word."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    run_ids = set()
    for key in storage.get_concurrency_keys():
        run_ids |= {slot.run_id for slot in storage.get_concurrency_info(key).claimed_slots}
    runs = [instance.get_run_by_id(run_id) for run_id in sorted(run_ids)]
    return [r for r in runs if r is not None and r.status not in FINISHED]

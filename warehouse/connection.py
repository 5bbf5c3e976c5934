"""Opening the DuckDB file: one file per environment, one writer at a time (DuckDB's rule).

Our own policy instead of dagster-duckdb's: that one retries lock failures silently for about
100 s. Here a locked file fails after `lock_timeout_seconds` with a message saying which file
is locked and what to do; every other way opening fails (permissions, a folder, not a DuckDB
file, disk full) becomes one `UserError` with its own fix. No Dagster here: the Dagster
resource (`assets/resources.py`) and the command line both open the file through `connect`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from engagement_eval.errors import UserError
from warehouse.sql import ensure_schemas

DEFAULT_LOCK_TIMEOUT_SECONDS = 10.0

# path -> the writer `held_open` keeps for a run that executes all its steps in this process
_HELD: dict[Path, duckdb.DuckDBPyConnection] = {}
_HELD_LOCK = threading.Lock()


def _held_key(path: str | Path) -> Path:
    return Path(path).resolve()


@contextmanager
def held_open(
    path: str | Path,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """While open, `connect(path)` in this process hands out cursors of one writer connection
    instead of opening the file and closing it (with a checkpoint) for every step.

    Why: the CLI's run executes its ~30 steps in one process, and each open and close of the
    DuckDB file cost 50-70 ms (issue 17: about 1.9 s of the demo run). Committed writes are in
    DuckDB's write-ahead log either way and survive a killed run; the checkpoint happens once,
    when this block closes. A reader asking for `read_only` gets a cursor of the writer too (one
    process cannot hold the same file with two configurations). Runs of the UI and the daemon,
    one process per step, are not affected.
    """
    key = _held_key(path)
    with connect(path, False, lock_timeout_seconds, threads, memory_limit) as con:
        with _HELD_LOCK:
            _HELD[key] = con
        try:
            yield con
        finally:
            with _HELD_LOCK:
                _HELD.pop(key, None)


@contextmanager
def connect(
    path: str | Path,
    read_only: bool = False,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the DuckDB file at `path`, closed on exit; a writer gets the schemas.

    `memory_limit` is a DuckDB size ("3GB"); DuckDB otherwise takes up to 80% of RAM. Inside
    `held_open(path)`: a cursor of the held connection, closed on exit (the file stays open).
    """
    with _HELD_LOCK:
        held = _HELD.get(_held_key(path))
    if held is not None:
        cursor = held.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
        return
    db = Path(path)
    if not read_only:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(
                f"cannot create the folder {db.parent} for the DuckDB file: {exc.strerror or exc}",
                "make it writable for this user, or set --out / ENGAGEMENT_EVAL_DUCKDB to a "
                "writable place",
            ) from exc
    con = open_duckdb(db, read_only, lock_timeout_seconds)
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = '{_memory_limit(memory_limit)}'")
        if not read_only:
            ensure_schemas(con)
        yield con
    finally:
        con.close()


def open_duckdb(
    db: Path, read_only: bool, lock_timeout_seconds: float
) -> duckdb.DuckDBPyConnection:
    """Open, retrying every 0.5 s while another process holds the lock, up to the timeout."""
    deadline = time.monotonic() + lock_timeout_seconds
    while True:
        try:
            return duckdb.connect(str(db), read_only=read_only)
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise open_error(db, exc) from exc
            if time.monotonic() >= deadline:
                raise UserError(
                    f"DuckDB file {db} is locked by another process ({' '.join(str(exc).split())[:200]})",
                    "wait for the other run (or a notebook holding the file) to finish, or point "
                    "ENGAGEMENT_EVAL_DUCKDB at another file for this environment",
                ) from exc
            time.sleep(0.5)


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and "lock" in text and "permission" not in text


def open_error(db: Path, exc: Exception) -> UserError:
    """One message per way opening the DuckDB file fails, each with its own fix."""
    text = " ".join(str(exc).split())
    low = text.lower()
    if "no space left" in low or "disk full" in low:
        return disk_full_error(db)
    if "permission denied" in low or "read-only file system" in low:
        return UserError(
            f"no permission to write the DuckDB file {db}",
            "make the file and its folder writable for this user, or set --out / "
            "ENGAGEMENT_EVAL_DUCKDB to a writable place",
        )
    if "is a directory" in low:
        return UserError(
            f"{db} is a folder, not a DuckDB file",
            "point ENGAGEMENT_EVAL_DUCKDB (or --out) at a file path",
        )
    if "not a valid duckdb" in low or "corrupt" in low or "magic" in low:
        return UserError(
            f"{db} is not a DuckDB database this version can open ({text[:200]})",
            "move the file away (everything in it is rebuilt from the city folder) and run again",
        )
    return UserError(
        f"cannot open the DuckDB file {db}: {text[:300]}",
        "check the path and permissions of ENGAGEMENT_EVAL_DUCKDB (or --out)",
    )


def disk_full_error(where: Path) -> UserError:
    return UserError(
        f"the disk holding {where} is full",
        "free some space (or set --out / ENGAGEMENT_EVAL_DUCKDB to a disk with room) and run "
        "again; the previous results are intact, the interrupted step was rolled back",
    )


def _memory_limit(text: str) -> str:
    """A DuckDB size like '3GB' or '512MiB'; checked because SET takes no bound parameters."""
    import re

    value = text.strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, re.IGNORECASE):
        raise UserError(
            f"ENGAGEMENT_EVAL_DUCKDB_MEMORY_LIMIT = {text!r} is not a memory size",
            "use a number with a unit, e.g. 3GB or 512MiB",
        )
    return value

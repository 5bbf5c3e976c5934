"""Resources: where the city's files are and which DuckDB file this environment writes.

A thin DuckDB resource of our own instead of dagster-duckdb's: that one retries lock failures
silently for about 100 s. Here a locked file fails after `lock_timeout_seconds` with a message
saying which file is locked and what to do, and only one step writes at a time anyway because
every writing asset sits in the `duckdb` concurrency pool.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from assets._sql import ensure_schemas
from engagement_eval.config import CityConfig, load_config
from engagement_eval.errors import UserError

DUCKDB_POOL = "duckdb"
DEFAULT_DATA_DIR = "data/demo_city"


@dataclass(frozen=True)
class Settings:
    """Paths for one environment, from arguments or ENGAGEMENT_EVAL_* environment variables."""

    data_dir: str
    config_path: str | None
    out_dir: str
    duckdb_path: str
    lock_timeout_seconds: float = 10.0

    @classmethod
    def from_env(
        cls, data_dir: str | None = None, config_path: str | None = None, out_dir: str | None = None
    ) -> Settings:
        data = data_dir or os.environ.get("ENGAGEMENT_EVAL_DATA") or DEFAULT_DATA_DIR
        config = config_path or os.environ.get("ENGAGEMENT_EVAL_CONFIG") or None
        out = out_dir or os.environ.get("ENGAGEMENT_EVAL_OUT") or str(Path("out") / Path(data).name)
        db = os.environ.get("ENGAGEMENT_EVAL_DUCKDB") if out_dir is None else None
        db = db or str(Path(out) / "engagement_eval.duckdb")
        return cls(data, config, out, db, _lock_timeout())


def _lock_timeout() -> float:
    text = os.environ.get("ENGAGEMENT_EVAL_LOCK_TIMEOUT", "").strip()
    if not text:
        return 10.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise UserError(
            f"ENGAGEMENT_EVAL_LOCK_TIMEOUT={text!r} is not a number of seconds between 0 and 3600",
            "unset it (default 10 s) or set it to e.g. 30",
        )
    return value


class CityResource(dg.ConfigurableResource):
    """The city folder and its config (YAML is small, so it is re-read per step)."""

    data_dir: str
    config_path: str | None = None

    def load(self) -> CityConfig:
        return load_config(self.config_path, self.data_dir)


class WarehouseResource(dg.ConfigurableResource):
    """One DuckDB file per environment; one writer at a time (DuckDB's rule)."""

    path: str
    lock_timeout_seconds: float = 10.0
    threads: int | None = None
    # DuckDB otherwise takes up to 80% of RAM; e.g. "3GB". Default: ENGAGEMENT_EVAL_DUCKDB_MEMORY_LIMIT.
    memory_limit: str | None = None

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        db = Path(self.path)
        if not read_only:
            try:
                db.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(
                    f"cannot create the folder {db.parent} for the DuckDB file: "
                    f"{exc.strerror or exc}",
                    "make it writable for this user, or set --out / ENGAGEMENT_EVAL_DUCKDB to a "
                    "writable place",
                ) from exc
        con = self._open(db, read_only)
        try:
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            limit = self.memory_limit or os.environ.get("ENGAGEMENT_EVAL_DUCKDB_MEMORY_LIMIT")
            if limit:
                con.execute(f"SET memory_limit = '{_memory_limit(limit)}'")
            if not read_only:
                ensure_schemas(con)
            yield con
        finally:
            con.close()

    def _open(self, db: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_seconds
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

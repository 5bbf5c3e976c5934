"""Dagster resources: the city folder with its config, and the environment's DuckDB file.

Thin: opening the file (lock timeout, error messages, memory limit) is `warehouse.connection`;
the paths come from `pipelines.settings.Settings` through `pipelines/definitions.py`. Every
writing asset sits in the `DUCKDB_POOL` concurrency pool, so only one step writes at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from engagement_eval.config import CityConfig, load_config
from warehouse.connection import DEFAULT_LOCK_TIMEOUT_SECONDS
from warehouse.connection import connect as connect_duckdb

DUCKDB_POOL = "duckdb"


class CityResource(dg.ConfigurableResource):
    """The city folder and its config (YAML is small, so it is re-read per step)."""

    data_dir: str
    config_path: str | None = None

    def load(self) -> CityConfig:
        return load_config(self.config_path, self.data_dir)


class WarehouseResource(dg.ConfigurableResource):
    """One DuckDB file per environment; one writer at a time (DuckDB's rule)."""

    path: str
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS
    threads: int | None = None
    # DuckDB otherwise takes up to 80% of RAM; e.g. "3GB". Default: ENGAGEMENT_EVAL_DUCKDB_MEMORY_LIMIT.
    memory_limit: str | None = None

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        limit = self.memory_limit or os.environ.get("ENGAGEMENT_EVAL_DUCKDB_MEMORY_LIMIT")
        with connect_duckdb(
            self.path, read_only, self.lock_timeout_seconds, self.threads, limit
        ) as con:
            yield con

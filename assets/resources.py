"""Dagster resources: the city folder with its config, and the environment's DuckDB file.

Thin: opening the file (lock timeout, error messages, memory limit) is `warehouse.connection`;
the paths come from `pipelines.settings.Settings` through `pipelines/definitions.py`. Every
writing asset sits in the `DUCKDB_POOL` concurrency pool, so only one step writes at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

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
    # "YYYY-MM": the first month with crime or survey data, found when the code location
    # loaded (warehouse.data_window); used only when study_window.start is unset
    data_window_start: str | None = None

    def load(self) -> CityConfig:
        config = load_config(self.config_path, self.data_dir)
        if self.data_window_start and config.window_source == "data":
            config = config.with_data_window(date.fromisoformat(self.data_window_start + "-01"))
        return config


class WarehouseResource(dg.ConfigurableResource):
    """One DuckDB file per environment; one writer at a time (DuckDB's rule)."""

    path: str
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS
    threads: int | None = None
    # DuckDB otherwise takes up to 80% of RAM; e.g. "3GB" (ENGAGEMENT_EVAL_DUCKDB_MEMORY_LIMIT).
    memory_limit: str | None = None
    # Output folders and the results.json clock (pipelines.settings.Settings): results.json's
    # folder (None: the DuckDB file's), the reports' root (None: <results>/reports) and
    # SOURCE_DATE_EPOCH (None: the clock).
    results_dir: str | None = None
    reports_dir: str | None = None
    source_date_epoch: str | None = None

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect_duckdb(
            self.path, read_only, self.lock_timeout_seconds, self.threads, self.memory_limit
        ) as con:
            yield con

    def results_folder(self) -> Path:
        return Path(self.results_dir) if self.results_dir else Path(self.path).parent

    def reports_folder(self) -> Path:
        return Path(self.reports_dir) if self.reports_dir else self.results_folder() / "reports"

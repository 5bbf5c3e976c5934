"""Ingest outside Dagster, for `engagement-eval validate` and the gate's tests.

The one place the gate calls the ingest code, so a change in how ingest is wired is a change
here only. It loads every input over all months (the whole study window plus anything later,
so no delivered row is left unowned) and builds staging, exactly as the Dagster assets do.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from assets._ingest_sql import PartitionScope, build_staging, delivered_files, load_raw
from assets._sql import ensure_schemas
from engagement_eval.config import CityConfig
from engagement_eval.contract import INPUTS


def _all_months(config: CityConfig) -> list[str]:
    first = config.window_start
    last = config.window_end or date.today().replace(day=1)
    keys, current = [], first
    while current <= last:
        keys.append(current.strftime("%Y-%m"))
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return keys


def ingest_city(
    con: duckdb.DuckDBPyConnection,
    data_dir: str | Path,
    config: CityConfig,
    inputs: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """Pre-flight, then raw and staging for every delivered input (or only `inputs`, for a gate
    run that checks just those: districts are always loaded, every input is checked against
    their ids); returns raw rows per loaded input."""
    from quality.structural import check_delivery

    check_delivery(data_dir, config)
    ensure_schemas(con)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    keys = _all_months(config)
    rows: dict[str, int] = {}
    wanted = None if inputs is None else {"districts", *inputs}
    for spec in INPUTS.values():
        if wanted is not None and spec.name not in wanted:
            continue
        files = delivered_files(con, spec, config, data_dir)
        scope = PartitionScope(keys, keys[0], keys[-1]) if spec.partitioned else None
        summary = load_raw(con, spec, config, files, loaded_at, scope) if files else []
        build_staging(con, spec, config, files, scope)
        rows[spec.name] = sum(s["rows"] for s in summary)
    return rows

"""The study window's default start, drawn from the data (issue 13).

When `study_window.start` is unset, the study starts in **the first month that holds crime or
survey data**: the earliest `occurred_at` of crime_incidents, `response_date` of
survey_responses, or `period` start of crime_counts / survey_scores (meetings, programs and
districts do not open the window: a programme dated before any outcome data has no
pre-period, which the gate reports). Dates before `EARLIEST_PLAUSIBLE` are typing mistakes
(year 0201), not the start of a study, and are ignored here (the gate reports them). The end,
when unset, stays open: the last closed month with data (`warehouse.shapes`).

Two readers of the same rule: `first_month_in_files` before anything is loaded (the run
command and the Dagster code location need the window to draw the monthly partitions) and
`first_month_in_staging` after a load (the gate of `engagement-eval validate` and of tests).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from engagement_eval.config import CityConfig
from engagement_eval.contract import INPUTS, resolve_columns
from engagement_eval.errors import UserError
from engagement_eval.grain import GRAINS, period_start_sql
from warehouse.files import delivered_paths, duckdb_path, file_compression
from warehouse.sql import cast_sql, ident, table_exists

# Input -> the column whose earliest month opens the window ("period": a period label).
OPENING_COLUMNS = {
    "crime_incidents": "occurred_at",
    "crime_counts": "period",
    "survey_responses": "response_date",
    "survey_scores": "period",
}
EARLIEST_PLAUSIBLE = date(1900, 1, 1)


def _month_sql(column_sql: str, kind: str) -> str:
    """SQL of the first day of the month a value lies in (NULL when unreadable)."""
    if kind == "period":  # any grain's label; the patterns of the grains do not overlap
        start = f"coalesce({', '.join(period_start_sql(column_sql, g) for g in GRAINS)})"
    else:
        start = column_sql
    return f"CAST(date_trunc('month', {start}) AS DATE)"


def _earliest(
    con: duckdb.DuckDBPyConnection, sql_and_params: list[tuple[str, dict]]
) -> date | None:
    found = []
    for relation_sql, params in sql_and_params:
        try:
            (first,) = con.execute(relation_sql, params).fetchone()
        except duckdb.Error:
            continue  # a file DuckDB cannot parse: the ingest reports it by name
        if first is not None:
            found.append(first)
    return min(found) if found else None


def _min_sql(month_sql: str, relation: str) -> str:
    return f"SELECT min(m) FROM (SELECT {month_sql} AS m FROM {relation}) WHERE m >= $floor"


def first_month_in_files(
    con: duckdb.DuckDBPyConnection, data_dir: str | Path, config: CityConfig
) -> date | None:
    """The first month with crime or survey data in the delivered files (None: none)."""
    queries = []
    for name, column in OPENING_COLUMNS.items():
        spec = INPUTS[name]
        try:
            # the folder rules first: no link out of the folder is opened, names are literal
            paths = delivered_paths(data_dir, spec) if Path(data_dir).is_dir() else []
        except UserError:
            paths = []  # a delivery the structural check refuses, with its own message
        for path in paths:
            reader = (
                "read_parquet($path)"
                if path.suffix.lower() == ".parquet"
                else "read_csv($path, all_varchar = true, header = true, compression = $comp)"
            )
            try:
                comp = {"comp": file_compression(path, "csv")} if "$comp" in reader else {}
                header = [
                    r[0]
                    for r in con.execute(
                        f"DESCRIBE SELECT * FROM {reader}", {"path": duckdb_path(path), **comp}
                    ).fetchall()
                ]
                delivered = resolve_columns(spec, header, config, path).get(column)
            except (duckdb.Error, UserError):
                continue  # an unreadable file is the delivery check's business
            if delivered is None:
                continue
            text = f"CAST({ident(delivered)} AS VARCHAR)"
            fmt = config.date_format(name, column)
            params = {"path": duckdb_path(path), "floor": EARLIEST_PLAUSIBLE, **comp}
            if column == "period":
                month = _month_sql(text, "period")
            else:
                month = _month_sql(cast_sql(text, "timestamp", "fmt" if fmt else None), "date")
                if fmt:
                    params["fmt"] = fmt
            queries.append((_min_sql(month, reader), params))
    return _earliest(con, queries)


def first_month_in_staging(con: duckdb.DuckDBPyConnection) -> date | None:
    """The same rule over the loaded staging tables (typed, contract column names)."""
    queries = []
    for name, column in OPENING_COLUMNS.items():
        if not table_exists(con, "staging", name):
            continue
        kind = "period" if column == "period" else "date"
        month = _month_sql(ident(column), kind)
        queries.append((_min_sql(month, f"staging.{ident(name)}"), {"floor": EARLIEST_PLAUSIBLE}))
    return _earliest(con, queries)


def with_data_window(config: CityConfig, data_dir: str | Path) -> CityConfig:
    """`config` with an unset study_window.start filled from the delivered files."""
    if config.window_source != "data":
        return config
    con = duckdb.connect()
    try:
        return config.with_data_window(first_month_in_files(con, data_dir, config))
    finally:
        con.close()

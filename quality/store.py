"""The gate's tables in DuckDB (schema `quality`). Raw and staging tables are only read.

- `quality.quarantine`: one row per (row, rule broken), all runs (history).
- `quality.quarantined_rows`: the rows set aside by the latest run of each input; the
  `staging.<input>_clean` views leave them out.
- `quality.rule_results`: each rule's outcome per run (what the report shows).
- `quality.run_summary`: one row per input per run.
- `quality.reporting_gaps`: district-months that look like a records outage, per run.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from engagement_eval.contract import INPUTS
from warehouse.sql import ident, table, table_columns, table_exists

DDL = (
    """CREATE TABLE IF NOT EXISTS quality.quarantine (
        run_id VARCHAR, input VARCHAR, source_file VARCHAR, row_number BIGINT,
        "column" VARCHAR, value VARCHAR, rule VARCHAR, severity VARCHAR, detected_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS quality.quarantined_rows (
        input VARCHAR, source_file VARCHAR, row_number BIGINT, run_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS quality.rule_results (
        run_id VARCHAR, input VARCHAR, rule VARCHAR, "column" VARCHAR, severity VARCHAR,
        level VARCHAR, expectation VARCHAR, description VARCHAR, success BOOLEAN,
        element_count BIGINT, unexpected_count BIGINT, examples VARCHAR, error VARCHAR,
        fix VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS quality.run_summary (
        run_id VARCHAR, input VARCHAR, source_files VARCHAR, rows_in BIGINT,
        rows_quarantined BIGINT, quarantined_by_rule VARCHAR, checks_passed INTEGER,
        checks_failed INTEGER, checks_warned INTEGER, status VARCHAR, message VARCHAR,
        started_at TIMESTAMP, seconds DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS quality.reporting_gaps (
        run_id VARCHAR, district_id VARCHAR, month DATE, incidents BIGINT,
        typical_incidents DOUBLE)""",
)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS quality")
    for ddl in DDL:
        con.execute(ddl)


def append(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    """Append a DataFrame to quality.<name> by column name."""
    if frame.empty:
        return
    con.complete()  # DuckDB 2: register() refuses while a fetchone() result is open
    con.register("_gate_append", frame)
    try:
        con.execute(f"INSERT INTO {table('quality', name)} BY NAME SELECT * FROM _gate_append")
    finally:
        con.unregister("_gate_append")


def insert_quarantine(
    con: duckdb.DuckDBPyConnection,
    frame_table: str,
    rids: np.ndarray,
    *,
    run_id: str,
    input_name: str,
    column: str | None,
    value_column: str | None,
    rule: str,
    severity: str,
    detected_at,
) -> None:
    """Copy failing rows (by frame `_rid`) into quality.quarantine with the offending text."""
    if not len(rids):
        return
    value_sql = (
        "CAST(NULL AS VARCHAR)"
        if value_column is None
        else f"CAST(f.{ident(value_column)} AS VARCHAR)"
    )
    con.complete()  # DuckDB 2: register() refuses while a fetchone() result is open
    con.register("_gate_rids", pd.DataFrame({"_rid": np.asarray(rids, dtype="int64")}))
    try:
        con.execute(
            f"""INSERT INTO quality.quarantine
                SELECT $run_id, $input, f._source_file, f._row_number, $column, {value_sql},
                       $rule, $severity, $detected_at
                FROM {frame_table} f JOIN (SELECT DISTINCT _rid FROM _gate_rids) b USING (_rid)""",
            {
                "run_id": run_id,
                "input": input_name,
                "column": column,
                "rule": rule,
                "severity": severity,
                "detected_at": detected_at,
            },
        )
    finally:
        con.unregister("_gate_rids")


def create_clean_view(con: duckdb.DuckDBPyConnection, input_name: str) -> bool:
    """`staging.<input>_clean`: staging minus the rows the latest gate run set aside.

    A view, so it follows later re-materializations of staging. Returns False when staging (or
    its lineage columns) is not there yet.
    """
    if input_name not in INPUTS or not table_exists(con, "staging", input_name):
        return False
    if not {"_source_file", "_row_number"} <= set(table_columns(con, "staging", input_name)):
        return False
    con.execute(
        f"""CREATE OR REPLACE VIEW {table("staging", input_name + "_clean")} AS
            SELECT s.* FROM {table("staging", input_name)} s
            WHERE NOT EXISTS (
                SELECT 1 FROM quality.quarantined_rows q
                WHERE q.input = '{input_name}' AND q.source_file = s._source_file
                  AND q.row_number = s._row_number)"""
    )
    return True


def clean_rows_sql(input_name: str) -> str:
    """SELECT of the staging rows that passed the gate, for SQL that cannot use the view."""
    if input_name not in INPUTS:
        raise ValueError(f"unknown input {input_name!r}")
    return f"SELECT * FROM {table('staging', input_name + '_clean')}"

"""The `results.*` tables in DuckDB, written in one transaction per run.

The rows come from `evaluation.store.frames(results, run_id)` (the evaluation owns the results
document and so its mapping to rows; this module owns the tables). Rows are keyed by `run_id`,
so history is kept; a failed write leaves no partial run.
"""

from __future__ import annotations

import duckdb
import pandas as pd

DDL = (
    "CREATE SCHEMA IF NOT EXISTS results",
    """CREATE TABLE IF NOT EXISTS results.estimates (run_id VARCHAR, outcome VARCHAR,
        role VARCHAR, estimator VARCHAR, scale VARCHAR, estimate DOUBLE, se DOUBLE,
        ci_low DOUBLE, ci_high DOUBLE, p_value DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS results.event_studies (run_id VARCHAR, outcome VARCHAR,
        event_time INTEGER, estimate DOUBLE, se DOUBLE, ci_low DOUBLE, ci_high DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS results.diagnostics (run_id VARCHAR, outcome VARCHAR,
        name VARCHAR, value DOUBLE, text VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS results.run_metadata (run_id VARCHAR, generated_at VARCHAR,
        code_version VARCHAR, config JSON, inputs JSON, timings JSON, results_json JSON)""",
)
TABLES = ("estimates", "event_studies", "diagnostics", "run_metadata")


def write_results(con: duckdb.DuckDBPyConnection, data: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Insert one run's rows (`evaluation.store.frames`) into the results tables atomically;
    returns rows written per table."""
    counts = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for ddl in DDL:
            con.execute(ddl)
        for name in TABLES:  # names from the fixed whitelist above
            frame = data[name]
            counts[name] = len(frame)
            if frame.empty:
                continue
            con.register("_results_rows", frame)
            try:
                con.execute(f"INSERT INTO results.{name} BY NAME SELECT * FROM _results_rows")
            finally:
                con.unregister("_results_rows")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts

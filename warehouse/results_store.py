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
# issue 14: one row per run and outcome, appended (never replaced), read back by the next run.
# `cells` holds a hash per district-period the outcome used, so the next run can count revised
# rows of months already analysed. No wall-clock column: the same inputs must give the same
# rows (tests/reliability); runs are ordered by insertion (`rowid`, the table is append-only),
# which also holds when generated_at is pinned by SOURCE_DATE_EPOCH.
HISTORY_DDL = """CREATE TABLE IF NOT EXISTS results.history (run_id VARCHAR, city VARCHAR,
    generated_at VARCHAR, data_through VARCHAR, config_hash VARCHAR, inputs_hash VARCHAR,
    input_hashes JSON, code_version VARCHAR, outcome VARCHAR, estimate DOUBLE, ci_low DOUBLE,
    ci_high DOUBLE, verdict_level VARCHAR, cells JSON)"""


def write_results(con: duckdb.DuckDBPyConnection, data: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Insert one run's rows (`evaluation.store.frames`) into the results tables atomically;
    returns rows written per table."""
    counts = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for ddl in DDL:
            con.execute(ddl)
        con.execute(HISTORY_DDL)
        for name in (*TABLES, "history"):  # names from the fixed whitelist above
            if name == "history" and name not in data:
                continue
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


def previous_history(con: duckdb.DuckDBPyConnection, city: str, run_id: str) -> pd.DataFrame:
    """History rows of the latest earlier run for `city` in this database (empty when none).

    The database belongs to one output folder, so "earlier run for the same output" is the
    latest run recorded here for the same city other than `run_id`.
    """
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'results' AND table_name = 'history'"
    ).fetchone()[0]
    if not exists:
        return pd.DataFrame()
    return con.execute(
        """SELECT * FROM results.history WHERE run_id = (
               SELECT run_id FROM results.history WHERE city = ? AND run_id <> ?
               ORDER BY rowid DESC LIMIT 1)
           ORDER BY outcome""",
        [city, run_id],
    ).df()

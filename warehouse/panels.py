"""Analysis panels built in DuckDB from staging (only panels, thousands of rows, reach Python).

Definitions (also in docs/data_contract.md):
  - Window: config study_window.start to study_window.end, or to the last month with incidents.
  - Population per district-month: the districts row whose `year` is closest to the month's year
    (ties: the later year); a single row per district when there is no `year` column.
  - Program start: a district's earliest `start_date` in programs.csv; without programs.csv the
    first month whose attendees per 1,000 reach `rollout.attendance_threshold_per_1000`.
    Treatment is absorbing (`end_date` is kept in staging but does not switch it off).
    cohort_period = period of the first treated month; 1 when the program started before the
    window (always treated), 0 when never treated or when it started after the window.
  - Survey: a response's index is the mean of its index items that lie inside the scale;
    weights default to 1; the district-quarter mean is the weighted (ratio) mean and its
    standard error the linearised with-replacement one:
      se^2 = n / (n - 1) * sum_i w_i^2 (y_i - ybar)^2 / (sum_i w_i)^2
    (NULL when n < 2). The quarter holding the start month is the first treated quarter.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from engagement_eval.config import CityConfig
from engagement_eval.errors import UserError
from warehouse import shapes
from warehouse.files import duckdb_path
from warehouse.sql import (
    SURVEY_CELL_SUMS,
    clean_source,
    ident,
    survey_index_selects,
    survey_se_sql,
    table_columns,
    table_exists,
    transaction,
)


def require_rollout_source(con: duckdb.DuckDBPyConnection) -> None:
    """Stop when nothing says when districts started: without programs.csv the start is read
    from meeting attendance, and without meetings either every district would silently
    become a comparison district (no treated district, no estimate)."""
    if table_exists(con, "staging", "programs") or table_exists(con, "staging", "meetings"):
        return
    raise UserError(
        "the program roll-out cannot be derived: neither programs.csv nor meetings were "
        "delivered, so no district has a start date",
        "deliver programs.csv (district_id or unit_id, program, start_date: one row per "
        "district that started the program), or meetings.csv so that the start is read from "
        "attendance (rollout.attendance_threshold_per_1000)",
    )


def build_district_month(
    con: duckdb.DuckDBPyConnection, config: CityConfig, last_key: str | None
) -> int:
    """marts.district_month for every input shape, grain and unit: one builder
    (`warehouse.shapes.build_analysis_panel`); at the default shape (monthly incidents per
    district) its rows are the definitions above, one per district and month."""
    require_rollout_source(con)
    return shapes.build_analysis_panel(con, config, last_key)


def build_district_quarter_survey(con: duckdb.DuckDBPyConnection, config: CityConfig) -> int:
    """Weighted index means per district-quarter; needs marts.district_month (for the window)."""
    if shapes.needs_shapes(con, config) or not table_exists(con, "staging", "survey_responses"):
        return shapes.build_survey_panel(con, config)
    lo, hi = config.survey.scale
    has_weight = "weight" in table_columns(con, "staging", "survey_responses")
    weight = "weight" if has_weight else "1.0"
    params: dict = {"lo": lo, "hi": hi}
    per_index = survey_index_selects(config.survey.indices, params, "district_id, quarter, w")
    if not per_index:
        return 0
    with transaction(con):
        con.execute(
            f"""
            CREATE OR REPLACE TABLE marts.district_quarter_survey AS
            WITH bounds AS (
                SELECT CAST(date_trunc('quarter', min(month)) AS DATE) AS q0,
                       CAST(date_trunc('quarter', max(month)) AS DATE) AS q1,
                       max(month) AS last_month
                FROM marts.district_month
            ), quarters AS (
                SELECT CAST(unnest(generate_series(q0, q1, INTERVAL 3 MONTH)) AS DATE) AS quarter
                FROM bounds
            ), resp AS (
                SELECT s.*, CAST(date_trunc('quarter', response_date) AS DATE) AS quarter,
                       CAST({weight} AS DOUBLE) AS w
                FROM {clean_source(con, "survey_responses")} s, bounds
                WHERE response_date >= q0 AND response_date < last_month + INTERVAL 1 MONTH
            ), long AS ({" UNION ALL ".join(per_index)}
            ), cells AS (
                SELECT district_id, quarter, index_name, {SURVEY_CELL_SUMS}
                FROM long WHERE y IS NOT NULL AND w > 0 GROUP BY ALL
            ), districts AS (
                SELECT DISTINCT district_id, program, start_month FROM marts.district_month
            ), indices AS (SELECT DISTINCT index_name FROM long)
            SELECT d.district_id, q.quarter,
                   CAST(datediff('quarter', b.q0, q.quarter) + 1 AS INTEGER) AS period,
                   i.index_name, c.mean, {survey_se_sql("c.")} AS se,
                   coalesce(c.n, 0) AS n_responses, coalesce(c.sw, 0) AS sum_weights,
                   CAST(CASE WHEN d.start_month IS NULL OR d.start_month > b.last_month THEN 0
                        WHEN d.start_month < b.q0 THEN 1
                        ELSE datediff('quarter', b.q0, date_trunc('quarter', d.start_month)) + 1
                        END AS INTEGER) AS cohort_period,
                   CAST(coalesce(q.quarter >= date_trunc('quarter', d.start_month), FALSE) AS INTEGER)
                       AS treated
            FROM districts d CROSS JOIN quarters q CROSS JOIN indices i CROSS JOIN bounds b
            LEFT JOIN cells c ON c.district_id = d.district_id AND c.quarter = q.quarter
                 AND c.index_name = i.index_name
            ORDER BY d.district_id, i.index_name, q.quarter
            """,
            params,
        )
        rows = con.execute("SELECT count(*) FROM marts.district_quarter_survey").fetchone()[0]
    return int(rows)


PANEL_TABLES = ("district_month", "district_quarter_survey")


def export_panels(con: duckdb.DuckDBPyConnection, folder: str | Path) -> dict[str, Path]:
    """Snapshot the panels as Parquet files next to the database.

    Model steps that run in parallel (multiprocess, Celery, Kubernetes executors) read these
    snapshots instead of opening the DuckDB file, so they never wait on or collide with the
    one writer DuckDB allows. Panels are thousands of rows, so the copy is instant; each file
    is written under a temporary name and renamed, so a reader never sees half a file.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in PANEL_TABLES:
        if not table_exists(con, "marts", name):
            continue
        reader = con.cursor()  # its own result state: earlier results on `con` may be unfinished
        try:
            arrow = reader.sql(f"SELECT * FROM marts.{ident(name)}").to_arrow_table()
        finally:
            reader.close()
        target = out / f"{name}.parquet"
        partial = target.with_suffix(".parquet.partial")
        pq.write_table(arrow, partial)
        os.replace(partial, target)
        written[name] = target
    return written


def read_panel(folder: str | Path, name: str) -> pd.DataFrame:
    """A panel snapshot written by `export_panels`, as a DataFrame with the same dtypes as
    reading the table from DuckDB (an in-memory DuckDB reads it; no database file is opened)."""
    if name not in PANEL_TABLES:
        raise ValueError(f"unknown panel {name!r}")
    con = duckdb.connect()
    try:
        path = duckdb_path(Path(folder) / f"{name}.parquet")  # an --out like `out[2]` is no glob
        return con.execute("SELECT * FROM read_parquet($path)", {"path": path}).df()
    finally:
        con.close()

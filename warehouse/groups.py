"""Survey panel by resident group (issue 15, section 2): `marts.district_quarter_survey_groups`.

One row per index, group column, group value, district and quarter that has answers: the
weighted index mean of that group's respondents there, its linearised standard error and
response count, computed exactly like the headline panel (`warehouse.panels`, same scale
filter, weights and SE formula), and the district's period, cohort and treatment status taken
from `marts.district_quarter_survey` (so the window and roll-out are the headline's).

Privacy rule (docs/evaluation.md, "Who changed"): group x district x quarter cells can identify
people. This table is internal (the estimators read it); nothing built from a cell with fewer
than `model.min_cell_size` responses is published: results, report, XLSX and the UI metadata
show only estimates over many cells and counts per group value, never a cell's mean or count.

Group columns come from `survey.groups` (plain identifiers, checked by the config, quoted with
`ident`); their values are bound as data, never spliced into SQL. Responses whose group value
is empty are left out of that column's groups (they still count in the headline panel).
From `survey_responses`: one cell per group value, district and survey period. From
`survey_scores`: a row whose group column holds a value is that group's score (its
`n_respondents`, `<index>_se`); rows with all group columns empty are everyone's and feed the
headline panel only (`warehouse.shapes._score_cells`). Periods follow the survey grain.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from engagement_eval.config import CityConfig
from engagement_eval.grain import period_start_sql, trunc_sql
from warehouse import shapes
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

TABLE = "district_quarter_survey_groups"


def build_survey_group_panel(con: duckdb.DuckDBPyConnection, config: CityConfig) -> int:
    """Build (or drop, when no group column is configured or delivered) the group panel;
    returns its rows. Needs `marts.district_quarter_survey` (periods and cohorts)."""
    con.execute(f"DROP TABLE IF EXISTS marts.{ident(TABLE)}")
    if not config.survey.groups or not table_exists(con, "marts", "district_quarter_survey"):
        return 0
    source = next(
        (n for n in ("survey_responses", "survey_scores") if table_exists(con, "staging", n)),
        None,
    )
    if source is None or not config.survey.indices:
        return 0
    staged = set(table_columns(con, "staging", source))
    groups = [g for g in config.survey.groups if g in staged]
    if not groups:
        return 0
    grain = shapes.detect_shape(con, config).survey_grain
    params: dict = {"lo": config.survey.scale[0], "hi": config.survey.scale[1]}
    build = _response_cells if source == "survey_responses" else _score_cells
    cells = build(con, config, groups, staged, grain, params)
    with transaction(con):
        con.execute(
            f"""
            CREATE TABLE marts.{ident(TABLE)} AS
            WITH cells AS ({cells})
            SELECT c.district_id, c.quarter, p.period, c.index_name, c.group_column,
                   c.group_value, c.mean, c.se, c.n AS n_responses, c.sw AS sum_weights,
                   p.cohort_period, p.treated
            FROM cells c
            JOIN marts.district_quarter_survey p ON p.district_id = c.district_id
                 AND p.quarter = c.quarter AND p.index_name = c.index_name
            ORDER BY c.index_name, c.group_column, c.group_value, c.district_id, c.quarter
            """,
            params,
        )
        rows = con.execute(f"SELECT count(*) FROM marts.{ident(TABLE)}").fetchone()[0]
    return int(rows)


def _group_value(column: str) -> str:
    return f"nullif(trim(CAST({ident(column)} AS VARCHAR)), '')"


def _response_cells(con, config: CityConfig, groups, staged, grain: str, params: dict) -> str:
    """Per group cell from responses: weighted mean, linearised SE, n (the headline's rules)."""
    weight = "weight" if "weight" in staged else "1.0"
    per_index = survey_index_selects(config.survey.indices, params, "*")
    per_group = []
    for j, column in enumerate(groups):
        params[f"group_{j}"] = column
        per_group.append(
            f"SELECT district_id, quarter, index_name, w, y, $group_{j} AS group_column,"
            f" {_group_value(column)} AS group_value FROM long"
        )
    keep = ", ".join(ident(c) for c in ["district_id", *groups, *config.survey.items])
    return f"""
        WITH resp AS (
            SELECT {keep}, {trunc_sql("response_date", grain)} AS quarter,
                   CAST({weight} AS DOUBLE) AS w
            FROM {clean_source(con, "survey_responses")} s
        ), long AS ({" UNION ALL ".join(per_index)}
        ), grouped AS ({" UNION ALL ".join(per_group)}
        ), agg AS (
            SELECT district_id, quarter, index_name, group_column, group_value,
                   {SURVEY_CELL_SUMS}
            FROM grouped
            WHERE y IS NOT NULL AND w > 0 AND group_value IS NOT NULL GROUP BY ALL
        )
        SELECT district_id, quarter, index_name, group_column, group_value, n, sw, mean,
               {survey_se_sql()} AS se
        FROM agg"""


def _score_cells(con, config: CityConfig, groups, staged, grain: str, params: dict) -> str:
    """Per group cell from survey_scores rows that carry a group value: the delivered score,
    its `<index>_se` (when given and `survey.score_se: column`) and `n_respondents`; scores
    finer than the survey grain pooled by respondents, as the headline's scores panel does."""
    start = period_start_sql("s.period", shapes._period_grain(con, "survey_scores"))
    parts = []
    for i, name in enumerate(n for n in config.survey.indices if n in staged):
        params[f"index_{i}"] = name
        se_col = f"{name}_se"
        use_se = config.survey.score_se == "column" and se_col in staged
        se = f"s.{ident(se_col)}" if use_se else "CAST(NULL AS DOUBLE)"
        for j, column in enumerate(groups):
            params[f"group_{j}"] = column
            parts.append(
                f"SELECT s.district_id, {trunc_sql(start, grain)} AS quarter,"
                f" $index_{i} AS index_name, $group_{j} AS group_column,"
                f" {_group_value(column)} AS group_value,"
                f" s.n_respondents AS n, s.{ident(name)} AS y, {se} AS se0"
                f" FROM {clean_source(con, 'survey_scores')} s"
                f" WHERE s.{ident(name)} BETWEEN $lo AND $hi AND s.n_respondents >= 1"
                f" AND {_group_value(column)} IS NOT NULL"
            )
    if not parts:
        return (
            "SELECT NULL::VARCHAR AS district_id, NULL::DATE AS quarter, NULL::VARCHAR AS"
            " index_name, NULL::VARCHAR AS group_column, NULL::VARCHAR AS group_value,"
            " 0::BIGINT AS n, 0.0 AS sw, 0.0 AS mean, 0.0 AS se WHERE FALSE"
        )
    return f"""
        SELECT district_id, quarter, index_name, group_column, group_value,
               CAST(sum(n) AS BIGINT) AS n, sum(n) AS sw, sum(n * y) / sum(n) AS mean,
               sqrt(sum(n * n * se0 * se0)) / sum(n) AS se
        FROM ({" UNION ALL ".join(parts)}) GROUP BY ALL"""


def read_group_panel(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
    """The group panel for the evaluation, or None when it was not built."""
    if not table_exists(con, "marts", TABLE):
        return None
    return con.execute(
        f"SELECT * FROM marts.{ident(TABLE)} ORDER BY index_name, group_column, group_value,"
        " district_id, quarter"
    ).df()


def group_panel_metadata(con: duckdb.DuckDBPyConnection, min_cell_size: int) -> dict:
    """UI metadata of the group panel without any cell: per group column and value, the number
    of responses and of cells, and how many cells fall under `min_cell_size` (counted, never
    shown). A group value whose responses in all are under the threshold is listed without
    its count."""
    if not table_exists(con, "marts", TABLE):
        return {"note": "no resident groups configured or delivered"}
    rows = con.execute(
        f"""SELECT group_column, group_value, sum(n_responses) AS responses, count(*) AS cells,
                   count(*) FILTER (WHERE n_responses < $k) AS small_cells
            FROM (SELECT group_column, group_value, district_id, quarter,
                         max(n_responses) AS n_responses  -- per cell, over the indices
                  FROM marts.{ident(TABLE)} GROUP BY ALL)
            GROUP BY ALL ORDER BY 1, 2""",
        {"k": int(min_cell_size)},
    ).fetchall()
    out: dict = {}
    for column, value, responses, cells, small in rows:
        shown = int(responses) >= min_cell_size
        out.setdefault(column, {})[value] = {
            "responses": int(responses) if shown else None,
            "cells": int(cells),
            "cells_not_published": int(small),
        }
    return out

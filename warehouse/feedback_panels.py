"""Meeting feedback panels (issue 15), built in DuckDB from staging; only aggregates leave.

- `marts.feedback_items`: district x quarter x item: `mean` of the delivered ratings, `n`
  (ratings given), `se` (sample sd / sqrt(n), NULL when n < 2) and `sum` (so a pooled mean is
  exact: sum / n), and the roll-out: `period` (1 = first quarter of the window),
  `start_quarter`, `cohort_period` (0 = never treated), `treated`.
- `marts.feedback_themes`: district x quarter x theme: forms `n` naming a topic of that theme
  and their `share` of the forms that named any topic.
- `marts.feedback_coverage`: district x quarter: `meetings` held and `meetings_with_forms`;
  a quarter with meetings but no form is a reporting gap (`feedback_gaps`).

A form counts in the quarter and district of the meeting it is about (the meeting's date,
not the date it was handed in), over the study window of `marts.district_month`. Forms the
quality gate set aside are left out (`clean_source`). Topics map to themes by
`feedback.topic_map` (case and surrounding spaces ignored); a label equal to a theme passes
through; anything else counts as `other`. The comment column is never read: it stays in raw.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from engagement_eval.config import CityConfig
from engagement_eval.feedback import THEMES
from warehouse.sql import clean_source, ident, table_columns, table_exists, transaction

ITEMS_TABLE = "marts.feedback_items"
THEMES_TABLE = "marts.feedback_themes"
COVERAGE_TABLE = "marts.feedback_coverage"


def _meetings_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Meetings that passed the gate with their district (through units.csv for a unit)."""
    cols = set(table_columns(con, "staging", "meetings"))
    place = ["m.district_id"] if "district_id" in cols else []
    if "unit_id" in cols and table_exists(con, "staging", "units"):
        place.append(
            "(SELECT any_value(u.district_id) FROM staging.units u WHERE u.unit_id = m.unit_id)"
        )
    district = f"coalesce({', '.join(place)})" if place else "CAST(NULL AS VARCHAR)"
    return f"""
        SELECT trim(m.meeting_id) AS meeting_id, m.meeting_date, {district} AS district_id,
               CAST(date_trunc('quarter', m.meeting_date) AS DATE) AS quarter
        FROM {clean_source(con, "meetings")} m
        WHERE m.meeting_date >= $lo AND m.meeting_date < $hi
        QUALIFY row_number() OVER (PARTITION BY trim(m.meeting_id) ORDER BY m.meeting_date) = 1"""


def _forms_sql(con: duckdb.DuckDBPyConnection, config: CityConfig) -> str:
    """Forms in their meeting's district and quarter (temp table `_fb_meetings`)."""
    items = ", ".join(f"f.{ident(i)}" for i in config.feedback.items)
    has_topic = "topic" in table_columns(con, "staging", "meeting_feedback")
    topic = "upper(trim(f.topic))" if has_topic else "CAST(NULL AS VARCHAR)"
    theme = (
        f"CASE WHEN {topic} IS NULL OR {topic} = '' THEN NULL"
        f" WHEN list_contains($labels, {topic}) THEN ($mapped)[list_position($labels, {topic})]"
        f" WHEN list_contains($themes, lower({topic})) THEN lower({topic}) ELSE 'other' END"
    )
    return f"""
        SELECT f.feedback_id, m.meeting_id, m.district_id, m.quarter, {items}, {theme} AS theme
        FROM {clean_source(con, "meeting_feedback")} f
        JOIN _fb_meetings m ON m.meeting_id = trim(f.meeting_id)
        WHERE m.district_id IS NOT NULL"""


def build_feedback_panels(con: duckdb.DuckDBPyConnection, config: CityConfig) -> int:
    """Rebuild the feedback marts; returns the item rows (0 and no tables without forms)."""
    if not (
        table_exists(con, "staging", "meeting_feedback")
        and table_exists(con, "staging", "meetings")
        and table_exists(con, "marts", "district_month")
    ):
        for name in (ITEMS_TABLE, THEMES_TABLE, COVERAGE_TABLE):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        return 0
    lo, hi = con.execute(
        "SELECT min(month), max(month) + INTERVAL 1 MONTH FROM marts.district_month"
    ).fetchone()
    params = {
        "lo": lo,
        "hi": hi,
        "labels": list(config.feedback.topic_map),
        "mapped": list(config.feedback.topic_map.values()),
        "themes": list(THEMES),
    }
    unpivot = " UNION ALL ".join(
        f"SELECT district_id, quarter, {_literal(i)} AS item, {ident(i)} AS y FROM _fb_forms"
        for i in config.feedback.items
    )
    design = """
        SELECT c.*, CAST(datediff('quarter', CAST($lo AS DATE), c.quarter) + 1 AS BIGINT)
                   AS period,
               r.start_quarter,
               CASE WHEN r.start_quarter IS NULL OR r.start_quarter >= CAST($hi AS DATE) THEN 0
                    WHEN r.start_quarter <= CAST($lo AS DATE) THEN 1
                    ELSE CAST(datediff('quarter', CAST($lo AS DATE), r.start_quarter) + 1
                              AS BIGINT) END AS cohort_period,
               CAST(r.start_quarter IS NOT NULL AND c.quarter >= r.start_quarter AS INTEGER)
                   AS treated
        FROM cells c LEFT JOIN (
            SELECT district_id, CAST(date_trunc('quarter', min(start_month)) AS DATE)
                   AS start_quarter
            FROM marts.district_month GROUP BY district_id) r USING (district_id)"""
    statements = [
        f"CREATE OR REPLACE TEMP TABLE _fb_meetings AS {_meetings_sql(con)}",
        f"CREATE OR REPLACE TEMP TABLE _fb_forms AS {_forms_sql(con, config)}",
        f"""CREATE OR REPLACE TABLE {ITEMS_TABLE} AS
            WITH cells AS (
                SELECT district_id, quarter, item, count(y) AS n, sum(y) AS sum,
                       avg(y) AS mean,
                       CASE WHEN count(y) > 1 THEN stddev_samp(y) / sqrt(count(y)) END AS se
                FROM ({unpivot}) GROUP BY ALL)
            {design} ORDER BY district_id, item, quarter""",
        f"""CREATE OR REPLACE TABLE {THEMES_TABLE} AS
            WITH cells AS (
                SELECT district_id, quarter, theme, count(*) AS n,
                       count(*) / sum(count(*)) OVER (PARTITION BY district_id, quarter)
                           AS share
                FROM _fb_forms WHERE theme IS NOT NULL GROUP BY district_id, quarter, theme)
            {design} ORDER BY district_id, quarter, theme""",
        f"""CREATE OR REPLACE TABLE {COVERAGE_TABLE} AS
            WITH cells AS (
                SELECT m.district_id, m.quarter, count(*) AS meetings,
                       count(f.meeting_id) AS meetings_with_forms
                FROM _fb_meetings m
                LEFT JOIN (SELECT DISTINCT meeting_id FROM _fb_forms) f USING (meeting_id)
                WHERE m.district_id IS NOT NULL GROUP BY ALL)
            {design} ORDER BY district_id, quarter""",
    ]
    with transaction(con):
        for sql in statements:
            con.execute(sql, _used(params, sql))
        con.execute("DROP TABLE _fb_forms")
        con.execute("DROP TABLE _fb_meetings")
        rows = con.execute(f"SELECT count(*) FROM {ITEMS_TABLE}").fetchone()[0]
    return int(rows)


def _literal(name: str) -> str:
    """An item name as a SQL string literal (names are plain identifiers, checked by the
    config, and quotes are doubled all the same)."""
    return "'" + name.replace("'", "''") + "'"


def _used(params: dict, sql: str) -> dict:
    return {k: v for k, v in params.items() if f"${k}" in sql}


def feedback_gaps(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """District-quarters with meetings held but no form returned (a reporting gap)."""
    if not table_exists(con, "marts", "feedback_coverage"):
        return []
    rows = con.execute(
        f"SELECT district_id, quarter, meetings FROM {COVERAGE_TABLE}"
        " WHERE meetings > 0 AND meetings_with_forms = 0 ORDER BY 1, 2"
    ).fetchall()
    return [{"district": str(d), "quarter": q.isoformat(), "meetings": int(n)} for d, q, n in rows]


def read_feedback(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(items, themes) panels, or None when no feedback was delivered."""
    if not table_exists(con, "marts", "feedback_items"):
        return None
    items = con.execute(f"SELECT * FROM {ITEMS_TABLE} ORDER BY district_id, item, quarter").df()
    themes = con.execute(f"SELECT * FROM {THEMES_TABLE} ORDER BY district_id, quarter").df()
    return items, themes

"""Reporting gaps: a district-month with no incidents where the district usually has many.

A records-system outage looks exactly like a crime drop in the counts, so it has to be found
before the panels are built. This is computed on aggregated counts in DuckDB (districts x
months, zeros filled in) and the small result is validated like any other frame, with one
row-level rule: in a district whose typical (median) month has at least
`quality.gap_min_typical` incidents, every month has at least one.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from quality.frames import Crosswalk, Frame
from quality.rules import ROW, WARNING, Rule
from quality.settings import GateSettings


def gap_rule(settings: GateSettings) -> Rule:
    return Rule(
        name="district_month_reported",
        expectation="ExpectColumnValuesToBeBetween",
        kwargs={"column": "incidents", "min_value": 1},
        column="occurred_at",
        severity=WARNING,
        level=ROW,
        description="every district that typically records at least "
        f"{settings.gap_min_typical} incidents a month records some in each study month "
        "(a month with none is a reporting gap, not a crime drop; the panel marks it "
        "reported = false)",
        fix="deliver the missing month's incidents, or leave it: the month is treated as "
        "missing rather than as zero crime",
        value_column="incidents",
    )


def gap_frame(
    con: duckdb.DuckDBPyConnection,
    incidents: Frame,
    district_ids: tuple[str, ...],
    settings: GateSettings,
    units: Crosswalk | None = None,
) -> pd.DataFrame:
    """District-months of busy districts with their incident counts (zeros included).

    Months run from the study start to the study end (or, when open, the last month with
    data); only parseable, non-future dates of known districts are counted. Incidents given
    per unit only count in the district units.csv gives their unit.
    """
    columns = ["_rid", "district_id", "month", "incidents", "typical_incidents"]
    per_unit = "district_id" not in incidents.columns
    if not district_ids or (per_unit and not units):
        return pd.DataFrame(columns=columns)
    source = incidents.table
    if per_unit:
        source = f"(SELECT i.*, u.district_id FROM {incidents.table} i JOIN _gate_units u USING (unit_id))"
    con.complete()  # DuckDB 2: register() refuses while a fetchone() result is open
    con.register("_gate_district_ids", pd.DataFrame({"district_id": list(district_ids)}))
    if per_unit:
        pairs = pd.DataFrame(list(units.pairs), columns=["unit_id", "district_id"])
        con.register("_gate_units", pairs.drop_duplicates("unit_id"))
    try:
        frame = con.execute(
            f"""
            WITH counted AS (
                SELECT district_id, date_trunc('month', occurred_at) AS month, count(*) AS n
                FROM {source}
                WHERE occurred_at IS NOT NULL AND occurred_at <= $now
                  AND occurred_at >= $start AND ($end IS NULL OR occurred_at <= $end)
                  AND _copy_number = 1
                GROUP BY ALL
            ), bounds AS (
                SELECT CAST($start AS DATE) AS first_month,
                       CAST(coalesce(date_trunc('month', CAST($end AS TIMESTAMP)),
                                     max(month)) AS DATE) AS last_month
                FROM counted
            ), months AS (
                SELECT CAST(unnest(generate_series(first_month, last_month, INTERVAL 1 MONTH))
                            AS DATE) AS month
                FROM bounds WHERE last_month IS NOT NULL
            ), grid AS (
                SELECT d.district_id, m.month, coalesce(c.n, 0) AS incidents
                FROM _gate_district_ids d CROSS JOIN months m
                LEFT JOIN counted c ON c.district_id = d.district_id AND c.month = m.month
            ), typical AS (
                SELECT *, median(incidents) OVER (PARTITION BY district_id) AS typical_incidents
                FROM grid
            )
            SELECT row_number() OVER (ORDER BY district_id, month) AS _rid, district_id, month,
                   incidents, typical_incidents
            FROM typical WHERE typical_incidents >= $min_typical
            ORDER BY district_id, month
            """,
            {
                "now": settings.now,
                "start": settings.window_start,
                "end": settings.window_end,
                "min_typical": settings.gap_min_typical,
            },
        ).df()
    finally:
        con.unregister("_gate_district_ids")
        if per_unit:
            con.unregister("_gate_units")
    return frame[columns]

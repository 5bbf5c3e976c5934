"""Meeting feedback is checked against the meetings it is about (issue 15).

A form names a meeting; a form whose meeting is not in `meetings` cannot be placed in a
district or a quarter, and a form dated before its meeting was filled in for another meeting
or mistyped. Both need the meetings table, which the per-input gate frame does not hold, so
this adds two columns to the feedback frame from `staging.meetings` (typed, as delivered):
`_meeting_ref` (the meeting id when that meeting exists, else NULL) and `_days_after_meeting`
(submitted_date minus the meeting's date, in days). The suite's rules read them.
"""

from __future__ import annotations

import duckdb

from quality.frames import Frame
from warehouse.sql import table_exists

MEETING_REF = "_meeting_ref"
DAYS_AFTER = "_days_after_meeting"


def mark_meetings(con: duckdb.DuckDBPyConnection, frame: Frame) -> None:
    """Add `_meeting_ref` and `_days_after_meeting` (NULL everywhere without meetings)."""
    t = frame.table
    con.execute(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {MEETING_REF} VARCHAR")
    con.execute(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {DAYS_AFTER} BIGINT")
    if "meeting_id" not in frame.columns or not table_exists(con, "staging", "meetings"):
        return
    dated = "submitted_date" in frame.columns
    days = "date_diff('day', m.meeting_date, CAST(f.submitted_date AS DATE))" if dated else "NULL"
    con.execute(
        f"""UPDATE {t} f SET {MEETING_REF} = f.meeting_id, {DAYS_AFTER} = {days}
            FROM (SELECT trim(meeting_id) AS meeting_id, min(meeting_date) AS meeting_date
                  FROM staging.meetings WHERE meeting_id IS NOT NULL GROUP BY 1) m
            WHERE f.meeting_id = m.meeting_id"""
    )

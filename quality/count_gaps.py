"""Reporting gaps in published counts: a place-period without any count row.

A published table lists every place, period and offense, zeros included, so a place-period
with no row at all is a gap in the publication, not zero crime. The panel marks it
`reported = false` and the estimators leave it out. Found here over the whole table (a rule on
single rows cannot see a missing one) and validated like any other frame: one warning rule,
one row per place x period of the study window with the number of rows delivered for it.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from engagement_eval.config import CityConfig
from engagement_eval.errors import UserError
from engagement_eval.grain import (
    MONTHS_PER_PERIOD,
    add_months,
    first_whole_period,
    infer_grain,
    period_start,
    truncate,
)
from quality import runner, store
from quality.frames import Frame
from quality.rules import ROW, WARNING, Rule
from quality.settings import GateSettings
from warehouse.sql import ident

RULE_NAME = "place_period_reported"


def gap_rule() -> Rule:
    return Rule(
        name=RULE_NAME,
        expectation="ExpectColumnValuesToBeBetween",
        kwargs={"column": "rows", "min_value": 1},
        column="period",
        severity=WARNING,
        level=ROW,
        description="every district (or unit) has count rows for every period of the study "
        "window (a missing period is a reporting gap, not zero crime; the panel marks it "
        "reported = false)",
        fix="deliver the missing periods' counts (zeros included), or leave them: they are "
        "treated as missing rather than as zero crime",
        value_column="rows",
    )


def gap_frame(
    con: duckdb.DuckDBPyConnection,
    counts: Frame,
    config: CityConfig,
    settings: GateSettings,
    district_ids: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Place x period of the window with the number of readable count rows (0 = gap);
    places are the known districts (unknown ones are the district rule's business), or the
    delivered units for counts per unit."""
    columns = ["_rid", "district_id", "month", "rows"]
    place = "district_id" if "district_id" in counts.columns else "unit_id"
    cells = con.execute(
        f"SELECT {ident(place)} AS place, trim(period) AS period, count(*) AS n"
        f" FROM {counts.table} WHERE {ident(place)} IS NOT NULL AND period IS NOT NULL"
        " GROUP BY ALL"
    ).df()
    if cells.empty:
        return pd.DataFrame(columns=columns)
    try:
        grain = config.grain or infer_grain(cells["period"].unique(), "crime_counts")
    except UserError:
        return pd.DataFrame(columns=columns)  # unreadable periods are the rules' business
    cells["month"] = [period_start(p, grain) for p in cells["period"]]
    cells = cells.dropna(subset=["month"])
    first = first_whole_period(settings.window_start.date(), grain)
    last = settings.latest_allowed.date() if settings.window_end else max(cells["month"])
    last = min(truncate(last, grain), max(cells["month"]))
    periods = []
    start = first
    while start <= last:
        periods.append(start)
        start = add_months(start, MONTHS_PER_PERIOD[grain])
    n = cells.groupby(["place", "month"])["n"].sum()
    places = sorted(cells["place"].unique())
    if place == "district_id" and district_ids:
        places = sorted(district_ids)
    grid = pd.MultiIndex.from_product([places, periods], names=["place", "month"])
    rows = n.reindex(grid, fill_value=0).reset_index(name="rows")
    rows = rows.rename(columns={"place": "district_id"})
    rows.insert(0, "_rid", range(1, len(rows) + 1))
    return rows[columns]


def check(con, counts: Frame, config, settings, run_id: str, district_ids=()) -> list:
    frame = gap_frame(con, counts, config, settings, tuple(district_ids))
    (result,) = runner.validate([gap_rule()], frame)
    found = frame[frame["_rid"].isin(result.rids)]
    result.examples = [
        f"{d} {m:%Y-%m}" for d, m in zip(found.district_id, found.month, strict=True)
    ][: runner.MAX_EXAMPLES]
    if not found.empty:
        store.append(
            con,
            "reporting_gaps",
            pd.DataFrame(
                {
                    "run_id": run_id,
                    "district_id": found["district_id"].astype(str),
                    "month": found["month"],
                    "incidents": 0,
                    "typical_incidents": None,
                }
            ),
        )
    return [result]

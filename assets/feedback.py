"""Meeting feedback panel asset (issue 15): `marts.feedback_items`, `marts.feedback_themes`,
`marts.feedback_coverage`. Thin: the SQL is in `warehouse/feedback_panels.py`.

The metadata shows aggregates only (forms, districts, quarters; item means over cells with
at least `model.min_cell_size` ratings): no topic text and never a comment reaches the UI.
"""

import dagster as dg

from assets.metadata import table_preview
from assets.quarantine import QUARANTINE_KEY
from assets.resources import DUCKDB_POOL, CityResource, WarehouseResource
from warehouse.feedback_panels import ITEMS_TABLE, build_feedback_panels, feedback_gaps
from warehouse.sql import table_exists

GROUP = "panels"


@dg.asset(
    key=["marts", "meeting_feedback"],
    deps=[
        dg.AssetKey(["marts", "district_month"]),
        dg.AssetKey(["staging", "meeting_feedback"]),
        dg.AssetKey(["staging", "meetings"]),
        QUARANTINE_KEY,
    ],
    group_name=GROUP,
    description="Meeting feedback panels: district x quarter mean rating per item with n and "
    "standard error, theme shares per district-quarter, meetings with and without forms; "
    "joined to the roll-out. Comments are never read (they stay in raw).",
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
)
def meeting_feedback_panel(
    context: dg.AssetExecutionContext, city: CityResource, warehouse: WarehouseResource
):
    config = city.load()
    min_cell = int(config.model.min_cell_size)
    with warehouse.connect() as con:
        rows = build_feedback_panels(con, config)
        if not table_exists(con, "marts", "feedback_items"):
            context.log.info("no meeting feedback delivered: feedback panels not built")
            return dg.MaterializeResult(metadata={"note": "no meeting feedback delivered"})
        forms, districts, lo, hi = con.execute(
            "SELECT sum(n) FILTER (WHERE item = (SELECT min(item) FROM marts.feedback_items)),"
            " count(DISTINCT district_id), CAST(min(quarter) AS VARCHAR),"
            f" CAST(max(quarter) AS VARCHAR) FROM {ITEMS_TABLE}"
        ).fetchone()
        preview = table_preview(
            con,
            "SELECT quarter, item, round(sum(sum) / sum(n), 2) AS mean, sum(n) AS ratings"
            f" FROM {ITEMS_TABLE} WHERE n >= {min_cell} GROUP BY ALL"
            " ORDER BY quarter DESC, item LIMIT 6",
        )
        themes = table_preview(
            con,
            "SELECT theme, sum(n) AS forms FROM marts.feedback_themes GROUP BY ALL"
            " ORDER BY forms DESC",
        )
        gaps = len(feedback_gaps(con))
    context.log.info(f"marts.feedback_items: {rows:,} district-quarter-item cells")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows),
            "districts": dg.MetadataValue.int(int(districts)),
            "time_range": dg.MetadataValue.text(f"{lo} .. {hi}"),
            "ratings_of_first_item": dg.MetadataValue.int(int(forms or 0)),
            "quarters_with_meetings_but_no_forms": dg.MetadataValue.int(gaps),
            "preview": preview,
            "themes": themes,
        }
    )


def build_feedback_assets() -> list[dg.AssetsDefinition]:
    return [meeting_feedback_panel]

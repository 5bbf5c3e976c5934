"""Panel assets: the analysis tables the estimators read (`marts.district_month`,
`marts.district_quarter_survey`). Built in SQL over all staged months; only these small
aggregates ever reach Python. Definitions: warehouse/panels.py and warehouse/shapes.py and docs/data_contract.md."""

import dagster as dg

from assets.metadata import table_preview
from assets.quarantine import QUARANTINE_KEY
from assets.resources import DUCKDB_POOL, CityResource, WarehouseResource
from warehouse.groups import build_survey_group_panel, group_panel_metadata
from warehouse.panels import build_district_month, build_district_quarter_survey
from warehouse.sql import table_exists

GROUP = "panels"
STAGING = ["districts", "programs", "crime_incidents", "meetings"]
STAGING += ["crime_counts", "units"]  # counts instead of incidents; unit -> district


def _panel_metadata(con, name: str, time_col: str, rows: int, preview_sql: str) -> dict:
    lo, hi, units = con.execute(
        f"SELECT CAST(min({time_col}) AS VARCHAR), CAST(max({time_col}) AS VARCHAR),"
        f" count(DISTINCT district_id) FROM marts.{name}"
    ).fetchone()
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "districts": dg.MetadataValue.int(int(units)),
        "time_range": dg.MetadataValue.text(f"{lo} .. {hi}"),
        "preview": table_preview(con, preview_sql),
    }


def build_panel_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["marts", "district_month"],
        deps=[*(dg.AssetKey(["staging", n]) for n in STAGING), QUARANTINE_KEY],
        group_name=GROUP,
        description="District x month panel: incidents by category, rates per 1,000 residents, "
        "meetings and attendees per 1,000, program cohort and treatment, `reported` flag.",
        pool=DUCKDB_POOL,
        kinds={"duckdb"},
    )
    def district_month(
        context: dg.AssetExecutionContext, city: CityResource, warehouse: WarehouseResource
    ):
        config = city.load()
        last_key = partitions_def.get_partition_keys()[-1]
        with warehouse.connect() as con:
            rows = build_district_month(con, config, last_key)
            meta = _panel_metadata(
                con,
                "district_month",
                "month",
                rows,
                "SELECT month, sum(crimes_total) AS crimes, round(avg(rate_total), 3) AS mean_rate,"
                " sum(treated) AS treated_districts, count(*) FILTER (WHERE NOT reported) AS gaps"
                " FROM marts.district_month GROUP BY month ORDER BY month DESC LIMIT 6",
            )
            from warehouse.shapes import describe_shape  # say which grain and unit

            shape = describe_shape(con, config)
        context.log.info(
            f"marts.district_month: {rows:,} {shape['analysis_unit']}-{shape['grain']}s"
            f" (grain {shape['grain']}, {shape['grain_source']})"
        )
        meta["shape"] = dg.MetadataValue.json(shape)
        return dg.MaterializeResult(metadata=meta)

    @dg.asset(
        key=["marts", "district_quarter_survey"],
        deps=[
            dg.AssetKey(["marts", "district_month"]),
            dg.AssetKey(["staging", "survey_responses"]),
            dg.AssetKey(["staging", "survey_scores"]),  # scores instead of responses
            dg.AssetKey(["staging", "units"]),
            QUARANTINE_KEY,
        ],
        group_name=GROUP,
        description="District x quarter survey panel: weighted mean per index, linearised "
        "standard error, number of responses and sum of weights, cohort and treatment.",
        pool=DUCKDB_POOL,
        kinds={"duckdb"},
    )
    def district_quarter_survey(
        context: dg.AssetExecutionContext, city: CityResource, warehouse: WarehouseResource
    ):
        config = city.load()
        with warehouse.connect() as con:
            rows = build_district_quarter_survey(con, config)
            if not table_exists(con, "marts", "district_quarter_survey"):  # no survey input
                context.log.info("no survey data delivered: survey panel not built")
                return dg.MaterializeResult(metadata={"note": "no survey data delivered"})
            meta = _panel_metadata(
                con,
                "district_quarter_survey",
                "quarter",
                rows,
                # only cells with enough respondents are shown (residents' privacy)
                "SELECT quarter, index_name, round(avg(mean), 3) AS mean_of_means,"
                " sum(n_responses) AS responses FROM marts.district_quarter_survey"
                f" WHERE n_responses >= {int(config.model.min_cell_size)}"
                " GROUP BY ALL ORDER BY quarter DESC, index_name LIMIT 6",
            )
            # issue 15: the group panel (internal); metadata counts only, never a cell
            group_rows = build_survey_group_panel(con, config)
            meta["resident_groups"] = dg.MetadataValue.json(
                group_panel_metadata(con, config.model.min_cell_size)
            )
            meta["resident_group_cells"] = group_rows
        context.log.info(f"marts.district_quarter_survey: {rows:,} district-quarter-index cells")
        return dg.MaterializeResult(metadata=meta)

    return [district_month, district_quarter_survey]

"""The quarantine asset (`quality/quarantine`): the rows the quality gate set aside.

The asset checks on `staging/<input>` run the gate and log each broken rule with its row in
`quality.quarantine`; this asset turns the latest gate run of every input into
`quality.quarantined_rows` and the `staging.<input>_clean` views (`quality.quarantine.set_aside`).
The panels depend on it, so the graph shows what they read: staging minus this asset. It runs
after the checks because they are blocking (a gate failure stops it and everything below).
Its metadata counts rows per input; values never reach the UI (they stay in DuckDB).
"""

import dagster as dg

from assets.resources import DUCKDB_POOL, WarehouseResource
from engagement_eval.contract import INPUTS
from quality.quarantine import set_aside_all

GROUP = "quality"
QUARANTINE_KEY = dg.AssetKey(["quality", "quarantine"])

_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("input", "string", description="contract input"),
        dg.TableColumn("rows_in", "int", description="rows the latest gate run checked"),
        dg.TableColumn("rows_set_aside", "int", description="rows the panels leave out"),
        dg.TableColumn("gate_status", "string", description="status of that gate run"),
        dg.TableColumn("gate_run", "string", description="run id of that gate run"),
    ]
)


@dg.asset(
    key=QUARANTINE_KEY,
    deps=[dg.AssetKey(["staging", name]) for name in INPUTS],
    group_name=GROUP,
    description="Rows set aside by the latest quality-gate run of each input "
    "(quality.quarantined_rows) and the staging.<input>_clean views the panels read; the "
    "offending values are in quality.quarantine.",
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
)
def quarantine(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.connect() as con:
        rows = set_aside_all(con)
    total = sum(r.rows_set_aside for r in rows)
    context.log.info(f"quality.quarantined_rows: {total:,} rows set aside")
    records = [
        dg.TableRecord(
            {
                "input": r.input,
                "rows_in": r.rows_in,
                "rows_set_aside": r.rows_set_aside,
                "gate_status": r.status or "not checked",
                "gate_run": r.gate_run or "",
            }
        )
        for r in rows
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(total),
            "by_input": dg.MetadataValue.table(records=records, schema=_SCHEMA),
        }
    )


def build_quarantine_assets() -> list[dg.AssetsDefinition]:
    return [quarantine]

"""Report asset (group `report`): the council report from the latest evaluation results.

Reads the results document of the latest run from `results.run_metadata` (results.json text
plus the run's timings) and calls `reports.write_council_pack`, which writes
`<reports root>/<city>/<YYYY-MM>/council_report.html` with the one-page brief, council_data.xlsx,
the CSV tables and (when Chromium is installed) both PDFs, and refreshes `<city>/latest/`. The root is
ENGAGEMENT_EVAL_REPORTS (`make run` sets it to the checkout's `reports/output`), else OUT/reports.
"""

import json

import dagster as dg

from assets.models import RESULTS_KEY
from assets.resources import CityResource, WarehouseResource
from engagement_eval.results import ResultsDocument
from reports import write_council_pack

GROUP = "report"


@dg.asset(
    key=dg.AssetKey(["report", "council_report"]),
    deps=[RESULTS_KEY],
    group_name=GROUP,
    description="Self-contained HTML council report from the latest evaluation results.",
    kinds={"html"},
)
def council_report(
    context: dg.AssetExecutionContext, city: CityResource, warehouse: WarehouseResource
):
    with warehouse.connect(read_only=True) as con:
        row = con.execute(
            "SELECT results_json, timings FROM results.run_metadata "
            "ORDER BY generated_at DESC, run_id DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise dg.Failure("no evaluation results yet: materialize results/evaluation first")
    doc = ResultsDocument.from_dict(json.loads(row[0]))
    doc = doc.with_timings(json.loads(row[1]) if row[1] else {})
    pack = write_council_pack(doc.to_dict(), warehouse.reports_folder(), city.load().city)
    context.log.info(f"council report written to {pack.report}")
    if pack.pdf_note:
        context.log.warning(pack.pdf_note)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(pack.report)),
            "files": dg.MetadataValue.json([p.name for p in pack.files]),
            "pdf_note": dg.MetadataValue.text(pack.pdf_note or "PDFs printed"),
        }
    )


def build_report_assets() -> list[dg.AssetsDefinition]:
    return [council_report]

"""Ingest assets: `raw/<input>` (as delivered + lineage) and `staging/<input>` (typed, mapped,
deduplicated) for every contract input. Incidents and meetings are monthly partitioned; a run
over a range of months loads the files once (single-run backfill policy).

The SQL lives in `warehouse/ingest.py`; these assets only wire it to Dagster and publish
metadata. Previews are aggregates, never rows, so no address, coordinate or respondent id
reaches the UI.
"""

import warnings
from datetime import UTC, datetime

import dagster as dg

from assets.metadata import table_preview
from assets.resources import DUCKDB_POOL, CityResource, WarehouseResource
from engagement_eval.contract import INPUTS, InputSpec
from warehouse.ingest import PartitionScope, build_staging, delivered_files, load_raw
from warehouse.sql import table_exists

GROUP = "ingest"

# Aggregate previews per staging table (static SQL; no user values).
PREVIEWS = {
    "districts": "SELECT district_id, population FROM staging.districts ORDER BY district_id LIMIT 8",
    "programs": "SELECT district_id, program, start_date FROM staging.programs ORDER BY start_date LIMIT 8",
    "crime_incidents": (
        "SELECT strftime(occurred_at, '%Y-%m') AS month, count(*) AS incidents,"
        " count(*) FILTER (WHERE offense_category = 'violent') AS violent,"
        " count(*) FILTER (WHERE offense_category = 'property') AS property,"
        " count(*) FILTER (WHERE offense_category IS NULL) AS unmapped"
        " FROM staging.crime_incidents GROUP BY ALL ORDER BY month DESC NULLS FIRST LIMIT 6"
    ),
    "survey_responses": (
        "SELECT CAST(date_trunc('quarter', response_date) AS DATE) AS quarter,"
        " count(*) AS responses, count(DISTINCT district_id) AS districts"
        " FROM staging.survey_responses GROUP BY ALL ORDER BY quarter DESC NULLS FIRST LIMIT 6"
    ),
    "meetings": (
        "SELECT meeting_type, count(*) AS meetings, sum(attendees) AS attendees"
        " FROM staging.meetings GROUP BY ALL ORDER BY meetings DESC LIMIT 6"
    ),
}
PREVIEWS |= {  # the published-aggregate shapes and the units crosswalk
    "crime_counts": (
        "SELECT period, sum(count) AS incidents, count(*) AS rows"
        " FROM staging.crime_counts GROUP BY ALL ORDER BY period DESC NULLS FIRST LIMIT 6"
    ),
    "survey_scores": (
        "SELECT period, count(*) AS cells, sum(n_respondents) AS respondents"
        " FROM staging.survey_scores GROUP BY ALL ORDER BY period DESC NULLS FIRST LIMIT 6"
    ),
    "units": (
        "SELECT district_id, count(*) AS units FROM staging.units GROUP BY ALL"
        " ORDER BY district_id LIMIT 8"
    ),
    # issue 15: counts only (no topic or comment text reaches the UI)
    "meeting_feedback": (
        "SELECT CAST(date_trunc('quarter', submitted_date) AS DATE) AS quarter,"
        " count(*) AS forms, count(DISTINCT meeting_id) AS meetings"
        " FROM staging.meeting_feedback GROUP BY ALL ORDER BY quarter DESC NULLS FIRST LIMIT 6"
    ),
}
DATE_COLUMN = {
    "crime_incidents": "occurred_at",
    "survey_responses": "response_date",
    "meetings": "meeting_date",
    "programs": "start_date",
    "meeting_feedback": "submitted_date",
}


def _scope(context: dg.AssetExecutionContext, spec: InputSpec) -> PartitionScope | None:
    if not spec.partitioned:
        return None
    all_keys = context.assets_def.partitions_def.get_partition_keys()
    keys = list(context.partition_keys)
    return PartitionScope(keys, all_keys[0], all_keys[-1], complete=set(keys) >= set(all_keys))


def _raw_asset(spec: InputSpec, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    partitioned = spec.partitioned

    @dg.asset(
        key=["raw", spec.name],
        group_name=GROUP,
        description=f"{spec.description} As delivered: every column as text, plus lineage "
        "(_source_file, _source_sha256, _row_number, _loaded_at). Older file versions are kept.",
        partitions_def=partitions_def if partitioned else None,
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        pool=DUCKDB_POOL,
        kinds={"duckdb"},
    )
    def _raw(context: dg.AssetExecutionContext, city: CityResource, warehouse: WarehouseResource):
        config = city.load()
        scope = _scope(context, spec)
        with warehouse.connect() as con:
            files = delivered_files(con, spec, config, city.data_dir)
            summary = load_raw(
                con, spec, config, files, datetime.now(UTC).replace(tzinfo=None), scope
            )
            total = (
                con.execute(f"SELECT count(*) FROM raw.{spec.name}").fetchone()[0] if files else 0
            )
        loaded = sum(s["rows"] for s in summary)
        context.log.info(f"raw.{spec.name}: {loaded:,} rows from {len(files)} file(s)")
        return dg.MaterializeResult(
            metadata={
                "rows_loaded": dg.MetadataValue.int(loaded),
                "rows_in_table": dg.MetadataValue.int(int(total)),
                "files": dg.MetadataValue.md(
                    "\n".join(
                        f"- `{s['file']}` sha256 `{s['sha256'][:12]}…`: {s['rows']:,} rows"
                        for s in summary
                    )
                    or "no file delivered (optional input)"
                ),
                "partitions": dg.MetadataValue.text(
                    f"{scope.keys[0]} .. {scope.keys[-1]}" if scope else "unpartitioned"
                ),
            }
        )

    return _raw


def _staging_asset(spec: InputSpec, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    partitioned = spec.partitioned

    @dg.asset(
        key=["staging", spec.name],
        deps=[dg.AssetKey(["raw", spec.name])],
        group_name=GROUP,
        description=f"{spec.description} Typed to the contract, renamed and mapped by the city "
        "config, deduplicated on the key (latest load wins). Failed casts keep their text in "
        "`_raw_<column>` for the quality gate.",
        partitions_def=partitions_def if partitioned else None,
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        pool=DUCKDB_POOL,
        kinds={"duckdb"},
    )
    def _staging(
        context: dg.AssetExecutionContext, city: CityResource, warehouse: WarehouseResource
    ):
        config = city.load()
        scope = _scope(context, spec)
        with warehouse.connect() as con:
            files = delivered_files(con, spec, config, city.data_dir)
            written = build_staging(con, spec, config, files, scope)
            metadata = _staging_metadata(con, spec, written, config)
        context.log.info(f"staging.{spec.name}: {written:,} rows written")
        return dg.MaterializeResult(metadata=metadata)

    return _staging


def _staging_metadata(con, spec: InputSpec, written: int, config=None) -> dict:
    meta: dict = {"rows_written": dg.MetadataValue.int(written)}
    if not table_exists(con, "staging", spec.name):
        meta["note"] = dg.MetadataValue.text("no file delivered; nothing staged")
        return meta
    total, dups = con.execute(
        f"SELECT count(*), coalesce(sum(_duplicate_rows), 0) FROM staging.{spec.name}"
    ).fetchone()
    meta["dagster/row_count"] = dg.MetadataValue.int(int(total))
    meta["duplicate_rows_dropped"] = dg.MetadataValue.int(int(dups))
    column = DATE_COLUMN.get(spec.name)
    if column:
        lo, hi, bad = con.execute(
            f"SELECT CAST(min({column}) AS VARCHAR), CAST(max({column}) AS VARCHAR),"
            f" count(*) FILTER (WHERE {column} IS NULL) FROM staging.{spec.name}"
        ).fetchone()
        meta["time_range"] = dg.MetadataValue.text(f"{lo} .. {hi}")
        meta["unparseable_dates"] = dg.MetadataValue.int(int(bad))
    meta["preview"] = table_preview(con, PREVIEWS[spec.name], spec.name, config)
    return meta


def build_ingest_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    out = []
    with warnings.catch_warnings():  # BackfillPolicy is marked beta; it is what we need here
        warnings.simplefilter("ignore", dg.BetaWarning)
        for spec in INPUTS.values():
            out += [_raw_asset(spec, partitions_def), _staging_asset(spec, partitions_def)]
    return out

"""Jobs. One job covers the whole graph; a run targets a month (schedule) or a range of months
(CLI, sensor) and unpartitioned assets are refreshed in full."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.run_guard import TAG_DUCKDB

ALL_ASSETS_JOB = "all_assets"


def build_jobs(duckdb_path: str | None = None) -> list:
    """Partitioning is inferred from the selected assets (the monthly ingest assets).

    Every run carries the DuckDB file it writes as a tag, so `engagement-eval run` can see a
    UI, schedule or sensor run writing the same file and refuse to start beside it.
    """
    tags = {TAG_DUCKDB: str(Path(duckdb_path).resolve())} if duckdb_path else None
    everything = dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingest, stage and rebuild everything downstream for the selected months.",
        tags=tags,
    )
    return [everything]

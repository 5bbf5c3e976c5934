"""Jobs. One job covers the whole graph; a run targets a month (schedule) or a range of months
(CLI, sensor) and unpartitioned assets are refreshed in full."""

from __future__ import annotations

import dagster as dg

ALL_ASSETS_JOB = "all_assets"


def build_jobs(partitions_def: dg.PartitionsDefinition) -> list:
    everything = dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.all(),
        partitions_def=partitions_def,
        description="Ingest, stage and rebuild everything downstream for the selected months.",
    )
    return [everything]

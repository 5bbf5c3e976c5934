"""Jobs. One job covers the whole graph; a run targets a month (schedule) or a range of months
(CLI, sensor) and unpartitioned assets are refreshed in full."""

from __future__ import annotations

import dagster as dg

ALL_ASSETS_JOB = "all_assets"


def build_jobs() -> list:
    """Partitioning is inferred from the selected assets (the monthly ingest assets)."""
    everything = dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingest, stage and rebuild everything downstream for the selected months.",
    )
    return [everything]

"""The Dagster code location: one `defs` for `dagster dev -w workspace.yaml`.

Import reads the city's small YAML config (for the study window and time zone) and, only
when study_window.start is unset, the earliest date of each crime and survey file (the window
then starts in the first month with data, warehouse.data_window); no database is opened until
a run starts. Paths come from ENGAGEMENT_EVAL_DATA,
ENGAGEMENT_EVAL_CONFIG, ENGAGEMENT_EVAL_OUT and ENGAGEMENT_EVAL_DUCKDB (see docs/configuration.md).
"""

from __future__ import annotations

import dagster as dg

from assets.checks import build_quality_checks
from assets.feedback import build_feedback_assets
from assets.ingest import build_ingest_assets
from assets.models import build_model_assets
from assets.panels import build_panel_assets
from assets.quarantine import build_quarantine_assets
from assets.report import build_report_assets
from assets.resources import CityResource, WarehouseResource
from engagement_eval.config import CityConfig, load_config
from pipelines.jobs import build_jobs
from pipelines.partitions import monthly_partitions
from pipelines.schedules import build_schedules, report_freshness
from pipelines.sensors import build_sensors
from pipelines.settings import Settings
from warehouse.data_window import with_data_window


def with_freshness(assets: list, policy: dg.FreshnessPolicy | None) -> list:
    """The assets with `policy` as their freshness policy (unchanged when None)."""
    if policy is None:
        return assets
    return dg.map_asset_specs(lambda spec: spec.replace_attributes(freshness_policy=policy), assets)


def build_definitions(
    settings: Settings, config: CityConfig | None = None, loggers: dict | None = None
) -> dg.Definitions:
    if config is None:
        config = load_config(settings.config_path, settings.data_dir)
    # unset study_window.start: the first month with crime or survey data (one min() per file)
    config = with_data_window(config, settings.data_dir)
    partitions_def = monthly_partitions(config)
    assets = (
        build_ingest_assets(partitions_def)
        + build_quarantine_assets()
        + build_panel_assets(partitions_def)
        + build_feedback_assets()  # issue 15
        + build_model_assets()
        + with_freshness(
            build_report_assets(), report_freshness(config.timezone, config.window_end is None)
        )
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=build_quality_checks(config),
        jobs=build_jobs(settings.duckdb_path),
        schedules=build_schedules(partitions_def, config.timezone),
        sensors=build_sensors(partitions_def, settings.data_dir),
        resources={
            "city": CityResource(
                data_dir=settings.data_dir,
                config_path=settings.config_path,
                data_window_start=(
                    f"{config.window_start:%Y-%m}"
                    if config.window_source == "data" and config.window_start
                    else None
                ),
            ),
            "warehouse": WarehouseResource(
                path=settings.duckdb_path,
                lock_timeout_seconds=settings.lock_timeout_seconds,
                memory_limit=settings.duckdb_memory_limit,
                results_dir=settings.results_dir,
                reports_dir=settings.reports_dir,
                source_date_epoch=settings.source_date_epoch,
            ),
        },
        loggers=loggers,
    )


defs = build_definitions(Settings.from_env())

"""Monthly partitions of the study window, in the city's time zone (keys look like 2024-03)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from engagement_eval.config import CityConfig
from engagement_eval.grain import add_months

PARTITION_FORMAT = "%Y-%m"


def monthly_partitions(config: CityConfig) -> dg.MonthlyPartitionsDefinition:
    """From study_window.start (set, or drawn from the data: warehouse.data_window) to
    study_window.end, or to the last closed month when open."""
    end = add_months(config.window_end, 1).strftime(PARTITION_FORMAT) if config.window_end else None
    # no start (unset and no crime or survey data yet): no closed month, so no partition
    start = config.window_start or date.today().replace(day=1)
    return dg.MonthlyPartitionsDefinition(
        start_date=start.strftime(PARTITION_FORMAT),
        end_date=end,
        fmt=PARTITION_FORMAT,
        timezone=config.timezone,
    )


def range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run cover a range of partitions (single-run backfill)."""
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }

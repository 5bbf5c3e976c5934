"""Monthly partitions of the study window, in the city's time zone (keys look like 2024-03)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from engagement_eval.config import CityConfig

PARTITION_FORMAT = "%Y-%m"


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def monthly_partitions(config: CityConfig) -> dg.MonthlyPartitionsDefinition:
    """From study_window.start to study_window.end, or to the last closed month when open."""
    end = _next_month(config.window_end).strftime(PARTITION_FORMAT) if config.window_end else None
    return dg.MonthlyPartitionsDefinition(
        start_date=config.window_start.strftime(PARTITION_FORMAT),
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

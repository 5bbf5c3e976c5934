"""Monthly schedule: on the 3rd at 06:00 city time, ingest the month just closed (records
systems need a couple of days to settle) and refresh everything downstream."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from pipelines.jobs import ALL_ASSETS_JOB
from pipelines.partitions import PARTITION_FORMAT

CRON = "0 6 3 * *"


def month_just_closed(when) -> str:
    return (when.replace(day=1) - timedelta(days=1)).strftime(PARTITION_FORMAT)


def build_schedules(partitions_def: dg.TimeWindowPartitionsDefinition, timezone: str) -> list:
    @dg.schedule(
        name="monthly_refresh",
        cron_schedule=CRON,
        execution_timezone=timezone,
        job_name=ALL_ASSETS_JOB,
        description="3rd of each month, 06:00 city time: load the month just closed.",
    )
    def monthly_refresh(context: dg.ScheduleEvaluationContext):
        key = month_just_closed(context.scheduled_execution_time)
        keys = partitions_def.get_partition_keys(current_time=context.scheduled_execution_time)
        if key not in keys:
            return dg.SkipReason(f"month {key} is outside the study window")
        return dg.RunRequest(run_key=f"monthly-{key}", partition_key=key)

    return [monthly_refresh]

"""Monthly schedule: on the 3rd at 06:00 city time, ingest the month just closed (records
systems need a couple of days to settle) and refresh everything downstream; and the freshness
the council report is held to by that schedule.

Why hand-written rather than `dg.build_schedule_from_partitioned_job(job, hour_of_day=6,
day_of_month=3)`: that gives the same cron and picks the same month while the study window is
open, but once a window with an end (`study_window.end`) is over it keeps requesting the last
month every month (checked with Dagster 1.13: at 2021-01-03 a window ending 2020-04 still gets
a run for 2020-04), where this schedule skips and says why.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from pipelines.jobs import ALL_ASSETS_JOB
from pipelines.partitions import PARTITION_FORMAT

CRON = "0 6 3 * *"
# The report of the month just closed is due 12 hours after the schedule starts its run.
REPORT_DEADLINE_CRON = "0 18 3 * *"
REPORT_RUN_BUDGET = timedelta(hours=12)


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


def report_freshness(timezone: str, window_open: bool) -> dg.FreshnessPolicy | None:
    """The council report must have been rebuilt in the 12 hours before 18:00 (city time) on
    the 3rd of each month, i.e. by the monthly run. None for a study window with an end: no
    new month arrives, so there is nothing to be fresh for."""
    if not window_open:
        return None
    return dg.FreshnessPolicy.cron(
        deadline_cron=REPORT_DEADLINE_CRON, lower_bound_delta=REPORT_RUN_BUDGET, timezone=timezone
    )

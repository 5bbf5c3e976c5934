"""Freshness of the council report, and why the monthly schedule stays hand-written."""

import shutil
import warnings
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.schedules import REPORT_DEADLINE_CRON, report_freshness
from pipelines.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data"
REPORT = dg.AssetKey(["report", "council_report"])


def _defs(tmp_path: Path, window: str) -> dg.Definitions:
    city = Path(shutil.copytree(DATA / "tiny_city", tmp_path / "city"))
    text = (city / "city.yaml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("study_window")]
    (city / "city.yaml").write_text("\n".join([*lines, window, ""]), encoding="utf-8")
    return build_definitions(Settings(str(city), None, str(tmp_path), str(tmp_path / "d.duckdb")))


def test_open_window_report_is_due_after_the_monthly_run(tmp_path):
    defs = _defs(tmp_path, "study_window: {start: 2020-01}")
    policy = defs.resolve_asset_graph().get(REPORT).freshness_policy
    assert isinstance(policy, dg.FreshnessPolicy)
    assert policy.deadline_cron == REPORT_DEADLINE_CRON and policy.timezone == "America/Chicago"
    schedule = defs.resolve_schedule_def("monthly_refresh")
    # the deadline falls after the schedule's run on the same day
    assert schedule.cron_schedule.split()[2:] == REPORT_DEADLINE_CRON.split()[2:]
    assert int(schedule.cron_schedule.split()[1]) < int(REPORT_DEADLINE_CRON.split()[1])


def test_closed_window_report_has_no_freshness_policy(tmp_path):
    defs = _defs(tmp_path, "study_window: {start: 2020-01, end: 2020-04}")
    assert defs.resolve_asset_graph().get(REPORT).freshness_policy is None
    assert report_freshness("UTC", window_open=False) is None


@pytest.mark.parametrize("tick", [datetime(2021, 1, 3, 6), datetime(2022, 7, 3, 6)])
def test_partitioned_job_schedule_would_rerun_the_last_month_after_the_window(tick):
    """The reason pipelines/schedules.py is hand-written: Dagster's schedule built from the
    partitioned job keeps requesting the window's last month once the window is over."""
    tz = ZoneInfo("America/Chicago")
    pdef = dg.MonthlyPartitionsDefinition(
        start_date="2020-01", end_date="2020-05", fmt="%Y-%m", timezone="America/Chicago"
    )

    @dg.asset(partitions_def=pdef)
    def monthly():
        return 1

    job = dg.define_asset_job("j", selection=[monthly])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = dg.build_schedule_from_partitioned_job(job, hour_of_day=6, day_of_month=3)
        defs = dg.Definitions(assets=[monthly], jobs=[job], schedules=[built])
        schedule = defs.resolve_schedule_def(built.name)
        with dg.build_schedule_context(
            scheduled_execution_time=tick.replace(tzinfo=tz),
            repository_def=defs.get_repository_def(),
        ) as context:
            result = schedule.evaluate_tick(context)
    assert [r.partition_key for r in result.run_requests] == ["2020-04"]

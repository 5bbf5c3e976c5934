"""The code location: assets, groups, schedule timing, sensor cursor, resources."""

import json
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from assets.resources import WarehouseResource
from pipelines.definitions import build_definitions
from pipelines.sensors import changed_files, folder_state
from pipelines.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def city(tmp_path):
    return shutil.copytree(DATA / "tiny_city", tmp_path / "city")


@pytest.fixture
def defs(city, tmp_path):
    return build_definitions(Settings(str(city), None, str(tmp_path), str(tmp_path / "db.duckdb")))


def test_assets_are_grouped_by_module_and_partitioned(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw/crime_incidents", "staging/meetings", "marts/district_month"} <= keys
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert (
        groups["raw/districts"] == "ingest" and groups["marts/district_quarter_survey"] == "panels"
    )
    pdef = graph.get(dg.AssetKey(["raw", "crime_incidents"])).partitions_def
    assert pdef.get_partition_keys() == ["2020-01", "2020-02", "2020-03", "2020-04"]
    assert graph.get(dg.AssetKey(["raw", "districts"])).partitions_def is None


def test_schedule_runs_on_the_third_for_the_month_just_closed(defs):
    schedule = defs.resolve_schedule_def("monthly_refresh")
    assert (
        schedule.cron_schedule == "0 6 3 * *" and schedule.execution_timezone == "America/Chicago"
    )
    when = datetime(2020, 4, 3, 6, 0, tzinfo=ZoneInfo("America/Chicago"))
    request = schedule(dg.build_schedule_context(scheduled_execution_time=when))
    assert isinstance(request, dg.RunRequest) and request.partition_key == "2020-03"
    late = datetime(2021, 1, 3, 6, 0, tzinfo=ZoneInfo("America/Chicago"))
    skipped = schedule(dg.build_schedule_context(scheduled_execution_time=late))
    assert isinstance(skipped, dg.SkipReason) and "2020-12" in skipped.skip_message


def test_sensor_fires_on_new_or_changed_files_only(defs, city):
    sensor = defs.resolve_sensor_def("new_city_files")
    first = sensor.evaluate_tick(dg.build_sensor_context(cursor=None))
    assert len(first.run_requests) == 1
    tags = first.run_requests[0].tags
    assert tags["dagster/asset_partition_range_start"] == "2020-01"
    assert tags["dagster/asset_partition_range_end"] == "2020-04"
    idle = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert not idle.run_requests
    (Path(city) / "meetings_2020-05.csv").write_text(
        "meeting_id,district_id,meeting_date,meeting_type,attendees\n"
    )
    again = sensor.evaluate_tick(dg.build_sensor_context(cursor=idle.cursor or first.cursor))
    assert (
        len(again.run_requests) == 1
        and "meetings_2020-05.csv" in again.run_requests[0].tags["engagement_eval/changed"]
    )


def test_folder_state_rehashes_only_changed_files(city):
    state = folder_state(city)
    assert {"city.yaml", "crime_incidents.csv", "districts.csv"} <= set(state)
    (Path(city) / "districts.csv").write_text("district_id,population\n01,5\n")
    assert changed_files(state, folder_state(city, state)) == ["districts.csv"]
    assert json.loads(json.dumps(state)) == state  # the cursor is plain JSON


def test_locked_database_fails_fast_with_a_clear_message(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        from engagement_eval.errors import UserError

        started = datetime.now()
        with (
            pytest.raises(UserError) as info,
            WarehouseResource(path=str(db), lock_timeout_seconds=1).connect(),
        ):
            pass
        assert (datetime.now() - started).total_seconds() < 10
        assert "locked" in info.value.cause and "ENGAGEMENT_EVAL_DUCKDB" in info.value.fix
    finally:
        holder.kill()
        holder.wait()


def test_duckdb_memory_limit_from_environment_is_applied_and_checked(city, tmp_path, monkeypatch):
    """Read once by pipelines.settings, carried to the warehouse resource by the definitions."""
    from engagement_eval.errors import UserError

    def warehouse():
        settings = Settings.from_env(str(city), None, str(tmp_path / "out"))
        return build_definitions(settings).resources["warehouse"]

    monkeypatch.setenv("ENGAGEMENT_EVAL_DUCKDB_MEMORY_LIMIT", "1GB")
    with warehouse().connect() as con:
        setting = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert setting == "953.6 MiB"  # DuckDB reports 10^9 bytes in MiB
    monkeypatch.setenv("ENGAGEMENT_EVAL_DUCKDB_MEMORY_LIMIT", "1GB'; DROP SCHEMA raw; --")
    with pytest.raises(UserError, match="not a memory size"), warehouse().connect():
        pass

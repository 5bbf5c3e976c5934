"""The code location runs unchanged under Dagster's multiprocess executor (each step in its
own process, two at a time), as a deployment on Celery or Kubernetes would run it: the job is
loaded from `pipelines.definitions` by the `dagster` CLI, only run config picks the executor.

Passing means: the run succeeds, no step hits a DuckDB lock error, and the panels equal the
ones the in-process run (`engagement-eval run`) builds from the same city.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from simulator.city import simulate_city

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).with_name("dagster")


@pytest.fixture(scope="module")
def small_city(tmp_path_factory) -> Path:
    return simulate_city(
        tmp_path_factory.mktemp("city") / "small",
        n_districts=6,
        months=18,
        start="2022-01",
        incidents_per_1000=0.3,
        survey_responses_per_cell=12,
    )


def _panel(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT district_id, month, crimes_total, crimes_violent, attendees, cohort_period,"
            " treated FROM marts.district_month ORDER BY district_id, month"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.slow  # ~1 min on a quiet 2-core machine (one process per step); 5 min under load
def test_graph_runs_under_the_multiprocess_executor(small_city, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    out = tmp_path / "out_mp"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ENGAGEMENT_EVAL_DATA": str(small_city),
        "ENGAGEMENT_EVAL_OUT": str(out),
    }
    env.pop("ENGAGEMENT_EVAL_DUCKDB", None)
    env.pop("ENGAGEMENT_EVAL_CONFIG", None)
    run_config = tmp_path / "executor.yaml"
    run_config.write_text(
        yaml.safe_dump({"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}})
    )
    tags = {
        "dagster/asset_partition_range_start": "2022-01",
        "dagster/asset_partition_range_end": "2023-06",
    }
    done = subprocess.run(
        [
            str(DAGSTER), "job", "execute", "-m", "pipelines.definitions", "-a", "defs",
            "-j", "all_assets", "-c", str(run_config), "--tags", json.dumps(tags),
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert "RUN_SUCCESS" in log, log[-4000:]
    assert "multiprocess" in log.lower()  # the executor really was the multiprocess one
    assert "could not set lock" not in log.lower() and "is locked" not in log.lower()
    assert "STEP_FAILURE" not in log

    in_process = tmp_path / "out_inproc"
    ran = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--quiet",
         "--data", str(small_city), "--out", str(in_process)],
        cwd=ROOT, env={k: v for k, v in env.items() if k != "DAGSTER_HOME"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    multi = _panel(out / "engagement_eval.duckdb")
    assert len(multi) == 6 * 18
    assert sum(r[2] for r in multi) > 0
    assert multi == _panel(in_process / "engagement_eval.duckdb")

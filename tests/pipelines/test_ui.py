"""`dagster dev` serves the code location: the asset graph, the schedule and the sensor."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUERY = """
{ assetNodes { assetKey { path } groupName }
  repositoriesOrError { ... on RepositoryConnection { nodes {
      schedules { name cronSchedule executionTimezone } sensors { name } } } } }
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int) -> dict:
    body = json.dumps({"query": QUERY}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["data"]


@pytest.mark.ui
def test_dagster_dev_shows_assets_schedule_and_sensor(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        "ENGAGEMENT_EVAL_DATA": str(ROOT / "tests" / "data" / "tiny_city"),
        "ENGAGEMENT_EVAL_OUT": str(tmp_path / "out"),
    }
    env.pop("ENGAGEMENT_EVAL_DUCKDB", None)
    port = _free_port()
    dagster = Path(sys.executable).parent / "dagster"
    log = open(tmp_path / "dagster.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        data, deadline = None, time.monotonic() + 100  # ~15 s on an idle machine
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                data = _graphql(port)
                if data["assetNodes"]:
                    break
            except (OSError, KeyError, TypeError, ValueError):
                pass
            time.sleep(1)
        assert data and data["assetNodes"], (tmp_path / "dagster.log").read_text()[-3000:]
        assets = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in data["assetNodes"]}
        assert assets["raw/crime_incidents"] == "ingest"
        assert assets["marts/district_month"] == "panels"
        repo = data["repositoriesOrError"]["nodes"][0]
        assert {
            "name": "monthly_refresh",
            "cronSchedule": "0 6 3 * *",
            "executionTimezone": "America/Chicago",
        } in repo["schedules"]
        assert {"name": "new_city_files"} in repo["sensors"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # dagster dev shuts down on Ctrl-C
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()

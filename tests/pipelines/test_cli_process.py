"""The command as a process: exit codes, complete output and the Great Expectations warm-up.

`python -m pipelines.cli` and the console script go through `pipelines.cli.entry`, which ends
`validate` and `run` without the interpreter's teardown (issue 17). These tests run real processes, so
they see what a shell sees: the exit code, every line printed before the exit, and a database
file that another process can open.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import duckdb
import pytest
import yaml

from simulator.city import simulate_city

CLI = [sys.executable, "-m", "pipelines.cli"]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The command with its output block-buffered, as a pipe makes it by default (without
    PYTHONUNBUFFERED, which some shells and CI set): lines it never flushed would be lost."""
    unset = ("PYTHONUNBUFFERED", "DAGSTER_HOME", "ENGAGEMENT_EVAL_DUCKDB", "ENGAGEMENT_EVAL_OUT")
    env = {k: v for k, v in os.environ.items() if k not in unset} | env
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def small_city(tmp_path_factory):
    return simulate_city(
        tmp_path_factory.mktemp("cli") / "city",
        seed=11,
        n_districts=5,
        start="2020-01",
        months=18,
        incidents_per_1000=0.4,
        survey_responses_per_cell=10,
    )


def test_validate_prints_every_input_and_exits_zero(small_city, tmp_path):
    done = _run("validate", "--data", str(small_city), "--db", str(tmp_path / "v.duckdb"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "Quality gate run" in done.stdout
    for name in ("districts", "crime_incidents", "survey_responses", "meeting_feedback"):
        assert f"  {name}" in done.stdout
    assert done.stdout.rstrip().endswith(f"quality.* tables in {tmp_path / 'v.duckdb'}")
    with duckdb.connect(str(tmp_path / "v.duckdb"), read_only=True) as con:
        (inputs,) = con.execute("SELECT count(DISTINCT input) FROM quality.run_summary").fetchone()
    assert inputs == 9


def test_a_blocking_failure_exits_two_with_the_message(small_city, tmp_path):
    broken = tmp_path / "city"
    broken.mkdir()
    for path in small_city.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    districts = broken / "districts.csv"
    lines = districts.read_text().splitlines()
    conflict = lines[1].rsplit(",", 1)[0] + ",1"  # the first district again, other population
    districts.write_text("\n".join([lines[0], lines[1], conflict, *lines[2:]]) + "\n")
    done = _run("validate", "--data", str(broken))
    assert done.returncode == 2
    assert done.stderr.startswith("error: [file districts.csv, column 'district_id'] districts:")
    assert "key_unique" in done.stderr and "How to fix:" in done.stderr
    assert "leaked" not in done.stderr


def test_run_leaves_results_run_history_and_database_complete(small_city, tmp_path):
    city = tmp_path / "city"
    shutil.copytree(small_city, city)
    cfg = yaml.safe_load((city / "city.yaml").read_text())
    cfg["model"] = {"bootstrap_draws": 49, "ri_permutations": 0, "survey_sampling_draws": 20}
    (city / "city.yaml").write_text(yaml.safe_dump(cfg))
    home, out = tmp_path / "dagster_home", tmp_path / "out"
    home.mkdir()
    done = _run("run", "--data", str(city), "--out", str(out), "--quiet", DAGSTER_HOME=str(home))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "leaked" not in done.stderr
    assert "Browse it" in done.stdout  # the last lines the command prints
    results = json.loads((out / "results.json").read_text())
    assert results["outcomes"]
    with sqlite3.connect(home / "history" / "runs.db") as runs:
        assert runs.execute("SELECT status FROM runs").fetchall() == [("SUCCESS",)]
    with duckdb.connect(str(out / "engagement_eval.duckdb"), read_only=True) as con:
        (months,) = con.execute("SELECT count(DISTINCT month) FROM marts.district_month").fetchone()
    assert months == 18


def test_gx_warm_up_leaves_errors_to_the_gate(monkeypatch):
    from quality import runner

    def fail():
        raise RuntimeError("no GX here")

    monkeypatch.setattr(runner, "_batch_definition", fail)
    runner.prepare_gx()  # swallowed: the gate's own call raises it where it belongs
    with pytest.raises(RuntimeError, match="no GX here"):
        runner._batch_definition()

"""Two writers on one DuckDB file: they serialise or one is refused at once with a message;
the file is never corrupted and nobody waits silently."""

from __future__ import annotations

import subprocess
import sys
import time

import dagster as dg
import duckdb
import pytest
from reliability_helpers import (
    assert_panels_match_staging,
    cli_env,
    dagster_home,
    make_city,
    run_cli,
    start_cli,
)

from engagement_eval.errors import UserError
from pipelines.cli import main
from pipelines.run_guard import TAG_DUCKDB, exclusive_writer, refuse_if_busy


def test_two_cli_runs_at_once_one_finishes_the_other_is_refused_clearly(tmp_path):
    city = make_city(tmp_path / "city", incidents=40_000)
    home = dagster_home(tmp_path / "home")
    out = tmp_path / "out"
    env = cli_env(home)
    args = ["run", "--data", str(city), "--out", str(out), "--quiet"]
    started = time.monotonic()
    first, second = start_cli(args, env), start_cli(args, env)
    outputs = [p.communicate(timeout=170)[0] for p in (first, second)]
    took = time.monotonic() - started
    codes = sorted([first.returncode, second.returncode])
    assert codes[0] == 0, outputs
    # The other either ran after it (0) or was refused at once (2) with the reason and the fix.
    assert codes[1] in (0, 2), outputs
    for code, text in zip((first.returncode, second.returncode), outputs, strict=True):
        assert "Traceback" not in text
        if code == 2:
            assert "another engagement-eval run" in text and "How to fix" in text
    assert took < 170
    assert_panels_match_staging(out / "engagement_eval.duckdb")  # the file is whole


def test_run_lock_is_refused_at_once_while_held(tmp_path):
    db = tmp_path / "engagement_eval.duckdb"
    with exclusive_writer(db):
        started = time.monotonic()
        with pytest.raises(UserError) as err, exclusive_writer(db):
            pass
        assert time.monotonic() - started < 1
    assert "another engagement-eval run (process" in err.value.message
    with exclusive_writer(db):  # released on exit
        pass


def test_cli_refuses_while_a_ui_run_writes_the_same_file(tmp_path, monkeypatch, capsys):
    """A run launched from the UI or the schedule is in progress (status STARTED, tagged with
    the file): the command stops at once, naming the run, instead of failing midway."""
    city = make_city(tmp_path / "city", incidents=2_000)
    home = dagster_home(tmp_path / "home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for var in ("ENGAGEMENT_EVAL_DUCKDB", "ENGAGEMENT_EVAL_OUT", "ENGAGEMENT_EVAL_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    out = tmp_path / "out"
    db = (out / "engagement_eval.duckdb").resolve()
    instance = dg.DagsterInstance.get()
    ui_run = instance.add_run(
        dg.DagsterRun(
            job_name="all_assets",
            run_id="0123abcd-0000-0000-0000-000000000000",
            status=dg.DagsterRunStatus.STARTED,
            tags={TAG_DUCKDB: str(db)},
        )
    )
    started = time.monotonic()
    assert main(["run", "--data", str(city), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert ui_run.run_id in err and "How to fix" in err and "Traceback" not in err
    assert time.monotonic() - started < 30
    instance.report_run_failed(ui_run, "test over")
    refuse_if_busy(instance, db)  # no longer busy
    assert main(["run", "--data", str(city), "--out", str(out), "--quiet"]) == 0


def test_a_file_held_by_another_process_fails_within_the_lock_timeout(tmp_path):
    """A notebook (or anything else) holding the DuckDB file open for writing."""
    city = make_city(tmp_path / "city", incidents=2_000)
    out = tmp_path / "out"
    out.mkdir()
    script = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
        "c.execute('CREATE TABLE t AS SELECT 1'); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(out / "engagement_eval.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        result = run_cli(
            ["run", "--data", str(city), "--out", str(out), "--quiet"],
            cli_env(ENGAGEMENT_EVAL_LOCK_TIMEOUT="2"),
        )
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert "is locked by another process" in result.stderr and "How to fix" in result.stderr
    assert "Traceback" not in result.stderr
    assert took < 60
    con = duckdb.connect(str(out / "engagement_eval.duckdb"), read_only=True)
    assert con.execute("SELECT * FROM t").fetchall() == [(1,)]  # the holder's data is intact
    con.close()

"""Every failure a user can cause ends with one message naming the cause and the fix (exit 2,
no traceback), through the real command line."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from reliability_helpers import DATA, cli_env, make_city, run_cli


@pytest.fixture
def city(tmp_path) -> Path:
    return Path(shutil.copytree(DATA / "tiny_city", tmp_path / "city"))


def _fails_clearly(args: list[str], *expected: str, **env: str) -> str:
    result = run_cli(["run", *args], cli_env(**env), timeout=120)
    err = result.stderr
    assert result.returncode == 2, (result.stdout, err)
    assert "Traceback" not in err and "Traceback" not in result.stdout
    assert err.count("error:") == 1 and "How to fix:" in err
    for text in expected:
        assert text in err, err
    return err


def test_bad_config_value(city, tmp_path):
    (city / "city.yaml").write_text("city: X\nstudy_window: {start: 2020-13}\n")
    _fails_clearly(["--data", str(city), "--out", str(tmp_path / "o")], "study_window.start")


def test_wrong_data_path_and_config_path(city, tmp_path):
    _fails_clearly(["--data", str(tmp_path / "nowhere")], "does not exist", "--data")
    _fails_clearly(
        ["--data", str(city), "--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)],
        "nope.yaml",
    )


def test_unreadable_input_file(city, tmp_path):
    (city / "meetings.csv").write_bytes(os.urandom(4000))
    _fails_clearly(["--data", str(city), "--out", str(tmp_path / "o")], "meetings.csv")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_no_read_permission_on_the_data_folder(city, tmp_path):
    (city / "crime_incidents.csv").chmod(0)
    _fails_clearly(["--data", str(city), "--out", str(tmp_path / "o")], "permission")


def test_output_folder_is_a_file_or_not_writable(city, tmp_path):
    (tmp_path / "file").write_text("")
    _fails_clearly(["--data", str(city), "--out", str(tmp_path / "file")], "is a file")
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        _fails_clearly(["--data", str(city), "--out", str(locked / "o")], str(locked))


def test_duckdb_path_is_not_a_database(city, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "engagement_eval.duckdb").write_bytes(os.urandom(5000))
    _fails_clearly(["--data", str(city), "--out", str(out)], "not a DuckDB database")
    dirout = tmp_path / "d"
    (dirout / "engagement_eval.duckdb").mkdir(parents=True)
    _fails_clearly(["--data", str(city), "--out", str(dirout)], "is a folder")


def test_bad_lock_timeout_setting(city, tmp_path):
    _fails_clearly(
        ["--data", str(city), "--out", str(tmp_path / "o")],
        "ENGAGEMENT_EVAL_LOCK_TIMEOUT",
        ENGAGEMENT_EVAL_LOCK_TIMEOUT="soon",
    )


def _mount_tmpfs(where: Path, size: str, read_only: bool = False) -> None:
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")


@pytest.fixture
def small_disk(tmp_path):
    mounts = []

    def make(name: str, size: str, read_only: bool = False) -> Path:
        where = tmp_path / name
        _mount_tmpfs(where, size, read_only)
        mounts.append(where)
        return where

    yield make
    for where in mounts:
        subprocess.run(["umount", str(where)], capture_output=True)


@pytest.mark.slow
def test_disk_full_stops_with_a_message_and_keeps_the_previous_state(tmp_path, small_disk):
    # a clean city: the first run must pass the quality gate (the tiny city is dirty on purpose)
    city = make_city(tmp_path / "clean_city", incidents=2_000)
    disk = small_disk("disk", "24m")
    out = disk / "o"
    first = run_cli(["run", "--data", str(city), "--out", str(out), "--quiet"], cli_env())
    assert first.returncode == 0, first.stderr
    con = duckdb.connect(str(out / "engagement_eval.duckdb"), read_only=True)
    before = con.execute("SELECT count(*) FROM raw.crime_incidents").fetchone()[0]
    con.close()
    # fill the disk, then deliver a bigger file: the load cannot commit
    (disk / "ballast").write_bytes(b"\0" * (disk.stat().st_size or 1))
    with open(disk / "ballast", "ab") as ballast:
        try:
            while True:
                ballast.write(b"\0" * 65536)
                ballast.flush()
        except OSError:
            pass
    extra = (city / "crime_incidents.csv").read_text().splitlines()
    lines = [extra[0]] + [f"X{i}," + ",".join(extra[1].split(",")[1:]) for i in range(20000)]
    (city / "crime_incidents_more.csv").write_text("\n".join(lines) + "\n")
    _fails_clearly(["--data", str(city), "--out", str(out)], "disk", "full")
    (disk / "ballast").unlink()
    con = duckdb.connect(str(out / "engagement_eval.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM raw.crime_incidents").fetchone()[0] == before
    con.close()


def test_output_on_a_read_only_disk(city, small_disk):
    disk = small_disk("ro", "1m", read_only=True)
    _fails_clearly(["--data", str(city), "--out", str(disk / "o")], "Read-only file system")

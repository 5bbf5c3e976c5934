"""Shared pieces of the reliability tests: a generated city with planted private data, the CLI
in a subprocess (so it can be killed), and a content hash of every DuckDB table."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
CLI = [sys.executable, "-m", "pipelines.cli"]

# Planted in the inputs; none of these may appear in any published output.
FREE_TEXT = "PLANTED-COMMENT-my-neighbour-at-12-Elm-St"
RESPONDENT_PREFIX = "RESPX9Q"
ADDRESS = "PLANTED-ADDR-742-Evergreen-Terrace"
LATITUDE = "41.8812345"
LONGITUDE = "-87.6212345"

LOAD_TIME_COLUMNS = {"_loaded_at", "loaded_at", "generated_at", "created_at"}


def make_city(folder: Path, incidents: int = 20_000, seed: int = 11) -> Path:
    """A small city in the contract format, with columns no published output may carry:
    survey `comments` and respondent ids, incident `address`, `latitude`, `longitude`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    districts = [f"{i:03d}" for i in range(1, 9)]
    pd.DataFrame(  # district 009 gets only three survey answers: a cell below min_cell_size
        {
            "district_id": [*districts, "009"],
            "population": rng.integers(20_000, 90_000, len(districts) + 1),
        }
    ).to_csv(folder / "districts.csv", index=False)
    pd.DataFrame(
        {
            "district_id": districts[:4],
            "program": "beat_meetings",
            "start_date": ["2022-07-01", "2022-07-01", "2023-01-01", "2023-01-01"],
        }
    ).to_csv(folder / "programs.csv", index=False)
    days = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 730, incidents), "D")
    pd.DataFrame(
        {
            "incident_id": [f"I{i:08d}" for i in range(incidents)],
            "occurred_at": days.strftime("%Y-%m-%d 13:05:00"),
            "district_id": rng.choice(districts, incidents),
            "offense_category": rng.choice(["violent", "property", "other"], incidents),
            "address": ADDRESS,
            "latitude": LATITUDE,
            "longitude": LONGITUDE,
        }
    ).to_csv(folder / "crime_incidents.csv", index=False)
    n = 2_000
    answers = rng.integers(1, 6, (n, 3))
    survey = pd.DataFrame(
        {
            "response_id": [f"{RESPONDENT_PREFIX}{i:06d}" for i in range(n)],
            "district_id": rng.choice(districts, n),
            "response_date": (
                pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 730, n), "D")
            ).strftime("%Y-%m-%d"),
            "trust_police": answers[:, 0],
            "police_fair": answers[:, 1],
            "feel_safe": answers[:, 2],
            "weight": rng.uniform(0.5, 2.0, n).round(3),
            "comments": FREE_TEXT,
        }
    )
    few = survey.iloc[:3].assign(district_id="009", response_date="2023-05-02")
    few["response_id"] = [f"{RESPONDENT_PREFIX}9{i:05d}" for i in range(3)]
    pd.concat([survey, few]).to_csv(folder / "survey_responses.csv", index=False)
    m = 400
    pd.DataFrame(
        {
            "meeting_id": [f"M{i:05d}" for i in range(m)],
            "district_id": rng.choice(districts, m),
            "meeting_date": (
                pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 730, m), "D")
            ).strftime("%Y-%m-%d"),
            "meeting_type": rng.choice(["beat_meeting", "town_hall"], m),
            "attendees": rng.integers(0, 80, m),
        }
    ).to_csv(folder / "meetings.csv", index=False)
    (folder / "city.yaml").write_text(
        "city: Reliability Town\ntimezone: America/Chicago\n"
        "study_window: {start: 2022-01, end: 2023-12}\n"
        "model: {bootstrap_draws: 49, min_cell_size: 10}\n"
    )
    return folder


def dagster_home(folder: Path) -> Path:
    """A fresh instance with the project's own dagster.yaml (pools, run monitoring)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / ".dagster_home" / "dagster.yaml", folder / "dagster.yaml")
    return folder


def cli_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ENGAGEMENT_EVAL_") and k != "DAGSTER_HOME"
    }
    env["PYTHONUNBUFFERED"] = "1"
    if home is not None:
        env["DAGSTER_HOME"] = str(home)
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict, timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run(
        CLI + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def start_cli(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        CLI + args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def tables(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] | None = None) -> list:
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_catalog = current_database() ORDER BY 1, 2"
    ).fetchall()
    return [(s, t) for s, t in rows if schemas is None or s in schemas]


def table_hash(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> str:
    """sha256 of the table's rows in a canonical order, load-time columns left out."""
    cols = [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ?"
            " AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        ).fetchall()
        if c not in LOAD_TIME_COLUMNS
    ]
    quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
    rows = con.execute(
        f'SELECT {quoted} FROM "{schema}"."{name}" ORDER BY ALL NULLS FIRST'
    ).fetchall()
    digest = hashlib.sha256(repr(cols).encode())
    for row in rows:
        digest.update(repr(row).encode())
    return digest.hexdigest()


def database_hashes(db: Path, schemas=("raw", "staging", "marts")) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {f"{s}.{t}": table_hash(con, s, t) for s, t in tables(con, schemas)}
    finally:
        con.close()


def assert_panels_match_staging(db: Path) -> None:
    """No duplicate incident in staging, and the panel counts exactly the staged incidents."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        dup = con.execute(
            "SELECT count(*) - count(DISTINCT incident_id) FROM staging.crime_incidents"
        ).fetchone()[0]
        assert dup == 0
        counted, staged = con.execute(
            "SELECT (SELECT sum(crimes_total) FROM marts.district_month),"
            " (SELECT count(*) FROM staging.crime_incidents WHERE occurred_at >= '2022-01-01'"
            "  AND occurred_at < '2024-01-01')"
        ).fetchone()
        assert counted == staged
    finally:
        con.close()

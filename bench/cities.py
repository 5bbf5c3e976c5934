"""Benchmark cities in `bench/cities/` (git-ignored), generated once and reused.

demo         the simulator's documented demo city (25 districts x 120 months, ~1.6 M
             incidents as Parquet).
city7m       the demo city with about 7 M incidents (incidents_per_1000 = 30 instead of 7.2),
             the size issue 17's ingest target (within 3x of the store floor) is set at.
beat         a beat-level city from the simulator: 300 units x 240 months, ~10 M incidents,
             ~200,000 survey responses; incidents re-written as CSV so ingest exercises
             DuckDB's CSV reader (the format most cities deliver).
big50        50 M incidents for ingest and panels only. The simulator would need ~10 GB of
             numpy arrays for this, so DuckDB writes the incident Parquet itself (same
             contract columns, pseudo-random days, districts and offenses from `hash()`);
             the other inputs are the beat city's.
incremental  the demo city with one more month (2026-01), its incidents and meetings split
             into a history file and a `<input>_2026-01` monthly delivery kept aside in
             `pending/`, for the monthly incremental run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from simulator.city import simulate_city
from simulator.params import OFFENSES

CITIES = Path(__file__).resolve().parent / "cities"
NEW_MONTH = "2026-01"


def _done(folder: Path) -> bool:
    return (folder / ".complete").exists()


def _mark(folder: Path) -> Path:
    (folder / ".complete").write_text("ok\n")
    return folder


def demo() -> Path:
    folder = CITIES / "demo"
    if not _done(folder):
        simulate_city(folder)
        _mark(folder)
    return folder


def city7m() -> Path:
    folder = CITIES / "city7m"
    if not _done(folder):
        simulate_city(folder, incidents_per_1000=30.0, city_name="Seven Million City")
        _mark(folder)
    return folder


def beat() -> Path:
    folder = CITIES / "beat"
    if _done(folder):
        return folder
    simulate_city(
        folder,
        n_districts=300,
        months=240,
        start="2006-01",
        incidents_per_1000=2.09,  # ~10 M incidents with the simulator's district populations
        survey_responses_per_cell=8.34,  # ~200,000 responses over 300 x 80 quarters
        city_name="Beat City",
    )
    parquet = folder / "crime_incidents.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM read_parquet($src)) TO '"
        + _sql_path(folder / "crime_incidents.csv")
        + "' (HEADER, DELIMITER ',')",
        {"src": str(parquet)},
    )
    con.close()
    parquet.unlink()
    return _mark(folder)


def _sql_path(path: Path) -> str:
    """COPY ... TO takes no parameter for its target; only our own fixed paths reach it."""
    text = str(path)
    if "'" in text:
        raise ValueError(f"benchmark paths must not contain quotes: {text}")
    return text


def big(rows: int = 50_000_000, name: str = "big50") -> Path:
    folder = CITIES / name
    if _done(folder):
        return folder
    source = beat()
    folder.mkdir(parents=True, exist_ok=True)
    for other in ("districts.csv", "programs.csv", "survey_responses.csv", "meetings.csv"):
        shutil.copy(source / other, folder / other)
    shutil.copy(source / "city.yaml", folder / "city.yaml")
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    offenses = [name for name, _, _ in OFFENSES]
    seconds = 240 * 30 * 86_400  # 2006-01 .. 2025-09, inside the window
    con.execute(
        """
        COPY (
            WITH d AS (SELECT list(district_id ORDER BY district_id) AS ids
                       FROM read_csv($districts, all_varchar = true))
            SELECT 10000001 + i AS incident_id,
                   strftime(TIMESTAMP '2006-01-01' + to_seconds(CAST(hash(i) % $seconds AS BIGINT)),
                            '%Y-%m-%dT%H:%M:%S') AS occurred_at,
                   d.ids[1 + CAST(hash(i + 1) % len(d.ids) AS BIGINT)] AS district_id,
                   $offenses[1 + CAST(hash(i + 2) % len($offenses) AS BIGINT)] AS offense_category
            FROM range($rows) t(i), d
        ) TO '"""
        + _sql_path(folder / "crime_incidents.parquet")
        + "' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 262144)",
        {
            "districts": str(folder / "districts.csv"),
            "seconds": seconds,
            "offenses": offenses,
            "rows": rows,
        },
    )
    con.close()
    return _mark(folder)


def incremental() -> Path:
    """Demo city + one month; the new month's rows wait in `pending/` until the monthly run."""
    folder = CITIES / "incremental"
    if _done(folder):
        return folder
    simulate_city(folder, months=121)  # 2016-01 .. 2026-01; city.yaml ends the window there
    pending = folder / "pending"
    pending.mkdir(exist_ok=True)
    con = duckdb.connect()
    splits = {
        "crime_incidents": ("crime_incidents.parquet", "occurred_at", "parquet"),
        "meetings": ("meetings.csv", "meeting_date", "csv"),
    }
    for name, (file, column, fmt) in splits.items():
        src = folder / file
        moved = folder / f"_{file}"
        src.rename(moved)
        reader = "read_parquet($src)" if fmt == "parquet" else "read_csv($src, all_varchar = true)"
        options = "(FORMAT parquet, COMPRESSION zstd)" if fmt == "parquet" else "(HEADER)"
        month_file = pending / f"{name}_{NEW_MONTH}.{fmt}"
        for target, keep in ((src, "<"), (month_file, ">=")):
            con.execute(
                f"COPY (SELECT * FROM {reader} WHERE substr(CAST({column} AS VARCHAR), 1, 7)"
                f" {keep} $month) TO '{_sql_path(target)}' {options}",
                {"src": str(moved), "month": NEW_MONTH},
            )
        moved.unlink()
    con.close()
    return _mark(folder)


def deliver_pending(folder: Path) -> list[Path]:
    """Move the monthly delivery into the city folder (what a city's upload would do)."""
    moved = []
    for path in sorted((folder / "pending").glob("*")):
        target = folder / path.name
        shutil.copy(path, target)
        moved.append(target)
    return moved


def withdraw_pending(folder: Path) -> None:
    for path in (folder / "pending").glob("*"):
        (folder / path.name).unlink(missing_ok=True)

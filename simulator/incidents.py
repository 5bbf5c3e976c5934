"""Incident-shape writer: expand district x month x offense counts into single incidents.

Vectorised: one `np.repeat` over the count array, then random days and times of day; strings are
built by Arrow compute, never by Python loops, so 1.5 M rows take a couple of seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from simulator.design import Design

# Share of incidents by hour of day (Chicago-like: quiet before dawn, peaks midday and evening).
HOUR_PROFILE = np.array([
    50, 35, 30, 25, 20, 17, 20, 27, 37, 45, 47, 50, 60, 50, 52, 55, 56, 57, 58, 57, 55, 52, 50, 45,
], dtype=float)  # fmt: skip
FIRST_INCIDENT_ID = 10_000_001


def _dst_start_days(years: np.ndarray) -> np.ndarray:
    """US daylight-saving start (second Sunday of March) as days since the epoch."""
    march1 = np.array([np.datetime64(f"{y}-03-01", "D") for y in years]).astype(np.int64)
    weekday = (march1 + 3) % 7  # 0 = Monday
    return march1 + (6 - weekday) % 7 + 7


def incident_table(
    counts: np.ndarray,
    design: Design,
    offenses: tuple[str, ...],
    rng: np.random.Generator,
    units: tuple[np.ndarray, tuple[str, ...]] | None = None,
) -> pa.Table:
    """Incidents of the district x month x offense `counts`.

    `units`: (unit index of every incident in cell-expansion order, unit ids); the table then
    has `unit_id` instead of `district_id`, with the same rows, times and ids otherwise.
    """
    cal = design.calendar
    flat = counts.reshape(-1)
    cell = np.repeat(np.arange(flat.size, dtype=np.int64), flat)
    d, t, o = np.unravel_index(cell, counts.shape)
    del cell
    n = len(d)
    month_day0 = cal.months.astype("datetime64[D]").astype(np.int64)
    day = month_day0[t] + np.floor(rng.random(n) * cal.days[t]).astype(np.int64)
    hour = rng.choice(24, size=n, p=HOUR_PROFILE / HOUR_PROFILE.sum())
    minute = rng.integers(0, 60, n)
    # Local clock times that do not exist (02:xx on the spring-forward day) move one hour on.
    years = np.unique(cal.months.astype("datetime64[Y]").astype(np.int64) + 1970)
    skipped = (hour == 2) & np.isin(day, _dst_start_days(years))
    hour = hour + skipped
    seconds = day * 86_400 + hour * 3_600 + minute * 60
    del day, hour, minute, skipped

    order = np.argsort(seconds, kind="stable")
    stamps = pa.array(seconds[order], type=pa.timestamp("s"))
    occurred_at = pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%S")
    where_column, where_index, where_ids = "district_id", d, design.district_ids
    if units is not None:
        where_column, where_index, where_ids = "unit_id", units[0], units[1]
    where = pa.DictionaryArray.from_arrays(
        pa.array(where_index[order].astype(np.int32)), pa.array(where_ids)
    ).cast(pa.string())
    offense = pa.DictionaryArray.from_arrays(
        pa.array(o[order].astype(np.int32)), pa.array(offenses)
    ).cast(pa.string())
    ids = pa.array(np.arange(FIRST_INCIDENT_ID, FIRST_INCIDENT_ID + n, dtype=np.int64))
    return pa.table(
        {
            "incident_id": ids,
            "occurred_at": occurred_at,
            where_column: where,
            "offense_category": offense,
        }
    )


def write_incidents(table: pa.Table, path: Path) -> None:
    """Deterministic Parquet: fixed compression and row groups, no pandas metadata."""
    pq.write_table(
        table,
        path,
        compression="zstd",
        row_group_size=256 * 1024,
        use_dictionary=True,
        write_statistics=True,
    )

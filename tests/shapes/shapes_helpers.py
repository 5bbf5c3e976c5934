"""Build the warehouse for a simulated city without Dagster (ingest, gate, panels)."""

from __future__ import annotations

from datetime import datetime

import duckdb

from engagement_eval.config import load_config
from engagement_eval.contract import INPUTS
from evaluation.settings import EvaluationSettings
from warehouse.ingest import PartitionScope, build_staging, delivered_files, load_raw
from warehouse.panels import build_district_month, build_district_quarter_survey

FAST = dict(bootstrap_draws=99, ri_permutations=0, survey_sampling_draws=50)


def month_keys(start: str, end: str) -> list[str]:
    y, m = int(start[:4]), int(start[5:])
    out = []
    while f"{y:04d}-{m:02d}" <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def build(data_dir, overrides: dict | None = None):
    """In-memory DuckDB with raw, staging and both panels; returns (con, config)."""
    config = load_config(None, data_dir)
    if overrides:
        from engagement_eval.config import config_from_dict

        config = config_from_dict({**config.raw, **overrides})
    keys = month_keys(f"{config.window_start:%Y-%m}", f"{config.window_end:%Y-%m}")
    con = duckdb.connect()
    for schema in ("raw", "staging", "quality", "marts", "results"):
        con.execute(f"CREATE SCHEMA {schema}")
    for spec in INPUTS.values():
        files = delivered_files(con, spec, config, data_dir)
        scope = PartitionScope(keys, keys[0], keys[-1], complete=True) if spec.partitioned else None
        load_raw(con, spec, config, files, datetime(2024, 1, 1), scope)
        build_staging(con, spec, config, files, scope)
    build_district_month(con, config, keys[-1])
    build_district_quarter_survey(con, config)
    return con, config


def panels(con):
    dm = con.execute("SELECT * FROM marts.district_month ORDER BY district_id, month").df()
    dq = None
    if con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts'"
        " AND table_name = 'district_quarter_survey'"
    ).fetchone()[0]:
        dq = con.execute(
            "SELECT * FROM marts.district_quarter_survey ORDER BY district_id, index_name, quarter"
        ).df()
    return dm, dq


def settings(**kw) -> EvaluationSettings:
    return EvaluationSettings(**{**FAST, **kw})

"""Read what the evaluation needs from the DuckDB warehouse (panels, input hashes, quality).

The evaluation itself never opens DuckDB: the models asset reads these DataFrames and dicts
here and hands them over.

Only fixed SQL; every section is optional (a missing table gives an empty section).
"""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from engagement_eval.contract import INPUTS
from warehouse.sql import table_columns, table_exists


def read_panels(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    dm = con.execute("SELECT * FROM marts.district_month ORDER BY district_id, month").df()
    dq = None
    if table_exists(con, "marts", "district_quarter_survey"):
        dq = con.execute(
            "SELECT * FROM marts.district_quarter_survey ORDER BY district_id, index_name, quarter"
        ).df()
    return dm, dq


def district_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    if not table_exists(con, "staging", "districts"):
        return {}
    if "district_name" not in table_columns(con, "staging", "districts"):
        return {}
    rows = con.execute(
        "SELECT district_id, any_value(district_name) FROM staging.districts GROUP BY district_id"
    ).fetchall()
    return {str(d): str(n) for d, n in rows if n is not None}


def input_files(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """[{file, sha256, rows}] of the delivered files behind the raw tables, sorted."""
    out = []
    for name in sorted(INPUTS):  # contract whitelist -> safe identifiers
        if not table_exists(con, "raw", name):
            continue
        rows = con.execute(
            f'SELECT _source_file, _source_sha256, count(*) FROM raw."{name}" '
            "GROUP BY ALL ORDER BY 1, 2"
        ).fetchall()
        out += [
            {
                "input": name,
                "file": str(f).replace("\\", "/").rsplit("/", 1)[-1],
                "sha256": s,
                "rows": int(n),
            }
            for f, s, n in rows
        ]
    return sorted(out, key=lambda r: (r["input"], r["file"], r["sha256"]))


def quality_section(con: duckdb.DuckDBPyConnection) -> dict:
    """Latest quality-gate run per input: sources, checks and reporting gaps."""
    if not table_exists(con, "quality", "run_summary"):
        return {}
    latest = con.execute(
        "SELECT input, run_id, rows_in, rows_quarantined, quarantined_by_rule FROM "
        "quality.run_summary QUALIFY row_number() OVER (PARTITION BY input ORDER BY "
        "started_at DESC, run_id DESC) = 1 ORDER BY input"
    ).fetchall()
    sources, checks, runs = [], [], []
    for name, run_id, rows_in, rows_q, by_rule in latest:
        runs.append(run_id)
        try:
            rules = json.loads(by_rule) if by_rule else {}
        except (TypeError, ValueError):
            rules = {}
        sources.append(
            {
                "source": name,
                "rows_in": int(rows_in or 0),
                "rows_quarantined": int(rows_q or 0),
                "quarantined_by_rule": {str(k): int(v) for k, v in rules.items()},
            }
        )
    if table_exists(con, "quality", "rule_results") and runs:
        for inp, rule, level, success, desc in con.execute(
            "SELECT input, rule, level, success, coalesce(description, '') FROM "
            "quality.rule_results WHERE list_contains(?, run_id) ORDER BY input, rule",
            [runs],
        ).fetchall():
            status = "passed" if success else ("warned" if level == "warning" else "failed")
            checks.append({"source": inp, "check": rule, "status": status, "detail": desc})
    gaps = []
    if table_exists(con, "quality", "reporting_gaps") and runs:
        gaps = [
            {"district": str(d), "month": m.strftime("%Y-%m")}
            for d, m in con.execute(
                "SELECT DISTINCT district_id, month FROM quality.reporting_gaps WHERE "
                "list_contains(?, run_id) ORDER BY 1, 2",
                [runs],
            ).fetchall()
        ]
    return {"sources": sources, "checks": checks, "reporting_gaps": gaps}

"""One measured stage per child process: `python -m bench.stages <stage> --data DIR ...`.

Stages:
  floor     the bare DuckDB floor: read the incident file(s) and GROUP BY district, month in
            one statement (no raw copy, no lineage, no dedup): what any pipeline must pay.
  store_floor  DuckDB alone doing what the data contract asks of ingest, into a database
            file in one process: every delivered row of every input as text with its file
            and row number, a typed copy, and the district-month incident panel. No owner
            partitions, no load log, no dedup, no quality gate: the fair floor for
            `engagement-eval validate` (issue 17), which stores the same and checks it.
  ingest    the SQL layer's raw + staging loads for every input, all months at once.
  panels    the SQL layer's panel builds from staging.
  dagster   the Dagster job in-process (optionally a subset of assets, or one month the way
            the monthly schedule runs it), with per-step times.
The last stdout line is a JSON object with the stage's own figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import datetime
from pathlib import Path

import duckdb


def _connect(db: str | None, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(db or ":memory:")
    if memory_limit:
        con.execute(f"SET memory_limit = '{_checked_size(memory_limit)}'")
    return con


def _checked_size(text: str) -> str:
    """Only sizes like '3GB' or '512MiB' reach the SET statement (it takes no parameters)."""
    digits = text.rstrip("KMGTiBb")
    if not digits.isdigit() or text[len(digits) :] not in {"KB", "MB", "GB", "KiB", "MiB", "GiB"}:
        raise SystemExit(f"memory limit must look like 3GB or 512MiB, not {text!r}")
    return text


def floor(data: str, db: str | None, memory_limit: str | None) -> dict:
    from engagement_eval.contract import INPUTS, find_files

    files = [str(p) for p in find_files(data, INPUTS["crime_incidents"])]
    con = _connect(None, memory_limit)
    reader = (
        "read_parquet($files)"
        if all(f.endswith(".parquet") for f in files)
        else "read_csv($files, header = true)"
    )
    started, cpu = time.perf_counter(), time.process_time()
    groups, rows = con.execute(
        f"SELECT count(*), sum(n) FROM (SELECT district_id,"
        f" date_trunc('month', CAST(occurred_at AS TIMESTAMP)) AS month, count(*) AS n"
        f" FROM {reader} GROUP BY ALL)",
        {"files": files},
    ).fetchone()
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "groups": groups,
        "rows": int(rows),
    }


_DUCK_TYPES = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def store_floor(data: str, db: str | None, memory_limit: str | None) -> dict:
    from engagement_eval.config import load_config
    from engagement_eval.contract import INPUTS, find_files
    from warehouse.sql import ident

    config = load_config(None, data)
    started, cpu = time.perf_counter(), time.process_time()
    con = _connect(db, memory_limit)
    rows = {}
    for spec in INPUTS.values():
        files = [str(p) for p in find_files(data, spec)]
        if not files:
            continue
        raw, typed = ident(f"raw_{spec.name}"), ident(f"typed_{spec.name}")
        for i, path in enumerate(files):
            if path.endswith(".parquet"):
                source = (
                    "SELECT COLUMNS(* EXCLUDE (file_row_number))::VARCHAR, $path AS _source_file,"
                    " file_row_number + 1 AS _row_number"
                    " FROM read_parquet($path, file_row_number = true)"
                )
            else:
                source = (
                    "SELECT *, $path AS _source_file, row_number() OVER () AS _row_number"
                    " FROM read_csv($path, all_varchar = true, header = true)"
                )
            verb = f"CREATE TABLE {raw} AS " if i == 0 else f"INSERT INTO {raw} BY NAME "
            con.execute(verb + source, {"path": path})
        present = {r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()}
        wanted = spec.columns(
            config.survey.items, tuple(config.survey.indices), config.feedback.items
        )
        casts = [
            f"TRY_CAST({ident(c)} AS {_DUCK_TYPES[t]}) AS {ident(c)}"
            for c, t in wanted.items()
            if c in present
        ]
        con.execute(
            f"CREATE TABLE {typed} AS SELECT {', '.join(casts)}, _source_file, _row_number"
            f" FROM {raw}"
        )
        rows[spec.name] = con.execute(f"SELECT count(*) FROM {typed}").fetchone()[0]
    if "crime_incidents" in rows:
        con.execute(
            "CREATE TABLE district_month AS SELECT district_id,"
            " date_trunc('month', occurred_at) AS month, count(*) AS incidents"
            " FROM typed_crime_incidents GROUP BY ALL"
        )
    con.execute("CHECKPOINT")
    con.close()
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "rows": rows,
    }


def _keys(config) -> list[str]:
    from pipelines.partitions import monthly_partitions

    return monthly_partitions(config).get_partition_keys()


def ingest(data: str, db: str | None, memory_limit: str | None) -> dict:
    from engagement_eval.config import load_config
    from engagement_eval.contract import INPUTS
    from warehouse.ingest import PartitionScope, build_staging, delivered_files, load_raw
    from warehouse.sql import ensure_schemas

    config = load_config(None, data)
    keys = _keys(config)
    con = _connect(db, memory_limit)
    ensure_schemas(con)
    steps: dict[str, float] = {}
    loaded_at = datetime.now()
    cpu = time.process_time()
    for spec in INPUTS.values():
        scope = PartitionScope(keys, keys[0], keys[-1], complete=True) if spec.partitioned else None
        started = time.perf_counter()
        files = delivered_files(con, spec, config, data)
        steps[f"inspect.{spec.name}"] = time.perf_counter() - started
        started = time.perf_counter()
        load_raw(con, spec, config, files, loaded_at, scope)
        steps[f"raw.{spec.name}"] = time.perf_counter() - started
        started = time.perf_counter()
        build_staging(con, spec, config, files, scope)
        steps[f"staging.{spec.name}"] = time.perf_counter() - started
    con.execute("CHECKPOINT")
    rows = con.execute("SELECT count(*) FROM staging.crime_incidents").fetchone()[0]
    return {
        "seconds": sum(steps.values()),
        "cpu_seconds": time.process_time() - cpu,
        "steps": steps,
        "incidents_staged": rows,
    }


def panels(data: str, db: str | None, memory_limit: str | None) -> dict:
    from engagement_eval.config import load_config
    from warehouse.panels import build_district_month, build_district_quarter_survey

    config = load_config(None, data)
    con = _connect(db, memory_limit)
    steps = {}
    cpu = time.process_time()
    started = time.perf_counter()
    cells = build_district_month(con, config, _keys(config)[-1])
    steps["marts.district_month"] = time.perf_counter() - started
    started = time.perf_counter()
    build_district_quarter_survey(con, config)
    steps["marts.district_quarter_survey"] = time.perf_counter() - started
    return {
        "seconds": sum(steps.values()),
        "cpu_seconds": time.process_time() - cpu,
        "steps": steps,
        "district_months": cells,
    }


class _StepTimes(logging.Handler):
    """Collects Dagster STEP_START/STEP_SUCCESS events into {step: seconds}."""

    def __init__(self):
        super().__init__()
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.failed: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None:
            return
        step = (meta.get("step_key") or "").replace("__", ".")
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.perf_counter()
        elif kind == "STEP_SUCCESS":
            self.seconds[step] = time.perf_counter() - self.started.get(step, time.perf_counter())
        elif kind == "STEP_FAILURE":
            self.failed.append(step)


def dagster_run(data: str, out: str, groups: list[str] | None, partition: str | None) -> dict:
    """The job the CLI and the schedule run, in-process, timing each step."""
    import dagster as dg

    from engagement_eval.config import load_config
    from pipelines.definitions import build_definitions
    from pipelines.jobs import ALL_ASSETS_JOB
    from pipelines.partitions import range_tags
    from pipelines.settings import Settings

    started = time.perf_counter()
    config = load_config(None, data)
    keys = _keys(config)
    settings = Settings.from_env(data, None, out)
    Path(settings.out_dir).mkdir(parents=True, exist_ok=True)
    defs = build_definitions(settings, config)
    handler = _StepTimes()

    @dg.logger
    def step_times(_context):
        log = logging.getLogger("bench.step_times")
        log.handlers[:] = [handler]
        log.propagate = False
        log.setLevel(logging.DEBUG)
        return log

    job = defs.resolve_job_def(ALL_ASSETS_JOB).with_logger_defs({"step_times": step_times})
    selection = None
    if groups:
        selection = [
            key for key in defs.resolve_asset_graph().get_all_asset_keys() if key.path[0] in groups
        ]
    run_kwargs: dict = {"partition_key": partition} if partition else {}
    if not partition:
        run_kwargs["tags"] = range_tags(keys[0], keys[-1])
    setup = time.perf_counter() - started
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"loggers": {"step_times": {}}},
        asset_selection=selection,
        raise_on_error=False,
        **run_kwargs,
    )
    total = time.perf_counter() - started
    return {
        "seconds": total,
        "setup_seconds": setup,
        "success": result.success,
        "steps": handler.seconds,
        "failed_steps": handler.failed,
        "partition": partition or f"{keys[0]}..{keys[-1]}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stages")
    parser.add_argument("stage", choices=["floor", "store_floor", "ingest", "panels", "dagster"])
    parser.add_argument("--data", required=True)
    parser.add_argument("--db", default=None, help="DuckDB file (ingest, panels)")
    parser.add_argument("--out", default=None, help="output folder (dagster)")
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 3GB")
    parser.add_argument("--groups", default=None, help="asset key prefixes, e.g. raw,staging")
    parser.add_argument("--partition", default=None, help="one month key (dagster)")
    args = parser.parse_args(argv)
    if args.stage == "dagster":
        groups = args.groups.split(",") if args.groups else None
        figures = dagster_run(args.data, args.out, groups, args.partition)
    else:
        stages = {"floor": floor, "store_floor": store_floor, "ingest": ingest, "panels": panels}
        figures = stages[args.stage](args.data, args.db, args.memory_limit)
    print(json.dumps(figures, default=str))
    return 0 if figures.get("success", True) else 1


if __name__ == "__main__":
    raise SystemExit(main())

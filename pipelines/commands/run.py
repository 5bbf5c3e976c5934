"""`engagement-eval run`: materialize the whole asset graph for one city folder, in-process.

All months of the window run in one Dagster run (a partition range with single-run backfill
policy), so files are read once, not once per month. Progress is printed per step; failures a
user can fix come back as one `UserError` message, not a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from engagement_eval.errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("--data", required=True, help="city folder with the contract files")
    parser.add_argument("--config", default=None, help="city YAML config (default: DATA/city.yaml)")
    parser.add_argument(
        "--out", default=None, help="output folder (default: out/<city folder name>)"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")


class _ProgressHandler(logging.Handler):
    """Turns Dagster step events into one line each: started, finished (with time), failed."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = (meta.get("step_key") or "").replace("__", ".")
        if event is None:
            if meta.get("step_key") and record.levelno >= logging.INFO:
                self.stream.write(f"    {meta.get('orig_message', record.getMessage())}\n")
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            self.stream.write(f"  > {step}\n")
        elif kind == "STEP_SUCCESS":
            took = time.monotonic() - self.started.get(step, time.monotonic())
            self.stream.write(f"  ok {step} ({took:.1f} s)\n")
        elif kind == "STEP_FAILURE":
            self.stream.write(f"  FAILED {step}\n")
        self.stream.flush()


def _progress_logger(quiet: bool):
    import dagster as dg

    @dg.logger(description="one line per step for the command line")
    def progress(_init_context):
        log = logging.getLogger("engagement_eval.progress")
        log.handlers.clear()
        log.propagate = False
        log.setLevel(logging.DEBUG)  # step events arrive at DEBUG
        # quiet: a NullHandler, else logging's last-resort handler dumps step failures (with
        # Dagster's stack traces) on stderr; the CLI prints the cause once itself.
        log.addHandler(logging.NullHandler() if quiet else _ProgressHandler(sys.stdout))
        return log

    return progress


def _user_error_from(exc: BaseException) -> UserError | None:
    """The user-fixable cause inside an exception chain (Dagster wraps step errors)."""
    seen = set()
    todo = [exc]
    found: list[BaseException] = []
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, UserError):
            return current
        found.append(current)
        todo += [getattr(current, "user_exception", None), current.__cause__, current.__context__]
    for current in found:
        translated = _environment_error(current)
        if translated is not None:
            return translated
    return None


def _environment_error(exc: BaseException) -> UserError | None:
    """Disk full and permission problems, wherever they surface (Python or DuckDB)."""
    import errno

    text = " ".join(str(exc).split())
    low = text.lower()
    where = getattr(exc, "filename", None)
    if getattr(exc, "errno", None) == errno.ENOSPC or "no space left on device" in low:
        return UserError(
            f"the disk is full{f' (writing {where})' if where else ''}: {text[:200]}",
            "free some space, or set --out / ENGAGEMENT_EVAL_DUCKDB to a disk with room, and run "
            "again; the previous results are intact (the interrupted step was rolled back)",
        )
    if isinstance(exc, PermissionError) or "permission denied" in low:
        return UserError(
            f"no permission to access {where or 'a file'}: {text[:200]}",
            "give this user read access to the city folder and write access to the output "
            "folder (or pass another --out)",
        )
    if getattr(exc, "errno", None) == errno.EROFS or "read-only file system" in low:
        return UserError(
            f"{where or 'the output folder'} is on a read-only file system",
            "pass an --out folder on a writable disk (or set ENGAGEMENT_EVAL_DUCKDB)",
        )
    return None


def _instance(home: str | None):
    import dagster as dg

    if not (home and Path(home).is_dir()):
        return dg.DagsterInstance.ephemeral()
    try:
        return dg.DagsterInstance.get()  # runs then show up in `make ui`
    except Exception as exc:  # Dagster raises several types for a broken dagster.yaml
        raise UserError(
            f"cannot load the Dagster instance in DAGSTER_HOME={home}: "
            f"{' '.join(str(exc).split())[:300]}",
            "fix dagster.yaml there (see .dagster_home/dagster.yaml in the repository), or "
            "unset DAGSTER_HOME to run without keeping run history",
        ) from exc


def _prepare_out(settings) -> None:
    for folder in {Path(settings.out_dir), Path(settings.duckdb_path).parent}:
        if folder.exists() and not folder.is_dir():
            raise UserError(
                f"the output folder {folder} is a file",
                "pass a folder (existing or new) with --out",
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(
                f"cannot create the output folder {folder}: {exc.strerror or exc}",
                "pass an --out folder this user can write (or fix its permissions)",
            ) from exc
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UserError(
                f"the output folder {folder} is not writable for this user",
                "fix its permissions, or pass another --out folder",
            )


def materialize(data: str, config_path: str | None, out: str | None, quiet: bool = False) -> dict:
    """Run everything; returns {'duckdb': path, 'out': dir, 'partitions': [first, last]}."""
    try:
        return _materialize(data, config_path, out, quiet)
    except UserError:
        raise
    except Exception as exc:
        user_error = _user_error_from(exc)
        if user_error is not None:
            raise user_error from None
        raise


def _materialize(data: str, config_path: str | None, out: str | None, quiet: bool) -> dict:
    from engagement_eval.config import load_config
    from engagement_eval.contract import check_data_dir
    from warehouse.data_window import with_data_window

    data_dir = check_data_dir(data)
    config = load_config(config_path, data_dir)
    for note in _preflight(data_dir, config):
        if not quiet:
            print(f"note: {note}")
    config = with_data_window(config, data_dir)  # unset start: the first month with data

    from pipelines.definitions import build_definitions
    from pipelines.jobs import ALL_ASSETS_JOB
    from pipelines.out_dir import check_out_dir, mark_out_dir
    from pipelines.partitions import monthly_partitions, range_tags
    from pipelines.run_guard import (
        cli_run_tags,
        exclusive_writer,
        recover_stale_runs,
        refuse_if_busy,
    )
    from pipelines.settings import Settings

    settings = Settings.from_env(str(data_dir), config_path, out)
    check_out_dir(settings.out_dir, data_dir)
    _prepare_out(settings)
    mark_out_dir(settings.out_dir)
    keys = monthly_partitions(config).get_partition_keys()
    if config.window_start is None:
        raise UserError(
            f"no crime or survey data in {data_dir} to start the study window from",
            "deliver crime_incidents / crime_counts or survey files, or set study_window.start "
            "in the city config",
        )
    if not keys:
        raise UserError(
            f"the study window starting {config.window_start:%Y-%m} has no complete month yet",
            "set study_window.start (and end) in the city config to months that have data",
        )
    defs = build_definitions(settings, config)
    job = defs.resolve_job_def(ALL_ASSETS_JOB).with_logger_defs(
        {"progress": _progress_logger(quiet)}
    )
    from pipelines.run_history import fewer_flushes, one_connection_per_file
    from warehouse.connection import held_open

    with ExitStack() as run_scope:
        run_scope.enter_context(exclusive_writer(settings.duckdb_path))
        run_scope.enter_context(fewer_flushes())
        instance = _instance(settings.dagster_home)
        run_scope.enter_context(one_connection_per_file(instance))
        recovered = recover_stale_runs(instance)
        if recovered and not quiet:
            print(f"marked {len(recovered)} interrupted earlier run(s) as failed: {recovered}")
        refuse_if_busy(instance, settings.duckdb_path)
        run_scope.enter_context(
            held_open(
                settings.duckdb_path,
                settings.lock_timeout_seconds,
                None,
                settings.duckdb_memory_limit,
            )
        )
        if not quiet:
            print(
                f"{config.city}: months {keys[0]} .. {keys[-1]} from {data_dir}"
                f" (config: {config.source})"
            )
            print(f"  {window_statement(config)}")
        result = job.execute_in_process(
            tags=range_tags(keys[0], keys[-1]) | cli_run_tags(settings.duckdb_path),
            instance=instance,
            run_config={"loggers": {"progress": {}}},
            raise_on_error=False,
        )
    if not result.success:
        raise _failure_reason(result, settings.duckdb_path)
    report, pdf_note = None, ""
    for mat in result.asset_materializations_for_node("report__council_report"):
        report = mat.metadata["path"].value
        note = mat.metadata.get("pdf_note")
        pdf_note = note.value if note is not None and note.value != "PDFs printed" else ""
    return {
        "report": report,
        "pdf_note": pdf_note,
        "duckdb": settings.duckdb_path,
        "out": settings.out_dir,
        "partitions": [keys[0], keys[-1]],
    }


def window_statement(config) -> str:
    """One line: the study window, where its ends came from, the grain and the time zone."""
    source = "from the data" if config.window_source == "data" else "from the config"
    start = "none" if config.window_start is None else f"{config.window_start:%Y-%m}"
    end = f"{config.window_end:%Y-%m}" if config.window_end else "the last closed month with data"
    grain = config.grain or "inferred from the delivered periods"
    return (
        f"study window: start {start} ({source}), end {end};"
        f" grain: {grain}; time zone: {config.timezone}"
    )


def _used_statement(results_path: Path) -> str:
    """What the run used, from results.json: window (and where it came from), grain, zone."""
    import json

    doc = json.loads(results_path.read_text(encoding="utf-8"))
    w = doc.get("data_window") or {}
    return (
        f"window {w.get('start')} .. {w.get('end')} (start from the {w.get('source')}, end from"
        f" the {w.get('end_source')}), grain {doc.get('grain')}, time zone {doc.get('timezone')}"
    )


def _gate_messages(duckdb_path: str | None, run_id: str) -> list[str]:
    """The gate's stop messages of this run as recorded in DuckDB (`quality.run_summary`), with
    the values they quote in full: this is the evaluator's own terminal, while the check
    metadata that every Dagster UI user sees holds them masked."""
    if not duckdb_path or not Path(duckdb_path).exists():
        return []
    import duckdb

    try:
        with duckdb.connect(duckdb_path, read_only=True) as con:
            rows = con.execute(
                "SELECT DISTINCT message, min(started_at) AS t FROM quality.run_summary"
                " WHERE run_id = ? AND status = 'failed' AND message IS NOT NULL"
                " GROUP BY message ORDER BY t",
                [run_id],
            ).fetchall()
    except duckdb.Error:  # no quality tables (the run stopped before the gate)
        return []
    return [message for message, _ in rows]


def _failure_reason(result, duckdb_path: str | None = None) -> UserError:
    """One message for a failed run: the quality gate's verdict, else the step's own cause.

    Runs execute with raise_on_error=False so a blocking asset check (which Dagster raises as an
    internal error type) and a step error both arrive here as events, not tracebacks.
    """
    stopped = [
        e
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity.value == "ERROR"
    ]
    if stopped:
        messages = _gate_messages(duckdb_path, result.run_id)
        for evaluation in [] if messages else stopped:
            entry = evaluation.metadata.get("gate_message")
            text = entry.value if entry is not None else None
            if text and text not in messages:
                messages.append(text)
        checks = sorted({f"{'/'.join(e.asset_key.path)}:{e.check_name}" for e in stopped})
        detail = "\n".join(messages) or f"failed checks: {', '.join(checks)}"
        return UserError(
            f"the quality gate stopped the run; models and report were not updated.\n{detail}",
            "fix the input (or the config mapping) named above and run again; "
            "`engagement-eval validate --data DIR` checks a folder without running the models",
        )
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        chain, cause = [], error
        while cause is not None:
            chain.append(cause)
            cause = cause.cause or cause.context
        for info in chain:
            if info.cls_name == "UserError":
                return UserError(" ".join(info.message.split(": ", 1)[-1:]).strip())
        for info in chain:
            translated = _environment_error(Exception(info.message))
            if translated is not None:
                return translated
        if error is not None:
            root = chain[-1]  # Dagster wraps the step's own exception; name that one
            return UserError(
                f"step {event.step_key} failed: {root.cls_name}: {root.message.strip()[:500]}",
                "this is probably a bug in engagement-eval; report it with the output above",
            )
    return UserError("the pipeline run failed", "see the step errors above")


def _preflight(data_dir: Path, config) -> list[str]:
    """Structural checks before Dagster starts (files present and readable, UTF-8, required
    columns found): the quality gate's own `check_delivery`, so the two cannot drift."""
    from quality.structural import check_delivery

    return check_delivery(data_dir, config)


def main(args) -> int:
    started = time.monotonic()
    where = materialize(args.data, args.config, args.out, quiet=args.quiet)
    out = Path(where["out"])
    print(f"\nDone in {time.monotonic() - started:.1f} s.")
    print(f"  DuckDB database: {where['duckdb']}  (schemas raw, staging, marts)")
    if (out / "results.json").exists():
        print(f"  results.json: {out / 'results.json'}")
        print(f"  {_used_statement(out / 'results.json')}")
    if where.get("report"):
        print(f"  council report: {where['report']}")
        print(
            f"  beside it: council_brief, council_data.xlsx and CSVs{'' if where.get('pdf_note') else ', PDFs'}"
        )
    if where.get("pdf_note"):
        print(f"  {where['pdf_note']}")
    print("  Browse it: make ui  (Dagster on http://127.0.0.1:3000)")
    return 0

"""`engagement-eval validate`: ingest a city folder and run only the quality gate.

Prints one line per input and one per broken rule; exits non-zero (via `UserError`) when a
blocking check fails, so it can guard a delivery in a script before the full run.
"""

from __future__ import annotations

import threading
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--data", required=True, help="city folder with the contract files")
    parser.add_argument("--config", default=None, help="city YAML (default: DATA/city.yaml)")
    parser.add_argument(
        "--db",
        default=None,
        help="DuckDB file to write raw/staging/quality tables to (default: "
        "$ENGAGEMENT_EVAL_DUCKDB, else an in-memory database that is discarded)",
    )


def main(args) -> int:
    import duckdb

    from engagement_eval.config import load_config
    from engagement_eval.contract import check_data_dir
    from pipelines.commands.run import window_statement
    from pipelines.settings import validate_database
    from quality.gate import run_gate
    from quality.runner import prepare_gx
    from quality.structural import check_delivery
    from warehouse.data_window import with_data_window
    from warehouse.ingest import ingest_city

    data_dir = check_data_dir(args.data)
    config = with_data_window(load_config(args.config, data_dir), data_dir)
    print(window_statement(config))
    for note in check_delivery(data_dir, config):
        print(f"note: {note}")
    db = validate_database(args.db)
    if db != ":memory:":
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(db)
    # Importing Great Expectations takes about 2 s of one core; it overlaps the ingest, whose
    # DuckDB statements run without the GIL. Every module this command needs is imported
    # above, so the main thread imports nothing while the thread does, and it waits for the
    # thread before the gate uses GX (and before returning, should the ingest fail, so a caller
    # in the same process never imports while the thread does).
    warm_up = threading.Thread(target=prepare_gx, name="gx-import", daemon=True)
    warm_up.start()
    try:
        loaded = ingest_city(con, data_dir, config)
        warm_up.join()
        print("loaded: " + ", ".join(f"{k} {v:,} rows" for k, v in loaded.items()))
        report = run_gate(con, config)
        print(report.summary_text())
        if db != ":memory:":
            print(f"quarantine and summaries: quality.* tables in {db}")
        report.raise_if_blocked()
    finally:
        warm_up.join()
        con.close()
    return 0

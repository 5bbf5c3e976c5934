"""Setting aside the rows the gate flagged: `quality.quarantined_rows` and the clean views.

The gate (`gate.check_input`) only *finds* bad rows: it logs every (row, rule broken) in
`quality.quarantine` with the value as delivered. This module turns the latest gate run of each
input into the set of rows the panels leave out, so the set-aside is one step of its own (the
Dagster asset `quality/quarantine`, which the panels depend on) rather than a side effect of
running checks. A row is set aside when it broke a blocking row-level rule in the latest gate
run of its input; an input checked again replaces its previous set.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from engagement_eval.contract import INPUTS
from quality import store
from quality.rules import BLOCKING
from warehouse.sql import transaction


@dataclass(frozen=True)
class SetAside:
    """One input's set-aside rows after `set_aside` (for metadata and messages)."""

    input: str
    gate_run: str | None  # the gate run the rows come from; None: the input was never checked
    status: str | None  # that run's gate status (passed, quarantined, failed, missing, ...)
    rows_in: int
    rows_set_aside: int


def latest_gate_run(con: duckdb.DuckDBPyConnection, input_name: str) -> tuple | None:
    """(run_id, status, rows_in) of the input's latest gate run, or None."""
    return con.execute(
        "SELECT run_id, status, rows_in FROM quality.run_summary WHERE input = ?"
        " ORDER BY started_at DESC, run_id DESC LIMIT 1",
        [input_name],
    ).fetchone()


def set_aside(con: duckdb.DuckDBPyConnection, input_name: str) -> SetAside:
    """Replace the input's rows in `quality.quarantined_rows` with those its latest gate run
    flagged under a blocking row rule, and (re)create `staging.<input>_clean`."""
    if input_name not in INPUTS:
        raise ValueError(f"unknown input {input_name!r}")
    store.ensure_tables(con)
    latest = latest_gate_run(con, input_name)
    con.execute("DELETE FROM quality.quarantined_rows WHERE input = ?", [input_name])
    if latest is None:
        store.create_clean_view(con, input_name)
        return SetAside(input_name, None, None, 0, 0)
    run_id, status, rows_in = latest
    con.execute(
        """INSERT INTO quality.quarantined_rows
           SELECT DISTINCT input, source_file, row_number, run_id FROM quality.quarantine
           WHERE input = $input AND run_id = $run_id AND severity = $severity""",
        {"input": input_name, "run_id": run_id, "severity": BLOCKING},
    )
    (count,) = con.execute(
        "SELECT count(*) FROM quality.quarantined_rows WHERE input = ?", [input_name]
    ).fetchone()
    store.create_clean_view(con, input_name)
    return SetAside(input_name, run_id, status, int(rows_in or 0), int(count))


def set_aside_all(con: duckdb.DuckDBPyConnection) -> list[SetAside]:
    """`set_aside` for every contract input, in one transaction (the panels see all or none)."""
    with transaction(con):
        out = [set_aside(con, name) for name in INPUTS]
    return out

"""The gate: run each input's suite, quarantine failing rows, decide whether the run may go on.

Decision per input (see docs/quality.md):
- a table-level blocking rule fails (no rows, column missing)        -> stop;
- rows break blocking row-level rules:
    in districts/programs (they define the design)                    -> stop;
    share of such rows <= quality.max_bad_row_share                   -> quarantine, go on;
    share above it                                                    -> stop;
- warnings and info never stop; warning rows are recorded, not removed.
"Stop" is one `UserError` naming file, column, rule, counts and the fix.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import numpy as np

from engagement_eval.config import CityConfig
from engagement_eval.contract import INPUTS
from engagement_eval.errors import UserError
from quality import count_gaps, frames, gaps, reduce, runner, store
from quality.quarantine import set_aside
from quality.rules import BLOCKING, INFO, ROW, TABLE, WARNING
from quality.settings import DESIGN_INPUTS, GateSettings, gate_settings
from quality.suites import SUITES, SuiteContext
from warehouse.sql import ident

INPUT_ORDER = (
    "districts",
    "units",  # before the inputs whose unit_id rules read its crosswalk
    "programs",
    "crime_incidents",
    "crime_counts",
    "survey_responses",
    "survey_scores",
    "meetings",
    "meeting_feedback",  # issue 15: after meetings, which it is checked against
)
PASSED, WARNED, QUARANTINED, FAILED, MISSING = (
    "passed",
    "warned",
    "quarantined",
    "failed",
    "not delivered",
)


@dataclass
class InputReport:
    input_name: str
    status: str = PASSED
    source_files: tuple[str, ...] = ()
    rows_in: int = 0
    bad_rows: int = 0
    results: list[runner.RuleResult] = field(default_factory=list)
    stop: UserError | None = None
    seconds: float = 0.0

    @property
    def bad_share(self) -> float:
        return self.bad_rows / self.rows_in if self.rows_in else 0.0

    def quarantined_by_rule(self) -> dict[str, int]:
        return {
            r.rule.name: r.unexpected_count
            for r in self.results
            if r.rule.severity == BLOCKING and r.rule.level == ROW and r.unexpected_count
        }

    def counts(self) -> tuple[int, int, int]:
        """(passed, failed, warned) rules; a failed info rule counts as passed."""
        passed = failed = warned = 0
        for r in self.results:
            if r.success or r.rule.severity == INFO:
                passed += 1
            elif r.rule.severity == BLOCKING:
                failed += 1
            else:
                warned += 1
        return passed, failed, warned


@dataclass
class GateReport:
    run_id: str
    inputs: dict[str, InputReport]
    settings: GateSettings

    @property
    def blocked(self) -> bool:
        return any(r.status == FAILED for r in self.inputs.values())

    def raise_if_blocked(self) -> None:
        for rep in self.inputs.values():
            if rep.status == FAILED and rep.stop is not None:
                raise rep.stop

    def summary_text(self) -> str:
        lines = [f"Quality gate run {self.run_id}"]
        for rep in self.inputs.values():
            passed, failed, warned = rep.counts()
            head = f"  {rep.input_name:<17} {rep.status:<13}"
            if rep.status == MISSING:
                lines.append(head)
                continue
            lines.append(
                f"{head} rows {rep.rows_in:>10,}  quarantined {rep.bad_rows:>7,} "
                f"({rep.bad_share:.2%})  rules: {passed} ok, {failed} failed, {warned} warnings"
                f"  [{rep.seconds:.1f}s]"
            )
            for r in rep.results:
                if r.success or (r.rule.severity == INFO and not r.unexpected_count):
                    continue
                what = r.error or f"{r.unexpected_count:,} rows"
                if r.rule.level == TABLE and not r.error:
                    what = "failed"
                examples = f"  e.g. {', '.join(map(str, r.examples[:3]))}" if r.examples else ""
                lines.append(
                    f"      {r.rule.severity:<8} {r.rule.name}: {what} - {r.rule.description}"
                    f"{examples}"
                )
        return "\n".join(lines)


def _stop_for_rows(rep: InputReport, settings: GateSettings, con, frame) -> UserError:
    failing = sorted(
        (r for r in rep.results if r.rule.severity == BLOCKING and r.unexpected_count),
        key=lambda r: -r.unexpected_count,
    )
    top = failing[0]
    where = ", ".join(
        f"{f} row {n}"
        for f, n in con.execute(
            f"SELECT _source_file, _row_number FROM {frame.table} WHERE list_contains(?, _rid) "
            "ORDER BY _rid LIMIT 3",
            [top.rids[:3].tolist()],
        ).fetchall()
    )
    rules = "; ".join(
        f"{r.rule.name} ({r.rule.description}): {r.unexpected_count:,} rows"
        + (f", e.g. {', '.join(map(str, r.examples[:3]))}" if r.examples else "")
        for r in failing[:4]
    )
    if rep.input_name in DESIGN_INPUTS:
        why = f"{rep.input_name} rows define the study design, so none can be set aside"
        fix = top.rule.fix
    else:
        why = (
            f"{rep.bad_rows:,} of {rep.rows_in:,} rows ({rep.bad_share:.2%}) break blocking rules, "
            f"more than quality.max_bad_row_share = {settings.max_bad_row_share:.2%}"
        )
        fix = (
            f"{top.rule.fix}; or, if these rows may be left out, raise "
            "quality.max_bad_row_share in the city config"
        )
    return UserError(
        f"{rep.input_name}: {why}. {rules}. First failing rows: {where}",
        fix,
        file=", ".join(rep.source_files) or None,
        column=top.rule.column,
    )


def _stop_for_table(rep: InputReport, result: runner.RuleResult) -> UserError:
    cause = result.error or result.rule.description + " - not true"
    return UserError(
        f"{rep.input_name}: {result.rule.name} failed: {cause}",
        result.rule.fix,
        file=", ".join(rep.source_files) or None,
        column=result.rule.column,
    )


def _examples_from_frame(con, frame, result: runner.RuleResult) -> None:
    """Replace GX's view of the values by the delivered text, with where it came from."""
    if not len(result.rids) or result.rule.value_column is None:
        return
    rows = con.execute(
        f"SELECT _source_file, _row_number, CAST({_q(result.rule.value_column)} AS VARCHAR) "
        f"FROM {frame.table} WHERE list_contains(?, _rid) ORDER BY _rid",
        [result.rids[: runner.MAX_EXAMPLES].tolist()],
    ).fetchall()
    result.examples = [f"{v!r} ({f} row {n})" for f, n, v in rows]


def _q(name: str) -> str:
    return ident(name)


def validate_frame(
    con: duckdb.DuckDBPyConnection, frame: frames.Frame, rules: list, chunk_rows: int
) -> list[runner.RuleResult]:
    """Run the rules on the gate frame: table rules on its shape, row rules on the reduced
    batches of `quality.reduce`; failing values of blocking and warning rules are traced back
    to their rows (info rules are only counted)."""
    found = {}
    table_rules = [r for r in rules if r.level == TABLE]
    if table_rules:
        for res in runner.validate_table(table_rules, frame.head(con), frame.rows):
            found[res.rule.name] = res
    for columns, kind, group in reduce.plan([r for r in rules if r.level == ROW]):
        within = frame.duplicates_within(columns[0]) if kind == reduce.DUPLICATES else None
        reduced = reduce.reduce_columns(con, frame.table, columns, kind, group, within)
        try:
            batches = reduced.batches(con, chunk_rows)
            for res in runner.validate_batches(group, batches, reduced.weights(con), frame.rows):
                if res.rule.severity != INFO:
                    res.rids = reduced.rows_for(con, res.failing_ids())
                found[res.rule.name] = res
        finally:
            reduced.drop(con)
    return [found[r.name] for r in rules]


def check_input(
    con: duckdb.DuckDBPyConnection,
    input_name: str,
    config: CityConfig,
    settings: GateSettings,
    run_id: str,
    district_ids: tuple[str, ...],
    units: frames.Crosswalk | None = None,
) -> tuple[InputReport, frames.Frame | None]:
    """Check one input; `units` is units.csv's crosswalk (None: not delivered)."""
    started = time.perf_counter()
    rep = InputReport(input_name)
    try:
        frame = frames.build_frame(con, input_name, config)
    except UserError as err:
        rep.status, rep.stop = FAILED, err
        return rep, None
    if frame is None:
        rep.status = MISSING
        if INPUTS[input_name].file_required:  # optional inputs and alternative shapes pass
            rep.status = FAILED
            rep.stop = UserError(
                f"{input_name} has not been loaded", f"deliver {input_name}.csv in the data folder"
            )
        return rep, None
    rep.source_files, rep.rows_in = frame.source_files, frame.rows
    ctx = SuiteContext(
        input_name=input_name,
        settings=settings,
        columns=frame.columns,
        survey_items=tuple(config.survey.items),
        district_ids=district_ids,
        date_formats=dict(config.date_formats.get(input_name, {})),
        unit_ids=units.unit_ids if units else (),
        unit_districts=units.unit_districts if units else (),
        units_delivered=units is not None,
        feedback_scale=config.feedback.scale,
    )
    frames.mark_unit_districts(con, frame, units)
    if input_name == "meeting_feedback":  # issue 15: checked against the meetings
        from quality.feedback_frame import mark_meetings

        mark_meetings(con, frame)
    rules = SUITES[input_name](ctx)
    rep.results = validate_frame(con, frame, rules, settings.chunk_rows)
    detected_at = datetime.now()
    bad = np.empty(0, dtype="int64")
    for r in rep.results:
        if r.rule.level != ROW or r.rule.severity == INFO or not len(r.rids):
            continue
        store.insert_quarantine(
            con,
            frame.table,
            r.rids,
            run_id=run_id,
            input_name=input_name,
            column=r.rule.column,
            value_column=r.rule.value_column,
            rule=r.rule.name,
            severity=r.rule.severity,
            detected_at=detected_at,
        )
        if r.rule.severity == BLOCKING:
            bad = np.union1d(bad, r.rids)
        _examples_from_frame(con, frame, r)
    rep.bad_rows = len(bad)  # set aside by quality.quarantine.set_aside (its own step)

    if input_name == "crime_incidents":
        rep.results += _check_gaps(con, frame, district_ids, settings, run_id, units)
    if input_name == "crime_counts":  # a missing count row is a reporting gap
        rep.results += count_gaps.check(con, frame, config, settings, run_id, district_ids)

    table_failures = [
        r
        for r in rep.results
        if r.rule.severity == BLOCKING and (r.rule.level == TABLE or r.error) and not r.success
    ]
    too_many = rep.bad_rows and (
        input_name in DESIGN_INPUTS or rep.bad_share > settings.max_bad_row_share
    )
    if table_failures:
        rep.status, rep.stop = FAILED, _stop_for_table(rep, table_failures[0])
    elif too_many:
        rep.status, rep.stop = FAILED, _stop_for_rows(rep, settings, con, frame)
    elif rep.bad_rows:
        rep.status = QUARANTINED
    elif any(not r.success and r.rule.severity == WARNING for r in rep.results):
        rep.status = WARNED
    rep.seconds = time.perf_counter() - started
    return rep, frame


def _check_gaps(con, frame, district_ids, settings, run_id, units) -> list[runner.RuleResult]:
    gap_frame = gaps.gap_frame(con, frame, district_ids, settings, units)
    rule = gaps.gap_rule(settings)
    (result,) = runner.validate([rule], gap_frame)
    found = gap_frame[gap_frame["_rid"].isin(result.rids)]
    result.examples = [
        f"district {d} {m:%Y-%m}" for d, m in zip(found.district_id, found.month, strict=True)
    ][: runner.MAX_EXAMPLES]
    if not found.empty:
        rows = found.drop(columns="_rid").assign(run_id=run_id)
        rows["month"] = rows["month"].dt.date
        store.append(con, "reporting_gaps", rows)
    return [result]


def record(con, run_id: str, rep: InputReport, started_at: datetime | None = None) -> None:
    """Append the input's summary and rule results to the quality tables."""
    import pandas as pd

    started_at = started_at or datetime.now()

    passed, failed, warned = rep.counts()
    store.append(
        con,
        "run_summary",
        pd.DataFrame(
            [
                {
                    "run_id": run_id,
                    "input": rep.input_name,
                    "source_files": ", ".join(rep.source_files),
                    "rows_in": rep.rows_in,
                    "rows_quarantined": rep.bad_rows,
                    "quarantined_by_rule": json.dumps(rep.quarantined_by_rule()),
                    "checks_passed": passed,
                    "checks_failed": failed,
                    "checks_warned": warned,
                    "status": rep.status,
                    "message": None if rep.stop is None else rep.stop.message,
                    "started_at": started_at,
                    "seconds": rep.seconds,
                }
            ]
        ),
    )
    if rep.results:
        store.append(
            con,
            "rule_results",
            pd.DataFrame(
                [
                    {
                        "run_id": run_id,
                        "input": rep.input_name,
                        "rule": r.rule.name,
                        "column": r.rule.column,
                        "severity": r.rule.severity,
                        "level": r.rule.level,
                        "expectation": r.rule.expectation,
                        "description": r.rule.description,
                        "success": r.success,
                        "element_count": r.element_count,
                        "unexpected_count": r.unexpected_count,
                        "examples": json.dumps(r.examples),
                        "error": r.error,
                        "fix": r.rule.fix,
                    }
                    for r in rep.results
                ]
            ),
        )


def unit_crosswalk(con: duckdb.DuckDBPyConnection, config: CityConfig) -> frames.Crosswalk | None:
    """units.csv's ids and pairs for the place rules of the other inputs."""
    try:
        units_frame = frames.build_frame(con, "units", config)
    except UserError:  # unreadable: the units check itself reports it
        return frames.Crosswalk(())
    if units_frame is None:
        return None
    try:
        return frames.crosswalk(con, units_frame)
    finally:
        frames.drop_frame(con, units_frame)


def run_gate(
    con: duckdb.DuckDBPyConnection,
    config: CityConfig,
    *,
    inputs: tuple[str, ...] = INPUT_ORDER,
    run_id: str | None = None,
    now: datetime | None = None,
) -> GateReport:
    """Validate the loaded raw tables; writes only to schema `quality` (and the clean views)."""
    run_id = run_id or datetime.now().strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
    if config.window_start is None:  # unset study_window.start: the first month with data
        from warehouse.data_window import first_month_in_staging

        config = config.with_data_window(first_month_in_staging(con))
    settings = gate_settings(config, now)
    store.ensure_tables(con)
    # districts first: every other input is checked against its ids
    if "districts" in inputs:
        district_rep, district_frame = check_input(con, "districts", config, settings, run_id, ())
    else:  # ids only: districts are validated by their own run
        district_rep, district_frame = None, frames.build_frame(con, "districts", config)
    ids = frames.district_ids(con, district_frame)
    units = unit_crosswalk(con, config)
    reports: dict[str, InputReport] = {}
    for name in inputs:
        started_at = datetime.now()
        if name == "districts":
            rep, frame = district_rep, district_frame
        else:
            rep, frame = check_input(con, name, config, settings, run_id, ids, units)
        record(con, run_id, rep, started_at)
        set_aside(con, name)
        if frame is not None and frame is not district_frame:
            frames.drop_frame(con, frame)
        reports[name] = rep
    if district_frame is not None:
        frames.drop_frame(con, district_frame)
    return GateReport(run_id, reports, settings)

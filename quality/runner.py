"""The only module that touches Great Expectations.

One ephemeral context per process (nothing written to disk), one pandas data source, one
whole-DataFrame batch definition and one suite per (input, rule set), all built once. Rules
become GX 1.x expectations here; each expectation carries its rule name in `meta` so results
map back to rules.

GX sees small frames prepared by `quality.reduce` (distinct values with their row counts,
rows sharing a key, ...), indexed by a batch id. Results are requested in COMPLETE format
without index columns, so GX returns the failing batch ids as a plain list; a failing id
stands for `weights[id]` gate rows. Counts add up across batches.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quality.deferred_imports import deferred
from quality.rules import BLOCKING, INFO, TABLE, Rule

MAX_EXAMPLES = 5
_GX_SEVERITY = {BLOCKING: "critical", "warning": "warning", INFO: "info"}
_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 20,
    "return_unexpected_index_query": False,
}
# table-level expectations that only look at the frame's columns, not at its rows
SHAPE_ONLY = frozenset(
    {
        "ExpectColumnToExist",
        "ExpectTableColumnsToMatchSet",
        "ExpectTableColumnsToMatchOrderedList",
        "ExpectTableColumnCountToEqual",
        "ExpectTableColumnCountToBeBetween",
    }
)
ROW_COUNT = frozenset({"ExpectTableRowCountToBeBetween", "ExpectTableRowCountToEqual"})
# imported by GX at start-up for its KL-divergence / KS-test expectations and chart renderers,
# which the gate does not use: 0.9 s of GX's 2.5 s import
UNUSED_BY_GATE = ("scipy.stats", "altair")


@dataclass
class RuleResult:
    """A rule's outcome summed over all batches of a frame."""

    rule: Rule
    element_count: int = 0
    unexpected_count: int = 0
    examples: list[Any] = field(default_factory=list)
    ids: list[np.ndarray] = field(default_factory=list)  # failing batch ids, per batch
    rids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="int64"))  # failing rows
    error: str | None = None  # GX could not evaluate the rule

    @property
    def success(self) -> bool:
        return self.error is None and self.unexpected_count == 0

    def failing_ids(self) -> np.ndarray:
        return np.concatenate(self.ids) if self.ids else np.empty(0, dtype="int64")

    def add_examples(self, values: Iterable[Any]) -> None:
        for value in values:
            if len(self.examples) >= MAX_EXAMPLES:
                return
            value = _plain(value)
            if value not in self.examples:
                self.examples.append(value)


def _plain(value: Any) -> Any:
    """JSON-friendly scalar for metadata and messages."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value if isinstance(value, int | float | str | bool) else str(value)


@functools.cache
def _context():
    """Ephemeral GX context and pandas data source, built once per process (GX is slow to set
    up and to import, so the import is deferred until a gate actually runs; modules GX
    imports for expectations the gate never uses are deferred further, see
    `quality.deferred_imports`)."""
    with deferred(UNUSED_BY_GATE):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.core"):
        logging.getLogger(name).setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("quality_gate")
    return context, source


@functools.cache
def _batch_definition():
    """One whole-DataFrame asset for every batch: the frame is a batch parameter."""
    _, source = _context()
    asset = source.add_dataframe_asset(name="gate_frames")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def prepare_gx() -> None:
    """Import GX and build the context and batch definition now (they are built once per
    process); errors are left to the first real use, which raises them where they belong."""
    try:
        _batch_definition()
    except Exception:  # noqa: BLE001 - the gate's own call reports it
        logging.getLogger(__name__).debug("GX warm-up failed", exc_info=True)


def to_expectation(rule: Rule):
    """A GX expectation object for a rule (kwargs validated by GX's own models)."""
    import great_expectations.expectations as gxe

    cls = getattr(gxe, rule.expectation)
    return cls(
        **rule.kwargs,
        meta={"rule": rule.name, "gate_severity": rule.severity, "level": rule.level},
        description=rule.description,
        severity=_GX_SEVERITY[rule.severity],
    )


_SUITES: dict[tuple, Any] = {}


def _suite(rules: list[Rule]):
    """The suite for a rule set, built once per process (rules are frozen and hashable by
    their repr, which includes every kwarg)."""
    key = tuple(repr(r) for r in rules)
    if key not in _SUITES:
        import great_expectations as gx

        suite = gx.ExpectationSuite(name=f"gate_{len(_SUITES)}")
        for rule in rules:
            suite.add_expectation(to_expectation(rule))
        _SUITES[key] = suite
    return _SUITES[key]


def _run(frame: pd.DataFrame, rules: list[Rule]):
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(_suite(rules), result_format=_RESULT_FORMAT).results


def _absorb_item(out: RuleResult, item, weights: np.ndarray | None) -> None:
    if item.exception_info and item.exception_info.get("raised_exception"):
        out.error = str(item.exception_info.get("exception_message") or "GX error")
        return
    res = item.result or {}
    if out.rule.level == TABLE:
        if not item.success:
            out.unexpected_count += 1
            observed = res.get("observed_value")
            if observed is not None:
                out.add_examples([observed])
        return
    ids = np.asarray(res.get("unexpected_index_list") or [], dtype="int64")
    out.unexpected_count += int(len(ids) if weights is None else weights[ids].sum())
    out.add_examples(res.get("partial_unexpected_list") or [])
    if len(ids):
        out.ids.append(ids)


def _absorb(results: dict[str, RuleResult], items, weights: np.ndarray | None) -> None:
    for item in items:
        name = (item.expectation_config.meta or {}).get("rule")
        if name in results:
            _absorb_item(results[name], item, weights)


def _row_count_frame(rules: list[Rule], rows: int) -> pd.DataFrame:
    """A column-less frame with as many rows as the table, capped one above the largest bound
    of the row-count rules: the same pass/fail for any count, without hashing millions of
    index values."""
    bounds = [
        v
        for r in rules
        for k in ("min_value", "max_value", "value")
        if isinstance(v := r.kwargs.get(k), int | float)
    ]
    cap = int(max(bounds, default=0)) + 1
    return pd.DataFrame(index=pd.RangeIndex(min(rows, cap)))


def validate_table(rules: list[Rule], head: pd.DataFrame, rows: int) -> list[RuleResult]:
    """Table-level rules: column rules on `head` (the frame's columns, first rows), row-count
    rules on a frame of `rows` rows. Other table-level expectations are not supported."""
    unsupported = [r.name for r in rules if r.expectation not in SHAPE_ONLY | ROW_COUNT]
    if unsupported:
        raise ValueError(f"table-level rules need a shape or row-count expectation: {unsupported}")
    results = {r.name: RuleResult(r) for r in rules}
    shape = [r for r in rules if r.expectation in SHAPE_ONLY]
    counted = [r for r in rules if r.expectation in ROW_COUNT]
    if shape:
        _absorb(results, _run(head, shape), None)
    if counted:
        _absorb(results, _run(_row_count_frame(counted, rows), counted), None)
    return [results[r.name] for r in rules]


def validate_batches(
    rules: list[Rule],
    batches: Iterable[pd.DataFrame],
    weights: np.ndarray | None,
    rows: int,
) -> list[RuleResult]:
    """Row-level rules over reduced batches (index = batch id; `weights[id]` gate rows per
    id, or one each when None). `rows` is the gate frame's row count (element_count)."""
    results = {r.name: RuleResult(r, element_count=rows) for r in rules}
    for frame in batches:
        if len(frame):
            _absorb(results, _run(frame, rules), weights)
    return [results[r.name] for r in rules]


def validate(rules: list[Rule], frame: pd.DataFrame) -> list[RuleResult]:
    """Row-level rules on a small, whole frame with a `_rid` column (failing ids are rids)."""
    indexed = frame.set_index("_rid", drop=True).rename_axis(None)
    out = validate_batches(rules, [indexed], None, len(frame))
    for r in out:
        r.rids = np.sort(r.failing_ids())
    return out

"""The only module that touches Great Expectations.

One ephemeral context per process (nothing written to disk), one pandas data source, one
whole-DataFrame batch definition per input. Rules become GX 1.x expectations here; each
expectation carries its rule name in `meta` so results map back to rules. Results are
requested in COMPLETE format indexed by the frame's `_rid`, which is how failing rows are
found for the quarantine. Frames arrive in chunks; counts add up across chunks.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from quality.rules import BLOCKING, INFO, ROW, TABLE, Rule

INDEX_COLUMN = "_rid"
MAX_EXAMPLES = 5
_GX_SEVERITY = {BLOCKING: "critical", "warning": "warning", INFO: "info"}


@dataclass
class RuleResult:
    """A rule's outcome summed over all chunks of a frame."""

    rule: Rule
    element_count: int = 0
    unexpected_count: int = 0
    examples: list[Any] = field(default_factory=list)
    rids: list[int] = field(default_factory=list)  # failing rows (row-level rules)
    error: str | None = None  # GX could not evaluate the rule

    @property
    def success(self) -> bool:
        return self.error is None and self.unexpected_count == 0

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
    up and to import, so the import is deferred until a gate actually runs)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.core"):
        logging.getLogger(name).setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("quality_gate")
    return context, source


@functools.cache
def _batch_definition(input_name: str):
    _, source = _context()
    asset = source.add_dataframe_asset(name=input_name)
    return asset.add_batch_definition_whole_dataframe(f"{input_name}_whole")


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


def _suite(name: str, rules: list[Rule]):
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name)
    for rule in rules:
        suite.add_expectation(to_expectation(rule))
    return suite


def _result_format() -> dict:
    return {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": [INDEX_COLUMN],
        "return_unexpected_index_query": False,
        "partial_unexpected_count": 20,
    }


def _absorb(results: dict[str, RuleResult], validation) -> None:
    for item in validation.results:
        name = (item.expectation_config.meta or {}).get("rule")
        if name not in results:
            continue
        out = results[name]
        if item.exception_info and item.exception_info.get("raised_exception"):
            out.error = str(item.exception_info.get("exception_message") or "GX error")
            continue
        res = item.result or {}
        out.element_count += int(res.get("element_count") or 0)
        if out.rule.level == TABLE:
            if not item.success:
                out.unexpected_count += 1
                observed = res.get("observed_value")
                if observed is not None:
                    out.add_examples([observed])
            continue
        out.unexpected_count += int(res.get("unexpected_count") or 0)
        out.add_examples(res.get("partial_unexpected_list") or [])
        out.rids.extend(int(d[INDEX_COLUMN]) for d in res.get("unexpected_index_list") or [])


def validate(
    input_name: str, rules: list[Rule], chunks: Iterable[pd.DataFrame]
) -> list[RuleResult]:
    """Run `rules` over the frame's chunks; table-level rules look at the first chunk only."""
    results = {r.name: RuleResult(r) for r in rules}
    table_rules = [r for r in rules if r.level == TABLE]
    row_rules = [r for r in rules if r.level == ROW]
    batch_definition = _batch_definition(input_name)
    row_suite = _suite(f"{input_name}_rows", row_rules)
    table_suite = _suite(f"{input_name}_table", table_rules)
    for i, chunk in enumerate(chunks):
        batch = batch_definition.get_batch(batch_parameters={"dataframe": chunk})
        if i == 0 and table_rules:
            _absorb(results, batch.validate(table_suite, result_format=_result_format()))
        if row_rules and len(chunk):
            _absorb(results, batch.validate(row_suite, result_format=_result_format()))
    return [results[r.name] for r in rules]

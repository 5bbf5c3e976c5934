"""What a quality rule is, independent of Great Expectations.

Suites describe rules as plain data so that listing them (for Dagster check specs, docs and
tests) costs nothing; only `quality.runner` turns them into GX expectations and runs them.
Each rule carries the two decisions the gate needs: how bad a failure is (`severity`) and
whether it points at individual rows that can be set aside (`level`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BLOCKING = "blocking"  # protects the estimates: a failure stops the run (or quarantines rows)
WARNING = "warning"  # worth a look, never stops the run, rows are kept
INFO = "info"  # expected in real exports (e.g. rows outside the study window), counted only
SEVERITIES = (BLOCKING, WARNING, INFO)

ROW = "row"  # each failing row is identified and can be quarantined
TABLE = "table"  # about the delivery as a whole (schema, coverage): nothing to quarantine
LEVELS = (ROW, TABLE)


@dataclass(frozen=True)
class Rule:
    """One expectation plus the gate's reading of it.

    `expectation` is a GX 1.x expectation class name (e.g. `ExpectColumnValuesToBeUnique`) and
    `kwargs` its arguments; `column` is the contract column the rule is about (for messages and
    the quarantine table), which can differ from the frame column GX looks at
    (e.g. `occurred_at__unparseable`).
    """

    name: str
    expectation: str
    kwargs: dict[str, Any]
    column: str | None
    severity: str
    level: str
    description: str
    fix: str
    value_column: str | None = None  # frame column whose text goes to quarantine.value
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.level not in LEVELS:
            raise ValueError(f"unknown level {self.level!r}")

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING

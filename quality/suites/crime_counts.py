"""Published crime counts (the aggregate crime shape): one row per place, period and offense.

A count is an outcome cell: a negative or fractional count, an unknown place or two different
counts for the same cell would change the panel, so they block (the row is set aside, which
leaves a reporting gap rather than a wrong number). Missing rows are reporting gaps, found by
`quality.count_gaps` over the whole table, not zeros.
"""

from __future__ import annotations

from quality.rules import BLOCKING, ROW, Rule
from quality.suites._periods import period_rules
from quality.suites.common import (
    SuiteContext,
    key_rules,
    not_null,
    number_rules,
    offense_rules,
    parseable,
    place_rules,
    structure_rules,
)

INPUT = "crime_counts"
WHOLE_NUMBER = r"^\s*[+-]?\d+(?:\.0*)?\s*$"


def rules(ctx: SuiteContext) -> list[Rule]:
    out = structure_rules(ctx)
    out += place_rules(ctx)
    out += period_rules(ctx)
    out += key_rules(ctx)
    out += [not_null(ctx, "count"), parseable(ctx, "count")]
    out.append(
        number_rules(
            ctx,
            "count",
            min_value=0,
            name="count_not_negative",
            description="count is 0 or more",
            fix="correct the negative counts in the published table",
        )
    )
    out.append(
        Rule(
            name="count_whole_number",
            expectation="ExpectColumnValuesToMatchRegex",
            kwargs={"column": "count__raw", "regex": WHOLE_NUMBER},
            column="count",
            severity=BLOCKING,
            level=ROW,
            description="count is a whole number",
            fix="deliver counts of incidents (whole numbers), not rates or averages",
            value_column="count__raw",
        )
    )
    out += offense_rules(ctx)
    return out

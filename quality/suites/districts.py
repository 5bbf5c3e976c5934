"""Districts: the units of the analysis. Every rate divides by `population`, so it must be a
positive whole number; ids must be unique because every other input joins on them."""

from __future__ import annotations

from quality.rules import WARNING, Rule
from quality.suites.common import (
    SuiteContext,
    key_rules,
    not_null,
    number_rules,
    parseable,
    structure_rules,
)

INPUT = "districts"


def rules(ctx: SuiteContext) -> list[Rule]:
    out = structure_rules(ctx)
    out.append(not_null(ctx, "district_id", why="every other input refers to districts by id"))
    out += key_rules(ctx)
    out += [not_null(ctx, "population"), parseable(ctx, "population")]
    out.append(
        number_rules(
            ctx,
            "population",
            min_value=0,
            strict_min=True,
            name="population_positive",
            description="population is greater than 0 (rates per 1,000 residents divide by it)",
            fix="give every district its resident population (a whole number above 0)",
        )
    )
    if ctx.has("year"):
        out += [not_null(ctx, "year"), parseable(ctx, "year")]
    if ctx.has("district_name"):
        out.append(not_null(ctx, "district_name", severity=WARNING, why="used in the report"))
    return out

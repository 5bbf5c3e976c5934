"""Units crosswalk: which district each beat (unit) belongs to.

Every unit must map to exactly one known district; otherwise its incidents, meetings and
programs would land in the wrong district or nowhere. Part of the study design, so any
blocking row failure stops the run.
"""

from __future__ import annotations

from quality.rules import Rule
from quality.suites.common import (
    SuiteContext,
    key_rules,
    known_district,
    not_null,
    number_rules,
    parseable,
    structure_rules,
)

INPUT = "units"


def rules(ctx: SuiteContext) -> list[Rule]:
    out = structure_rules(ctx)
    out.append(not_null(ctx, "unit_id"))
    out += key_rules(ctx)
    out += [not_null(ctx, "district_id"), known_district(ctx)]
    if ctx.has("population"):
        out.append(parseable(ctx, "population"))
        out.append(
            number_rules(
                ctx,
                "population",
                min_value=0,
                strict_min=True,
                name="population_positive",
                description="population is greater than 0",
                fix="give every unit its resident population, or leave the column out",
            )
        )
    return out

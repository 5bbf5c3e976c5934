"""Crime incidents: the outcome counts. Unknown districts, unparseable or future dates and
conflicting incident ids would move rows between cells of the district x month panel, so
they block; exact re-deliveries and labels without a category only warn."""

from __future__ import annotations

from engagement_eval.config import CATEGORIES
from quality.rules import WARNING, Rule
from quality.suites.common import (
    SuiteContext,
    date_rules,
    key_rules,
    not_null,
    place_rules,
    structure_rules,
)

INPUT = "crime_incidents"


def rules(ctx: SuiteContext) -> list[Rule]:
    out = structure_rules(ctx)
    out.append(not_null(ctx, "incident_id"))
    out += key_rules(ctx)
    out += date_rules(ctx, "occurred_at")
    out += place_rules(ctx)
    out.append(
        not_null(ctx, "offense_category", severity=WARNING, why="rows without one count as other")
    )
    out.append(
        Rule(
            name="offense_category_mapped",
            expectation="ExpectColumnValuesToBeInSet",
            kwargs={"column": "offense_category__mapped", "value_set": list(CATEGORIES)},
            column="offense_category",
            severity=WARNING,
            level="row",
            description="offense_category is violent, property or other, or mapped to one by "
            "offense_map (unmapped labels count as other)",
            fix="add the label to offense_map in the city config: offense_map: {<label>: violent}",
            value_column="offense_category",
        )
    )
    return out

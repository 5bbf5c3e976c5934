"""Crime incidents: the outcome counts. Unknown districts, unparseable or future dates and
conflicting incident ids would move rows between cells of the district x month panel, so
they block; exact re-deliveries and labels without a category only warn."""

from __future__ import annotations

from quality.rules import Rule
from quality.suites.common import (
    SuiteContext,
    date_rules,
    key_rules,
    not_null,
    offense_rules,
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
    out += offense_rules(ctx)
    return out

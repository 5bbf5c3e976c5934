"""Meetings: attendance drives the roll-out definition when programs.csv is absent and is
reported per 1,000 residents. Negative attendance is impossible (blocks); a count above the
configured ceiling is implausible but possible for a large event (warns)."""

from __future__ import annotations

from engagement_eval.contract import MEETING_TYPES
from quality.rules import BLOCKING, WARNING, Rule
from quality.suites.common import (
    SuiteContext,
    date_rules,
    key_rules,
    not_null,
    number_rules,
    parseable,
    place_rules,
    structure_rules,
)

INPUT = "meetings"


def rules(ctx: SuiteContext) -> list[Rule]:
    ceiling = ctx.settings.attendees_ceiling
    out = structure_rules(ctx)
    out.append(not_null(ctx, "meeting_id"))
    out += key_rules(ctx)
    out += date_rules(ctx, "meeting_date")
    out += place_rules(ctx)
    out.append(
        Rule(
            name="meeting_type_known",
            expectation="ExpectColumnValuesToBeInSet",
            kwargs={"column": "meeting_type", "value_set": list(MEETING_TYPES)},
            column="meeting_type",
            severity=WARNING,
            level="row",
            description=f"meeting_type is one of {', '.join(MEETING_TYPES)}",
            fix="recode the meeting types (unknown types are reported as other)",
            value_column="meeting_type",
        )
    )
    out += [not_null(ctx, "attendees", severity=WARNING), parseable(ctx, "attendees")]
    out.append(
        number_rules(
            ctx,
            "attendees",
            min_value=0,
            severity=BLOCKING,
            name="attendees_not_negative",
            description="attendees is 0 or more",
            fix="correct the negative attendance counts",
        )
    )
    out.append(
        number_rules(
            ctx,
            "attendees",
            max_value=ceiling,
            severity=WARNING,
            name="attendees_plausible",
            description=f"attendees is at most {ceiling} (quality.attendees_ceiling)",
            fix="check the counts; raise quality.attendees_ceiling if they are real",
        )
    )
    return out

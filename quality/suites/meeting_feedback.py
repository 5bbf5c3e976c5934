"""Meeting feedback forms (issue 15): the item means are averages of ratings, so a rating off
the scale (0, 9 = "no answer") would move them and blocks; a form whose meeting is unknown,
or dated before its meeting, cannot be placed in a district and quarter and blocks. Both are
quarantined with their reason while they stay under quality.max_bad_row_share. A skipped
item is ordinary non-response and only warns. The `topic` is free text mapped to themes (an
unmapped label counts as `other`), so it has no rule; the comment is never read."""

from __future__ import annotations

from dataclasses import replace

from quality.feedback_frame import DAYS_AFTER, MEETING_REF
from quality.rules import BLOCKING, ROW, WARNING, Rule
from quality.suites.common import (
    SuiteContext,
    date_rules,
    key_rules,
    not_null,
    number_rules,
    parseable,
    structure_rules,
)

INPUT = "meeting_feedback"


def _items(ctx: SuiteContext) -> list[str]:
    """The rating items: the input's float columns (the contract expands feedback.items)."""
    return [c for c, t in ctx.columns.items() if t == "float"]


def rules(ctx: SuiteContext) -> list[Rule]:
    lo, hi = ctx.feedback_scale
    out = structure_rules(ctx)
    out.append(not_null(ctx, "feedback_id"))
    out += key_rules(ctx)
    out += date_rules(ctx, "submitted_date")
    out.append(not_null(ctx, "meeting_id"))
    out.append(
        Rule(
            name="meeting_known",
            expectation="ExpectColumnValuesToNotBeNull",
            kwargs={"column": MEETING_REF},
            column="meeting_id",
            severity=BLOCKING,
            level=ROW,
            description="meeting_id exists in meetings (otherwise the form has no district "
            "or date)",
            fix="deliver the meeting in meetings.csv, or correct the meeting_id (ids are "
            "compared as text: leading zeros matter)",
            value_column="meeting_id",
        )
    )
    after = number_rules(
        ctx,
        DAYS_AFTER,
        min_value=0,
        name="submitted_after_meeting",
        description="submitted_date is on or after the date of the meeting it is about",
        fix="correct submitted_date or meeting_id in these forms",
    )
    out.append(replace(after, column="submitted_date", value_column="submitted_date__raw"))
    for item in _items(ctx):
        out.append(not_null(ctx, item, severity=WARNING, why="item left blank"))
        out.append(parseable(ctx, item))
        out.append(
            number_rules(
                ctx,
                item,
                min_value=lo,
                max_value=hi,
                name=f"{item}_in_scale",
                description=f"{item} lies on the feedback scale {lo:g}..{hi:g}",
                fix="recode ratings outside the scale (e.g. 9 = no answer) as empty, or set "
                "feedback.scale in the city config",
            )
        )
    return out

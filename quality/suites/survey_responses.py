"""Survey responses: the trust and safety indices are weighted means of Likert items, so an
answer outside the scale (0, 9 = "don't know") or a non-positive weight would move the mean;
both block. A skipped item is ordinary non-response and only warns."""

from __future__ import annotations

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

INPUT = "survey_responses"


def _scale_rule(ctx: SuiteContext, item: str) -> Rule:
    lo, hi = ctx.settings.scale
    if float(lo).is_integer() and float(hi).is_integer():
        points = list(range(int(lo), int(hi) + 1))
        return Rule(
            name=f"{item}_in_scale",
            expectation="ExpectColumnValuesToBeInSet",
            kwargs={"column": item, "value_set": [float(p) for p in points]},
            column=item,
            severity=BLOCKING,
            level="row",
            description=f"{item} is one of the scale points {points[0]}..{points[-1]}",
            fix=f"recode answers outside {points[0]}..{points[-1]} (e.g. 9 = don't know) as "
            "empty, or set survey.scale in the city config",
            value_column=f"{item}__raw",
        )
    return number_rules(
        ctx,
        item,
        min_value=lo,
        max_value=hi,
        name=f"{item}_in_scale",
        description=f"{item} lies on the scale {lo:g}..{hi:g}",
        fix="recode answers outside the scale as empty, or set survey.scale in the city config",
    )


def rules(ctx: SuiteContext) -> list[Rule]:
    out = structure_rules(ctx)
    out.append(not_null(ctx, "response_id"))
    out += key_rules(ctx)
    out += date_rules(ctx, "response_date")
    out += place_rules(ctx)
    for item in ctx.survey_items:
        if not ctx.has(item):
            continue
        out.append(not_null(ctx, item, severity=WARNING, why="item non-response"))
        out.append(parseable(ctx, item))
        out.append(_scale_rule(ctx, item))
    if ctx.has("weight"):
        out.append(not_null(ctx, "weight", severity=WARNING, why="a missing weight counts as 1"))
        out.append(parseable(ctx, "weight"))
        out.append(
            number_rules(
                ctx,
                "weight",
                min_value=0,
                strict_min=True,
                severity=BLOCKING,
                name="weight_positive",
                description="weight is greater than 0",
                fix="give every response a positive survey weight, or leave weight empty",
            )
        )
    return out

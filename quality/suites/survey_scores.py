"""Survey scores (the published-aggregate survey shape): one row per district and period, one column per index.

A score outside the configured scale, a respondent count below one, or a negative standard
error would move or mis-weight the district's mean, so they block. Scale columns, when
delivered, must agree with `survey.scale` (the report states effects on that scale).
"""

from __future__ import annotations

from quality.rules import BLOCKING, ROW, Rule
from quality.suites._periods import period_rules
from quality.suites.common import (
    SuiteContext,
    key_rules,
    known_district,
    not_null,
    number_rules,
    parseable,
    structure_rules,
)

INPUT = "survey_scores"
FIXED = ("district_id", "period", "n_respondents", "scale_min", "scale_max")


def score_columns(ctx: SuiteContext) -> list[str]:
    """The delivered index columns (numbers that are neither SEs nor fixed columns)."""
    return [
        c
        for c, t in ctx.columns.items()
        if t == "float" and c not in FIXED and not c.endswith("_se")
    ]


def rules(ctx: SuiteContext) -> list[Rule]:
    lo, hi = ctx.settings.scale
    out = structure_rules(ctx)
    out += [not_null(ctx, "district_id"), known_district(ctx)]
    out += period_rules(ctx)
    out += key_rules(ctx)
    out += [not_null(ctx, "n_respondents"), parseable(ctx, "n_respondents")]
    out.append(
        number_rules(
            ctx,
            "n_respondents",
            min_value=1,
            name="n_respondents_at_least_one",
            description="n_respondents is at least 1",
            fix="leave out district-periods without respondents (a missing score is fine)",
        )
    )
    for index in score_columns(ctx):
        out.append(parseable(ctx, index))
        out.append(
            number_rules(
                ctx,
                index,
                min_value=lo,
                max_value=hi,
                name=f"{index}_in_scale",
                description=f"{index} lies on the score scale {lo:g}..{hi:g}",
                fix="set survey.scale in the city config to the scores' scale, e.g. "
                "survey: {scale: [0, 100]}",
            )
        )
        se = f"{index}_se"
        if ctx.has(se):
            out.append(parseable(ctx, se))
            out.append(
                number_rules(
                    ctx,
                    se,
                    min_value=0,
                    name=f"{se}_not_negative",
                    description=f"{se} is 0 or more",
                    fix="deliver standard errors (>= 0), or leave them empty",
                )
            )
    for col, value in (("scale_min", lo), ("scale_max", hi)):
        if ctx.has(col):
            out.append(
                Rule(
                    name=f"{col}_matches_config",
                    expectation="ExpectColumnValuesToBeInSet",
                    kwargs={"column": col, "value_set": [float(value)]},
                    column=col,
                    severity=BLOCKING,
                    level=ROW,
                    description=f"{col} equals survey.scale in the config ({value:g})",
                    fix="set survey.scale in the city config to the scores' scale, e.g. "
                    "survey: {scale: [0, 100]}",
                    value_column=f"{col}__raw",
                )
            )
    return out

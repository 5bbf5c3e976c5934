"""Programs: when each district started the program. These rows *are* the treatment
definition, so problems here stop the run instead of quarantining (see settings.DESIGN_INPUTS).

A start before the study window makes a district always-treated (no pre-period to compare);
a start after the window simply leaves the district untreated within the study, which is fine
but worth saying.
"""

from __future__ import annotations

from quality.rules import BLOCKING, ROW, WARNING, Rule
from quality.suites.common import (
    SuiteContext,
    fmt_date,
    key_rules,
    not_null,
    parseable,
    place_rules,
    structure_rules,
)

INPUT = "programs"


def rules(ctx: SuiteContext) -> list[Rule]:
    s = ctx.settings
    out = structure_rules(ctx)
    out += place_rules(ctx)
    out += key_rules(ctx)
    out.append(not_null(ctx, "program", severity=WARNING, why="named in the report"))
    out += [not_null(ctx, "start_date"), parseable(ctx, "start_date")]
    out.append(
        Rule(
            name="start_date_not_before_window",
            expectation="ExpectColumnValuesToBeBetween",
            kwargs={"column": "start_date", "min_value": s.window_start},
            column="start_date",
            severity=BLOCKING,
            level=ROW,
            description=f"start_date is not before the study window ({fmt_date(s.window_start)}): "
            "an always-treated district has no before-period",
            fix="move study_window.start earlier (the data must cover months before each "
            "roll-out), or remove the district from programs.csv",
            value_column="start_date__raw",
        )
    )
    latest = s.latest_allowed
    out.append(
        Rule(
            name="start_date_in_window",
            expectation="ExpectColumnValuesToBeBetween",
            kwargs={"column": "start_date", "max_value": latest},
            column="start_date",
            severity=WARNING,
            level=ROW,
            description=f"start_date is not after {fmt_date(latest)} (the end of the study "
            "window or today); later roll-outs count as not yet treated",
            fix="check the date; if the roll-out is still planned, nothing needs fixing",
            value_column="start_date__raw",
        )
    )
    if ctx.has("end_date"):
        out.append(parseable(ctx, "end_date"))
    return out

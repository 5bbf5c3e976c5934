"""Rules about `period` labels of published counts and scores (the aggregate input shapes).

A period is `YYYY-MM`, `YYYY-Qn` or `YYYY`. An unreadable label cannot be placed in the panel,
so it blocks; a readable period outside the study window is left out of the analysis and
warned about (published tables often cover more years than the evaluation).
"""

from __future__ import annotations

from datetime import date

from engagement_eval.grain import (
    GRAINS,
    MONTHS_PER_PERIOD,
    add_months,
    first_whole_period,
    period_label,
)
from quality.rules import BLOCKING, ROW, WARNING, Rule
from quality.suites.common import SuiteContext, fmt_date

PERIOD_REGEX = r"^\d{4}(?:-(?:0[1-9]|1[0-2])|-?[Qq][1-4])?$"


def _labels_in_window(first: date, last: date) -> list[str]:
    """Every month, quarter and year label whose period starts inside [first, last]."""
    out = []
    for grain in GRAINS:
        size = MONTHS_PER_PERIOD[grain]
        start = first_whole_period(first, grain)  # one starting earlier is partly outside
        while start <= last:
            out.append(period_label(start, grain))
            if grain == "quarter":
                out.append(period_label(start, grain).replace("-Q", "Q"))
            start = add_months(start, size)
    return out


def period_rules(ctx: SuiteContext) -> list[Rule]:
    s = ctx.settings
    first = s.window_start.date()
    last = s.latest_allowed.date()
    rules = [
        Rule(
            name="period_not_null",
            expectation="ExpectColumnValuesToNotBeNull",
            kwargs={"column": "period"},
            column="period",
            severity=BLOCKING,
            level=ROW,
            description="period is filled in",
            fix="fill in the period (YYYY-MM, YYYY-Qn or YYYY) or remove those rows",
            value_column="period",
        ),
        Rule(
            name="period_readable",
            expectation="ExpectColumnValuesToMatchRegex",
            kwargs={"column": "period", "regex": PERIOD_REGEX},
            column="period",
            severity=BLOCKING,
            level=ROW,
            description="period is a month (YYYY-MM), quarter (YYYY-Qn) or year (YYYY)",
            fix="write periods as YYYY-MM, YYYY-Qn or YYYY (one grain per delivery)",
            value_column="period",
        ),
        Rule(
            name="period_in_window",
            expectation="ExpectColumnValuesToBeInSet",
            kwargs={"column": "period", "value_set": _labels_in_window(first, last)},
            column="period",
            severity=WARNING,
            level=ROW,
            description=f"period lies in the study window ({fmt_date(first)} to "
            f"{fmt_date(last)}); periods outside are left out of the analysis",
            fix="widen study_window in the city config if those periods should count",
            value_column="period",
        ),
    ]
    return rules

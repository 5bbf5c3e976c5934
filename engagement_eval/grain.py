"""Time grain of an analysis: month, quarter or year, and the arithmetic between them.

Published counts and vendor scores arrive per month, quarter or year; the panels, event
studies and report then count time in periods of that grain. A period label is `YYYY-MM`,
`YYYY-Qn` or `YYYY`; its start is the first day of its first month. A roll-out falling inside
a period makes that whole period the first treated one (the simulator's yearly cities start
programs on January 1, so no year is partly treated).
"""

from __future__ import annotations

import re
from datetime import date

from engagement_eval.errors import UserError

GRAINS = ("month", "quarter", "year")
MONTHS_PER_PERIOD = {"month": 1, "quarter": 3, "year": 12}
# Event-study leads the pre-trend test needs at a coarse grain: the earliest cohort must have
# this many whole periods before its roll-out (the reference period plus two tested leads).
MIN_PRE_PERIODS = 3

_PATTERNS = {
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
    "quarter": re.compile(r"^(\d{4})-?[Qq]([1-4])$"),
    "year": re.compile(r"^(\d{4})$"),
}


def label_grain(label: str) -> str | None:
    """The grain a period label is written in, None when it is none of them."""
    text = str(label).strip()
    for grain, pattern in _PATTERNS.items():
        if pattern.match(text):
            return grain
    return None


def infer_grain(labels, source: str) -> str:
    """The one grain all non-empty labels share; mixed or unreadable labels are an error."""
    found: dict[str, str] = {}
    bad = []
    for label in labels:
        if label is None or str(label).strip() == "":
            continue
        grain = label_grain(label)
        if grain is None:
            bad.append(str(label))
        else:
            found.setdefault(grain, str(label))
    if len(found) > 1:
        examples = ", ".join(f"{g} ({v})" for g, v in found.items())
        raise UserError(
            f"{source} mixes period grains: {examples}",
            "deliver one grain per file (YYYY-MM, YYYY-Qn or YYYY), or set grain: in the config",
        )
    if not found:
        raise UserError(
            f"{source} has no readable period (e.g. {bad[:3]})",
            "write periods as YYYY-MM (month), YYYY-Qn (quarter) or YYYY (year)",
        )
    return next(iter(found))


def period_start(label: str, grain: str) -> date | None:
    """First day of the period a label names, None when it is not a label of `grain`."""
    m = _PATTERNS[grain].match(str(label).strip())
    if not m:
        return None
    year = int(m.group(1))
    if grain == "month":
        return date(year, int(m.group(2)), 1)
    if grain == "quarter":
        return date(year, 3 * int(m.group(2)) - 2, 1)
    return date(year, 1, 1)


def truncate(day: date, grain: str) -> date:
    """First day of the period holding `day`."""
    size = MONTHS_PER_PERIOD[grain]
    return date(day.year, (day.month - 1) // size * size + 1, 1)


def add_months(day: date, months: int) -> date:
    """First day of the month `months` after (or before, if negative) the month of `day`.

    The one place month arithmetic is written (warehouse, quality and pipelines call it)."""
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def month_keys(first: date, last: date) -> list[str]:
    """`YYYY-MM` of every month from the month of `first` to that of `last`, both included."""
    keys, current = [], date(first.year, first.month, 1)
    while current <= last:
        keys.append(f"{current:%Y-%m}")
        current = add_months(current, 1)
    return keys


def first_whole_period(day: date, grain: str) -> date:
    """Start of the first period of `grain` that begins on or after `day` (a period that
    started earlier is only partly inside a window opening at `day`)."""
    start = truncate(day, grain)
    return start if start >= day else add_months(start, MONTHS_PER_PERIOD[grain])


def period_label(start: date, grain: str) -> str:
    if grain == "month":
        return f"{start:%Y-%m}"
    if grain == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}"


def period_start_sql(column_sql: str, grain: str) -> str:
    """DuckDB SQL turning a delivered period label into its first day (NULL if unreadable).

    `grain` comes from GRAINS (a whitelist); the label is data and never enters the SQL text.
    """
    text = f"trim({column_sql})"
    if grain == "month":
        return (
            f"CASE WHEN regexp_full_match({text}, '\\d{{4}}-(0[1-9]|1[0-2])')"
            f" THEN CAST({text} || '-01' AS DATE) END"
        )
    if grain == "quarter":
        return (
            f"CASE WHEN regexp_full_match({text}, '\\d{{4}}-?[Qq][1-4]')"
            f" THEN make_date(CAST(left({text}, 4) AS INTEGER),"
            f" 3 * CAST(right({text}, 1) AS INTEGER) - 2, 1) END"
        )
    if grain == "year":
        return (
            f"CASE WHEN regexp_full_match({text}, '\\d{{4}}')"
            f" THEN make_date(CAST({text} AS INTEGER), 1, 1) END"
        )
    raise ValueError(f"unknown grain {grain!r}")


def trunc_sql(column_sql: str, grain: str) -> str:
    """DuckDB SQL: first day of the period of `grain` holding a date or timestamp."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    return f"CAST(date_trunc('{grain}', {column_sql}) AS DATE)"


def periods_between(first: date, later: date, grain: str) -> int:
    """Whole periods from the period starting `first` to the one holding `later`."""
    months = (later.year - first.year) * 12 + later.month - first.month
    return months // MONTHS_PER_PERIOD[grain]


def coarser(a: str, b: str) -> str:
    return a if MONTHS_PER_PERIOD[a] >= MONTHS_PER_PERIOD[b] else b


def window_in_periods(event_window: tuple[int, int], grain: str) -> tuple[int, int]:
    """The configured event window (months) in periods of `grain`, rounded outwards.

    At a yearly grain the window keeps at least `MIN_PRE_PERIODS` pre-roll-out periods (the
    reference and two leads) and one post period, so the pre-trend test has leads to test:
    the default 12 months before roll-out are a single year, which would leave none.
    """
    size = MONTHS_PER_PERIOD[grain]
    lo, hi = event_window
    lo_p, hi_p = -(-abs(min(lo, 0)) // size), max(hi, 0) // size
    if grain == "year":
        lo_p, hi_p = max(lo_p, MIN_PRE_PERIODS), max(hi_p, 1)
    return -lo_p, hi_p


def periods_per_bin(grain: str, bin_months: int) -> int:
    """How many periods of `grain` a bin of `bin_months` months holds (at least one)."""
    return max(1, bin_months // MONTHS_PER_PERIOD[grain])

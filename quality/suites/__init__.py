"""One rule list per contract input. `SUITES[input](ctx)` returns that input's rules."""

from __future__ import annotations

from collections.abc import Callable

from quality.rules import Rule
from quality.suites import (
    crime_counts,
    crime_incidents,
    districts,
    meeting_feedback,
    meetings,
    programs,
    survey_responses,
    survey_scores,
    units,
)
from quality.suites.common import SuiteContext

SUITES: dict[str, Callable[[SuiteContext], list[Rule]]] = {
    m.INPUT: m.rules
    for m in (
        districts,
        units,
        programs,
        crime_incidents,
        crime_counts,
        survey_responses,
        survey_scores,
        meetings,
        meeting_feedback,  # issue 15
    )
}

__all__ = ["SUITES", "SuiteContext"]

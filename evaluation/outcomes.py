"""Outcome specifications: which panel column answers which council question, on what scale.

Crime outcomes are counts per district-month (Poisson headline, population as exposure, with a
rate per 1,000 residents for the linear methods). Survey outcomes are weighted district-quarter
means of an index, in points on the answer scale.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutcomeSpec:
    name: str
    kind: str  # "crime" | "survey"
    label: str
    count: str | None = None  # crime: incident count column of marts.district_month
    rate: str | None = None  # crime: rate per 1,000 residents
    index_name: str | None = None  # survey: marts.district_quarter_survey.index_name

    @property
    def scale(self) -> str:
        return "proportional" if self.kind == "crime" else "points"

    @property
    def units(self) -> str:
        return "month" if self.kind == "crime" else "quarter"


CRIME = {
    "crime_total": OutcomeSpec(
        "crime_total", "crime", "all incidents", "crimes_total", "rate_total"
    ),
    "crime_violent": OutcomeSpec(
        "crime_violent", "crime", "violent incidents", "crimes_violent", "rate_violent"
    ),
    "crime_property": OutcomeSpec(
        "crime_property", "crime", "property incidents", "crimes_property", "rate_property"
    ),
}
SURVEY = {
    "trust_index": OutcomeSpec(
        "trust_index", "survey", "trust in police", index_name="trust_index"
    ),
    "safety_index": OutcomeSpec(
        "safety_index", "survey", "feeling safe", index_name="safety_index"
    ),
}
ALL_OUTCOMES = (*CRIME, *SURVEY)


def spec(name: str) -> OutcomeSpec:
    return {**CRIME, **SURVEY}[name]

"""Knobs and fixed constants of the demo city.

Everything that shapes the generated data lives here, so `truth.json` can record it and a test
can rebuild the expected values from the recorded numbers alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

# Chicago "Primary Type" values with a rough monthly rate per 1,000 residents (shares follow
# Chicago's 2016-2023 mix) and the NIBRS-style class the city config maps them to:
# crimes against persons -> violent, against property -> property, against society -> other.
OFFENSES: tuple[tuple[str, float, str], ...] = (
    ("THEFT", 1.55, "property"),
    ("BATTERY", 1.30, "violent"),
    ("CRIMINAL DAMAGE", 0.80, "property"),
    ("ASSAULT", 0.60, "violent"),
    ("DECEPTIVE PRACTICE", 0.45, "property"),
    ("OTHER OFFENSE", 0.45, "other"),
    ("NARCOTICS", 0.45, "other"),
    ("MOTOR VEHICLE THEFT", 0.40, "property"),
    ("BURGLARY", 0.38, "property"),
    ("ROBBERY", 0.30, "violent"),
    ("WEAPONS VIOLATION", 0.18, "other"),
    ("CRIMINAL TRESPASS", 0.17, "other"),
    ("CRIMINAL SEXUAL ASSAULT", 0.04, "violent"),
    ("ARSON", 0.03, "property"),
    ("HOMICIDE", 0.015, "violent"),
)
CRIME_CLASSES: tuple[str, ...] = ("violent", "property", "other")
SURVEY_ITEMS: tuple[str, ...] = ("trust_police", "police_fair", "feel_safe")
INDICES: dict[str, tuple[str, ...]] = {
    "trust_index": ("trust_police", "police_fair"),
    "safety_index": ("feel_safe",),
}
STRATA: tuple[str, ...] = ("18-34", "35-64", "65+")
MEETING_TYPES: tuple[str, ...] = ("beat_meeting", "town_hall", "community_event", "other")
PROGRAM_NAME = "Community Engagement Initiative"


@dataclass(frozen=True)
class CityParams:
    """User-facing knobs. Defaults give the documented demo city (~1.5 M incidents)."""

    seed: int = 12  # see docs/simulator.md "Default seed"
    n_districts: int = 25
    start: str = "2016-01"
    months: int = 120
    n_cohorts: int = 4
    never_treated_share: float = 0.28
    effect_scale: float = 1.0
    incidents_per_1000: float = 7.2  # city-wide monthly mean per 1,000 before district effects
    survey_responses_per_cell: float = 60.0  # mean respondents per district-quarter
    meetings_scale: float = 1.0
    city_name: str = "Demo City"
    timezone: str = "America/Chicago"
    # Program effects (before effect_scale). Crime: proportional reduction at full ramp for a
    # cohort with multiplier 1. Survey: latent (probit-scale) shift, converted to Likert
    # points exactly through the response model.
    crime_effect: dict[str, float] = field(
        default_factory=lambda: {"violent": 0.15, "property": 0.10, "other": 0.04}
    )
    survey_effect: dict[str, float] = field(
        default_factory=lambda: {"trust_police": 0.30, "police_fair": 0.36, "feel_safe": 0.18}
    )
    cohort_multiplier_range: tuple[float, float] = (1.25, 0.6)  # first cohort -> last cohort
    ramp_months: float = 36.0  # crime effect reaches 1 - 1/e of its full size after this
    ramp_quarters: float = 8.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["cohort_multiplier_range"] = list(self.cohort_multiplier_range)
        return out


def ramp(event_time, time_constant: float):
    """Share of the full effect reached `event_time` periods after roll-out (0 = first period).

    Effects that keep growing after adoption are what biases two-way fixed effects.
    """
    e = np.asarray(event_time, dtype=float)
    return np.where(e >= 0, 1.0 - np.exp(-(np.maximum(e, 0.0) + 1.0) / time_constant), 0.0)

"""Output shapes of the demo city: which files the writers produce and at what time grain.

The latent model never depends on the shape, except that a yearly grain moves roll-outs to
January (a program starting mid-year would make the first "treated" year only partly treated).
Periods are numbered absolutely (months since 1970-01 // months per period) so one number
identifies a period at any grain, and labels are YYYY-MM, YYYY-Qn or YYYY.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

CRIME_SHAPES = ("incidents", "counts")
SURVEY_SHAPES = ("responses", "scores")
GRAINS = ("month", "quarter", "year")
MONTHS_PER_PERIOD = {"month": 1, "quarter": 3, "year": 12}
LIKERT_SCALE = (1.0, 5.0)  # the response model's answer scale


@dataclass(frozen=True)
class OutputShape:
    crime: str = "incidents"
    survey: str = "responses"
    grain: str = "month"
    score_scale: tuple[float, float] = (0.0, 100.0)
    score_se: bool = True  # write trust_index_se / safety_index_se in survey_scores
    beats: bool = False  # incidents, counts, meetings and programs per beat + units.csv

    def __post_init__(self) -> None:
        if self.crime not in CRIME_SHAPES:
            raise ValueError(f"crime shape {self.crime!r} is not one of {CRIME_SHAPES}")
        if self.survey not in SURVEY_SHAPES:
            raise ValueError(f"survey shape {self.survey!r} is not one of {SURVEY_SHAPES}")
        if self.grain not in GRAINS:
            raise ValueError(f"grain {self.grain!r} is not one of {GRAINS}")
        lo, hi = self.score_scale
        if not lo < hi:
            raise ValueError(f"score scale {list(self.score_scale)} needs low < high")

    @property
    def is_default(self) -> bool:
        return self == OutputShape()

    @property
    def rollout_alignment_months(self) -> int:
        """Roll-outs fall on quarter starts, or on January 1 for a yearly grain."""
        return 12 if self.grain == "year" else 3

    @property
    def crime_grain(self) -> str:
        """Grain of the crime truth: incidents are analysed at the chosen grain too."""
        return self.grain

    @property
    def survey_grain(self) -> str:
        """Grain of the survey truth: scores use the chosen grain; responses are analysed
        per quarter (the survey panel), or per year when the grain is yearly."""
        if self.survey == "scores":
            return self.grain
        return "year" if self.grain == "year" else "quarter"

    @property
    def score_points_per_likert_point(self) -> float:
        lo, hi = self.score_scale
        return (hi - lo) / (LIKERT_SCALE[1] - LIKERT_SCALE[0])

    def rescale(self, likert: np.ndarray) -> np.ndarray:
        """Linear map of a 1-5 value onto the score scale."""
        return self.score_scale[0] + (np.asarray(likert) - LIKERT_SCALE[0]) * (
            self.score_points_per_likert_point
        )

    def check_window(self, start_month: np.datetime64, n_months: int) -> None:
        """A quarterly or yearly file must not start or end with a part period."""
        size = MONTHS_PER_PERIOD[self.grain]
        if size == 1:
            return
        if int(start_month.astype(np.int64)) % size or n_months % size:
            what = "a January" if size == 12 else "a quarter's first month"
            raise ValueError(
                f"a {self.grain}ly grain needs the window to start in {what} and cover whole "
                f"{self.grain}s ({n_months} months from {start_month} do not)"
            )

    def to_dict(self) -> dict:
        out = asdict(self)
        out["score_scale"] = list(self.score_scale)
        return out


def period_numbers(months: np.ndarray, grain: str) -> np.ndarray:
    """Absolute period number of each datetime64[M] month at `grain`."""
    return np.asarray(months).astype("datetime64[M]").astype(np.int64) // MONTHS_PER_PERIOD[grain]


def period_label(number: int, grain: str) -> str:
    """YYYY-MM, YYYY-Qn or YYYY for an absolute period number."""
    if grain == "month":
        return str(np.datetime64(int(number), "M"))
    if grain == "quarter":
        return f"{1970 + number // 4}-Q{number % 4 + 1}"
    return str(1970 + number)


def period_labels(numbers: np.ndarray, grain: str) -> list[str]:
    return [period_label(int(n), grain) for n in numbers]


def date_period_numbers(dates, grain: str) -> np.ndarray:
    """Absolute period number of each ISO date (string or datetime64)."""
    return period_numbers(np.asarray(dates, dtype="datetime64[D]").astype("datetime64[M]"), grain)

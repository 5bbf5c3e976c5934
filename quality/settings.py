"""The few numbers the gate needs, read once from the city config.

Kept apart from `CityConfig` so the gate can be driven by a plain record in tests; every
`quality:` key (including the gate's own knobs, reporting-gap sensitivity and chunk size) is
declared, with its default and range, in the config schema (`engagement_eval.config`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from engagement_eval.config import QualityConfig
from engagement_eval.grain import add_months

if TYPE_CHECKING:
    from engagement_eval.config import CityConfig

# Inputs whose rows define the study design (one row per district / per roll-out). Dropping
# one silently would turn a treated district into a comparison one, so any blocking row
# failure in them stops the run instead of quarantining.
DESIGN_INPUTS = ("districts", "programs", "units")  # units: the unit -> district crosswalk

# The schema's defaults (declared once, in engagement_eval.config.QualityConfig).
DEFAULT_GAP_MIN_TYPICAL = QualityConfig().gap_min_typical
DEFAULT_CHUNK_ROWS = QualityConfig().chunk_rows


@dataclass(frozen=True)
class GateSettings:
    window_start: datetime  # first instant of the first study month
    window_end: datetime | None  # last instant of the last study month (None: open)
    now: datetime  # "the future" starts after this instant (city clock, naive)
    max_bad_row_share: float
    attendees_ceiling: int
    scale: tuple[float, float]
    gap_min_typical: int = DEFAULT_GAP_MIN_TYPICAL
    chunk_rows: int = DEFAULT_CHUNK_ROWS

    @property
    def latest_allowed(self) -> datetime:
        """Dates after this are impossible: in the future or after the study window."""
        return self.now if self.window_end is None else min(self.now, self.window_end)


def _month_end(first_day: date) -> datetime:
    nxt = add_months(first_day, 1)
    return datetime.combine(nxt, datetime.min.time()) - timedelta(microseconds=1)


def gate_settings(config: CityConfig, now: datetime | None = None) -> GateSettings:
    """Settings for one gate run; `now` is injectable so tests do not depend on the clock."""
    if now is None:
        now = datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None)
    # An unset study_window.start that nobody filled from the data (warehouse.data_window)
    # opens the window: the gate must not refuse data for lying before a start never given.
    start = config.window_start or date(1, 1, 1)
    return GateSettings(
        window_start=datetime.combine(start, datetime.min.time()),
        window_end=None if config.window_end is None else _month_end(config.window_end),
        now=now,
        max_bad_row_share=float(config.quality.max_bad_row_share),
        attendees_ceiling=int(config.quality.attendees_ceiling),
        scale=(float(config.survey.scale[0]), float(config.survey.scale[1])),
        gap_min_typical=config.quality.gap_min_typical,
        chunk_rows=config.quality.chunk_rows,
    )

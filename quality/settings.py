"""The few numbers the gate needs, read once from the city config.

Kept apart from `CityConfig` so the gate can be driven by a plain config in tests and so the
gate's own knobs (reporting-gap sensitivity, chunk size) have one documented home. Extra keys
under `quality:` in the city YAML are read here (the config loader passes them through).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from engagement_eval.errors import UserError

if TYPE_CHECKING:
    from engagement_eval.config import CityConfig

# Inputs whose rows define the study design (one row per district / per roll-out). Dropping
# one silently would turn a treated district into a comparison one, so any blocking row
# failure in them stops the run instead of quarantining.
DESIGN_INPUTS = ("districts", "programs", "units")  # units: the unit -> district crosswalk

DEFAULT_GAP_MIN_TYPICAL = 20
DEFAULT_CHUNK_ROWS = 1_000_000


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
    nxt = date(first_day.year + first_day.month // 12, first_day.month % 12 + 1, 1)
    return datetime.combine(nxt, datetime.min.time()) - timedelta(microseconds=1)


def _positive_int(raw: dict, key: str, default: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(
            f"quality.{key} = {value!r} is not a positive integer",
            f"set quality.{key} to a whole number >= 1 (default {default})",
        )
    return value


def gate_settings(config: CityConfig, now: datetime | None = None) -> GateSettings:
    """Settings for one gate run; `now` is injectable so tests do not depend on the clock."""
    if now is None:
        now = datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None)
    extra = (config.raw or {}).get("quality") or {}
    return GateSettings(
        window_start=datetime.combine(config.window_start, datetime.min.time()),
        window_end=None if config.window_end is None else _month_end(config.window_end),
        now=now,
        max_bad_row_share=float(config.quality.max_bad_row_share),
        attendees_ceiling=int(config.quality.attendees_ceiling),
        scale=(float(config.survey.scale[0]), float(config.survey.scale[1])),
        gap_min_typical=_positive_int(extra, "gap_min_typical", DEFAULT_GAP_MIN_TYPICAL),
        chunk_rows=_positive_int(extra, "chunk_rows", DEFAULT_CHUNK_ROWS),
    )

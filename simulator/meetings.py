"""Community meetings: a steady trickle of beat meetings everywhere, plus program meetings
(community events, town halls) after a district's roll-out, so attendance per 1,000 residents
rises from about 0.6 to 2.5-3.5 and crosses the config's roll-out threshold (2.0) at once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.design import Design
from simulator.params import MEETING_TYPES, ramp

REFERENCE_POPULATION = 70_000
BASE_RATE = 2.8  # meetings per month in a district of the reference population
BASE_MIX = {"beat_meeting": 0.85, "other": 0.15}
BASE_ATTENDEES = {"beat_meeting": 18.0, "other": 12.0}
PROGRAM_RATE = 4.5  # extra meetings per month at full ramp
PROGRAM_MIX = {"beat_meeting": 0.35, "community_event": 0.35, "town_hall": 0.20, "other": 0.10}
PROGRAM_ATTENDEES = {
    "beat_meeting": 25.0,
    "community_event": 55.0,
    "town_hall": 80.0,
    "other": 20.0,
}
ATTENDANCE_SHAPE = 4.0  # gamma-Poisson shape: attendance is overdispersed


def _mix_arrays(mix: dict[str, float], attendees: dict[str, float]):
    probs = np.array([mix.get(t, 0.0) for t in MEETING_TYPES])
    means = np.array([attendees.get(t, 0.0) for t in MEETING_TYPES])
    return probs / probs.sum(), means


def expected_meetings(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """(base, program) expected meetings per district-month; program ramps 0.75 -> 1."""
    p = design.params
    cal = design.calendar
    size = np.sqrt(design.population / REFERENCE_POPULATION)
    days = cal.days / (365.25 / 12)
    base = p.meetings_scale * BASE_RATE * size[:, None] * days[None, :]
    growth = 0.75 + 0.25 * ramp(design.event_months(), p.ramp_months)
    program = p.meetings_scale * PROGRAM_RATE * size[:, None] * days[None, :] * growth
    program = np.where(design.event_months() >= 0, program, 0.0)
    return base, program


def meetings_table(design: Design, rng: np.random.Generator) -> pd.DataFrame:
    cal = design.calendar
    base, program = expected_meetings(design)
    size = np.sqrt(design.population / REFERENCE_POPULATION)
    event = design.event_months()
    frames = []
    for expected, mix, attendees, is_program in (
        (base, BASE_MIX, BASE_ATTENDEES, False),
        (program, PROGRAM_MIX, PROGRAM_ATTENDEES, True),
    ):
        probs, means = _mix_arrays(mix, attendees)
        counts = rng.poisson(expected)
        d, t = np.unravel_index(np.repeat(np.arange(counts.size), counts.reshape(-1)), counts.shape)
        kind = rng.choice(len(MEETING_TYPES), size=len(d), p=probs)
        # Program meetings draw bigger crowds as the program matures.
        turnout = 0.85 + 0.15 * ramp(event[d, t], design.params.ramp_months) if is_program else 1.0
        mean = means[kind] * size[d] * turnout
        attendees_drawn = rng.poisson(rng.gamma(ATTENDANCE_SHAPE, mean / ATTENDANCE_SHAPE))
        frames.append((d, t, kind, attendees_drawn))
    d, t, kind, att = (np.concatenate(parts) for parts in zip(*frames, strict=True))
    month_day0 = cal.months.astype("datetime64[D]").astype(np.int64)
    day = month_day0[t] + np.floor(rng.random(len(d)) * cal.days[t]).astype(np.int64)
    order = np.lexsort((kind, d, day))
    return pd.DataFrame(
        {
            "meeting_id": np.arange(1, len(d) + 1, dtype=np.int64),
            "district_id": np.asarray(design.district_ids, dtype=object)[d[order]],
            "meeting_date": day[order].astype("datetime64[D]").astype(str),
            "meeting_type": np.asarray(MEETING_TYPES, dtype=object)[kind[order]],
            "attendees": att[order].astype(np.int64),
        }
    )

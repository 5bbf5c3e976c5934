"""Demo city: latent models first (expected values with and without the program), then one
writer per input shape, then `truth.json` from the latent models.

Each stage draws from its own child of `SeedSequence(seed)`, so a new shape or knob never
changes the numbers of another stage, and the same seed always gives the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from simulator import beats as beats_model
from simulator import feedback as feedback_model
from simulator import groups as resident_groups
from simulator import meetings as meetings_model
from simulator.counts import counts_table
from simulator.crime import CrimeModel, build_crime_model, draw_counts
from simulator.design import NEVER, Design, build_design
from simulator.incidents import incident_table, write_incidents
from simulator.params import OFFENSES, PROGRAM_NAME, CityParams
from simulator.scores import scores_table
from simulator.shapes import OutputShape
from simulator.survey import build_survey_model, survey_responses
from simulator.truth import CRIME_OUTCOMES, build_truth

STREAMS = (
    "design",
    "crime_latent",
    "crime_counts",
    "incidents",
    "survey_latent",
    "survey_responses",
    "meetings",
    # Streams of the optional shapes come last: adding them changes no earlier stream.
    "beats",
    "beat_crime",
    "beat_meetings",
    "feedback",  # issue 15
    "survey_groups",  # issue 15: years_in_neighborhood per respondent
)
CONTRACT_FILES = (
    "districts.csv",
    "programs.csv",
    "crime_incidents.parquet",
    "survey_responses.csv",
    "meetings.csv",
    "meeting_feedback.csv",  # issue 15
    "city.yaml",
    "truth.json",
)


def _streams(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {
        name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)
    }


def _write_csv(frame: pd.DataFrame, path: Path, float_format: str | None = None) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", float_format=float_format)


def _districts(design: Design) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district_id": list(design.district_ids),
            "district_name": list(design.district_names),
            "population": design.population,
        }
    )


def _programs(design: Design, beats: beats_model.Beats | None = None) -> pd.DataFrame:
    """One row per treated district, or per beat of a treated district (same date)."""
    treated = np.flatnonzero(design.cohort_of != NEVER)
    starts = design.calendar.months[design.start_month[treated]].astype("datetime64[D]")
    frame = pd.DataFrame(
        {
            "district_id": [design.district_ids[i] for i in treated],
            "program": PROGRAM_NAME,
            "start_date": starts.astype(str),
        }
    )
    if beats is None:
        return frame
    units = beats.table(design)[["unit_id", "district_id"]]
    frame = units.merge(frame, on="district_id", how="inner", sort=False)
    return frame[["unit_id", "program", "start_date"]]


def _city_config(design: Design, shape: OutputShape | None = None) -> dict:
    p = design.params
    months = design.calendar.months
    config = {
        "city": p.city_name,
        "timezone": p.timezone,
        "study_window": {"start": str(months[0]), "end": str(months[-1])},
        "offense_map": {name: k for name, _, k in OFFENSES},
        "feedback": {"topic_map": feedback_model.topic_map()},  # issue 15
    }
    if shape is not None and shape.survey == "scores":
        config["survey"] = {"scale": [_plain(v) for v in shape.score_scale]}
    else:  # issue 15: responses carry the resident group columns; the demo turns them on
        config["survey"] = {"groups": list(resident_groups.GROUP_COLUMNS)}
    return config


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def contract_files(shape: OutputShape) -> tuple[str, ...]:
    """The files a city of this shape consists of."""
    crime = "crime_incidents.parquet" if shape.crime == "incidents" else "crime_counts.csv"
    survey = "survey_responses.csv" if shape.survey == "responses" else "survey_scores.csv"
    units = ("units.csv",) if shape.beats else ()
    return (
        "districts.csv",
        *units,
        "programs.csv",
        crime,
        survey,
        "meetings.csv",
        "meeting_feedback.csv",  # issue 15
        "city.yaml",
        "truth.json",
    )


def _meetings_parameters() -> dict:
    m = meetings_model
    return {
        "reference_population": m.REFERENCE_POPULATION,
        "base_rate_per_month": m.BASE_RATE,
        "base_mix": m.BASE_MIX,
        "base_attendees": m.BASE_ATTENDEES,
        "program_rate_per_month": m.PROGRAM_RATE,
        "program_mix": m.PROGRAM_MIX,
        "program_attendees": m.PROGRAM_ATTENDEES,
        "attendance_gamma_shape": m.ATTENDANCE_SHAPE,
    }


def simulate_city(
    out_dir: str | Path,
    *,
    seed: int = 12,
    n_districts: int = 25,
    start: str = "2016-01",
    months: int = 120,
    effect_scale: float = 1.0,
    shape: OutputShape | None = None,
    **knobs,
) -> Path:
    """Write a synthetic city in the input contract format plus `truth.json`; return the folder.

    `knobs` are further `CityParams` fields, e.g. `incidents_per_1000=0.5` and
    `survey_responses_per_cell=20` for a small, fast city in tests. `shape` picks the files'
    shapes and grain (default: incidents, responses, monthly, districts only).
    """
    params = CityParams(
        seed=seed, n_districts=n_districts, start=start, months=months, effect_scale=effect_scale
    )
    params = replace(params, **knobs)
    return write_city(params, out_dir, shape)


def write_city(params: CityParams, out_dir: str | Path, shape: OutputShape | None = None) -> Path:
    shape = shape or OutputShape()
    out = Path(out_dir)
    rng = _streams(params.seed)
    design = build_design(params, rng["design"], shape.rollout_alignment_months)
    shape.check_window(design.calendar.months[0], design.calendar.n_months)
    out.mkdir(parents=True, exist_ok=True)
    crime = build_crime_model(design, rng["crime_latent"])
    violent = crime.parameters["district_level"]
    crime_level = np.array([violent[d]["violent"] for d in design.district_ids])
    survey = build_survey_model(design, crime_level, rng["survey_latent"])
    beats = beats_model.build_beats(design, rng["beats"]) if shape.beats else None

    _write_csv(_districts(design), out / "districts.csv")
    if beats is not None:
        _write_csv(beats.table(design), out / "units.csv")
    _write_csv(_programs(design, beats), out / "programs.csv")
    _write_crime(design, crime, shape, beats, rng, out)
    responses = survey_responses(survey, design, rng["survey_responses"], rng["survey_groups"])
    if shape.survey == "responses":
        _write_csv(responses, out / "survey_responses.csv", float_format="%.6f")
    else:
        _write_csv(scores_table(responses, shape), out / "survey_scores.csv", float_format="%.6f")
    del responses
    meetings = meetings_model.meetings_table(design, rng["meetings"])
    feedback = feedback_model.feedback_table(meetings, design, survey, rng["feedback"])
    _write_csv(feedback, out / "meeting_feedback.csv")  # issue 15
    del feedback
    if beats is not None:
        meetings = _meetings_per_beat(meetings, design, beats, rng["beat_meetings"])
    _write_csv(meetings, out / "meetings.csv")
    (out / "city.yaml").write_text(
        yaml.safe_dump(_city_config(design, shape), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    truth = build_truth(design, crime, survey, _meetings_parameters(), shape)
    if beats is not None:
        _add_beat_truth(truth, design, crime, beats)
    truth["meeting_feedback"] = feedback_model.feedback_truth(design, survey)  # issue 15
    if shape.survey == "responses":
        truth["survey_groups"] = {
            **resident_groups.group_truth(survey, survey.event_time),
            "definition": resident_groups.TRUTH_DEFINITION,
        }
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return out


def _write_crime(design, crime: CrimeModel, shape: OutputShape, beats, rng, out: Path) -> None:
    """Draw the Poisson counts once; write them as incidents or as counts, per district or
    per beat (beat counts split each district count, so they sum back to it exactly)."""
    counts = draw_counts(crime, rng["crime_counts"])
    slots = None
    if beats is not None:
        slots = beats_model.split_counts(counts, beats, crime.offense_class, rng["beat_crime"])
    if shape.crime == "incidents":
        units = None
        if beats is not None:
            units = (beats_model.incident_units(slots, beats), beats.unit_ids)
        table = incident_table(counts, design, crime.offenses, rng["incidents"], units=units)
        del counts, slots, units
        write_incidents(table, out / "crime_incidents.parquet")
        return
    cal = design.calendar
    if beats is None:
        frame = counts_table(counts, design.district_ids, cal.months, crime.offenses, shape.grain)
    else:
        per_unit = beats_model.unit_counts(slots, beats)
        frame = counts_table(
            per_unit, beats.unit_ids, cal.months, crime.offenses, shape.grain, "unit_id"
        )
    _write_csv(frame, out / "crime_counts.csv")


def _meetings_per_beat(meetings: pd.DataFrame, design: Design, beats, rng) -> pd.DataFrame:
    position = {d: i for i, d in enumerate(design.district_ids)}
    district_index = meetings["district_id"].map(position).to_numpy()
    unit = beats_model.meeting_units(district_index, beats, rng)
    meetings = meetings.copy()
    meetings["district_id"] = np.asarray(beats.unit_ids, dtype=object)[unit]
    return meetings.rename(columns={"district_id": "unit_id"})


def _add_beat_truth(truth: dict, design: Design, crime: CrimeModel, beats) -> None:
    """Per beat and per district overall crime effects; the analysis-wide numbers (overall,
    by event time, by cohort) are the same whether the unit is the beat or the district,
    because beat cells partition district cells exactly."""
    truth["parameters"]["beats"] = beats.parameters(design)
    for outcome, which in CRIME_OUTCOMES.items():
        stated = truth["outcomes"][outcome]
        stated["by_unit"] = beats_model.unit_crime_truth(
            beats,
            crime.expected_without,
            crime.expected_with,
            crime.treated,
            crime.offense_class,
            which,
        )
        without, with_program = crime.by_class(which)
        treated = crime.treated
        diff = np.where(treated, with_program - without, 0.0).sum(axis=1)
        base = np.where(treated, without, 0.0).sum(axis=1)
        stated["by_district"] = {
            d: float(diff[i] / base[i]) for i, d in enumerate(design.district_ids) if base[i] > 0
        }
    truth["units"] = {
        "analysis_units": ["district", "unit"],
        "note": (
            "Programs, incidents or counts and meetings are per unit (beat); units.csv maps "
            "each unit to its district. Every beat of a treated district starts on the "
            "district's date. overall/by_event_time/by_cohort hold for a district analysis "
            "and a beat analysis alike (ratio of sums over the same cells); by_unit and "
            "by_district give each place's own overall effect."
        ),
    }

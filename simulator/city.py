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

from simulator import meetings as meetings_model
from simulator.crime import build_crime_model, draw_counts
from simulator.design import NEVER, Design, build_design
from simulator.incidents import incident_table, write_incidents
from simulator.params import OFFENSES, PROGRAM_NAME, CityParams
from simulator.survey import build_survey_model, survey_responses
from simulator.truth import build_truth

STREAMS = (
    "design",
    "crime_latent",
    "crime_counts",
    "incidents",
    "survey_latent",
    "survey_responses",
    "meetings",
)
CONTRACT_FILES = (
    "districts.csv",
    "programs.csv",
    "crime_incidents.parquet",
    "survey_responses.csv",
    "meetings.csv",
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


def _programs(design: Design) -> pd.DataFrame:
    treated = np.flatnonzero(design.cohort_of != NEVER)
    starts = design.calendar.months[design.start_month[treated]].astype("datetime64[D]")
    return pd.DataFrame(
        {
            "district_id": [design.district_ids[i] for i in treated],
            "program": PROGRAM_NAME,
            "start_date": starts.astype(str),
        }
    )


def _city_config(design: Design) -> dict:
    p = design.params
    months = design.calendar.months
    return {
        "city": p.city_name,
        "timezone": p.timezone,
        "study_window": {"start": str(months[0]), "end": str(months[-1])},
        "offense_map": {name: k for name, _, k in OFFENSES},
    }


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
    **knobs,
) -> Path:
    """Write a synthetic city in the input contract format plus `truth.json`; return the folder.

    `knobs` are further `CityParams` fields, e.g. `incidents_per_1000=0.5` and
    `survey_responses_per_cell=20` for a small, fast city in tests.
    """
    params = CityParams(
        seed=seed, n_districts=n_districts, start=start, months=months, effect_scale=effect_scale
    )
    params = replace(params, **knobs)
    return write_city(params, out_dir)


def write_city(params: CityParams, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = _streams(params.seed)
    design = build_design(params, rng["design"])
    crime = build_crime_model(design, rng["crime_latent"])
    violent = crime.parameters["district_level"]
    crime_level = np.array([violent[d]["violent"] for d in design.district_ids])
    survey = build_survey_model(design, crime_level, rng["survey_latent"])

    _write_csv(_districts(design), out / "districts.csv")
    _write_csv(_programs(design), out / "programs.csv")
    counts = draw_counts(crime, rng["crime_counts"])
    table = incident_table(counts, design, crime.offenses, rng["incidents"])
    del counts
    write_incidents(table, out / "crime_incidents.parquet")
    del table
    responses = survey_responses(survey, design, rng["survey_responses"])
    _write_csv(responses, out / "survey_responses.csv", float_format="%.6f")
    _write_csv(meetings_model.meetings_table(design, rng["meetings"]), out / "meetings.csv")
    (out / "city.yaml").write_text(
        yaml.safe_dump(_city_config(design), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    truth = build_truth(design, crime, survey, _meetings_parameters())
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return out

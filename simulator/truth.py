"""True program effects on the scale the pipeline reports, from the latent models.

Crime: proportional change in expected incidents, sum(with - without) / sum(without) over the
treated district-periods in question. Survey indices: with-minus-without difference of the
population mean expected answer (1-5 points, or points on a score scale), averaged with equal
weight over the treated district-periods in question. A period is any grain (month, quarter,
year); the period holding a district's first treated month is its first treated period.
"""

from __future__ import annotations

import numpy as np

from simulator.crime import CrimeModel
from simulator.design import NEVER, Design
from simulator.params import CRIME_CLASSES, INDICES, SURVEY_ITEMS
from simulator.shapes import OutputShape, period_labels, period_numbers
from simulator.survey import SurveyModel

CRIME_OUTCOMES = {"crime_total": "total", "crime_violent": "violent", "crime_property": "property"}


def _ratio_of_sums(diff: np.ndarray, base: np.ndarray, keys: np.ndarray) -> dict[str, float]:
    out = {}
    for key in np.unique(keys):
        mask = keys == key
        out[str(int(key))] = float(diff[mask].sum() / base[mask].sum())
    return out


def _mean_by(values: np.ndarray, keys: np.ndarray) -> dict[str, float]:
    return {str(int(key)): float(values[keys == key].mean()) for key in np.unique(keys)}


def _cohort_labels(design: Design) -> list[str]:
    return [str(design.calendar.months[m]) for m in design.cohort_starts]


def _period_starts(numbers: np.ndarray) -> np.ndarray:
    """Index of the first element of each run of equal (sorted) period numbers."""
    return np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]])


def _period_event_time(design: Design, numbers: np.ndarray) -> np.ndarray:
    """(district, period) periods since the period holding the first treated month."""
    periods = numbers[_period_starts(numbers)]
    start = np.full(design.n_districts, 10**6)
    treated = design.start_month != NEVER
    start[treated] = numbers[design.start_month[treated]]
    return periods[None, :] - start[:, None]


def crime_cells(design: Design, model: CrimeModel, which: str, grain: str):
    """(without, with, event time) per district and period at `grain`."""
    without, with_program = model.by_class(which)
    if grain == "month":
        return without, with_program, model.event_time
    numbers = period_numbers(design.calendar.months, grain)
    starts = _period_starts(numbers)
    return (
        np.add.reduceat(without, starts, axis=1),
        np.add.reduceat(with_program, starts, axis=1),
        _period_event_time(design, numbers),
    )


def crime_truth(design: Design, model: CrimeModel, grain: str = "month") -> dict[str, dict]:
    labels = _cohort_labels(design)
    out = {}
    for outcome, which in CRIME_OUTCOMES.items():
        without, with_program, event_time = crime_cells(design, model, which, grain)
        treated = event_time >= 0
        event = event_time[treated]
        cohort = np.broadcast_to(design.cohort_of[:, None], treated.shape)[treated]
        base, diff = without[treated], (with_program - without)[treated]
        out[outcome] = {
            "scale": "proportional change in expected incidents",
            "event_time_unit": grain,
            "overall": float(diff.sum() / base.sum()),
            "by_event_time": _ratio_of_sums(diff, base, event),
            "by_cohort": {
                labels[g]: float(diff[cohort == g].sum() / base[cohort == g].sum())
                for g in np.unique(cohort)
            },
            "by_cohort_event_time": {
                labels[g]: _ratio_of_sums(diff[cohort == g], base[cohort == g], event[cohort == g])
                for g in np.unique(cohort)
            },
            "treated_cells": int(treated.sum()),
        }
    return out


def survey_effect_cells(design: Design, model: SurveyModel, grain: str):
    """(district, period, item) effect on the population mean answer and the event time.

    The latent model is quarterly. A month carries its quarter's effect; a year averages its
    quarters weighted by their expected respondents, as a year's weighted mean of responses
    (post-stratified per quarter) does.
    """
    effect = model.effect()
    cal = design.calendar
    if grain == "quarter":
        return effect, model.event_time
    if grain == "month":
        return effect[:, cal.month_quarter, :], design.event_months()
    weight = model.expected_respondents.sum(axis=2)  # (district, quarter)
    numbers = cal.quarters // 4
    starts = _period_starts(numbers)
    total = np.add.reduceat(effect * weight[:, :, None], starts, axis=1)
    by_year = total / np.add.reduceat(weight, starts, axis=1)[:, :, None]
    return by_year, _period_event_time(design, period_numbers(cal.months, "year"))


def survey_truth(
    design: Design,
    model: SurveyModel,
    grain: str = "quarter",
    points: float = 1.0,
    scale: str = "points on the 1-5 answer scale",
) -> dict[str, dict]:
    effect, event_time = survey_effect_cells(design, model, grain)
    treated = event_time >= 0
    event = event_time[treated]
    cohort = np.broadcast_to(design.cohort_of[:, None], treated.shape)[treated]
    labels = _cohort_labels(design)
    out = {}
    for index, items in INDICES.items():
        cols = [SURVEY_ITEMS.index(item) for item in items]
        diff = effect[:, :, cols].mean(axis=2)[treated] * points
        out[index] = {
            "scale": scale,
            "event_time_unit": grain,
            "overall": float(diff.mean()),
            "by_event_time": _mean_by(diff, event),
            "by_cohort": {labels[g]: float(diff[cohort == g].mean()) for g in np.unique(cohort)},
            "by_cohort_event_time": {
                labels[g]: _mean_by(diff[cohort == g], event[cohort == g])
                for g in np.unique(cohort)
            },
            "treated_cells": int(treated.sum()),
        }
    return out


DEFINITIONS = {
    "crime": (
        "Proportional change in expected incidents: sum over the treated district-months of "
        "(expected with program - expected without) / sum of expected without. Overall uses "
        "every treated district-month in the window; by_event_time uses those e months after "
        "roll-out (0 = first treated month); by_cohort those of one roll-out cohort. "
        "crime_total counts every offense class, including 'other'."
    ),
    "survey": (
        "Points on the 1-5 scale: for each district-quarter, the population mean (strata "
        "weighted by their population shares) of the expected answer with the program minus "
        "without, computed exactly from the ordered-probit response model; trust_index "
        "averages trust_police and police_fair, safety_index is feel_safe. Overall is the "
        "equal-weight average over treated district-quarters; by_event_time averages the "
        "district-quarters e quarters after the roll-out quarter (0 = first treated quarter). "
        "The weighted district-quarter mean of responses estimates the population mean."
    ),
    "pre_period_effect": "0 for every outcome (no anticipation): event times < 0 are untreated.",
    "cohort": "first treated month (YYYY-MM); roll-out dates are the first day of a quarter.",
}


SHAPE_DEFINITIONS = {
    "grain": (
        "Event times count periods of the outcome's event_time_unit since the period holding "
        "the first treated month (0 = first treated period). With a yearly grain every roll-out "
        "is on January 1, so no year is partly treated; crime cells of a period sum the "
        "expected counts of its months."
    ),
    "survey_grain": (
        "A month carries its quarter's effect (the survey model is quarterly); a year averages "
        "its quarters weighted by expected respondents, as a year's weighted mean does."
    ),
    "scores": (
        "Survey scores are the weighted means of the responses on the 1-5 scale mapped linearly "
        "onto score_scale; their effects are in points on that scale "
        "(1-5 effect x (high - low) / 4)."
    ),
}


def build_truth(
    design: Design,
    crime: CrimeModel,
    survey: SurveyModel,
    meetings_parameters: dict,
    shape: OutputShape | None = None,
) -> dict:
    """truth.json; the default shape gives exactly the default city's truth, other shapes add
    a `shape` section and state each outcome at the grain of its files."""
    p = design.params
    cal = design.calendar
    labels = _cohort_labels(design)
    cohorts = {
        d: (labels[g] if g != NEVER else None)
        for d, g in zip(design.district_ids, design.cohort_of.tolist(), strict=True)
    }
    if shape is None or shape.is_default:
        definitions = DEFINITIONS
        outcomes = {**crime_truth(design, crime), **survey_truth(design, survey)}
    else:
        definitions = {**DEFINITIONS, **SHAPE_DEFINITIONS}
        points, scale = 1.0, "points on the 1-5 answer scale"
        if shape.survey == "scores":
            lo, hi = shape.score_scale
            points, scale = shape.score_points_per_likert_point, f"points on the {lo:g}-{hi:g} "
            scale += "score scale"
        outcomes = {
            **crime_truth(design, crime, shape.crime_grain),
            **survey_truth(design, survey, shape.survey_grain, points, scale),
        }
    truth = {
        "city": p.city_name,
        "seed": p.seed,
        "effect_scale": p.effect_scale,
        "study_window": {"start": str(cal.months[0]), "end": str(cal.months[-1])},
        "definitions": definitions,
        "outcomes": outcomes,
        "cohorts": cohorts,
        "cohort_start_months": labels,
        "never_treated": [d for d, g in cohorts.items() if g is None],
        "parameters": {
            "city": p.to_dict(),
            "population": dict(zip(design.district_ids, design.population.tolist(), strict=True)),
            "cohort_multiplier": dict(zip(labels, design.cohort_multiplier.tolist(), strict=True)),
            "crime_classes": list(CRIME_CLASSES),
            "crime": crime.parameters,
            "survey": survey.parameters,
            "meetings": meetings_parameters,
        },
    }
    if shape is not None and not shape.is_default:
        starts = cal.months[design.cohort_starts]
        truth["shape"] = {
            **shape.to_dict(),
            "rollout_alignment_months": shape.rollout_alignment_months,
            "crime_event_time_unit": shape.crime_grain,
            "survey_event_time_unit": shape.survey_grain,
            "cohort_start_periods": {
                grain: period_labels(period_numbers(starts, grain), grain)
                for grain in ("month", "quarter", "year")
            },
        }
    return truth

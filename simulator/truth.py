"""True program effects on the scale the pipeline reports, from the latent models.

Crime: proportional change in expected incidents, sum(with - without) / sum(without) over the
treated district-months in question. Survey indices: with-minus-without difference of the
population mean expected answer (1-5 points), averaged with equal weight over the treated
district-quarters in question.
"""

from __future__ import annotations

import numpy as np

from simulator.crime import CrimeModel
from simulator.design import NEVER, Design
from simulator.params import CRIME_CLASSES, INDICES, SURVEY_ITEMS
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


def crime_truth(design: Design, model: CrimeModel) -> dict[str, dict]:
    treated = model.treated
    event = model.event_time[treated]
    cohort = np.broadcast_to(design.cohort_of[:, None], treated.shape)[treated]
    labels = _cohort_labels(design)
    out = {}
    for outcome, which in CRIME_OUTCOMES.items():
        without, with_program = model.by_class(which)
        base, diff = without[treated], (with_program - without)[treated]
        out[outcome] = {
            "scale": "proportional change in expected incidents",
            "event_time_unit": "month",
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


def survey_truth(design: Design, model: SurveyModel) -> dict[str, dict]:
    treated = model.event_time >= 0
    event = model.event_time[treated]
    cohort = np.broadcast_to(design.cohort_of[:, None], treated.shape)[treated]
    labels = _cohort_labels(design)
    effect = model.effect()
    out = {}
    for index, items in INDICES.items():
        cols = [SURVEY_ITEMS.index(item) for item in items]
        diff = effect[:, :, cols].mean(axis=2)[treated]
        out[index] = {
            "scale": "points on the 1-5 answer scale",
            "event_time_unit": "quarter",
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


def build_truth(
    design: Design, crime: CrimeModel, survey: SurveyModel, meetings_parameters: dict
) -> dict:
    p = design.params
    cal = design.calendar
    labels = _cohort_labels(design)
    cohorts = {
        d: (labels[g] if g != NEVER else None)
        for d, g in zip(design.district_ids, design.cohort_of.tolist(), strict=True)
    }
    return {
        "city": p.city_name,
        "seed": p.seed,
        "effect_scale": p.effect_scale,
        "study_window": {"start": str(cal.months[0]), "end": str(cal.months[-1])},
        "definitions": DEFINITIONS,
        "outcomes": {**crime_truth(design, crime), **survey_truth(design, survey)},
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

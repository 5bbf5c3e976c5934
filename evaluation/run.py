"""Run every configured outcome on the panels and assemble the results document."""

from __future__ import annotations

import dataclasses
import time
import traceback
from typing import NamedTuple

import pandas as pd

from engagement_eval.config import CityConfig
from engagement_eval.results import ResultsDocument
from estimators.blas import one_blas_thread
from evaluation import context, history
from evaluation.crime import evaluate_crime
from evaluation.dose import dose_response
from evaluation.feedback import meeting_feedback
from evaluation.groups import add_group_results
from evaluation.outcomes import spec
from evaluation.permutations import randomization_step
from evaluation.results_json import generated_at as stamp
from evaluation.settings import EvaluationSettings
from evaluation.survey import evaluate_survey
from evaluation.verdict import decide, finalize


def has_crime_data(dm: pd.DataFrame) -> bool:
    """False when no place reported crime in any period (a city that delivered surveys only):
    its crime columns are all zero by construction, not measured zeros."""
    return "reported" not in dm or bool(dm["reported"].fillna(False).any())


def with_verdict(o: dict) -> dict:
    """An outcome that could not be estimated still carries its ("unavailable") verdict."""
    return {**o, "verdict": decide(o).to_dict()}


def evaluate_outcome(
    name: str, dm: pd.DataFrame, dq: pd.DataFrame | None, settings: EvaluationSettings
) -> dict:
    """One outcome; a failure becomes `reason` (the report says why) instead of a crash."""
    sp = spec(name)
    try:
        if sp.kind == "crime" and not has_crime_data(dm):  # a surveys-only city
            return with_verdict({"scale": "proportional", "reason": "no crime data delivered"})
        if sp.kind == "crime":
            out = evaluate_crime(dm, sp, settings)
        elif dq is None or dq.empty or not (dq["index_name"] == sp.index_name).any():
            return with_verdict(
                {"scale": "points", "reason": "no survey data delivered for this index"}
            )
        else:
            out = evaluate_survey(dq, sp, settings)
        clock = time.perf_counter()
        out["dose_response"] = dose_response(dm, dq, sp, settings)
        out["_timings"]["dose_response"] = time.perf_counter() - clock
        clock = time.perf_counter()
        finalize(out, settings)  # pre-roll-out checks on the headline's scale, then the verdict
        out["_timings"]["verdict"] = time.perf_counter() - clock
        return out
    except Exception as exc:  # noqa: BLE001 - reported per outcome, others still run
        failed = {"scale": sp.scale, "reason": f"could not be estimated: {exc}"}
        return {**failed, "verdict": decide(failed).to_dict(), "_traceback": traceback.format_exc()}


def evaluate(
    dm: pd.DataFrame,
    dq: pd.DataFrame | None,
    settings: EvaluationSettings,
    *,
    city: str,
    config: dict | None = None,
    inputs: list[dict] | None = None,
    quality: dict | None = None,
    names: dict[str, str] | None = None,
    threshold: float = 2.0,
    generated_at: str | None = None,
    code_version: str | None = None,
    versions: dict | None = None,
) -> dict:
    """The results document (see docs/evaluation.md); per-outcome timings under `_timings`."""
    outcomes, timings = {}, {}
    for name in settings.outcomes:
        clock = time.perf_counter()
        outcomes[name] = evaluate_outcome(name, dm, dq, settings)
        timings[name] = time.perf_counter() - clock
    # one set of reshuffled roll-outs for all outcomes: RI p-values and family-wise adjusted
    # p-values across outcomes (evaluation/permutations.py)
    clock = time.perf_counter()
    try:
        multiple = randomization_step(dm, dq, settings, outcomes)
    except Exception as exc:  # noqa: BLE001 - the estimates stand without the RI check
        multiple = {"primary": None, "method": None, "adjusted_p": {}, "permutations": 0}
        multiple["reason"] = f"randomization inference failed: {exc}"
        tb = traceback.format_exc()
        for o in outcomes.values():
            if "reason" not in o:
                o.update(ri_p=None, adjusted_p=None, _ri_traceback=tb)
    timings["randomization_inference"] = time.perf_counter() - clock
    trends = {}
    for name in settings.outcomes:
        sp = spec(name)
        if sp.kind == "crime":
            if has_crime_data(dm):  # no zero lines for a city without crime data
                trends[name] = context.crime_trend(dm, sp.count)
        elif dq is not None and not dq.empty:
            trends[name] = context.survey_trend(dq, sp.index_name, settings.min_cell_size)
    notes = list(settings.notes)
    for name, trend in trends.items():
        if hidden := context.suppressed_count(trend):
            notes.append(
                f"{name}: {hidden} treated/comparison quarterly survey averages rest on fewer "
                f"than {settings.min_cell_size} responses and are not published (counts kept)."
            )
    source = context.rollout_source(dm, threshold)
    if source != "programs.csv":
        notes.append(f"Roll-out dates were {source}.")
    for name, o in outcomes.items():
        if "reason" in o:
            notes.append(f"{name}: {o['reason']}")
        notes += [f"{name}: {n}" for n in o.get("notes", [])]
        if settings.ri_permutations > 0 and (o.get("ri") or {}).get("reason"):
            notes.append(f"{name}: randomization check not available: {o['ri']['reason']}")
    if multiple.get("reason") and settings.ri_permutations > 0:
        notes.append(f"No randomization check: {multiple['reason']}.")
    if multiple.get("primary"):
        adjusted = len(multiple.get("adjusted_p") or {})
        notes.append(
            f"Primary outcome: {multiple['primary']}"
            + (
                f"; p-values adjusted for testing {adjusted} outcomes at once "
                f"({multiple['method']}) are given as adjusted_p."
                if adjusted > 1
                else "."
            )
        )
    return {
        "city": city,
        "generated_at": stamp(generated_at),
        "study_window": context.study_window(dm),
        "inputs": inputs or [],
        "outcomes": outcomes,
        "multiple_outcomes": multiple,
        "trends": trends,
        "rollout": context.rollout(dm, names),
        "rollout_source": source,
        "meetings": context.meetings(dm),
        "quality": quality or {},
        "run": {
            "config": config or {},
            "settings": settings.to_dict(),
            "code_version": code_version,
            "versions": versions or {},
        },
        "notes": notes,
        "_timings": timings,
    }


class Built(NamedTuple):
    """What `build_document` returns: the document, its stage timings (seconds; kept in DuckDB,
    not in results.json) and the per-outcome panel-cell hashes for `results.history`."""

    document: ResultsDocument
    timings: dict[str, float]
    cells: dict[str, dict]


@one_blas_thread()  # many small solves: BLAS threads cost more than they give (estimators.blas)
def build_document(
    dm: pd.DataFrame,
    dq: pd.DataFrame | None,
    settings: EvaluationSettings,
    *,
    shape: dict,
    shape_notes: list[str] = (),
    previous: pd.DataFrame | None = None,
    feedback: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    feedback_gaps: list[dict] | None = None,
    group_panel: pd.DataFrame | None = None,
    city_config: CityConfig | None = None,
    **meta,
) -> Built:
    """The typed results document for one run (see `engagement_eval.results`).

    `shape` (grain, analysis unit, which inputs were delivered; `warehouse.shapes.describe_shape`)
    sets the settings' grains and goes into the document whole, with `shape_notes` among the
    notes; `previous` (the previous run's `results.history` rows) gives `previous_run` and
    `changes`; `feedback` and `feedback_gaps` (the meeting-feedback panels) give
    `meeting_feedback`; `group_panel` (the survey panel by resident group) gives
    `outcomes.<index>.by_group` and `group_gaps`; `city_config` gives `data_window` and
    `timezone` (the window and zone the run used, and where they came from). `meta` is passed to `evaluate` (city, config, inputs, quality, names,
    threshold, versions, ...). Every section results.json holds is decided here, so the asset
    only reads its inputs and writes what this returns; a new section is one more line below.
    """
    settings = dataclasses.replace(
        settings,
        grain=shape["grain"],
        survey_grain=shape["survey_grain"],
        analysis_unit=shape["analysis_unit"],
        notes=(*settings.notes, *shape_notes),
    )
    results = evaluate(dm, dq, settings, **meta)
    timings = results.pop("_timings")
    results["meeting_feedback"] = meeting_feedback(
        feedback,
        dq,
        results["outcomes"],
        alpha=settings.alpha,
        min_cell_size=settings.min_cell_size,
        seed=settings.seed,
        gaps=feedback_gaps,
    )
    clock = time.perf_counter()
    add_group_results(results, group_panel, settings)
    timings["resident_groups"] = time.perf_counter() - clock
    results["shape"] = shape
    if city_config is not None:
        last = dm["month"].max() if "month" in dm and len(dm) else None
        last_month = None if last is None else pd.Timestamp(last).date()
        results["data_window"] = city_config.window_record(last_month)
        results["grain"], results["timezone"] = shape["grain"], city_config.timezone
    if not shape["meetings"]:  # the panel's zeros are "not delivered", not "no meetings held"
        results["meetings"] = []
    cells = history.fingerprints(dm, dq, results["outcomes"])
    results.update(history.compare(results, previous, cells))  # previous_run, changes
    return Built(ResultsDocument.from_dict(results), timings, cells)

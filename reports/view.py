"""Turn results.json into the report's view model: every string the template prints.

The template only lays out what this returns; all numbers are formatted and all wording chosen
here (and in `wording.py`), so tests can check them without parsing HTML.
"""

from __future__ import annotations

from reports import context_view, feedback_view, groups_view, outcome_view, summary_view
from reports.charts import month_name
from reports.names import plain_name
from reports.schema import CRIME_OUTCOMES, DEFAULT_MIN_CELL_SIZE, SURVEY_OUTCOMES
from reports.suppression import suppress_small_cells
from reports.wording import is_number, outcome_info


def _settings(results: dict) -> tuple[dict, float, int, tuple[float, float]]:
    config = (results.get("run") or {}).get("config") or {}
    model = config.get("model") or {}
    alpha = model.get("alpha", 0.05)
    alpha = alpha if is_number(alpha) and 0 < alpha < 1 else 0.05
    min_cell = model.get("min_cell_size", DEFAULT_MIN_CELL_SIZE)
    min_cell = int(min_cell) if is_number(min_cell) else DEFAULT_MIN_CELL_SIZE
    scale = (config.get("survey") or {}).get("scale") or [1, 5]
    survey_scale = (float(scale[0]), float(scale[1])) if len(scale) == 2 else (1.0, 5.0)
    return config, alpha, min_cell, survey_scale


def outcome_keys(results: dict) -> tuple[list[str], list[str]]:
    """Crime and survey outcomes to report: the standard ones always (so a missing one is
    explained), plus any extra outcome the results carry, placed by its scale."""
    outcomes = results.get("outcomes") or {}
    crime, survey = list(CRIME_OUTCOMES), list(SURVEY_OUTCOMES)
    for key, o in outcomes.items():
        if key in crime or key in survey:
            continue
        (survey if (o or {}).get("scale") == "points" else crime).append(key)
    return crime, survey


def build_view(results: dict) -> dict:
    config, alpha, min_cell, survey_scale = _settings(results)
    trends, hidden = suppress_small_cells(results.get("trends"), min_cell)
    outcomes = results.get("outcomes") or {}
    crime_keys, survey_keys = outcome_keys(results)
    window = context_view.study_window(results)
    span = context_view.rollout_span(results)
    primary = (results.get("multiple_outcomes") or {}).get("primary")

    def section(keys):
        return {
            "outcomes": [
                outcome_view.outcome_charts(k, outcomes.get(k), trends.get(k), span, survey_scale)
                for k in keys
            ],
            "table": [outcome_view.estimate_row(k, outcomes.get(k), alpha, primary) for k in keys],
            "any": any(outcome_view.has_estimate(outcomes.get(k)) for k in keys),
        }

    city = str(results.get("city") or "Unnamed city")
    through = f"data through {month_name(window[1])}" if window else "study window not recorded"
    summary = [
        outcome_view.summary_item(k, outcomes.get(k), alpha, survey_scale)
        for k in crime_keys + survey_keys
    ]
    summary, cautions = summary_view.share_cautions(summary)
    crime, survey = section(crime_keys), section(survey_keys)
    return {
        "brief_chart": _brief_chart(crime["outcomes"] + survey["outcomes"], primary),
        "city": city,
        "title": f"Community engagement program: council report for {plain_name(city)}",
        "subtitle": through,
        "generated_at": str(results.get("generated_at") or "not recorded"),
        "summary": summary,
        "summary_intro": _summary_intro(summary),
        "cautions": cautions,
        "since_last": summary_view.since_last_section(results),
        "glossary": summary_view.GLOSSARY,
        "program": context_view.program_section(results, window),
        "crime": crime,
        "survey": survey,
        "who_changed": groups_view.who_changed(results, survey_keys),  # issue 15
        "min_cell_size": min_cell,
        "hidden_cells": hidden,
        "sure": [
            outcome_view.how_sure(k, outcomes.get(k), alpha) for k in crime_keys + survey_keys
        ],
        "alpha_pct": f"{100 * (1 - alpha):.0f}%",
        "quality": context_view.quality_section(results),
        "methods": context_view.methods_section(results, config),
        "appendix": context_view.appendix_section(results, crime_keys + survey_keys, config, alpha),
        "labels": {k: outcome_info(k).label for k in crime_keys + survey_keys},
        "feedback": feedback_view.feedback_section(  # issue 15
            results, _feedback_scale(config), (config.get("feedback") or {}).get("items") or ()
        ),
    }


def _brief_chart(charts: list[dict], primary: str | None):
    """The one result chart of the brief: the primary outcome's trend, else the first shown."""
    shown = [c for c in charts if c["trend"] is not None]
    chosen = [c for c in shown if c["key"] == primary] or shown
    return chosen[0]["trend"] if chosen else None


def _feedback_scale(config: dict) -> tuple[float, float]:
    scale = (config.get("feedback") or {}).get("scale") or [1, 5]
    ok = len(scale) == 2 and all(is_number(s) for s in scale)
    return (float(scale[0]), float(scale[1])) if ok else (1.0, 5.0)


def _summary_intro(summary: list[dict]) -> str:
    n = sum(1 for s in summary if s["level"] != "unavailable")
    if n == 0:
        return "No outcome could be estimated in this run; the sections below say why."
    return (
        f"What changed in the districts after they started the program, compared with "
        f"districts that had not (yet), for {n} outcome{'s' if n != 1 else ''}."
    )

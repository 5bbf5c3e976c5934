"""The rules a suite can state for a config, before any data is read.

The Dagster asset checks (`assets/checks.py`) are declared from this list when the code
location loads, so a check exists for every rule whether or not its optional column arrives.
"""

from __future__ import annotations

from engagement_eval.config import CityConfig
from engagement_eval.contract import INPUTS
from quality import gaps
from quality.rules import Rule
from quality.settings import gate_settings
from quality.suites import SUITES, SuiteContext


def declared_rules(input_name: str, config: CityConfig) -> list[Rule]:
    """Every rule the suite can state for this config (optional columns assumed delivered)."""
    spec = INPUTS[input_name]
    ctx = SuiteContext(
        input_name=input_name,
        settings=gate_settings(config),
        columns=spec.columns(
            config.survey.items, tuple(config.survey.indices), config.feedback.items
        ),  # survey items, indices and feedback items expanded
        survey_items=tuple(config.survey.items),
        date_formats=dict(config.date_formats.get(input_name, {})),
        feedback_scale=config.feedback.scale,
    )
    rules = SUITES[input_name](ctx)
    if input_name == "crime_incidents":
        rules.append(gaps.gap_rule(ctx.settings))
    if input_name == "crime_counts":  # offenses as published, mapped like incidents
        from quality.count_gaps import gap_rule as count_gap_rule

        rules.append(count_gap_rule())
    return rules

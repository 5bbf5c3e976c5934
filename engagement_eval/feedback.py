"""The `feedback:` section of the city config: meeting feedback forms (issue 15, part 1).

Residents rate a meeting on a few items (e.g. "I felt heard", 1-5) and may name a topic and
write a comment. The items and the scale differ by city, and topics are free text, so the
config names the items, the scale, and how topic labels map onto a small fixed set of themes
(anything unmapped counts as `other`, so a new label never drops a form from the shares).
Kept apart from `config.py` so that file only gains one section; the comment column is never
configured here because it is never read past `raw` (docs/data_contract.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engagement_eval.config_schema import (
    Invalid,
    build,
    defaults,
    identifiers,
    key,
    mapping,
    scale_range,
)

THEMES = (
    "violence",
    "property",
    "drugs",
    "traffic",
    "disorder",
    "youth",
    "police_conduct",
    "other",
)


def _theme(v: Any) -> str:
    if str(v).lower() not in THEMES:
        raise Invalid(f"one of: {', '.join(THEMES)} for every label")
    return str(v).lower()


def _topic_map(v: Any) -> dict[str, str]:
    """Label -> theme, labels matched after trimming, case-insensitively (upper(trim))."""
    themes = mapping(_theme, "a mapping of topic label -> theme, e.g. {Burglary: property}")(v)
    return {label.strip().upper(): theme for label, theme in themes.items()}


@dataclass(frozen=True)
class FeedbackConfig:
    """The `feedback:` section; each key declared once (engagement_eval.config_schema.key)."""

    items: tuple[str, ...] = key(
        ["felt_heard", "concerns_addressed", "would_attend_again"],
        identifiers(),
        "rating columns of `meeting_feedback` (issue 15); names follow the survey item rule",
    )
    scale: tuple[float, float] = key(
        [1, 5],
        scale_range(),
        "ratings off this scale are set aside by the gate (`<item>_in_scale`, blocking)",
    )
    topic_map: dict[str, str] = key(
        {},
        _topic_map,
        f"`feedback.topic_map.<label>`: theme ({', '.join(THEMES)}); labels match after "
        "trimming, case-insensitively; a label equal to a theme passes through; anything else "
        "counts as `other`",
    )

    def theme_of(self, topic: str | None) -> str | None:
        """The theme a delivered topic counts under (None: no topic given)."""
        if topic is None or not str(topic).strip():
            return None
        label = str(topic).strip()
        mapped = self.topic_map.get(label.upper())
        if mapped:
            return mapped
        return label.lower() if label.lower() in THEMES else "other"


# The section's defaults as YAML (generated from the schema above).
FEEDBACK_DEFAULTS: dict[str, Any] = defaults(FeedbackConfig)


def feedback_config(section: Any, source: str) -> FeedbackConfig:
    """Validate a `feedback:` mapping (missing keys take their defaults)."""
    return build(FeedbackConfig, section, source, "feedback.")

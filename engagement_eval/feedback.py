"""The `feedback:` section of the city config: meeting feedback forms (issue 15, part 1).

Residents rate a meeting on a few items (e.g. "I felt heard", 1-5) and may name a topic and
write a comment. The items and the scale differ by city, and topics are free text, so the
config names the items, the scale, and how topic labels map onto a small fixed set of themes
(anything unmapped counts as `other`, so a new label never drops a form from the shares).
Kept apart from `config.py` so that file only gains one section; the comment column is never
configured here because it is never read past `raw` (docs/data_contract.md).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from engagement_eval.errors import UserError

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
FEEDBACK_DEFAULTS: dict[str, Any] = {
    "items": ["felt_heard", "concerns_addressed", "would_attend_again"],
    "scale": [1, 5],
    "topic_map": {},
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class FeedbackConfig:
    items: tuple[str, ...] = tuple(FEEDBACK_DEFAULTS["items"])
    scale: tuple[float, float] = (1.0, 5.0)
    topic_map: dict[str, str] = field(default_factory=dict)  # upper(trim(label)) -> theme

    def theme_of(self, topic: str | None) -> str | None:
        """The theme a delivered topic counts under (None: no topic given)."""
        if topic is None or not str(topic).strip():
            return None
        label = str(topic).strip()
        mapped = self.topic_map.get(label.upper())
        if mapped:
            return mapped
        return label.lower() if label.lower() in THEMES else "other"


def feedback_config(section: Any, source: str) -> FeedbackConfig:
    """Validate the merged `feedback:` section (defaults already applied)."""
    if not isinstance(section, dict):
        raise UserError(
            f"feedback in {source} must be a mapping of keys, got {type(section).__name__}",
            "e.g. feedback: {items: [felt_heard], scale: [1, 5], topic_map: {Burglary: property}}",
        )
    unknown = sorted(str(k) for k in set(section) - set(FEEDBACK_DEFAULTS))
    if unknown:
        raise UserError(
            f"unknown key(s) {', '.join('feedback.' + k for k in unknown)} in {source}",
            f"feedback takes: {', '.join(FEEDBACK_DEFAULTS)}",
        )
    items = tuple(str(i) for i in section.get("items") or ())
    if not items or any(not _NAME.fullmatch(i) for i in items) or len(set(items)) < len(items):
        raise UserError(
            f"feedback.items {list(items)} in {source} must be a non-empty list of distinct "
            "plain names",
            "use letters, digits and underscores, e.g. [felt_heard, concerns_addressed]",
        )
    scale = section.get("scale") or []
    if (
        not isinstance(scale, list | tuple)
        or len(scale) != 2
        or not all(
            isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s)
            for s in scale
        )
        or scale[0] >= scale[1]
    ):
        raise UserError(
            f"feedback.scale {scale!r} in {source} must be [low, high] with low < high",
            "e.g. feedback.scale: [1, 5]",
        )
    topic_map = section.get("topic_map") or {}
    if not isinstance(topic_map, dict):
        raise UserError(
            f"feedback.topic_map in {source} must map topic labels to themes",
            "e.g. feedback.topic_map: {Burglary: property, Speeding: traffic}",
        )
    mapped = {}
    for label, theme in topic_map.items():
        if str(theme).lower() not in THEMES:
            raise UserError(
                f"feedback.topic_map[{label!r}] = {theme!r} in {source} is not a theme",
                f"map every label to one of: {', '.join(THEMES)}",
            )
        mapped[str(label).strip().upper()] = str(theme).lower()
    return FeedbackConfig(items, (float(scale[0]), float(scale[1])), mapped)

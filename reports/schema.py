"""The report's input is the results document; its schema is `engagement_eval.results`.

This module only re-exports what the report modules use, so there is one description of
results.json (the dataclasses there) and one set of defaults (`engagement_eval.config.DEFAULTS`).
The report keeps reading plain dicts (`ResultsDocument.to_dict()` or a results.json loaded from
disk): every key is optional, and a missing key renders as a sentence saying what is missing.
"""

from __future__ import annotations

from engagement_eval.config import DEFAULTS
from engagement_eval.results import (
    CRIME_OUTCOMES,
    SURVEY_OUTCOMES,
    OutcomeResult,
    ResultsDocument,
    Verdict,
)

DEFAULT_MIN_CELL_SIZE: int = DEFAULTS["model"]["min_cell_size"]

__all__ = [
    "CRIME_OUTCOMES",
    "DEFAULT_MIN_CELL_SIZE",
    "SURVEY_OUTCOMES",
    "OutcomeResult",
    "ResultsDocument",
    "Verdict",
]

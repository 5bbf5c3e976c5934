"""results.json: assemble the document and write it deterministically.

Byte-identical for the same inputs, seed and config: keys sorted, two-space indent, every
float rounded to `SIGNIFICANT_DIGITS` significant digits (last-bit differences from BLAS
threading never reach the file), NaN/inf written as null (valid JSON), no wall-clock values
except `generated_at`, which is `SOURCE_DATE_EPOCH` when that variable is set (the
reproducible-builds convention; read by pipelines.settings and passed in) or the value the caller passes. Stage timings live in DuckDB
(`results.run_metadata`) and are added to the report's input, not to this file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from engagement_eval.results import ResultsDocument, Section

SIGNIFICANT_DIGITS = 10
PRIVATE_PREFIX = "_"


def clean(value):
    """JSON-safe, deterministic copy: floats rounded, NaN -> None, private keys dropped."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items() if not str(k).startswith(PRIVATE_PREFIX)}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        if not math.isfinite(v):
            return None
        return float(f"{v:.{SIGNIFICANT_DIGITS}g}") if v != 0 else 0.0
    return value


def generated_at(explicit: str | None = None, source_date_epoch: str | None = None) -> str:
    """`explicit`, else the SOURCE_DATE_EPOCH given (read by pipelines.settings), else now."""
    if explicit:
        return explicit
    epoch = source_date_epoch
    moment = (
        datetime.fromtimestamp(int(epoch), UTC) if epoch and epoch.isdigit() else datetime.now(UTC)
    )
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def dumps(results: dict | Section) -> str:
    if isinstance(results, Section):
        results = results.to_dict()
    return (
        json.dumps(clean(results), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        + "\n"
    )


def write_results_json(results: dict | Section, path: str | Path) -> Path:
    """Write atomically (temp file in the same folder, then replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(results)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        umask = os.umask(0)  # mkstemp's 0600 would hide it from readers of the report (0644)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def shape_errors(doc: dict | ResultsDocument) -> list[str]:
    """Departures from the document type `engagement_eval.results.ResultsDocument` (empty when
    the document conforms): missing required keys and keys the type does not name."""
    if not isinstance(doc, ResultsDocument):
        doc = ResultsDocument.from_dict(doc)
    return doc.problems()

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


def dumps(results: dict) -> str:
    return (
        json.dumps(clean(results), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        + "\n"
    )


def write_results_json(results: dict, path: str | Path) -> Path:
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


REQUIRED_OUTCOME_KEYS = (
    "scale",
    "estimator",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "pre_trend_p",
    "twfe_estimate",
    "mde",
    "honestdid_breakdown",
    "event_study",
)


def shape_errors(doc: dict) -> list[str]:
    """Differences from the issue-5 shape (empty when the document conforms)."""
    errors = [
        f"missing top-level key {k!r}"
        for k in ("city", "generated_at", "inputs", "outcomes", "quality")
        if k not in doc
    ]
    for i, item in enumerate(doc.get("inputs") or []):
        if set(item) < {"file", "sha256", "rows"}:
            errors.append(f"inputs[{i}] lacks file/sha256/rows")
    for name, o in (doc.get("outcomes") or {}).items():
        if "reason" in o:
            continue
        errors += [f"outcomes.{name} lacks {k!r}" for k in REQUIRED_OUTCOME_KEYS if k not in o]
        if o.get("scale") not in ("proportional", "points"):
            errors.append(f"outcomes.{name}.scale is {o.get('scale')!r}")
        for j, p in enumerate(o.get("event_study") or []):
            if set(p) < {"event_time", "estimate", "ci_low", "ci_high"}:
                errors.append(f"outcomes.{name}.event_study[{j}] lacks a key")
    return errors

"""Settings of one environment: where the city's files are and which DuckDB file it writes.

Read from arguments or the ENGAGEMENT_EVAL_* environment variables (DATA, CONFIG, OUT, DUCKDB,
LOCK_TIMEOUT). The Dagster resources that carry them into the assets are in
`assets/resources.py`; `pipelines/definitions.py` binds the two.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engagement_eval.errors import UserError
from warehouse.connection import DEFAULT_LOCK_TIMEOUT_SECONDS

DEFAULT_DATA_DIR = "data/demo_city"


@dataclass(frozen=True)
class Settings:
    """Paths for one environment, from arguments or ENGAGEMENT_EVAL_* environment variables."""

    data_dir: str
    config_path: str | None
    out_dir: str
    duckdb_path: str
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS

    @classmethod
    def from_env(
        cls, data_dir: str | None = None, config_path: str | None = None, out_dir: str | None = None
    ) -> Settings:
        data = data_dir or os.environ.get("ENGAGEMENT_EVAL_DATA") or DEFAULT_DATA_DIR
        config = config_path or os.environ.get("ENGAGEMENT_EVAL_CONFIG") or None
        out = out_dir or os.environ.get("ENGAGEMENT_EVAL_OUT") or str(Path("out") / Path(data).name)
        db = os.environ.get("ENGAGEMENT_EVAL_DUCKDB") if out_dir is None else None
        db = db or str(Path(out) / "engagement_eval.duckdb")
        return cls(data, config, out, db, _lock_timeout())


def _lock_timeout() -> float:
    text = os.environ.get("ENGAGEMENT_EVAL_LOCK_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise UserError(
            f"ENGAGEMENT_EVAL_LOCK_TIMEOUT={text!r} is not a number of seconds between 0 and 3600",
            "unset it (default 10 s) or set it to e.g. 30",
        )
    return value


# The environment variables that point a process at one environment's folders. Tests point
# every one of them at temporary folders (tests/conftest.py), so they never write the user's.
ENV_DAGSTER_HOME = "DAGSTER_HOME"
ENV_DATA = "ENGAGEMENT_EVAL_DATA"
ENV_CONFIG = "ENGAGEMENT_EVAL_CONFIG"
ENV_OUT = "ENGAGEMENT_EVAL_OUT"
ENV_DUCKDB = "ENGAGEMENT_EVAL_DUCKDB"
ENV_REPORTS = "ENGAGEMENT_EVAL_REPORTS"

"""Settings of one environment: the one module that reads environment variables.

Where the city's files are, which DuckDB file it writes, where results and reports go, and the
few knobs of the machine (lock timeout, DuckDB memory limit, the reproducible-builds clock).
Every other module receives these as arguments or resource fields (a test, tests/
test_environment_reading.py, keeps it so): an environment variable read deep inside a step is
invisible in the Dagster UI and makes a run depend on the shell it was started from.

| variable | default | meaning |
|---|---|---|
| ENGAGEMENT_EVAL_DATA | data/demo_city | the city folder |
| ENGAGEMENT_EVAL_CONFIG | DATA/city.yaml | the city config |
| ENGAGEMENT_EVAL_OUT | out/<city folder name> | results.json and the DuckDB file |
| ENGAGEMENT_EVAL_DUCKDB | OUT/engagement_eval.duckdb | the DuckDB file (Dagster code location) |
| ENGAGEMENT_EVAL_REPORTS | OUT/reports | root of the council reports |
| ENGAGEMENT_EVAL_LOCK_TIMEOUT | 10 | seconds to wait for the DuckDB write lock |
| ENGAGEMENT_EVAL_DUCKDB_MEMORY_LIMIT | DuckDB's (80% of RAM) | e.g. 3GB |
| SOURCE_DATE_EPOCH | the clock | results.json's generated_at (reproducible builds) |
| DAGSTER_HOME | none (ephemeral instance) | where `run` keeps Dagster's run history |

The Dagster resources that carry them into the assets are in `assets/resources.py`;
`pipelines/definitions.py` binds the two.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engagement_eval.errors import UserError
from warehouse.connection import DEFAULT_LOCK_TIMEOUT_SECONDS

DEFAULT_DATA_DIR = "data/demo_city"


def _env(name: str) -> str | None:
    """The variable's value, None when unset or empty."""
    return os.environ.get(name) or None


@dataclass(frozen=True)
class Settings:
    """Paths for one environment, from arguments or ENGAGEMENT_EVAL_* environment variables."""

    data_dir: str
    config_path: str | None
    out_dir: str
    duckdb_path: str
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS
    duckdb_memory_limit: str | None = None  # None: DuckDB's own default
    # results.json's folder: --out or ENGAGEMENT_EVAL_OUT, else the DuckDB file's folder
    results_dir: str | None = None
    reports_dir: str | None = None  # None: <results folder>/reports
    source_date_epoch: str | None = None  # None: results.json is stamped with the clock
    dagster_home: str | None = None

    @classmethod
    def from_env(
        cls, data_dir: str | None = None, config_path: str | None = None, out_dir: str | None = None
    ) -> Settings:
        data = data_dir or _env("ENGAGEMENT_EVAL_DATA") or DEFAULT_DATA_DIR
        config = config_path or _env("ENGAGEMENT_EVAL_CONFIG")
        explicit_out = out_dir or _env("ENGAGEMENT_EVAL_OUT")
        out = explicit_out or str(Path("out") / Path(data).name)
        db = _env("ENGAGEMENT_EVAL_DUCKDB") if out_dir is None else None
        db = db or str(Path(out) / "engagement_eval.duckdb")
        return cls(
            data,
            config,
            out,
            db,
            _lock_timeout(),
            duckdb_memory_limit=_env("ENGAGEMENT_EVAL_DUCKDB_MEMORY_LIMIT"),
            results_dir=explicit_out,
            reports_dir=_env("ENGAGEMENT_EVAL_REPORTS"),
            source_date_epoch=_env("SOURCE_DATE_EPOCH"),
            dagster_home=_env("DAGSTER_HOME"),
        )


def validate_database(db_argument: str | None) -> str:
    """`engagement-eval validate`'s database: --db, else ENGAGEMENT_EVAL_DUCKDB, else memory."""
    return db_argument or _env("ENGAGEMENT_EVAL_DUCKDB") or ":memory:"


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

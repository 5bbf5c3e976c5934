"""Load a city folder straight through the SQL layer (no Dagster), for fast tests."""

from datetime import datetime
from pathlib import Path

from engagement_eval.config import load_config
from engagement_eval.contract import INPUTS
from warehouse.ingest import PartitionScope, build_staging, delivered_files, load_raw

DATA = Path(__file__).resolve().parents[1] / "data"


def month_keys(start: str, end: str) -> list[str]:
    y, m = int(start[:4]), int(start[5:])
    out = []
    while f"{y:04d}-{m:02d}" <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def ingest(con, data_dir, keys, run_keys=None, loaded_at=None, inputs=None):
    """Load raw + staging for every input; partitioned inputs only for `run_keys`."""
    config = load_config(None, data_dir)
    run_keys = keys if run_keys is None else run_keys
    loaded_at = loaded_at or datetime(2024, 1, 1)
    for name in inputs or INPUTS:
        spec = INPUTS[name]
        files = delivered_files(con, spec, config, data_dir)
        scope = (
            PartitionScope(run_keys, keys[0], keys[-1], complete=run_keys == keys)
            if spec.partitioned
            else None
        )
        load_raw(con, spec, config, files, loaded_at, scope)
        build_staging(con, spec, config, files, scope)
    return config

"""Sensor: start a run when a contract file (or city.yaml) appears or changes in the city
folder. The cursor stores, per file, its size, mtime and sha256; the hash is only recomputed
when size or mtime moved, so an idle folder costs a directory listing per tick. A change
re-runs the whole window in one run, because a re-delivered export can correct any month."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from engagement_eval.config import CONFIG_FILE_NAME
from engagement_eval.contract import INPUTS
from pipelines.jobs import ALL_ASSETS_JOB
from pipelines.partitions import range_tags
from warehouse.sql import sha256_file


def folder_state(data_dir: str | Path, previous: dict | None = None) -> dict[str, list]:
    """{file name: [size, mtime_ns, sha256]} for every contract file in the folder."""
    previous = previous or {}
    root = Path(data_dir)
    if not root.is_dir():
        return {}
    names = {CONFIG_FILE_NAME}
    paths = [root / CONFIG_FILE_NAME] if (root / CONFIG_FILE_NAME).is_file() else []
    for spec in INPUTS.values():
        for pattern in spec.file_patterns():
            paths += [p for p in root.glob(pattern) if p.is_file() and p.name not in names]
            names.update(p.name for p in root.glob(pattern))
    state = {}
    for path in sorted(paths):
        stat = path.stat()
        old = previous.get(path.name)
        if old and old[0] == stat.st_size and old[1] == stat.st_mtime_ns:
            state[path.name] = old
        else:
            state[path.name] = [stat.st_size, stat.st_mtime_ns, sha256_file(path)]
    return state


def changed_files(old: dict, new: dict) -> list[str]:
    return sorted(n for n in new if n not in old or old[n][2] != new[n][2])


def build_sensors(partitions_def: dg.PartitionsDefinition, data_dir: str) -> list:
    @dg.sensor(
        name="new_city_files",
        job_name=ALL_ASSETS_JOB,
        minimum_interval_seconds=60,
        description=f"Runs the whole window when files in {Path(data_dir).name}/ are added or changed.",
    )
    def new_city_files(context: dg.SensorEvaluationContext):
        old = json.loads(context.cursor) if context.cursor else {}
        new = folder_state(data_dir, old)
        changed = changed_files(old, new)
        if not changed:
            context.update_cursor(json.dumps(new))  # mtimes may move without content changes
            return dg.SkipReason("no new or changed files")
        keys = partitions_def.get_partition_keys()
        if not keys:
            return dg.SkipReason("the study window has no complete month yet")
        digest = hashlib.sha256(json.dumps({n: new[n][2] for n in new}, sort_keys=True).encode())
        context.update_cursor(json.dumps(new))
        return dg.RunRequest(
            run_key=f"files-{digest.hexdigest()[:16]}",
            tags=range_tags(keys[0], keys[-1])
            | {"engagement_eval/changed": ",".join(changed)[:200]},
        )

    return [new_city_files]

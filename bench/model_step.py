"""The model step alone, on a warehouse that already holds the marts, with its stage timings.

    python -m bench.model_step --data bench/cities/beat --db OUT/engagement_eval.duckdb \
        [--model '{"ri_permutations": 0}'] [--profile 40]

Why: the model step is the part of a run whose cost grows with districts x months x outcomes
(jackknife refits, randomization inference); this runs exactly what the `results.evaluation`
asset runs (`evaluation.run.build_document` on the same reads, `warehouse.model_inputs`) without Dagster, ingest or the
gate, so a regression can be found in minutes (the beat-level one of issue 17 was found this
way). Build the warehouse first with
`python -m bench.stages dagster --data DIR --out OUT --groups raw,staging,quality,marts`.
Prints wall and CPU seconds, peak RSS, the step's stage timings and each outcome's; with
`--profile N` also the N most expensive functions (cProfile, cumulative).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import time

import duckdb

from engagement_eval.config import load_config
from evaluation.run import build_document
from evaluation.settings import settings_from_config
from warehouse.model_inputs import read_model_inputs


def run(data: str, db: str, model: dict | None, profile: int) -> dict:
    config = load_config(None, data).with_overrides({"model": model} if model else None)
    settings = settings_from_config(config)
    con = duckdb.connect(db, read_only=True)
    try:
        read = read_model_inputs(con, config)
    finally:
        con.close()
    profiler = cProfile.Profile() if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    built = build_document(
        settings=settings,
        **read,
        city_config=config,
        city=config.city,
        config=config.raw,
        threshold=config.attendance_threshold_per_1000,
    )
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
    return {
        "seconds": round(time.perf_counter() - wall, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "panel_rows": {
            "district_month": len(read["dm"]),
            "survey": 0 if read["dq"] is None else len(read["dq"]),
        },
        "stages": {k: round(v, 2) for k, v in built.timings.items()},
        "by_outcome": {
            name: {k: round(v, 2) for k, v in o.private.get("_timings", {}).items()}
            for name, o in built.document.outcomes.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the city folder (its city.yaml)")
    parser.add_argument("--db", required=True, help="a warehouse holding the marts")
    parser.add_argument("--model", default=None, help="JSON of model: overrides")
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest calls")
    args = parser.parse_args()
    model = json.loads(args.model) if args.model else None
    print(json.dumps(run(args.data, args.db, model, args.profile), indent=1))


if __name__ == "__main__":
    main()

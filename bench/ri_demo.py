"""Time the model step's randomization inference on a finished run's warehouse, and save its
numbers so two code versions can be compared exactly (issue 17: RI faster, same numbers).
Works on any warehouse built up to the marts, e.g. the beat-level city's (bench/cities.py).

    python -m bench.ri_demo --db OUT/engagement_eval.duckdb --config DATA/city.yaml \
        [--save numbers.json] [--compare other.json] [--profile]

`--compare` fails (exit 1) when any p-value, adjusted p-value, observed statistic or null draw
differs by more than 1e-10 from the saved run's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time


def _numbers(outcomes: dict, section: dict, draws: dict) -> dict:
    return {
        "section": section,
        "ri": {n: o.get("ri") for n, o in outcomes.items()},
        "draws": draws,
    }


def _close(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        bad = [] if a.keys() == b.keys() else [f"{path}: keys {sorted(a)} vs {sorted(b)}"]
        return bad + [x for k in a.keys() & b.keys() for x in _close(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} vs {len(b)}"]
        return [
            x
            for i, (u, v) in enumerate(zip(a, b, strict=True))
            for x in _close(u, v, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return []
        return [] if abs(a - b) <= 1e-10 * max(1.0, abs(a)) else [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--save")
    ap.add_argument("--compare")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)

    import duckdb

    import evaluation.permutations as perm
    from engagement_eval.config import load_config
    from evaluation.settings import settings_from_config
    from warehouse.reads import read_panels

    with duckdb.connect(args.db, read_only=True) as con:
        dm, dq = read_panels(con)
    settings = settings_from_config(load_config(args.config))
    outcomes = {n: {} for n in settings.outcomes}
    draws: dict[str, list[float]] = {}
    original = perm._draws

    def recording(fam, name, orders, stat):
        out = original(fam, name, orders, stat)
        draws[name] = [float(x) for x in out]
        return out

    perm._draws = recording
    started = time.perf_counter()
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        section = prof.runcall(perm.randomization_step, dm, dq, settings, outcomes)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    else:
        section = perm.randomization_step(dm, dq, settings, outcomes)
    seconds = time.perf_counter() - started
    numbers = json.loads(json.dumps(_numbers(outcomes, section, draws), default=float))
    per_outcome = {
        n: round(o["_timings"]["randomization_inference"], 3)
        for n, o in outcomes.items()
        if "randomization_inference" in o.get("_timings", {})
    }
    print(
        json.dumps(
            {
                "ri_seconds": round(seconds, 3),
                "ri_seconds_per_outcome": per_outcome,
                "adjusted_p": section["adjusted_p"],
            }
        )
    )
    if args.save:
        with open(args.save, "w") as fh:
            json.dump(numbers, fh)
    if args.compare:
        with open(args.compare) as fh:
            bad = _close(json.load(fh), numbers)
        print("\n".join(bad[:20]) if bad else "identical to 1e-10")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

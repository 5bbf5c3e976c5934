"""Ingest + quality gate against the store floor, whole process, side by side (issue 17).

`engagement-eval validate --db FILE` (pre-flight, raw and staging loads of every input,
the quality gate with its quarantine tables) is timed against `bench.stages store_floor`
(DuckDB alone storing every delivered row as text with file and row number, a typed copy
and the district-month panel, in one process), each into a fresh database file. They run
alternately for `--repeats` rounds after one unmeasured warm-up of each (file cache,
bytecode); the ratio is taken per round and the median reported with the load average.

  python -m bench.bench_gate                     # city7m (~7 M incidents), 3 rounds
  python -m bench.bench_gate --city demo --repeats 2
  python -m bench.bench_gate --ours-root DIR     # validate from another checkout

Results: bench/results/gate_<city>.json; the last stdout line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from datetime import UTC, datetime
from pathlib import Path

from bench import cities
from bench.measure import ROOT, load_average, machine, run_measured

WORK = ROOT / "bench" / "tmp" / "gate"
RESULTS = ROOT / "bench" / "results"
CHILD_ENV = {"PYTHONDONTWRITEBYTECODE": ""}
GATE_LINE = re.compile(r"^\s+(\w+)\s+.*\[([\d.]+)s\]$")
CITIES = {"city7m": cities.city7m, "demo": cities.demo, "beat": cities.beat}


def _run(args: list[str], db_name: str, cwd: Path | None = None) -> dict:
    db = WORK / db_name
    db.unlink(missing_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    figures = run_measured([*args, "--db", str(db)], CHILD_ENV, cwd)
    db.unlink(missing_ok=True)
    if figures["exit"] != 0:
        raise SystemExit(f"{figures['cmd']} failed:\n{figures['stderr_tail']}")
    gate = {
        m.group(1): float(m.group(2))
        for m in map(GATE_LINE.match, figures.pop("stdout").splitlines())
        if m
    }
    keep = ("seconds", "cpu_seconds", "peak_rss_mib", "load_average_before")
    return {k: figures[k] for k in keep} | ({"gate_seconds_by_input": gate} if gate else {})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_gate")
    parser.add_argument("--city", choices=sorted(CITIES), default="city7m")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ours-root", default=None, help="checkout whose validate runs")
    args = parser.parse_args(argv)
    root = Path(args.ours_root).resolve() if args.ours_root else None
    data = CITIES[args.city]()
    floor_args = ["bench.stages", "store_floor", "--data", str(data)]
    validate_args = ["pipelines.cli", "validate", "--data", str(data)]
    started = datetime.now(UTC).isoformat(timespec="seconds")
    _run(floor_args, "floor.duckdb")  # warm-up, not timed
    _run(validate_args, "validate.duckdb", root)
    rounds = []
    for i in range(args.repeats):
        floor = _run(floor_args, "floor.duckdb")
        validate = _run(validate_args, "validate.duckdb", root)
        rounds.append(
            {"floor": floor, "validate": validate, "ratio": validate["seconds"] / floor["seconds"]}
        )
        print(
            f"[gate] round {i + 1}: validate {validate['seconds']:.2f} s | store floor"
            f" {floor['seconds']:.2f} s | load {floor['load_average_before']}",
            flush=True,
        )
    summary = {
        "benchmark": "gate",
        "city": args.city,
        "ours_root": str(root or ROOT),
        "repeats": args.repeats,
        "ratio_to_store_floor": round(statistics.median(r["ratio"] for r in rounds), 2),
        "cpu_ratio_to_store_floor": round(
            statistics.median(
                r["validate"]["cpu_seconds"] / r["floor"]["cpu_seconds"] for r in rounds
            ),
            2,
        ),
        "median_seconds": {
            side: statistics.median(r[side]["seconds"] for r in rounds)
            for side in ("validate", "floor")
        },
        "median_cpu_seconds": {
            side: statistics.median(r[side]["cpu_seconds"] for r in rounds)
            for side in ("validate", "floor")
        },
    }
    report = {"measured_at": started, "machine": machine(), "load_average_after": load_average()}
    report |= summary | {"rounds": rounds}
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if root is None else "_other_root"
    (RESULTS / f"gate_{args.city}{suffix}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary))
    return report


if __name__ == "__main__":
    main()

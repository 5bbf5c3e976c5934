"""`make bench`: the three figures issue 17 asks for, each measured side by side in one run.

1. CS estimator, whole process, against csdid (`bench.bench_cs_scale`, 100,000 x 40);
2. `engagement-eval validate` against the DuckDB store floor (`bench.bench_gate`, ~7 M
   incidents);
3. the demo city's full `engagement-eval run`, warm (one unmeasured run first), the median of
   `--demo-runs` runs (each into a fresh output folder and Dagster home), with the time per
   stage of the median run.

Absolute times depend on what else runs on the machine; the load average is printed with
every figure. The ratios alternate the two sides round by round so both see the same load.
`--quick` uses 20,000 units and the demo city for the gate ratio (about 3 minutes).
Writes bench/results/summary.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import UTC, datetime

from bench import bench_cs_scale, bench_gate, cities
from bench.measure import ROOT, load_average, machine
from bench.run_all import whole_run

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "tmp" / "summary"


def demo_run(runs: int = 3) -> dict:
    data = cities.demo()
    shutil.rmtree(WORK, ignore_errors=True)
    whole_run(data, WORK / "warmup", "summary_warmup")  # bytecode, file cache
    measured = []
    for i in range(runs):
        figures = whole_run(data, WORK / f"run{i}", "summary")
        shutil.rmtree(WORK / f"run{i}", ignore_errors=True)
        if figures["exit"] != 0:
            raise SystemExit(f"demo run failed:\n{figures['stderr_tail']}")
        measured.append(figures)
    shutil.rmtree(WORK, ignore_errors=True)
    median = sorted(measured, key=lambda f: f["seconds"])[len(measured) // 2]
    keep = ("seconds", "cpu_seconds", "peak_rss_mib", "load_average_before", "stages", "steps")
    keep += ("model_seconds_by_outcome",)
    out = {k: median[k] for k in keep}
    out["all_seconds"] = [f["seconds"] for f in measured]
    out["all_load_averages_before"] = [f["load_average_before"] for f in measured]
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.summary")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--demo-runs", type=int, default=3, help="measured demo runs (median)")
    parser.add_argument(
        "--reuse-ratios",
        action="store_true",
        help="take the two ratios from their last result files; measure only the demo run",
    )
    args = parser.parse_args(argv)
    reps = ["--repeats", str(args.repeats)]
    started = datetime.now(UTC).isoformat(timespec="seconds")
    units, city = ("20000", "demo") if args.quick else ("100000", "city7m")
    if args.reuse_ratios:
        cs = json.loads((RESULTS / f"cs_scale_{units}.json").read_text())
        gate = json.loads((RESULTS / f"gate_{city}.json").read_text())
    else:
        cs = bench_cs_scale.main(["--units", units, *reps])
        gate = bench_gate.main(["--city", city, *reps])
    demo = demo_run(args.demo_runs)
    lines = [
        f"CS estimator vs csdid ({cs['units']:,} units x {cs['periods']} periods, whole"
        f" process): {cs['speedup_vs_csdid']}x faster in wall time, {cs['cpu_speedup_vs_csdid']}x"
        f" in CPU time, peak memory"
        f" {cs['memory_ratio_ours_to_csdid']}x csdid's (median of {cs['repeats']} rounds)",
        f"validate vs store floor ({gate['city']}): {gate['ratio_to_store_floor']}x wall,"
        f" {gate['cpu_ratio_to_store_floor']}x CPU"
        f" (validate {gate['median_seconds']['validate']:.1f} s, floor"
        f" {gate['median_seconds']['floor']:.1f} s)",
        f"demo run, warm: {demo['seconds']:.1f} s wall, median of"
        f" {', '.join(f'{s:.1f}' for s in demo['all_seconds'])} ("
        + ", ".join(f"{k} {v:.1f}" for k, v in demo["stages"].items())
        + ")",
        f"load average now {load_average()} (2 cores; absolute times are under this load)",
    ]
    for outcome, stages in demo["model_seconds_by_outcome"].items():
        costly = sorted(stages.items(), key=lambda kv: -kv[1])[:4]
        lines.insert(
            -1, f"  model step, {outcome}: " + ", ".join(f"{k} {v:.1f} s" for k, v in costly)
        )
    summary = {
        "measured_at": started,
        "machine": machine(),
        "cs_vs_csdid": {
            k: cs[k]
            for k in ("units", "periods", "speedup_vs_csdid", "cpu_speedup_vs_csdid", "median")
        },
        "validate_vs_store_floor": {
            k: gate[k]
            for k in ("city", "ratio_to_store_floor", "cpu_ratio_to_store_floor", "median_seconds")
        },
        "demo_run": demo,
        "lines": lines,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(["", *lines]))
    return summary


if __name__ == "__main__":
    main()

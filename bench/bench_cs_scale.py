"""CS estimator at scale, whole process: `engagement-eval estimate` against csdid (issue 17).

Both sides are complete processes doing the same work on the same Parquet panel: read it,
fit every ATT(g,t) (never-treated comparisons, doubly robust, analytic standard errors) and
the simple, dynamic and group aggregations, write the numbers. Each runs in its own child
(wall time, CPU time and peak resident memory from `wait4`), alternating ours / csdid for
`--repeats` rounds after one unmeasured warm-up each, so a busy machine slows both alike;
the ratio is taken per round and the median reported, with the load average. Before any
time is reported the two outputs are compared: ATT(g,t), SEs and all aggregations must agree
to 1e-8.

  python -m bench.bench_cs_scale                     # 100,000 units x 40 periods, 3 rounds
  python -m bench.bench_cs_scale --units 20000 --repeats 2
  python -m bench.bench_cs_scale --ours-root DIR     # time another checkout's code

Results: bench/results/cs_scale_<units>.json; the last stdout line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.measure import ROOT, load_average, machine, run_measured

WORK = ROOT / "bench" / "tmp" / "cs_scale"
RESULTS = ROOT / "bench" / "results"
TOLERANCE = 1e-8
# Children write bytecode like a normal install would; the warm-up run fills the cache.
CHILD_ENV = {"PYTHONDONTWRITEBYTECODE": ""}


def make_panel(n_units: int, n_periods: int) -> Path:
    """The benchmark panel (5 cohorts, 30 % never treated), written once and reused."""
    from simulator.panel_dgp import simulate_staggered_panel

    path = WORK / f"panel_{n_units}x{n_periods}.parquet"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    cohorts = tuple(int(c) for c in np.linspace(n_periods // 5, 4 * n_periods // 5, 5))
    df, _ = simulate_staggered_panel(
        n_units=n_units, n_periods=n_periods, cohorts=cohorts, seed=20240101
    )
    df.to_parquet(path, index=False)
    return path


def ours_args(panel: Path, out: Path) -> list[str]:
    return [
        "pipelines.cli", "estimate", "--panel", str(panel), "--unit", "unit", "--time", "time",
        "--outcome", "y", "--cohort", "cohort", "--method", "cs", "--control", "never",
        "--est-method", "dr", "--json", str(out),
    ]  # fmt: skip


def csdid_args(panel: Path, out: Path) -> list[str]:
    return ["bench.cs_csdid_child", str(panel), str(out)]


def compare(ours_path: Path, csdid_path: Path) -> dict:
    """Largest absolute difference per quantity between the two outputs."""
    ours, ref = json.loads(ours_path.read_text()), json.loads(csdid_path.read_text())
    pairs = {
        "att": ([r["estimate"] for r in ours["att_gt"]], ref["att"]),
        "se": ([r["se"] for r in ours["att_gt"]], ref["se"]),
        "simple": ([ours["overall"]["estimate"]], [ref["simple"]]),
        "simple_se": ([ours["overall"]["se"]], [ref["simple_se"]]),
        "dynamic": ([r["estimate"] for r in ours["event_study"]], ref["dynamic"]),
        "dynamic_se": ([r["se"] for r in ours["event_study"]], ref["dynamic_se"]),
        "group": ([r["estimate"] for r in ours["group"]], ref["group"]),
        "group_se": ([r["se"] for r in ours["group"]], ref["group_se"]),
    }
    gaps = {}
    for name, (a, b) in pairs.items():
        if len(a) != len(b):
            raise SystemExit(f"{name}: ours has {len(a)} values, csdid {len(b)}")
        gaps[name] = float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))))
    return gaps


def _figures(run: dict) -> dict:
    if run["exit"] != 0:
        raise SystemExit(f"{run['cmd']} failed:\n{run['stderr_tail']}")
    keep = ("seconds", "cpu_seconds", "peak_rss_mib", "load_average_before")
    return {k: run[k] for k in keep}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_cs_scale")
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--periods", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ours-root", default=None, help="checkout whose code 'ours' runs")
    args = parser.parse_args(argv)
    panel = make_panel(args.units, args.periods)
    ours_out, csdid_out = WORK / "ours.json", WORK / "csdid.json"
    ours_root = Path(args.ours_root).resolve() if args.ours_root else None
    started = datetime.now(UTC).isoformat(timespec="seconds")
    for fn, out in ((ours_args, ours_out), (csdid_args, csdid_out)):  # warm-up, not timed
        _figures(run_measured(fn(panel, out), CHILD_ENV, ours_root if fn is ours_args else None))
    gaps = compare(ours_out, csdid_out)
    if max(gaps.values()) > TOLERANCE:
        raise SystemExit(f"ours and csdid disagree beyond {TOLERANCE}: {gaps}")
    rounds = []
    for i in range(args.repeats):
        ours = _figures(run_measured(ours_args(panel, ours_out), CHILD_ENV, ours_root))
        ref = _figures(run_measured(csdid_args(panel, csdid_out), CHILD_ENV))
        rounds.append({"ours": ours, "csdid": ref, "ratio": ref["seconds"] / ours["seconds"]})
        print(
            f"[cs_scale] round {i + 1}: ours {ours['seconds']:.2f} s {ours['peak_rss_mib']:.0f}"
            f" MiB | csdid {ref['seconds']:.2f} s {ref['peak_rss_mib']:.0f} MiB | load"
            f" {ours['load_average_before']}",
            flush=True,
        )
    med = {
        side: {
            k: statistics.median(r[side][k] for r in rounds)
            for k in ("seconds", "cpu_seconds", "peak_rss_mib")
        }
        for side in ("ours", "csdid")
    }
    summary = {
        "benchmark": "cs_scale",
        "units": args.units,
        "periods": args.periods,
        "rows": args.units * args.periods,
        "repeats": args.repeats,
        "speedup_vs_csdid": round(statistics.median(r["ratio"] for r in rounds), 2),
        "cpu_speedup_vs_csdid": round(
            statistics.median(r["csdid"]["cpu_seconds"] / r["ours"]["cpu_seconds"] for r in rounds),
            2,
        ),
        "memory_ratio_ours_to_csdid": round(
            med["ours"]["peak_rss_mib"] / med["csdid"]["peak_rss_mib"], 2
        ),
        "median": med,
        "max_abs_difference": gaps,
        "agree_to": TOLERANCE,
        "ours_root": str(ours_root or ROOT),
    }
    report = {"measured_at": started, "machine": machine(), "load_average_after": load_average()}
    report |= summary | {"rounds": rounds}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"cs_scale_{args.units}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary))
    return report


if __name__ == "__main__":
    main()

"""The demo city's full `engagement-eval run`, this checkout against an earlier commit,
alternating round by round so both see the same load (issue 17: demo run time before/after).

    python -m bench.demo_ab --before COMMIT [--rounds 2] [--data DIR]

The earlier commit is exported with `git archive` into bench/tmp/ and run with the same
interpreter (`python -m` finds that tree's packages first, see `bench.measure.run_measured`).
Each side has one unmeasured warm-up run first. Prints one line per run (wall, CPU, load,
stages) and the results.json numbers of both sides compared, ignoring generated_at,
code_version and paths (`scripts/compare_results.py`); writes bench/results/demo_ab.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

from bench import cities
from bench.measure import ROOT, load_average
from bench.run_all import whole_run
from scripts.compare_results import IGNORED_KEYS, differences

WORK = ROOT / "bench" / "tmp" / "demo_ab"


def export(commit: str, dest: Path) -> Path:
    """The tree of `commit` (tracked files only) in `dest`."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    blob = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _run(side: str, tree: Path, data: Path, tag: str) -> dict:
    import bench.run_all as run_all

    out = WORK / f"{side}_{tag}"
    shutil.rmtree(out, ignore_errors=True)
    original = run_all.run_measured
    run_all.run_measured = lambda args, env=None: original(args, env=env, cwd=tree)
    try:
        figures = whole_run(data, out, f"ab_{side}")
    finally:
        run_all.run_measured = original
    if figures["exit"] != 0:
        raise SystemExit(f"{side} run failed:\n{figures['stderr_tail']}")
    figures["results"] = json.loads((out / "results.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.demo_ab")
    parser.add_argument("--before", required=True, help="commit to compare against")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", type=Path, default=None, help="city folder (default: demo)")
    args = parser.parse_args(argv)
    data = args.data or cities.demo()
    trees = {"before": export(args.before, WORK / "tree_before"), "after": ROOT}
    for side, tree in trees.items():
        _run(side, tree, data, "warmup")
    rows, numbers = [], {}
    for r in range(args.rounds):
        for side, tree in trees.items() if r % 2 == 0 else reversed(trees.items()):
            f = _run(side, tree, data, str(r))
            numbers[side] = f.pop("results")
            row = {"side": side, "round": r, **{k: f[k] for k in ("seconds", "cpu_seconds")}}
            row |= {"load_before": f["load_average_before"], "stages": f["stages"]}
            rows.append(row)
            print(
                f"{side:6s} round {r}: {f['seconds']:.1f} s wall, {f['cpu_seconds']:.1f} CPU-s,"
                f" load {f['load_average_before']} | "
                + ", ".join(f"{k} {v:.1f}" for k, v in f["stages"].items()),
                flush=True,
            )
    diffs = differences(numbers["before"], numbers["after"])
    print("\n".join(diffs[:20]))
    print(f"results.json identical (ignoring {sorted(IGNORED_KEYS)} and paths): {not diffs}")
    summary = {"before": args.before, "runs": rows, "results_identical": not diffs}
    summary["load_average_after"] = load_average()
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "demo_ab.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(WORK / "tree_before", ignore_errors=True)
    return summary


if __name__ == "__main__":
    main()

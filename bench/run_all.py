"""`make bench`: generate the benchmark cities, time every stage in its own child process, and
write `bench/results/pipeline_<city>.json` plus the table in `docs/benchmarks.md`.

  python -m bench.run_all                      # everything (about 15 minutes on 2 cores)
  python -m bench.run_all --cities demo,incremental --skip-estimators

Stages per city: the DuckDB floor (read + GROUP BY district, month in one statement), the SQL
layer's ingest (raw + staging) and panels, and the whole `engagement-eval run` (Dagster,
per-step times parsed from its progress lines). `incremental` adds the monthly run: one new
month, run as one partition of the job the way the monthly schedule runs it, next to a full
run of the same folder. The 50 M city runs ingest and panels only, under a 3 GB DuckDB
memory limit.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from bench import cities
from bench.measure import ROOT, load_average, machine, run_measured

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "tmp"
DOC = ROOT / "docs" / "benchmarks.md"
STEP_LINE = re.compile(r"^\s*ok (\S+) \(([\d.]+) s\)")
# the model step logs one line per outcome: "    <outcome>: <stage> 1.2 s, <stage> 0.4 s"
OUTCOME_LINE = re.compile(r"^ {4}(\w+): ((?:\w+ [\d.]+ s(?:, )?)+)$")
BIG_MEMORY_LIMIT = "3GB"


def stage_of(step: str) -> str:
    """Group a Dagster step name into the stage the table reports."""
    head = step.split(".")[0]
    if head in {"raw", "staging"}:
        return "ingest"
    if "quality" in step or "check" in step or head == "quality":
        return "quality"
    if head == "marts":
        return "panels"
    if "report" in step:
        return "report"
    if head in {"results", "models"} or "model" in step:
        return "models"
    return "other"


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _env(city: str) -> dict:
    """A fresh Dagster home per city, so runs are recorded like a user's but never mixed."""
    home = _fresh(WORK / f"dagster_home_{city}")
    return {"DAGSTER_HOME": str(home)}


def whole_run(data: Path, out: Path, city: str) -> dict:
    """`engagement-eval run` as a user types it; step times from its progress lines."""
    figures = run_measured(
        ["pipelines.cli", "run", "--data", str(data), "--out", str(out)], env=_env(city)
    )
    stdout = figures.pop("stdout")
    steps = {m.group(1): float(m.group(2)) for m in map(STEP_LINE.match, stdout.splitlines()) if m}
    stages: dict[str, float] = {}
    for step, seconds in steps.items():
        stages[stage_of(step)] = round(stages.get(stage_of(step), 0.0) + seconds, 2)
    figures["steps"], figures["stages"] = steps, stages
    figures["model_seconds_by_outcome"] = {
        m.group(1): {
            part.rsplit(" ", 2)[0]: float(part.rsplit(" ", 2)[1]) for part in m.group(2).split(", ")
        }
        for m in map(OUTCOME_LINE.match, stdout.splitlines())
        if m
    }
    return figures


def sql_stages(data: Path, db: Path, memory_limit: str | None = None) -> dict:
    db.unlink(missing_ok=True)
    extra = ["--memory-limit", memory_limit] if memory_limit else []
    out = {"floor": run_measured(["bench.stages", "floor", "--data", str(data), *extra])}
    out["ingest"] = run_measured(
        ["bench.stages", "ingest", "--data", str(data), "--db", str(db), *extra]
    )
    out["panels"] = run_measured(
        ["bench.stages", "panels", "--data", str(data), "--db", str(db), *extra]
    )
    floor = out["floor"]["result"]["seconds"] if out["floor"]["result"] else None
    done = [out[s]["result"] for s in ("ingest", "panels") if out[s]["result"]]
    if floor and len(done) == 2:
        pipeline = sum(r["seconds"] for r in done)
        out["ingest_plus_panels_seconds"] = round(pipeline, 2)
        out["ratio_to_floor"] = round(pipeline / floor, 2)
        floor_cpu = out["floor"]["result"]["cpu_seconds"]
        pipeline_cpu = sum(r["cpu_seconds"] for r in done)
        out["ingest_plus_panels_cpu_seconds"] = round(pipeline_cpu, 2)
        out["cpu_ratio_to_floor"] = round(pipeline_cpu / max(floor_cpu, 1e-9), 2)
    return out


def bench_city(name: str, data: Path, whole: bool, memory_limit: str | None = None) -> dict:
    work = _fresh(WORK / name)
    result = {"city": name, "data": str(data.relative_to(ROOT))}
    result["sql"] = sql_stages(data, work / "sql.duckdb", memory_limit)
    (work / "sql.duckdb").unlink(missing_ok=True)
    if whole:
        result["whole_run"] = whole_run(data, work / "run", name)
    return result


def bench_incremental() -> dict:
    """Ten years loaded, then one monthly delivery run as one partition, vs a full run."""
    data = cities.incremental()
    cities.withdraw_pending(data)
    work = _fresh(WORK / "incremental")
    out = {"city": "incremental", "data": str(data.relative_to(ROOT))}
    out["history_full_run"] = whole_run(data, work / "run", "incremental")
    delivered = cities.deliver_pending(data)
    try:
        out["monthly_partition_run"] = run_measured(
            [
                "bench.stages", "dagster", "--data", str(data), "--out", str(work / "run"),
                "--partition", cities.NEW_MONTH,
            ],
            env=_env("incremental"),
        )  # fmt: skip
        out["full_run_with_new_month"] = whole_run(data, work / "full", "incremental")
    finally:
        for path in delivered:
            path.unlink(missing_ok=True)
    return out


def estimator_benches(quick: bool) -> dict:
    """The estimator helpers' own benchmarks (they write their own result files)."""
    out = {}
    for module in ("bench.bench_cs", "bench.bench_randomization"):
        if (ROOT / (module.replace(".", "/") + ".py")).exists():
            args = [module, "--quick"] if quick and module == "bench.bench_cs" else [module]
            figures = run_measured(args)
            out[module] = {k: figures[k] for k in ("seconds", "peak_rss_mib", "exit")}
    return out


def _without_full_output(figures):
    """Result files keep `stdout_tail` only; the full output was parsed already."""
    if isinstance(figures, dict):
        return {k: _without_full_output(v) for k, v in figures.items() if k != "stdout"}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all")
    parser.add_argument("--cities", default="demo,incremental,beat,big50")
    parser.add_argument("--skip-estimators", action="store_true")
    parser.add_argument("--quick", action="store_true", help="quick estimator benchmarks")
    args = parser.parse_args(argv)
    wanted = args.cities.split(",")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    makers = {
        "demo": lambda: bench_city("demo", cities.demo(), whole=True),
        "beat": lambda: bench_city("beat", cities.beat(), whole=True),
        "big50": lambda: bench_city("big50", cities.big(), False, BIG_MEMORY_LIMIT),
        "incremental": bench_incremental,
    }
    for name in wanted:
        print(f"[bench] {name} (load average {load_average()})", flush=True)
        figures = _without_full_output(stamp | makers[name]())
        path = RESULTS / f"pipeline_{name}.json"
        path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        print(f"[bench] wrote {path.relative_to(ROOT)}", flush=True)
    if not args.skip_estimators:
        (RESULTS / "estimators_timing.json").write_text(
            json.dumps(stamp | estimator_benches(args.quick), indent=2) + "\n"
        )
    from bench.table import write_table

    write_table(RESULTS, DOC)
    print(f"[bench] table written to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

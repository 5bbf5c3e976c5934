"""Coverage of the grouped cluster jackknife at many districts (issue 17).

  nice -n 10 python -m bench.coverage_jackknife_groups --designs 100,150 --reps 400 \
      --out bench/results/coverage_jackknife_groups.json

With more districts than `model.jackknife_groups` (50) the crime and survey headlines leave
out groups of districts instead of one district at a time (`estimators.few_clusters.
jackknife_groups`). This study shows what that costs: every city of
`simulator.few_district.many_districts(G)` (half the districts never treated, five cohorts
of 1, 2 and three larger unequal sizes, AR(1) lognormal overdispersion sd 0.2, 72 months,
the survey quarterly) is fitted by

- crime: `fit_poisson(counts, exposure="population", vcov="jackknife",
  jackknife_max_groups=K)` on the monthly count panel, as `evaluation.crime` does (effect -5%
  at roll-out growing by -0.05 points a month; truth the city's ratio of sums);
- survey: `evaluation.survey.fit_headline` (average-of-pre-base, bias-corrected jackknife,
  Satterthwaite df) with `jackknife_groups=K` (effect 0.15 points);

for K = None (leave one district out, "loo"), 50 ("k50", the default) and 25 ("k25",
sensitivity). The point estimate does not depend on K; only the interval does.

Per design, outcome and method: coverage of the 95% interval with its Monte Carlo SE, mean
SE over the SD of the estimate's error, mean interval width and its ratio to leave-one-out
on the same cities, the paired coverage difference to leave-one-out (with its MC SE), mean
df and seconds per city. `--loo-reps R`: leave-one-out only on the first R cities (it costs
G refits, and the survey's df algebra G^2: 13 s a city at G=300); the grouped methods run on
all. `--survey-loo-reps`: the same for the survey alone. `--minutes M`: stop drawing cities for a design after M minutes (stated in the JSON;
the stop depends on the clock, never on results). Seeds are seed0, seed0+1, ... with no
selection; the same cities serve every method. Progress lines go to stdout, and the JSON is
rewritten every 20 cities. `--merge a.json b.json --out c.json`: one result per design from
runs over disjoint seed ranges (every city's numbers are kept under `raw`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from estimators.poisson import fit_poisson
from evaluation.crime import count_panel, crime_frame
from evaluation.outcomes import CRIME, spec
from evaluation.settings import EvaluationSettings
from evaluation.survey import fit_headline, survey_frame
from simulator.few_district import Design, draw_city, many_districts

METHODS: dict[str, int | None] = {"loo": None, "k50": 50, "k25": 25}
EFFECT = {"crime_effect": -0.05, "crime_effect_growth": -0.0005, "survey_effect": 0.15}
OUTCOMES = ("crime", "survey")
CRIME_SPEC = CRIME["crime_total"]


def city_design(n_districts: int, n_months: int = 72) -> Design:
    return many_districts(n_districts, n_months, **EFFECT)


def fit_city(
    d: Design, seed: int, methods: dict[str, int | None], outcomes=OUTCOMES
) -> dict[str, dict]:
    """{outcome: {"truth": t, method: (estimate, se, ci_low, ci_high, df, seconds)}} for one
    city, every method on the same draw."""
    city = draw_city(d, seed)
    s = EvaluationSettings()
    out: dict[str, dict] = {}
    if "crime" in outcomes:
        f, _ = crime_frame(city.crime, CRIME_SPEC)
        panel = count_panel(f, CRIME_SPEC)
        row: dict = {"truth": city.crime_truth}
        for m, k in methods.items():
            clock = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_poisson(
                    panel, exposure="population", vcov="jackknife", jackknife_max_groups=k
                )
            o = fit.overall
            row[m] = (
                o.estimate,
                o.se,
                o.ci_low,
                o.ci_high,
                fit.inference["df"],
                time.perf_counter() - clock,
            )
        out["crime"] = row
    if "survey" in outcomes:
        f = survey_frame(city.survey, spec("trust_index"))
        row = {"truth": city.survey_truth}
        for m, k in methods.items():
            clock = time.perf_counter()
            r = fit_headline(f, dataclasses.replace(s, jackknife_groups=k))
            est, se, df = float(r.fit.estimates[0]), float(r.se[0]), float(r.df)
            half = stats.t.ppf(0.975, df) * se if math.isfinite(se) else math.nan
            row[m] = (est, se, est - half, est + half, df, time.perf_counter() - clock)
        out["survey"] = row
    return out


def summarise(rows: list[tuple], truth: list[float], loo: list[tuple] | None) -> dict:
    """Coverage and precision of one method over cities; `loo`: leave-one-out on the same
    cities (aligned with `rows`), for the width ratio and the paired coverage difference."""
    a = np.array([r[:5] for r in rows], float)
    secs = np.array([r[5] for r in rows], float)
    tr = np.asarray(truth, float)
    est, se, lo, hi, df = a.T
    ok = np.isfinite(se) & np.isfinite(lo)
    n = int(ok.sum())
    cover = (lo <= tr) & (tr <= hi)
    c = float(cover[ok].mean()) if n else math.nan
    err = (est - tr)[ok]
    sd = float(err.std(ddof=1)) if n > 1 else math.nan
    out = {
        "reps": n,
        "failed": int((~ok).sum()),
        "coverage": c,
        "mc_se": math.sqrt(c * (1 - c) / n) if n else math.nan,
        "se_sd_ratio": float(se[ok].mean() / sd) if n > 1 else math.nan,
        "mean_se": float(se[ok].mean()) if n else math.nan,
        "sd_error": sd,
        "mean_ci_width": float((hi - lo)[ok].mean()) if n else math.nan,
        "bias_sd": float(err.mean() / sd) if n > 1 else math.nan,
        "mean_df": float(df[ok].mean()) if n else math.nan,
        "seconds_per_city": float(secs.mean()) if len(secs) else math.nan,
    }
    if loo is not None and len(loo):
        m = len(loo)
        b = np.array([r[:5] for r in loo], float)
        both = ok[:m] & np.isfinite(b[:, 1]) & np.isfinite(b[:, 2])
        w, w0 = (hi - lo)[:m][both], (b[:, 3] - b[:, 2])[both]
        diff = cover[:m][both].astype(float) - ((b[:, 2] <= tr[:m]) & (tr[:m] <= b[:, 3]))[both]
        out |= {
            "paired_reps": int(both.sum()),
            "width_ratio_vs_loo": float(np.mean(w / w0)),
            "se_ratio_vs_loo": float(np.mean(se[:m][both] / b[both, 1])),
            "coverage_minus_loo": float(diff.mean()),
            "coverage_minus_loo_mc_se": float(diff.std(ddof=1) / math.sqrt(len(diff)))
            if len(diff) > 1
            else math.nan,
        }
    return out


def run_design(
    d: Design,
    reps: int,
    seed0: int = 0,
    methods: dict[str, int | None] = METHODS,
    loo_reps: int | dict[str, int] | None = None,
    minutes: float | None = None,
    outcomes=OUTCOMES,
    progress=None,
) -> dict:
    """Fit `reps` cities of `d` (seeds seed0 ...), leave-one-out ("loo" in `methods`) only on
    the first `loo_reps` (a number, or one per outcome); stop early after `minutes`.
    `progress(result)` is called every 20 cities with the running result (to checkpoint).
    The result keeps every city's numbers (`raw`), so runs over disjoint seed ranges merge
    (`merge`)."""
    clock = time.perf_counter()
    raw = {o: {"truth": [], **{m: [] for m in methods}} for o in outcomes}
    if not isinstance(loo_reps, dict):
        loo_reps = dict.fromkeys(outcomes, reps if loo_reps is None else loo_reps)
    done, stopped = 0, False
    for i in range(reps):
        if minutes is not None and time.perf_counter() - clock > 60 * minutes:
            stopped = True
            break
        for o in outcomes:
            use = {m: k for m, k in methods.items() if not (m == "loo" and i >= loo_reps[o])}
            res = fit_city(d, seed0 + i, use, (o,))[o]
            raw[o]["truth"].append(res["truth"])
            for m in use:
                raw[o][m].append(list(res[m]))
        done += 1
        if progress is not None and (done % 20 == 0):
            progress(_result(d, seed0, done, raw, time.perf_counter() - clock, False))
    return _result(d, seed0, done, raw, time.perf_counter() - clock, stopped)


def _result(d: Design, seed0: int, done: int, raw: dict, seconds: float, stopped: bool) -> dict:
    res = {}
    for o, cols in raw.items():
        loo = cols.get("loo")
        res[o] = {
            m: summarise(rows, cols["truth"][: len(rows)], loo if m != "loo" else None)
            for m, rows in cols.items()
            if m != "truth" and rows
        }
    return {
        "design": d.name,
        "n_districts": d.n_districts,
        "cohorts": list(d.cohort_sizes),
        "n_never": d.n_never,
        "n_months": d.n_months,
        "overdispersion_sd": d.overdispersion_sd,
        "seed0": seed0,
        "cities": done,
        "stopped_by_time": stopped,
        "seconds": round(seconds, 1),
        "outcomes": res,
        "raw": raw,
    }


def merge(parts: list[dict]) -> dict:
    """One result from runs of the same design over disjoint seed ranges fixed before they
    ran (a study resumed after a time budget ran out, or a grouped-only run on further
    cities beside a slow leave-one-out run). Rows must come from a prefix of the
    cities (the paired comparison aligns them by position), so a later part may carry a
    method only if every earlier part carried it on all its cities."""
    parts = sorted(parts, key=lambda r: r["seed0"])
    for a, b in zip(parts, parts[1:], strict=False):
        if a["design"] != b["design"] or a["seed0"] + a["cities"] > b["seed0"]:
            raise ValueError(
                f"overlapping seeds: {a['design']} {a['seed0']}+{a['cities']}, "
                f"{b['design']} {b['seed0']}"
            )
    raw: dict = {}
    for p in parts:
        for o, cols in p["raw"].items():
            into = raw.setdefault(o, {})
            before = len(into.get("truth", []))
            for m, rows in cols.items():
                have = into.setdefault(m, [])
                if m != "truth" and rows and len(have) < before:
                    raise ValueError(f"{o} {m}: rows would not be a prefix of the cities")
                have.extend(rows)
    first = parts[0]
    d = many_districts(first["n_districts"], first["n_months"], **EFFECT)
    out = _result(
        d,
        first["seed0"],
        sum(p["cities"] for p in parts),
        raw,
        sum(p["seconds"] for p in parts),
        any(p["stopped_by_time"] for p in parts),
    )
    out["merged_from"] = [[p["seed0"], p["cities"]] for p in parts]
    return out


def table(results: list[dict]) -> str:
    lines = [
        "| design | outcome | method | cities | coverage | MC SE | SE/SD | width / loo "
        "| cover - loo (MC SE) | mean df | s/city |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for o, by_m in r["outcomes"].items():
            for m, s in by_m.items():
                rel = f"{s['width_ratio_vs_loo']:.3f}" if "width_ratio_vs_loo" in s else "1"
                diff = (
                    f"{s['coverage_minus_loo']:+.3f} ({s['coverage_minus_loo_mc_se']:.3f}, "
                    f"{s['paired_reps']} cities)"
                    if "coverage_minus_loo" in s
                    else ""
                )
                lines.append(
                    f"| {r['design']} | {o} | {m} | {s['reps']} | {s['coverage']:.3f} "
                    f"| {s['mc_se']:.3f} | {s['se_sd_ratio']:.2f} | {rel} | {diff} "
                    f"| {s['mean_df']:.0f} | {s['seconds_per_city']:.2f} |"
                )
    return "\n".join(lines)


def dump(results: list[dict]) -> str:
    """The study's JSON: one line per design's summaries, every city's numbers (`raw`,
    rounded to 10 significant digits) on one line each, so the file stays readable and small."""
    lines = [f'{{"effect": {json.dumps(EFFECT)}, "results": [']
    for i, r in enumerate(results):
        raw = {
            o: {m: [_round(v) for v in rows] for m, rows in cols.items()}
            for o, cols in r["raw"].items()
        }
        head = json.dumps({k: v for k, v in r.items() if k != "raw"})
        sep = "," if i < len(results) - 1 else ""
        lines.append(f'{head[:-1]}, "raw": {json.dumps(raw, separators=(",", ":"))}}}{sep}')
    return "\n".join([*lines, "]}"]) + "\n"


def _round(v):
    if isinstance(v, list):
        return [_round(x) for x in v]
    return float(f"{v:.10g}") if isinstance(v, float) and math.isfinite(v) else v


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", default="100,150,300", help="district counts, comma-separated")
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--loo-reps", type=int, default=None, help="leave-one-out on the first R")
    ap.add_argument("--survey-loo-reps", type=int, default=None, help="the same for the survey")
    ap.add_argument("--minutes", type=float, default=None, help="time budget per design")
    ap.add_argument("--months", type=int, default=72)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--outcomes", default=",".join(OUTCOMES))
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--out", default="bench/results/coverage_jackknife_groups.json")
    ap.add_argument("--merge", nargs="+", help="JSON files of this study to merge into --out")
    a = ap.parse_args(argv)
    out = Path(a.out)
    if a.merge:
        by_design: dict[str, list[dict]] = {}
        for path in a.merge:
            for r in json.loads(Path(path).read_text())["results"]:
                by_design.setdefault(r["design"], []).append(r)
        merged = [merge(parts) for parts in by_design.values()]
        merged.sort(key=lambda r: r["n_districts"])
        out.write_text(dump(merged))
        out.with_suffix(".md").write_text(table(merged) + "\n")
        print(table(merged))
        return
    methods = {m: METHODS[m] for m in a.methods.split(",")}
    outcomes = tuple(a.outcomes.split(","))
    loo_reps = dict.fromkeys(outcomes, a.reps if a.loo_reps is None else a.loo_reps)
    if a.survey_loo_reps is not None and "survey" in loo_reps:
        loo_reps["survey"] = a.survey_loo_reps
    out.parent.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []

    def save(partial: dict | None = None) -> None:
        rows = results + ([partial] if partial else [])
        out.write_text(dump(rows))
        if partial:
            print(
                f"{partial['design']}: {partial['cities']} cities, {partial['seconds']} s; "
                + "; ".join(
                    f"{o} {m} {s['coverage']:.3f}"
                    for o, by_m in partial["outcomes"].items()
                    for m, s in by_m.items()
                ),
                flush=True,
            )

    for g in a.designs.split(","):
        d = city_design(int(g), a.months)
        results.append(run_design(d, a.reps, a.seed0, methods, loo_reps, a.minutes, outcomes, save))
        save()
        print(f"{d.name}: done, {results[-1]['cities']} cities", flush=True)
    out.with_suffix(".md").write_text(table(results) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()

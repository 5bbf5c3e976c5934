"""Coverage of the crime headline (Poisson proportional effect) with few districts.

  python -m bench.coverage_crime --reps 500 --designs g10_c112,g16_c123 \
      --out bench/results/coverage_crime.json

Every replication draws a city from `simulator.few_district` (the battery `BATTERY`, with a
crime effect of -5% at roll-out growing by -0.05 points a month), builds the crime panel as
`evaluation.crime.evaluate_crime` does (`crime_frame`, `prepare_panel`, population exposure)
and fits `estimators.poisson.fit_poisson` once per inference method. Truth: the city's ratio
of sums (`city.crime_truth`). Per design and method: coverage of the 95% t(G-1) interval with
its Monte Carlo SE, mean reported SE / SD of the estimates, mean interval width, bias / SD.
Seeds are consecutive from `seed0` (no selection); the same cities serve every method.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from estimators.poisson import fit_poisson
from evaluation.crime import count_panel, crime_frame
from evaluation.outcomes import CRIME
from simulator.few_district import BATTERY, Design, design, draw_city

METHODS = ("cluster", "restricted", "jackknife")
# Designs beyond the battery, for the "no honest interval" rule (evaluation.crime
# inference_status): one treated district in all, two or three treated districts.
EXTRA = (
    Design("g10_c1", (1,), 9, overdispersion_sd=0.2),
    Design("g10_c11", (1, 1), 8, overdispersion_sd=0.2),
    Design("g10_c2", (2,), 8, overdispersion_sd=0.2),
    Design("g10_c3", (3,), 7, overdispersion_sd=0.2),
    Design("g10_c12", (1, 2), 7, overdispersion_sd=0.2),
)


def find_design(name: str) -> Design:
    for d in EXTRA:
        if d.name == name:
            return d
    return design(name)


EFFECT = {"crime_effect": -0.05, "crime_effect_growth": -0.0005}
SPEC = CRIME["crime_total"]


def city_panel(d: Design, seed: int):
    city = draw_city(d.with_(**EFFECT), seed)
    f, _ = crime_frame(city.crime, SPEC)
    return count_panel(f, SPEC), city.crime_truth


def summarise(est, se, lo, hi, truth) -> dict:
    est, se, lo, hi, truth = map(np.asarray, (est, se, lo, hi, truth))
    ok = np.isfinite(se) & np.isfinite(lo)
    n = int(ok.sum())
    cov = float(np.mean((lo[ok] <= truth[ok]) & (truth[ok] <= hi[ok]))) if n else float("nan")
    err = est[ok] - truth[ok]
    sd = float(err.std(ddof=1)) if n > 1 else float("nan")
    return {
        "reps": n,
        "failed": int((~ok).sum()),
        "coverage": cov,
        "mc_se": float(np.sqrt(cov * (1 - cov) / n)) if n else float("nan"),
        "se_sd_ratio": float(np.mean(se[ok]) / sd) if n > 1 else float("nan"),
        "mean_ci_width": float(np.mean(hi[ok] - lo[ok])) if n else float("nan"),
        "bias_sd": float(err.mean() / sd) if n > 1 else float("nan"),
    }


def run_design(
    d: Design, reps: int, seed0: int = 0, methods: tuple[str, ...] | list[str] = METHODS
) -> dict:
    """{method: summary} over `reps` cities of design `d` (seeds seed0..seed0+reps-1)."""
    rows = {m: ([], [], [], [], []) for m in methods}
    secs = dict.fromkeys(methods, 0.0)
    for seed in range(seed0, seed0 + reps):
        panel, truth = city_panel(d, seed)
        for m in methods:
            clock = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                o = fit_poisson(panel, exposure="population", vcov=m).overall
            secs[m] += time.perf_counter() - clock
            for lst, v in zip(rows[m], (o.estimate, o.se, o.ci_low, o.ci_high, truth), strict=True):
                lst.append(v)
    out = {}
    for m in methods:
        out[m] = {**summarise(*rows[m]), "seconds_per_fit": secs[m] / max(reps, 1)}
    return {
        "design": d.name,
        "n_districts": d.n_districts,
        "cohorts": list(d.cohort_sizes),
        "seed0": seed0,
        "methods": out,
    }


def run_event_study(
    d: Design, reps: int, seed0: int = 0, vcov: str = "jackknife", bin_periods: int = 3
) -> dict:
    """Size of the pre-trend test on the Poisson leads (no trend in these cities, so every
    lead's truth is 0) and how far the leads fit's target-weighted sum
    (`headline_from_event_study`) sits from the headline, in headline SEs."""
    from evaluation import diagnostics as dg
    from evaluation.crime import as_event_study, poisson_event_study
    from evaluation.settings import EvaluationSettings

    s = EvaluationSettings()
    reject, reject_t, gaps, n_ok = 0, 0, [], 0
    for seed in range(seed0, seed0 + reps):
        panel, _ = city_panel(d, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            head = fit_poisson(panel, exposure="population", vcov=vcov).overall
        fit = poisson_event_study(panel, s, bin_periods, vcov=vcov)
        es = as_event_study(fit, (-4, 8), s.alpha, seed)
        pt = dg.pre_trend(es, None, s.alpha, fit.n_clusters)
        gaps.append((fit.overall.estimate - head.estimate) / head.se)
        # the same test with the covariance's degrees of freedom counted in treated
        # districts (their own noise is what the leads' covariance has to learn)
        pt_t = dg.pre_trend(es, None, s.alpha, d.n_treated + 1)
        if pt.p_value is not None:
            n_ok += 1
            reject += pt.p_value < 0.05
            reject_t += pt_t.p_value is not None and pt_t.p_value < 0.05
    rate = reject / max(n_ok, 1)
    g = np.asarray(gaps)
    return {
        "design": d.name,
        "vcov": vcov,
        "bin_periods": bin_periods,
        "reps": n_ok,
        "pretrend_reject_5pct": rate,
        "mc_se": float(np.sqrt(rate * (1 - rate) / max(n_ok, 1))),
        "pretrend_reject_5pct_df_treated": reject_t / max(n_ok, 1),
        "gap_mean_in_head_se": float(g.mean()),
        "gap_sd_in_head_se": float(g.std(ddof=1)),
    }


def table(results: list[dict]) -> str:
    head = (
        "| design | method | reps | coverage | MC SE | SE/SD | mean CI width | bias/SD | s/fit |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in results:
        for m, s in r["methods"].items():
            lines.append(
                f"| {r['design']} | {m} | {s['reps']} | {s['coverage']:.3f} | {s['mc_se']:.3f} | "
                f"{s['se_sd_ratio']:.2f} | {s['mean_ci_width']:.3f} | {s['bias_sd']:+.2f} | "
                f"{s['seconds_per_fit']:.3f} |"
            )
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--designs", default=",".join(d.name for d in BATTERY))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--out", default="bench/results/coverage_crime.json")
    a = ap.parse_args(argv)
    results = []
    for name in a.designs.split(","):
        results.append(run_design(find_design(name), a.reps, a.seed0, a.methods.split(",")))
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps({"effect": EFFECT, "results": results}, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()

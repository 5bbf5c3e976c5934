"""Verdict study: how often each kind of city gets each verdict (the confusion matrix).

Three kinds of city per design of `simulator.few_district.BATTERY`, every one run through the
evaluation layer exactly as a real city is (`evaluation.crime.evaluate_crime` /
`evaluation.survey.evaluate_survey`, then `evaluation.verdict.finalize`):

- `null`: no effect, parallel trends;
- `effect_5se`, `effect_12se`: parallel trends and an effect of 5 (12) standard errors, where
  the standard error is the design's own: the empirical SD of the estimate over the `null`
  cities of the same run (so "5 SE" means what it says for every design);
- `trend`: no effect, but the program districts were on their own linear trend before and after
  roll-out (crime: a proportional trend drawn from 0.2-0.5% a month toward the effect's sign;
  surveys: `SURVEY_TRENDS` points a quarter).

Required (issue "honest answers with few districts"): effect -> "strong" >= 80%; null ->
"strong" <= 5%; trend -> "strong" <= 5%, and when a trend city's interval excludes zero, the
verdict names `pre_trend` or `pre_test_weak` >= 90% of the time.

    python -m bench.verdict_study --reps 100 --designs g10_c112,g16_c123,g25_c2345 \
        --kinds crime,survey --out bench/results/verdict_study.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from evaluation.crime import evaluate_crime
from evaluation.outcomes import spec
from evaluation.settings import EvaluationSettings
from evaluation.survey import evaluate_survey
from evaluation.verdict import finalize
from simulator.few_district import Design, design, draw_city

EFFECT_IN_SE = (5.0, 12.0)  # effect sizes in the design's own standard errors
CRIME_TRENDS = (0.002, 0.003, 0.004, 0.005)  # proportional per month, magnitude
SURVEY_TRENDS = (0.01, 0.015, 0.02, 0.025)  # points per quarter
LEVELS = ("strong", "some", "none", "unavailable")
# The study runs what decides the verdict; RI and power simulations do not enter it.
STUDY_SETTINGS = EvaluationSettings(
    ri_permutations=0, bootstrap_draws=99, survey_sampling_draws=0, honestdid_grid=(0.0,)
)


def evaluate_one(d: Design, kind: str, seed: int, settings: EvaluationSettings) -> dict:
    city = draw_city(d, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "crime":
            o = evaluate_crime(city.crime, spec("crime_total"), settings)
        else:
            o = evaluate_survey(city.survey, spec("trust_index"), settings)
    finalize(o, settings)
    return o


def scenario(d: Design, kind: str, name: str, size: float, seed: int) -> Design:
    """The design of one city of a scenario (trend sizes cycle with the seed)."""
    if name == "null":
        return d
    if name.startswith("effect"):
        return d.with_(crime_effect=size) if kind == "crime" else d.with_(survey_effect=size)
    if kind == "crime":
        return d.with_(crime_trend=-CRIME_TRENDS[seed % len(CRIME_TRENDS)])
    return d.with_(survey_trend=SURVEY_TRENDS[seed % len(SURVEY_TRENDS)])


def tally(outs: list[dict]) -> dict:
    levels = Counter(o["verdict"]["level"] for o in outs)
    excl = [o for o in outs if o["verdict"]["level"] in ("strong", "some")]
    named = [o for o in excl if {"pre_trend", "pre_test_weak"} & set(o["verdict"]["concerns"])]
    n = len(outs)
    return {
        "n": n,
        **{lvl: levels.get(lvl, 0) / n for lvl in LEVELS},
        "interval_excludes_zero": len(excl) / n,
        "named_trend_or_weak_given_excludes": (len(named) / len(excl)) if excl else None,
        "concern_rates": {
            c: sum(c in o["verdict"]["concerns"] for o in outs) / n
            for c in sorted({c for o in outs for c in o["verdict"]["concerns"]})
        },
    }


def run_design(d: Design, kind: str, reps: int, seed0: int = 1, progress=None) -> dict:
    settings = STUDY_SETTINGS
    clock = time.perf_counter()
    null = [evaluate_one(d, kind, seed0 + r, settings) for r in range(reps)]
    sd = float(np.std([o["estimate"] for o in null], ddof=1))
    sign = -1.0 if kind == "crime" else 1.0
    out = {"design": d.name, "kind": kind, "null_sd": sd, "reps": reps, "effect_sizes": {}}
    out["null"] = tally(null)
    for k in (*(f"effect_{m:g}se" for m in EFFECT_IN_SE), "trend"):
        size = sign * float(k.split("_")[1][:-2]) * sd if k != "trend" else 0.0
        if k != "trend":
            out["effect_sizes"][k] = size
        outs = [
            evaluate_one(scenario(d, kind, k, size, seed0 + r), kind, seed0 + 10_000 + r, settings)
            for r in range(reps)
        ]
        out[k] = tally(outs)
    out["seconds"] = time.perf_counter() - clock
    if progress:
        progress(out)
    return out


def markdown(rows: list[dict]) -> str:
    head = (
        "| design | outcome | city | n | strong | some | none | unavailable | "
        "excludes 0 | names trend/weak check when excludes 0 |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
        for name in (*r["effect_sizes"], "null", "trend"):
            t = r[name]
            named = t["named_trend_or_weak_given_excludes"]
            label = name
            if name in r["effect_sizes"]:
                size = r["effect_sizes"][name]
                label = f"effect {name.split('_')[1][:-2]} SE ({size:+.3g})"
            elif name == "trend":
                label = "no effect, trend"
            else:
                label = "no effect"
            lines.append(
                f"| {r['design']} | {r['kind']} | {label} | {t['n']} | {t['strong']:.0%} | "
                f"{t['some']:.0%} | {t['none']:.0%} | {t['unavailable']:.0%} | "
                f"{t['interval_excludes_zero']:.0%} | "
                f"{'-' if named is None else format(named, '.0%')} |"
            )
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--designs", default="g10_c112,g16_c123,g25_c2345")
    ap.add_argument("--kinds", default="crime,survey")
    ap.add_argument("--out", default="bench/results/verdict_study.json")
    a = ap.parse_args(argv)
    rows = []
    for name in a.designs.split(","):
        for kind in a.kinds.split(","):
            rows.append(
                run_design(
                    design(name),
                    kind,
                    a.reps,
                    progress=lambda r: print(
                        f"{r['design']} {r['kind']}: {r['seconds']:.0f} s", file=sys.stderr
                    ),
                )
            )
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(rows, indent=1))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

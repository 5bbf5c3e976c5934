"""Coverage of the group effects and of the difference of two groups' effects (issue 15.2).

Each replication draws a few-district city with two resident groups
(`simulator.few_district_groups.draw_group_panel`: the lower-trust group `newcomer` gains 0.30
points, `long_term` none; both share the district-quarter shock) and runs
`evaluation.groups.evaluate_groups` exactly as the pipeline does. Counted per design:

- `cover_<group>`: the group's 95% interval (`by_group`) holds its true effect;
- `cover_diff`: the interval of the difference of effects (`group_gaps...effect_difference`,
  joint jackknife over districts) holds the true difference;
- `cover_diff_indep`: the same point estimate with sqrt(se_a^2 + se_b^2) and the smaller df,
  i.e. ignoring the covariance of the two groups' effects (why the joint jackknife);
- `valid`: share of replications with an interval at all; `mean_se_diff`, `sd_diff`.

Usage: `python -m bench.coverage_groups --reps 300 --designs g10_c112,g25_c2345
--out bench/results/coverage_groups.json`. Seeds seed0 .. seed0 + reps - 1, no selection.
`run_design(design, reps, seed0)` is importable (tests/evaluation/test_groups.py).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from scipy import stats

from evaluation.groups import evaluate_groups
from evaluation.settings import EvaluationSettings
from simulator.few_district import Design, design
from simulator.few_district_groups import DEFAULT_GROUPS, draw_group_panel, group_truth

SETTINGS = EvaluationSettings()


def _covers(lo, hi, truth) -> bool:
    return lo is not None and hi is not None and lo <= truth <= hi


def run_design(d: Design, reps: int, seed0: int = 1, group_shock_sd: float = 0.05) -> dict:
    truth = group_truth()
    ref, other = "newcomer", "long_term"
    true_diff = truth[ref] - truth[other]
    hits = {f"cover_{g}": 0 for g in DEFAULT_GROUPS} | {"cover_diff": 0, "cover_diff_indep": 0}
    valid, diffs, ses, refs = 0, [], [], 0
    clock = time.perf_counter()
    for seed in range(seed0, seed0 + reps):
        panel = draw_group_panel(d, seed, group_shock_sd=group_shock_sd)
        out = evaluate_groups(panel, "trust_index", SETTINGS)
        by = out["by_group"]["tenure"]
        for g in DEFAULT_GROUPS:
            hits[f"cover_{g}"] += _covers(by[g]["ci_low"], by[g]["ci_high"], truth[g])
        gaps = out["group_gaps"]["tenure"]
        refs += gaps.get("reference") == ref
        pair = gaps["pairs"].get(other if gaps.get("reference") == ref else ref)
        diff = pair["effect_difference"]
        sign = 1.0 if gaps.get("reference") == ref else -1.0
        if diff["ci_low"] is None:
            continue
        valid += 1
        est = sign * diff["estimate"]
        lo, hi = sorted((sign * diff["ci_low"], sign * diff["ci_high"]))
        hits["cover_diff"] += _covers(lo, hi, true_diff)
        diffs.append(est)
        ses.append(diff["se"])
        se_ind = math.hypot(by[ref]["se"], by[other]["se"])
        crit = stats.t.ppf(0.975, min(by[ref]["df"], by[other]["df"]))
        hits["cover_diff_indep"] += _covers(est - crit * se_ind, est + crit * se_ind, true_diff)
    return {
        "design": d.name,
        "reps": reps,
        "group_shock_sd": group_shock_sd,
        "truth": truth,
        "true_difference": true_diff,
        **{k: v / reps for k, v in hits.items()},
        "valid": valid / reps,
        "reference_is_low_trust_group": refs / reps,
        "mean_se_diff": float(np.mean(ses)) if ses else None,
        "sd_diff": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else None,
        "mean_diff": float(np.mean(diffs)) if diffs else None,
        "seconds": time.perf_counter() - clock,
    }


def table(rows: list[dict]) -> str:
    head = (
        "| design | reps | group shock sd | cover newcomer | cover long_term | cover difference "
        "(joint jackknife) | cover difference (independent SEs) | mean SE diff | sd diff |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    return head + "".join(
        f"| {r['design']} | {r['reps']} | {r['group_shock_sd']} | {r['cover_newcomer']:.3f} | "
        f"{r['cover_long_term']:.3f} | {r['cover_diff']:.3f} | {r['cover_diff_indep']:.3f} | "
        f"{r['mean_se_diff']:.3f} | {r['sd_diff']:.3f} |\n"
        for r in rows
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--designs", default="g10_c112,g16_c123,g25_c2345")
    ap.add_argument("--shock", default="0.05", help="comma list of group shock sds")
    ap.add_argument("--seed0", type=int, default=1)
    ap.add_argument("--out", default="bench/results/coverage_groups.json")
    a = ap.parse_args(argv)
    rows = []
    for name in a.designs.split(","):
        for sd in (float(x) for x in a.shock.split(",")):
            rows.append(run_design(design(name), a.reps, a.seed0, sd))
            print(json.dumps(rows[-1]), flush=True)
    Path(a.out).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    Path(a.out).with_suffix(".md").write_text(table(rows), encoding="utf-8")
    print(table(rows))


if __name__ == "__main__":
    main()

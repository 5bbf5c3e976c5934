"""Monte Carlo studies of the studentized randomization inference and the Romano-Wolf
adjustment across five outcomes, on the few-district cities of `simulator.few_district`.

Five outcomes from one city, correlated as a city's are: the crime counts of
`simulator.few_district` are split into violent (25%) and property (60% of the rest) incidents
by binomial thinning, so all three crime outcomes share the districts' overdispersion and any
effect (the thinning keeps proportional effects); the safety index is 0.7 x the trust index's
district-quarter deviation plus independent cell noise (sd 0.1), so the two survey outcomes
share their district shocks. Roll-out order is random across districts in `draw_city`, so
under no effect the reshuffled roll-outs are exchangeable and every RI p-value should reject
at most alpha of the time.

Run a study (writes JSON lines, one per replication, then a summary):
    nice -n 10 .venv/bin/python tests/evaluation/ri_sim.py g10_c112 500 99 out.jsonl
"""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np
import pandas as pd

from evaluation.inference import StudentizedCS
from evaluation.permutations import outcome_panel, randomization_step
from evaluation.settings import EvaluationSettings
from simulator.few_district import Design, design, draw_city

OUTCOMES = ("crime_total", "crime_violent", "crime_property", "trust_index", "safety_index")
ALPHA = 0.05


def five_outcome_city(d: Design, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    city = draw_city(d, seed)
    rng = np.random.default_rng([seed, 7])
    crime = city.crime.copy()
    total = crime["crimes_total"].to_numpy().astype(np.int64)
    violent = rng.binomial(total, 0.25)
    prop = rng.binomial(total - violent, 0.6)
    crime["crimes_violent"] = violent.astype(float)
    crime["crimes_property"] = prop.astype(float)
    for kind in ("violent", "property"):
        crime[f"rate_{kind}"] = 1000.0 * crime[f"crimes_{kind}"] / crime["population"]
    trust = city.survey
    safety = trust.copy()
    safety["index_name"] = "safety_index"
    safety["mean"] = 3.0 + 0.7 * (trust["mean"] - 3.2) + rng.normal(0, 0.1, len(trust))
    return crime, pd.concat([trust, safety], ignore_index=True)


def observed_t(d: Design, seed: int, outcomes=OUTCOMES) -> dict:
    """Each outcome's studentized statistic on the actual roll-out: |t| > 1.96 is the plain
    analytic (normal) test the RI replaces, to compare rejection rates."""
    crime, survey = five_outcome_city(d, seed)
    stat = StudentizedCS("notyet", 0)
    return {n: stat(outcome_panel(n, crime, survey)) for n in outcomes}


def replicate(d: Design, seed: int, n_perm: int, outcomes=OUTCOMES) -> dict:
    """One city: each outcome's studentized RI p and Romano-Wolf adjusted p (same draws)."""
    crime, survey = five_outcome_city(d, seed)
    s = EvaluationSettings(outcomes=tuple(outcomes), ri_permutations=n_perm, seed=seed)
    outs = {n: {} for n in outcomes}
    multiple = randomization_step(crime, survey, s, outs)
    return {
        "seed": seed,
        "p": {n: outs[n]["ri_p"] for n in outcomes},
        "adjusted_p": {n: outs[n]["adjusted_p"] for n in outcomes},
        "dropped": {n: outs[n]["ri"]["dropped"] for n in outcomes},
        "method": multiple["method"],
    }


def summarize(rows: list[dict], alpha: float = ALPHA) -> dict:
    """Rejection rates at alpha with Monte Carlo SEs: per outcome (marginal RI and adjusted),
    and any rejection (family-wise) by Romano-Wolf, Holm and Bonferroni on the marginal p."""
    n = len(rows)
    names = list(rows[0]["p"])
    k = len(names)

    def rate(flags):
        r = float(np.mean(flags))
        return {"rate": r, "mc_se": math.sqrt(r * (1 - r) / n) if n else None}

    def holm(ps):
        order = np.argsort(ps)
        out, prev = np.empty(k), 0.0
        for j, i in enumerate(order):
            prev = max(prev, min(1.0, (k - j) * ps[i]))
            out[i] = prev
        return out

    p = np.array([[r["p"][m] if r["p"][m] is not None else 1.0 for m in names] for r in rows])
    adj = np.array(
        [
            [r["adjusted_p"][m] if r["adjusted_p"][m] is not None else 1.0 for m in names]
            for r in rows
        ]
    )
    bonf = np.minimum(1.0, k * p)
    hol = np.array([holm(row) for row in p])
    return {
        "replications": n,
        "alpha": alpha,
        "marginal": {m: rate(p[:, j] <= alpha) for j, m in enumerate(names)},
        "romano_wolf": {m: rate(adj[:, j] <= alpha) for j, m in enumerate(names)},
        "holm": {m: rate(hol[:, j] <= alpha) for j, m in enumerate(names)},
        "bonferroni": {m: rate(bonf[:, j] <= alpha) for j, m in enumerate(names)},
        "any_romano_wolf": rate((adj <= alpha).any(axis=1)),
        "any_holm": rate((hol <= alpha).any(axis=1)),
        "any_bonferroni": rate((bonf <= alpha).any(axis=1)),
        "any_marginal": rate((p <= alpha).any(axis=1)),
        "dropped_total": int(sum(sum(r["dropped"].values()) for r in rows)),
    }


def study(d: Design, reps: int, n_perm: int, first_seed: int = 1, log=None) -> dict:
    rows = []
    clock = time.perf_counter()
    for seed in range(first_seed, first_seed + reps):
        row = replicate(d, seed, n_perm)
        rows.append(row)
        if log is not None:
            log.write(json.dumps(row) + "\n")
            log.flush()
    out = summarize(rows)
    out.update(design=d.name, permutations=n_perm, seconds=time.perf_counter() - clock)
    return out


def summarize_files(paths) -> dict:
    """Summary of replications logged by several runs (chunks of one study)."""
    rows = []
    for path in paths:
        with open(path) as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return summarize(rows)


if __name__ == "__main__":  # design reps perms out.jsonl [first_seed [crime_eff survey_eff]]
    name, reps, perms, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    first = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    d = design(name)
    if len(sys.argv) > 6:
        d = d.with_(crime_effect=float(sys.argv[6]), survey_effect=float(sys.argv[7]))
    with open(path, "w") as log:
        res = study(d, reps, perms, first_seed=first, log=log)
    res["design_effects"] = {"crime": d.crime_effect, "survey": d.survey_effect}
    with open(path.replace(".jsonl", "") + ".summary.json", "w") as fh:
        json.dump(res, fh, indent=1)
    print(json.dumps(res, indent=1))

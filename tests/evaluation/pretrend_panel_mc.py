"""Pre-trend checks on whole simulated cities (simulator/few_district.py), not just normal draws.

Each city: monthly crime, log rate per district-month, TWFE event study with relative-time
dummies (never-treated districts as controls, reference month -1, window -24..23) and its CR1
district-clustered covariance (df = G - 1), target the equal-weight average of months 0..23.
No program effect; optionally the program districts' own trend (`crime_trend`, proportional
per month, so exactly linear in logs). This checks what the multivariate-normal study assumes:
that a cluster-robust covariance from 12-22 districts behaves well enough for the linear test
and the Delta-SD small-sample factor.

    OPENBLAS_NUM_THREADS=1 nice -n 10 .venv/bin/python tests/evaluation/pretrend_panel_mc.py 300
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pandas as pd

from estimators.panel import prepare_panel
from estimators.twfe import fit_event_study
from evaluation.pretrend_checks import pretrend_checks
from simulator.few_district import design, draw_city

WINDOW = (-25, 23)


def city_event_study(d, seed: int) -> tuple[dict, float]:
    city = draw_city(d, seed)
    df = city.crime.copy()
    df["y"] = np.log(df["rate_total"])
    df["cohort"] = df["cohort_period"].fillna(0).astype(int)
    panel = prepare_panel(df, unit="district_id", time="period", outcome="y", cohort="cohort")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_event_study(panel, window=WINDOW)
    times = np.array([int(c["term"].split("::")[1]) for c in fit.coefficients])
    beta = np.array([c["estimate"] for c in fit.coefficients])
    vcov = fit.vcov[: beta.size, : beta.size]
    post = times >= 0
    w = np.where(post, 1.0, 0.0)[post]
    w /= w.sum()
    es = {
        "event_times": times.tolist(),
        "estimates": beta.tolist(),
        "vcov": vcov.tolist(),
        "df": int(fit.n_clusters) - 1,
        "bin_months": 1,
        "target_weights": w.tolist(),
        "reference": -1,
    }
    return es, float(w @ beta[post])


def study(name: str, trend: float, reps: int, seed0: int = 0) -> dict:
    d = design(name).with_(crime_trend=trend)
    rows = []
    for s in range(reps):
        es, head = city_event_study(d, seed0 + s)
        r = pretrend_checks(es, head, sd_grid=[0.0], rm_grid=())
        sd0 = r.honest_sd[0]
        z = 1.959963984540054
        v = np.asarray(es["vcov"])
        post = np.asarray(es["event_times"]) >= 0
        w = np.asarray(es["target_weights"])
        head_se = math.sqrt(float(w @ v[np.ix_(post, post)] @ w))
        rows.append(
            {
                "linear": r.linear_p < 0.05,
                "joint": r.joint_p is not None and r.joint_p < 0.05,
                "sd0_covers": sd0["ci_low"] <= 0.0 <= sd0["ci_high"],
                "headline_signif": abs(head) > z * head_se,
                "power_linear": r.power_linear_vs_explaining,
                "power_joint": r.power_joint_vs_explaining,
                "flagged_when_signif": (abs(head) > z * head_se)
                and (r.linear_p < 0.05 or r.power_linear_vs_explaining < 0.8),
            }
        )
    out = pd.DataFrame(rows)
    res = out.mean().to_dict()
    sig = out["headline_signif"]
    flagged = out.loc[sig, "flagged_when_signif"]
    res["flagged_given_signif"] = float(flagged.mean()) if sig.any() else math.nan
    res["reps"] = reps
    return res


if __name__ == "__main__":
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    print(
        "| design | trend per month | reps | linear rejects | joint rejects | SD(M=0) covers |"
        " headline significant | linear test rejects or has power < 0.8, when significant |"
        " mean power linear / joint |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("g12_c222", "g22_c1123"):
        for trend in (0.0, -0.004):
            r = study(name, trend, reps, seed0=10_000 if trend else 0)
            se = lambda p: math.sqrt(max(p * (1 - p), 1e-12) / reps)  # noqa: E731
            print(
                f"| {name} | {trend:g} | {reps} | {r['linear']:.3f} ({se(r['linear']):.3f}) | "
                f"{r['joint']:.3f} ({se(r['joint']):.3f}) | {r['sd0_covers']:.3f} "
                f"({se(r['sd0_covers']):.3f}) | {r['headline_signif']:.3f} | "
                f"{r['flagged_given_signif']:.3f} | {r['power_linear']:.2f} / "
                f"{r['power_joint']:.2f} |",
                flush=True,
            )

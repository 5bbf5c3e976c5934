"""Coverage of the survey headline on few-district cities (issue 12, items 1 and 7).

Each replication draws a city from `simulator.few_district` (a BATTERY design with a survey
effect of `EFFECT` points; truth `city.survey_truth`), takes the district-quarter frame
`city.survey` through `evaluation.survey.survey_frame` exactly as `evaluate_survey` does, and
computes the 95% interval of every method:

- `cs_widen`: what evaluate_survey reported before issue 12: Callaway-Sant'Anna (universal
  base, not-yet-treated), influence-function SE, widened to the propagated sampling SE when
  larger (`SAMPLING_DRAWS` draws here instead of 200, for time), normal quantile;
- `cs_if`: the same without widening;
- `imp_bjs`: `estimators.imputation.fit_imputation` (BJS conservative variance, leave-out,
  t(G*-1));
- `avg_jk`: `estimators.avgbase.fit_avg_base` (average-of-pre-periods base), plain cluster
  jackknife, t(G-1);
- `avg_jkbm`: the same jackknife scaled to unbiasedness under a working model of independent
  equal-variance cells, t with Satterthwaite (Bell-McCaffrey) df (`fit_avg_base` default);
- `avg_jkbm_widen`: avg_jkbm widened to the exact sampling SE (`se_cell`) when larger;
- `avg_jkc_g1`: the scaled jackknife with t(G-1) (isolates the df's part).

`--es`: the diagnostics event study instead (`run_es_design`: pointwise coverage of leads
and lags, size of the joint lead test, gap between headline and target-weighted lags).

Usage: `python -m bench.coverage_survey --reps 500 --designs g10_c112,g16_c123
--out bench/results/coverage_survey.json` (markdown table on stdout and beside the json).
`run_design(design, reps, seed0, methods)` is importable (make bench-coverage, slow tests).
Seeds are seed0 .. seed0 + reps - 1: no selection.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from estimators.avgbase import fit_avg_base
from estimators.imputation import fit_imputation
from estimators.panel import prepare_panel
from evaluation import diagnostics as dg
from evaluation.outcomes import spec
from evaluation.settings import EvaluationSettings
from evaluation.survey import sampling_se, survey_frame
from simulator.few_district import BATTERY, Design, draw_city

EFFECT = 0.15
SAMPLING_DRAWS = 30
METHODS = ("cs_widen", "cs_if", "imp_bjs", "avg_jk", "avg_jkbm", "avg_jkbm_widen", "avg_jkc_g1")
DEFAULT_METHODS = ("cs_widen", "cs_if", "imp_bjs", "avg_jk", "avg_jkbm")
Z = stats.norm.ppf(0.975)


def survey_designs() -> dict[str, Design]:
    """BATTERY designs with a survey effect, plus shock / respondent variants.

    Suffix `_s{shock*100}_r{respondents}`: `survey_shock_sd` 0 (sampling error only) or 0.15
    (district-quarter swings larger than a cell's sampling SE at 80 respondents), with 20 or
    80 respondents per district-quarter. Unsuffixed: the BATTERY defaults (0.08, 50).
    """
    out = {}
    for d in BATTERY:
        base = d.with_(survey_effect=EFFECT)
        out[d.name] = base
        for shock, resp in ((0.0, 20), (0.0, 80), (0.15, 20), (0.15, 80)):
            name = f"{d.name}_s{round(shock * 100)}_r{resp}"
            out[name] = base.with_(name=name, survey_shock_sd=shock, respondents=float(resp))
    return out


def one_rep(design: Design, seed: int, methods) -> dict[str, tuple[float, float, float]]:
    """{method: (estimate, se, df)} for one city; df = inf for normal quantiles."""
    city = draw_city(design, seed)
    f = survey_frame(city.survey, spec("trust_index"))
    out = {}
    if {"cs_widen", "cs_if"} & set(methods):
        s = EvaluationSettings(survey_sampling_draws=SAMPLING_DRAWS, seed=seed)
        panel = prepare_panel(
            f, unit="district_id", time="period", outcome="mean", cohort="cohort_period"
        )
        simple = dg.fit_cs(panel, s, bootstrap=False).aggregate("simple").overall
        out["cs_if"] = (simple.estimate, simple.se, math.inf)
        if "cs_widen" in methods:
            samp = sampling_se(f, s)
            out["cs_widen"] = (simple.estimate, max(simple.se, samp or 0.0), math.inf)
    if "imp_bjs" in methods:
        panel = prepare_panel(
            f, unit="district_id", time="period", outcome="mean", cohort="cohort_period"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = fit_imputation(panel)
        ov = imp.overall
        # recover the t df from the interval: half-width = t * se
        crit = (ov.ci_high - ov.ci_low) / (2 * ov.se)
        df = _df_from_crit(crit)
        out["imp_bjs"] = (ov.estimate, ov.se, df)
    if {"avg_jk", "avg_jkbm", "avg_jkbm_widen", "avg_jkc_g1"} & set(methods):
        r = fit_avg_base(
            f.assign(var=f["se"] ** 2),
            unit="district_id",
            time="period",
            outcome="mean",
            cohort="cohort_period",
            cell_var="var",
        )
        est, se, se_cell = r.fit.estimates[0], r.se[0], r.se_cell[0]
        plain = se / math.sqrt(r.bias_factor[0])
        g1 = r.n_clusters - 1
        out["avg_jk"] = (est, plain, g1)
        out["avg_jkbm"] = (est, se, r.df)
        out["avg_jkbm_widen"] = (est, max(se, se_cell), r.df)
        out["avg_jkc_g1"] = (est, se, g1)
    return {m: out[m] for m in methods}


def _df_from_crit(crit: float) -> float:
    lo, hi = 0.5, 1e6
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if stats.t.ppf(0.975, mid) > crit:
            lo = mid
        else:
            hi = mid
    return hi


def summarise(rows: np.ndarray, truth: float) -> dict:
    """rows: (reps x 3) estimate, se, df. Coverage of the 95% interval and its MC SE, mean
    reported SE over the empirical SD of the estimate, mean CI width, bias over SD."""
    est, se, df = rows[:, 0], rows[:, 1], rows[:, 2]
    ok = np.isfinite(est) & np.isfinite(se)
    est, se, df = est[ok], se[ok], df[ok]
    crit = np.where(np.isfinite(df), stats.t.ppf(0.975, np.maximum(df, 0.5)), Z)
    cover = np.abs(est - truth) <= crit * se
    n = int(ok.sum())
    c = float(cover.mean()) if n else math.nan
    sd = float(est.std(ddof=1)) if n > 1 else math.nan
    return {
        "reps": n,
        "invalid": int((~ok).sum()),
        "coverage": c,
        "mc_se": math.sqrt(c * (1 - c) / n) if n else math.nan,
        "se_over_sd": float(se.mean() / sd) if n > 1 else math.nan,
        "mean_width": float((2 * crit * se).mean()) if n else math.nan,
        "mean_se": float(se.mean()) if n else math.nan,
        "bias_over_sd": float((est.mean() - truth) / sd) if n > 1 else math.nan,
        "mean_df": float(np.where(np.isfinite(df), df, np.nan).mean())
        if np.isfinite(df).any()
        else None,
    }


def run_design(design: Design, reps: int, seed0: int, methods=DEFAULT_METHODS) -> dict:
    """Coverage of each method over `reps` cities of `design` (seeds seed0 .. seed0+reps-1)."""
    methods = tuple(methods)
    clock = time.perf_counter()
    rows = {m: np.full((reps, 3), np.nan) for m in methods}
    for r in range(reps):
        res = one_rep(design, seed0 + r, methods)
        for m in methods:
            rows[m][r] = res[m]
    truth = float(design.survey_effect)
    return {
        "design": design.name,
        "n_districts": design.n_districts,
        "cohort_sizes": list(design.cohort_sizes),
        "survey_shock_sd": design.survey_shock_sd,
        "respondents": design.respondents,
        "truth": truth,
        "seed0": seed0,
        "reps": reps,
        "seconds": round(time.perf_counter() - clock, 1),
        "methods": {m: summarise(rows[m], truth) for m in methods},
    }


def run_es_design(design: Design, reps: int, seed0: int) -> dict:
    """The diagnostics event study evaluate_survey exposes (`_es_for_diagnostics`) over
    `reps` cities: pointwise coverage of the window's leads (truth 0) and lags (truth
    `survey_effect`) with t(dfs); size at 5% of the joint lead test, Hotelling-type
    W (df - k + 1) / (k df) ~ F(k, df - k + 1) with df the leads' smallest, and chi-square(k);
    the target gap (headline - target-weighted lags) in headline SEs."""
    from evaluation.survey import es_for_diagnostics, fit_headline

    s = EvaluationSettings()
    hi = s.window(s.survey_grain)[1]
    cov, rej_f, rej_chi, gaps = [], [], [], []
    clock = time.perf_counter()
    for seed in range(seed0, seed0 + reps):
        f = survey_frame(draw_city(design, seed).survey, spec("trust_index"))
        res = fit_headline(f, s)
        es = es_for_diagnostics(res, s)
        t, b = np.array(es["event_times"]), np.array(es["estimates"])
        v, dfs = np.array(es["vcov"]), np.array(es["dfs"])
        se = np.sqrt(np.diag(v))
        truth = np.where(t < 0, 0.0, design.survey_effect)
        ok = np.abs(b - truth) <= stats.t.ppf(0.975, dfs) * se
        cov.append(ok[t <= hi].mean())
        lead = t < 0
        k, df = int(lead.sum()), int(dfs[lead].min())
        w = b[lead] @ np.linalg.solve(v[np.ix_(lead, lead)], b[lead])
        d2 = max(df - k + 1, 1)
        rej_f.append(stats.f.sf(w * d2 / (k * df), k, d2) < 0.05)
        rej_chi.append(stats.chi2.sf(w, k) < 0.05)
        gaps.append(es["target_gap"] / res.se[0])
    return {
        "design": design.name,
        "reps": reps,
        "seed0": seed0,
        "seconds": round(time.perf_counter() - clock, 1),
        "pointwise_coverage_window": float(np.mean(cov)),
        "lead_test_size_hotelling": float(np.mean(rej_f)),
        "lead_test_size_chi2": float(np.mean(rej_chi)),
        "target_gap_over_se_mean": float(np.mean(gaps)),
        "target_gap_over_se_sd": float(np.std(gaps, ddof=1)),
    }


def markdown(results: list[dict]) -> str:
    head = (
        "| design | districts | cohorts | shock sd | resp. | method | reps | coverage | MC SE "
        "| SE/SD | mean CI width | bias/SD |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in results:
        for m, s in r["methods"].items():
            lines.append(
                f"| {r['design']} | {r['n_districts']} | {'/'.join(map(str, r['cohort_sizes']))} "
                f"| {r['survey_shock_sd']:g} | {r['respondents']:g} | {m} | {s['reps']} "
                f"| {s['coverage']:.3f} | {s['mc_se']:.3f} | {s['se_over_sd']:.2f} "
                f"| {s['mean_width']:.3f} | {s['bias_over_sd']:+.2f} |"
            )
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--designs", default=",".join(d.name for d in BATTERY))
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    ap.add_argument("--seed0", type=int, default=1)
    ap.add_argument("--out", default="bench/results/coverage_survey.json")
    ap.add_argument("--es", action="store_true", help="study the diagnostics event study")
    a = ap.parse_args(argv)
    known = survey_designs()
    if a.es:
        rows = [run_es_design(known[n], a.reps, a.seed0) for n in a.designs.split(",")]
        Path(a.out).write_text(json.dumps(rows, indent=1))
        print(json.dumps(rows, indent=1))
        return
    results = []
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in a.designs.split(","):
        results.append(run_design(known[name], a.reps, a.seed0, a.methods.split(",")))
        print(f"{name}: {results[-1]['seconds']} s", flush=True)
        out.write_text(json.dumps({"results": results}, indent=1))  # after each design
    table = markdown(results)
    out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()

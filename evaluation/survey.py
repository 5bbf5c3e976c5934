"""Survey outcomes: DiD with an average-of-pre-periods base on district-quarter index means,
in points, with few-district inference (issue 12, items 1 and 7).

Headline: `estimators.avgbase.fit_avg_base` (imputation form: each treated district-quarter's
untreated mean is imputed from district and quarter effects fitted on all untreated cells, so
every post quarter is compared with ALL pre quarters; Callaway-Sant'Anna with a universal base
used one). On the demo city this cuts the SE by about a third (see `docs/evaluation.md`).

Inference: cluster jackknife (leave one district out), scaled to unbiasedness and referred to
t with Satterthwaite degrees of freedom under a working model of independent cells
(`estimators.avgbase.jackknife_dof`). Why: with one- or two-district roll-out cohorts the
influence-function (cluster-robust) SE leaves out most of those districts' noise; the
jackknife counts it, and the df says how few districts the variance rests on. Chosen by
measured coverage (`bench/coverage_survey.py`, tests/evaluation/test_survey_coverage.py):
0.92-0.99 over 30 few-district designs (10-25 districts, cohorts of 1-5 districts, survey
shocks sd 0-0.15, 20-80 respondents per cell), 27 of 30 within 0.93-0.97 at 300 cities each.
With a single treated district in all there is no valid interval: `inference.valid` is false
and no interval or p-value is printed.

Sampling error: a district-quarter mean is the true mean plus survey noise; the estimator is
linear in the cell means, so the SE due to sampling alone is exact, sqrt(sum v_c^2 se_c^2)
(`details.se_survey_sampling`; no simulation draws, so `survey_sampling_draws` no longer
changes the survey numbers). The jackknife already contains that noise. The former rule
"widen the interval to the sampling SE when larger" is dropped because measured coverage
does not need it: widening left coverage unchanged where district-quarter shocks exist and
pushed it to 0.97-1.00 where cells carry sampling error only.

Diagnostics on the headline's estimator (`_es_for_diagnostics`): leads and lags of the same
estimator against a common base (the cohort's quarters before the lead window), their joint
jackknife covariance, and weights over the lags whose weighted sum approximates the headline.
The chart's event study and `pre_trend_p` come from the headline's estimator too
(`avg_base_event_study`); HonestDiD's relative-magnitudes keys still use Callaway-Sant'Anna.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pandas as pd

from estimators.avgbase import AvgBaseResult, fit_avg_base
from estimators.callaway_santanna import att_gt
from estimators.panel import prepare_panel
from estimators.results import Estimate
from estimators.twfe import t_estimate
from evaluation import diagnostics as dg
from evaluation.outcomes import OutcomeSpec
from evaluation.power_sim import survey_simulated_mde, with_simulated_mde
from evaluation.settings import EvaluationSettings

ESTIMATOR = (
    "DiD with an average-of-pre-periods base (imputation form; survey-weighted "
    "district-quarter means)"
)


def survey_frame(dq: pd.DataFrame, spec: OutcomeSpec) -> pd.DataFrame:
    f = dq.loc[
        (dq["index_name"] == spec.index_name) & dq["mean"].notna(),
        ["district_id", "period", "mean", "se", "n_responses", "cohort_period"]
        + (["sum_weights"] if "sum_weights" in dq else []),
    ].copy()
    f["cohort_period"] = f["cohort_period"].fillna(0).astype(int)
    # Cells with one response have no SE: use the typical within-cell SD over sqrt(n).
    sd = (f["se"] * np.sqrt(f["n_responses"])).median()
    f["se"] = f["se"].fillna(sd / np.sqrt(f["n_responses"].clip(lower=1)))
    return f.reset_index(drop=True)


def baseline_mean(cells: pd.DataFrame, min_cell_size: int) -> float | None:
    """Mean of the treated districts' pre-roll-out cell means; None (not published) when it
    rests on fewer than `min_cell_size` responses in all."""
    if cells.empty or cells["n_responses"].sum() < max(min_cell_size, 1):
        return None
    return dg._num(cells["mean"].mean())


def half_years(f: pd.DataFrame, grain: str = "quarter") -> pd.DataFrame:
    """District half-year means: the two quarters' means weighted by their sum of survey
    weights (response counts when absent), i.e. the weighted mean of all the half-year's
    answers. A half-year is treated from the one holding the first treated quarter."""
    per_bin, _ = dg.grain_bins(grain, dg.HONEST_BIN_MONTHS)  # bins in survey-grain periods
    w = f["sum_weights"] if "sum_weights" in f else f["n_responses"]
    g = (
        f.assign(bin=(f["period"] - 1) // per_bin + 1, w=w, wy=w * f["mean"])
        .groupby(["district_id", "bin"], as_index=False)
        .agg(wy=("wy", "sum"), w=("w", "sum"), cohort_period=("cohort_period", "first"))
    )
    g = g.loc[g["w"] > 0]
    g["mean"] = g["wy"] / g["w"]
    g["cohort_period"] = np.where(
        g["cohort_period"] > 0, (g["cohort_period"] - 1) // per_bin + 1, 0
    )
    return g[["district_id", "bin", "mean", "cohort_period"]].reset_index(drop=True)


def honest_event_study(f: pd.DataFrame, s: EvaluationSettings) -> dg.EventStudy:
    """Half-year CS event study (no bootstrap) for HonestDiD (see `diagnostics.honest`)."""
    h = half_years(f, s.survey_grain)
    panel = prepare_panel(h, unit="district_id", time="bin", outcome="mean", cohort="cohort_period")
    per_bin, bin_months = dg.grain_bins(s.survey_grain, dg.HONEST_BIN_MONTHS)
    cs = dg.fit_cs(panel, s, bootstrap=False)
    return dg.event_study(
        cs, dg.honest_window(s, bin_months), dg.bin_anticipation(s.anticipation, per_bin)
    )


def sampling_se(f: pd.DataFrame, s: EvaluationSettings) -> float | None:
    """SE of the Callaway-Sant'Anna overall ATT due to survey sampling alone (linear map,
    seeded noise draws). No longer part of evaluate_survey (its estimator's sampling SE is
    exact); kept for bench/coverage_survey.py's comparison with the former interval."""
    if s.survey_sampling_draws <= 1 or not np.isfinite(f["se"]).all():
        return None
    rng = np.random.default_rng([s.seed, 1])
    draws = []
    noise = f.copy()
    for _ in range(s.survey_sampling_draws):
        noise["mean"] = rng.standard_normal(len(f)) * f["se"].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = att_gt(
                noise,
                unit="district_id",
                time="period",
                outcome="mean",
                cohort="cohort_period",
                control_group=s.control_group,
                anticipation=s.anticipation,
                est_method="reg",
            )
        draws.append(res.aggregate("simple").overall.estimate)
    return float(np.std(draws, ddof=1))


def fit_headline(f: pd.DataFrame, s: EvaluationSettings, leads: int | None = None) -> AvgBaseResult:
    """Average-of-pre-base fit on the cell means: overall, leads (the event window's pre
    quarters, against the quarters before them, unless `leads` says how many) and every lag
    (all post event times, so that the lags' cell-weighted average is the headline up to the
    base), jackknife."""
    lo, _ = s.window(s.survey_grain)
    return fit_avg_base(
        f.assign(_var=f["se"] ** 2),
        unit="district_id",
        time="period",
        outcome="mean",
        cohort="cohort_period",
        anticipation=s.anticipation,
        leads=max(0, -lo) if leads is None else leads,
        cell_var="_var",
        jackknife_max_groups=s.jackknife_groups,
    )


def fit_diagnostics(f: pd.DataFrame, s: EvaluationSettings) -> AvgBaseResult:
    """The same estimator with a lead for (nearly) every pre-roll-out quarter, for the
    verdict's pre-trend checks: a steady trend is seen best over the whole pre-roll-out span,
    and the headline's own base is that whole span. Each cohort keeps at least one quarter in
    the base; never fewer leads than the event window's."""
    lo, _ = s.window(s.survey_grain)
    treated = f.loc[f["cohort_period"] > 0, "cohort_period"]
    first = int(treated.min()) - int(f["period"].min()) + 1 if len(treated) else 0
    return fit_headline(f, s, leads=max(max(0, -lo), first - 2 - s.anticipation))


def inference_fields(res: AvgBaseResult) -> dict:
    """`inference` of results.json: the interval method, its df and whether it is valid."""
    se = res.se[0]
    if not math.isfinite(se):
        reason = (
            "a single program district in all: leaving it out leaves no estimate, so no "
            "interval can be computed from the districts' own variation"
            if sum(res.cluster_sizes.values()) <= 1
            else "the jackknife could not be computed for the overall effect"
        )
        return {"method": res.method, "df": None, "valid": False, "reason": reason}
    return {"method": res.method, "df": int(res.df), "valid": True, "reason": None}


def cohort_notes(sizes: dict, valid: bool) -> list[str]:
    """A warning naming the roll-out cohorts with a single district (issue 12)."""
    single = [str(g) for g, n in sizes.items() if n == 1]
    if not single:
        return []
    return [
        f"{len(single)} roll-out cohort(s) with a single district (starting in period "
        f"{', '.join(single)}): their effect rests on one district's answers"
        + ("; the interval counts that district's own noise (jackknife)" if valid else "")
    ]


def es_for_diagnostics(res: AvgBaseResult, s: EvaluationSettings) -> dict | None:
    """Leads and lags of the headline's estimator with their joint jackknife covariance.

    Leads: the configured window's pre-roll-out quarters; lags: every post event time (the
    chart cuts them to `window`). Event times whose estimate rests on a single district (no
    jackknife replicate) are left out (`dropped_event_times`). `target_weights`: over the lags,
    proportional to the treated cells each averages, so their weighted sum is the average
    over all treated cells, the headline's own weighting. It differs from the headline only
    through the base (the headline's base also holds the lead quarters) and any dropped lag:
    `target_gap` = headline - weighted sum, in points (demo city: -0.008 trust, -0.003 safety;
    over 200 cities of each of g10_c112, g16_c123, g25_c2345: mean -0.03 to +0.04 SE, sd
    0.42-0.48 headline SEs).

    `df`: the smallest Satterthwaite df among the leads and the lags inside the window; `dfs`
    per event time. Measured on the same 3 x 200 cities: pointwise t(dfs) intervals of the
    window's leads and lags cover 0.945-0.959; a joint test of the leads must use the small
    df (Hotelling: W (df - k + 1) / (k df) ~ F(k, df - k + 1) rejected 0-3% at 5%), the
    chi-square rejects 14-57% (the jackknife covariance rests on few districts).
    """
    from engagement_eval.grain import MONTHS_PER_PERIOD

    labels = res.fit.labels
    idx = [
        j
        for j, (kind, _) in enumerate(labels)
        if kind in ("lead", "event") and math.isfinite(res.se[j])
    ]
    if not idx:
        return None
    times = [int(labels[j][1]) for j in idx]
    win_hi = max(0, s.window(s.survey_grain)[1])
    est = res.fit.estimates[idx]
    vcov = res.vcov[np.ix_(idx, idx)]
    post = np.array([labels[j][0] == "event" for j in idx])
    n = res.fit.n_target[idx].astype(float)
    w = np.where(post, n, 0.0)
    w = w / w.sum() if w.sum() > 0 else w
    target = float(w @ est) if w.sum() > 0 else None
    dropped = [int(v) for j, (k, v) in enumerate(labels) if k in ("lead", "event") and j not in idx]
    return {
        "event_times": times,
        "window": list(s.window(s.survey_grain)),
        "estimates": [float(x) for x in est],
        "vcov": [[float(x) for x in row] for row in vcov],
        # df: the fewest of the window's event times (leads and lags up to the window's end);
        # later lags rest on fewer cohorts and have their own, smaller df in `dfs`
        "df": int(
            np.nanmin(res.dfs[[j for j, tt in zip(idx, times, strict=True) if tt <= win_hi]])
        ),
        "dfs": [int(x) for x in res.dfs[idx]],
        "bin_months": MONTHS_PER_PERIOD[s.survey_grain],
        "target_weights": [float(x) for x in w],
        "target_estimate": target,
        "target_gap": None if target is None else float(res.fit.estimates[0] - target),
        "base": "leads and lags: the quarter minus the average of the cohort's quarters before "
        "the lead window, minus the same for not-yet-treated and never-treated districts",
        "dropped_event_times": dropped,
    }


def avg_base_event_study(res: AvgBaseResult, s: EvaluationSettings) -> dg.EventStudy | None:
    """The chart's event study from the headline's own estimator (few-district inference, like
    the headline): the window's leads and lags against the quarter before roll-out,
    b_t - b_ref with the jackknife covariance, pointwise t intervals with each event time's
    Satterthwaite df (bench/coverage_survey.py --es: 0.945-0.959 pointwise coverage). Event
    times resting on a single district (no jackknife replicate) are left out."""
    lo, hi = s.window(s.survey_grain)
    labels = res.fit.labels
    pos = {
        int(v): j
        for j, (k, v) in enumerate(labels)
        if k in ("lead", "event") and lo <= int(v) <= hi and math.isfinite(res.se[j])
    }
    ref = -1
    if ref not in pos:
        return None
    times = sorted(t for t in pos if t != ref)
    idx = [pos[t] for t in times]
    cols = [*idx, pos[ref]]  # only these: other rows of the covariance may be undefined
    _, beta, sigma = dg.rebase(
        [*times, ref], res.fit.estimates[cols], res.vcov[np.ix_(cols, cols)], ref
    )
    se = np.sqrt(np.clip(np.diag(sigma), 0, None))
    dfs = np.minimum(res.dfs[idx], res.dfs[pos[ref]])
    # sup-t uniform band (covers every event time at once), t margins at the smallest df
    crit = dg.sup_t_critical(sigma, max(int(np.nanmin(dfs)), 1), s.alpha, s.seed)
    table = pd.DataFrame(
        {
            "event_time": [*times, ref],
            "estimate": [*beta, 0.0],
            "se": [*se, 0.0],
            "ci_low": [*(beta - crit * se), np.nan],
            "ci_high": [*(beta + crit * se), np.nan],
        }
    ).sort_values("event_time", ignore_index=True)
    return dg.EventStudy(table, beta, sigma, np.array(times), ref, True, crit)


def evaluate_survey(dq: pd.DataFrame, spec: OutcomeSpec, s: EvaluationSettings) -> dict:
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    f = survey_frame(dq, spec)
    panel = prepare_panel(
        f, unit="district_id", time="period", outcome="mean", cohort="cohort_period"
    )
    cs = dg.fit_cs(panel, s)
    simple = cs.aggregate("simple").overall
    es = dg.event_study(cs, s.window(s.survey_grain), s.anticipation)
    timings["cs_event_study"] = time.perf_counter() - clock

    clock = time.perf_counter()
    res = fit_headline(f, s)
    inference = inference_fields(res)
    if inference["valid"]:
        head = t_estimate(float(res.fit.estimates[0]), float(res.se[0]), s.alpha, inference["df"])
    else:
        nan = float("nan")
        head = Estimate(float(res.fit.estimates[0]), nan, nan, nan, nan)
    samp = None if res.se_cell is None else dg._num(res.se_cell[0])
    notes = [*cohort_notes(res.cluster_sizes, inference["valid"]), *res.notes]
    if not inference["valid"]:
        notes.insert(0, f"no valid interval: {inference['reason']}")
    if s.control_group == "never":
        notes.append(
            "model.control_group = never is not applied to the survey headline: its imputation "
            "uses every untreated district-quarter (never and not yet treated)"
        )
    es_diag = es_for_diagnostics(fit_diagnostics(f, s), s)
    es = avg_base_event_study(res, s) or es  # chart and pre-trend test on the headline's estimator
    timings["avg_base_jackknife"] = time.perf_counter() - clock
    clock = time.perf_counter()
    mde = dg.mde(head.se, s.alpha)
    pt = dg.pre_trend(es, mde, s.alpha, cs.n_clusters)
    hon = dg.honest(
        honest_event_study(f, s), s, dg.grain_bins(s.survey_grain, dg.HONEST_BIN_MONTHS)[1]
    )
    timings["pretrends_honestdid"] = time.perf_counter() - clock

    clock = time.perf_counter()
    tw = dg.twfe_bacon(panel)
    timings["twfe_bacon"] = time.perf_counter() - clock
    ri = None  # randomization inference: evaluation/permutations.py, all outcomes at once

    power = None
    if s.power_simulations > 0:
        clock = time.perf_counter()
        power = survey_simulated_mde(f, s)
        timings["power_simulation"] = time.perf_counter() - clock

    pre = (f["cohort_period"] > 0) & (f["period"] < f["cohort_period"] - s.anticipation)
    units = f.groupby("district_id")["cohort_period"].first()
    out = {
        "scale": "points",
        "estimator": ESTIMATOR,
        **dg.headline_fields(head, pt, tw, mde, hon, ri, es),
        "baseline_mean": baseline_mean(f.loc[pre], s.min_cell_size),
        "units": s.survey_grain,
        "unit_label": "district",  # surveys are per district, also in a unit analysis
        "n_units": int(len(units)),
        "n_treated": int((units > 0).sum()),
        "secondary": [],
        "inference": inference,
        "cohort_sizes": {str(g): n for g, n in res.cluster_sizes.items()},
        "_es_for_diagnostics": es_diag,
        "details": {
            "event_study_source": "the headline's average-of-pre-periods estimator: leads and "
            "lags against the quarter before roll-out, jackknife covariance, sup-t uniform "
            "band (t margins, Satterthwaite df)",
            "se_callaway_santanna": dg._num(simple.se),
            "estimate_callaway_santanna": dg._num(simple.estimate),
            "uniform_band": es.uniform,
            "band_critical_value": dg._num(es.crit_val),
            "se_influence_function": dg._num(simple.se),
            "se_survey_sampling": samp,
            "sampling_variance_share": dg._num(min(1.0, (samp / head.se) ** 2))
            if samp is not None and math.isfinite(head.se) and head.se > 0
            else None,
            "pre_trend_slope": pt.slope,
            "pre_trend_test": "Hotelling F on the event study's leads (the headline's estimator)",
            "honestdid_target_estimate": hon.estimate,
            "honestdid_target_ci": list(hon.original_ci),
            "honestdid_method": "relative magnitudes, ARP hybrid (C-LF), on Callaway-Sant'Anna "
            "district half-year means (the quarters' weighted means pooled)",
            "twfe_forbidden_weight": tw.forbidden_weight,
            "mde_method": "closed form (z_{1-alpha/2} + z_{0.8}) x headline SE",
            "cells_used": int(len(f)),
        },
        "notes": [n for n in [*notes, pt.note, hon.note, tw.note] if n],
        "_timings": timings,
    }
    return with_simulated_mde(out, power)

"""Survey outcomes: Callaway-Sant'Anna on district-quarter index means, in points.

Sampling error: a district-quarter mean is the true mean plus survey noise. The CS influence
functions are clustered by district and sampling is independent across districts, so the
district-level variance already contains that noise. We also propagate the cells' own
standard errors exactly: the estimator is linear in the cell means, so the sampling variance of
the ATT is the variance of the ATT computed on pure noise e_dq ~ N(0, se_dq^2) (seeded draws).
If that propagated sampling SE exceeds the influence-function SE (which, with few districts,
signals the latter is too small), the interval uses the sampling SE. Both are reported.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pandas as pd

from estimators.callaway_santanna import att_gt
from estimators.panel import prepare_panel
from estimators.results import Estimate
from evaluation import diagnostics as dg
from evaluation.outcomes import OutcomeSpec
from evaluation.power_sim import survey_simulated_mde, with_simulated_mde
from evaluation.settings import EvaluationSettings

ESTIMATOR = "Callaway-Sant'Anna (survey-weighted district-quarter means)"


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
    per_bin, _ = dg.grain_bins(grain, dg.HONEST_BIN_MONTHS)  # issue 9: survey grain
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
    """SE of the overall ATT due to survey sampling alone (linear map, seeded noise draws)."""
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
    samp = sampling_se(f, s)
    head = simple
    notes = []
    if samp is not None and math.isfinite(simple.se) and samp > simple.se:
        head = Estimate.normal(simple.estimate, samp, s.alpha)
        notes.append("interval widened to the propagated survey sampling error")
    timings["sampling_error"] = time.perf_counter() - clock

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
        "details": {
            "event_study_source": "Callaway-Sant'Anna dynamic aggregation (universal base)",
            "uniform_band": es.uniform,
            "band_critical_value": dg._num(es.crit_val),
            "se_influence_function": dg._num(simple.se),
            "se_survey_sampling": dg._num(samp),
            "sampling_variance_share": dg._num(min(1.0, (samp / simple.se) ** 2))
            if samp is not None and simple.se > 0
            else None,
            "pre_trend_slope": pt.slope,
            "pre_trend_test": "Hotelling F on the event study's leads",
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

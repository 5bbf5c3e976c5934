"""Crime outcomes: Poisson headline (proportional change) with a rate-based CS beside it.

Headline: Wooldridge's extended TWFE Poisson (`estimators.poisson.fit_poisson`) on incident
counts per district-month with population as exposure; its overall effect is the percentage
change in expected incidents over the treated district-months (the ratio of sums that
`truth.json` defines). Cluster-robust (district) t-interval.

Event study, pre-trend test and HonestDiD come from Callaway-Sant'Anna on the rate per 1,000
residents (districts weighted by population, universal base period, multiplier-bootstrap
uniform band), divided by the treated districts' pre-roll-out rate so they read as
proportional changes like the headline. The Poisson fit has no event-study covariance
(`fit_poisson` keeps its influence functions internal), and the pre-trend test needs one.
The pre-trend test uses the same estimator on district-quarters, HonestDiD on district
half-years (see `diagnostics.honest`).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from estimators.panel import PanelData, prepare_panel
from estimators.poisson import fit_poisson
from estimators.twfe import fit_twfe
from evaluation import diagnostics as dg
from evaluation.outcomes import OutcomeSpec
from evaluation.power_sim import crime_simulated_mde, with_simulated_mde
from evaluation.settings import EvaluationSettings

ESTIMATOR = "Poisson extended TWFE (Wooldridge), population exposure"


def crime_frame(dm: pd.DataFrame, spec: OutcomeSpec) -> tuple[pd.DataFrame, int]:
    """Reported district-months with the columns the estimators need; (frame, rows dropped)."""
    reported = dm["reported"].fillna(False).astype(bool) if "reported" in dm else True
    keep = reported & dm["population"].gt(0) & dm[spec.count].notna()
    f = dm.loc[
        keep, ["district_id", "period", "population", "cohort_period", spec.count, spec.rate]
    ].copy()
    f["cohort_period"] = f["cohort_period"].fillna(0).astype(int)
    f["pop_weight"] = f.groupby("district_id")["population"].transform("mean")
    return f.reset_index(drop=True), int((~keep).sum())


def binned(f: pd.DataFrame, spec: OutcomeSpec, months: int, time: str = "quarter") -> pd.DataFrame:
    """District sums over bins of `months` months (column `time`); a bin is treated from the
    one holding the first treated month (bin 1 holds months 1..`months` of the window)."""
    q = f.assign(**{time: (f["period"] - 1) // months + 1})
    out = q.groupby(["district_id", time], as_index=False).agg(
        count=(spec.count, "sum"),
        population=("population", "mean"),
        cohort_period=("cohort_period", "first"),
        pop_weight=("pop_weight", "first"),
    )
    out["cohort_period"] = np.where(
        out["cohort_period"] > 0, (out["cohort_period"] - 1) // months + 1, 0
    )
    out["rate"] = 1000.0 * out["count"] / out["population"]
    return out


def quarterly(f: pd.DataFrame, spec: OutcomeSpec) -> pd.DataFrame:
    return binned(f, spec, 3, "quarter")


def coarse_event_study(
    f: pd.DataFrame, spec: OutcomeSpec, s: EvaluationSettings, months: int, window, anticipation
) -> tuple[dg.EventStudy, int]:
    """CS event study (no bootstrap) on `months`-month district sums of the rate, divided by
    the treated districts' pre-roll-out rate (a proportional change, like the headline);
    returns it with the number of district clusters."""
    fb = binned(f, spec, months, "bin")
    pre = pre_rollout(fb, "bin", anticipation)
    base = 1000.0 * fb.loc[pre, "count"].sum() / fb.loc[pre, "population"].sum()
    cs = dg.fit_cs(rate_panel(fb, "bin", "rate", weighted=True), s, bootstrap=False)
    return dg.event_study(cs, window, anticipation).scaled(1 / base), cs.n_clusters


def pre_rollout(f: pd.DataFrame, time: str, anticipation: int) -> pd.Series:
    c = f["cohort_period"]
    return (c > 0) & (f[time] < c - anticipation)


def rate_panel(f: pd.DataFrame, time: str, outcome: str, weighted: bool) -> PanelData:
    return prepare_panel(
        f,
        unit="district_id",
        time=time,
        outcome=outcome,
        cohort="cohort_period",
        weights="pop_weight" if weighted else None,
    )


def evaluate_crime(dm: pd.DataFrame, spec: OutcomeSpec, s: EvaluationSettings) -> dict:
    """One crime outcome: the results.json entry plus `_tables` for the DuckDB store."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    notes: list[str] = []
    f, dropped = crime_frame(dm, spec)
    if dropped:
        notes.append(
            f"{dropped} district-months without any reported incident (reporting gaps) left out"
        )
    pre = pre_rollout(f, "period", s.anticipation)
    units = f.groupby("district_id")["cohort_period"].first()

    counts = prepare_panel(
        f,
        unit="district_id",
        time="period",
        outcome=spec.count,
        cohort="cohort_period",
        covariates=["population"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pois = fit_poisson(
            counts, exposure="population", anticipation=s.anticipation, alpha=s.alpha
        )
    head = pois.overall
    timings["poisson"] = time.perf_counter() - clock

    clock = time.perf_counter()
    base_rate_w = 1000.0 * f.loc[pre, spec.count].sum() / f.loc[pre, "population"].sum()
    rates = rate_panel(f, "period", spec.rate, weighted=True)
    cs = dg.fit_cs(rates, s)
    cs_simple = cs.aggregate("simple").overall
    es = dg.event_study(cs, s.window(s.grain), s.anticipation).scaled(1 / base_rate_w)
    timings["cs_event_study"] = time.perf_counter() - clock

    clock = time.perf_counter()
    mde = dg.mde(head.se, s.alpha)
    q_per, q_months = dg.grain_bins(s.grain, 3)  # issue 9: quarters, or the grain if coarser
    q_units = {3: "quarter", 12: "year"}.get(q_months, "month")
    es_q, n_clusters = coarse_event_study(
        f, spec, s, q_per, s.window(q_units), s.anticipation // q_per
    )
    pt = dg.pre_trend(es_q, mde, s.alpha, n_clusters)
    h_per, h_months = dg.grain_bins(s.grain, dg.HONEST_BIN_MONTHS)
    es_h, _ = coarse_event_study(
        f,
        spec,
        s,
        h_per,
        dg.honest_window(s, h_months),
        dg.bin_anticipation(s.anticipation, h_per),
    )
    hon = dg.honest(es_h, s, h_months)
    timings["pretrends_honestdid"] = time.perf_counter() - clock

    clock = time.perf_counter()
    base_rate = f.loc[pre, spec.rate].mean()
    plain = rate_panel(f, "period", spec.rate, weighted=False)
    tw = dg.twfe_bacon(plain, 1 / base_rate)
    twfe_fit = fit_twfe(
        plain,
        anticipation=s.anticipation,
        alpha=s.alpha,
        wild_bootstrap=s.bootstrap_draws,
        seed=s.seed,
    )
    timings["twfe_bacon"] = time.perf_counter() - clock

    ri = None  # randomization inference: evaluation/permutations.py, all outcomes at once

    power = None
    if s.power_simulations > 0:
        clock = time.perf_counter()
        power = crime_simulated_mde(f, spec.count, pois, s)
        timings["power_simulation"] = time.perf_counter() - clock

    out = {
        "scale": "proportional",
        "estimator": ESTIMATOR,
        **dg.headline_fields(head, pt, tw, mde, hon, ri, es),
        "baseline_mean": dg._num(f.loc[pre, spec.count].mean()),
        "units": s.grain,
        "unit_label": s.analysis_unit,
        "n_units": int(len(units)),
        "n_treated": int((units > 0).sum()),
        "secondary": [
            {
                "estimator": "Callaway-Sant'Anna on the rate per 1,000 residents "
                "(population-weighted)",
                "scale": f"incidents per 1,000 residents per {s.grain}",
                "estimate": dg._num(cs_simple.estimate),
                "ci_low": dg._num(cs_simple.ci_low),
                "ci_high": dg._num(cs_simple.ci_high),
            }
        ],
        "details": {
            "event_study_source": "Callaway-Sant'Anna on rates, divided by the treated "
            "districts' pre-roll-out rate "
            f"({base_rate_w:.6g} per 1,000 per {s.grain})",
            "uniform_band": es.uniform,
            "band_critical_value": dg._num(es.crit_val),
            "pre_trend_slope": pt.slope,
            "pre_trend_test": "Hotelling F on the district-quarter event study's leads",
            "honestdid_target_estimate": hon.estimate,
            "honestdid_target_ci": list(hon.original_ci),
            "honestdid_method": "relative magnitudes, ARP hybrid (C-LF), on Callaway-Sant'Anna "
            "half-year district sums of the rate divided by the treated pre-roll-out rate",
            "twfe_rate": dg._num(twfe_fit.overall.estimate),
            "twfe_wild_bootstrap_p": dg._num(twfe_fit.overall.p_value),
            "twfe_forbidden_weight": tw.forbidden_weight,
            "twfe_scale": "TWFE on the rate divided by the treated pre-roll-out mean rate "
            f"({base_rate:.6g})",
            "mde_method": "closed form (z_{1-alpha/2} + z_{0.8}) x headline SE",
            "poisson_notes": list(pois.notes),
        },
        "notes": [n for n in [*notes, pt.note, hon.note, tw.note] if n],
        "_timings": timings,
    }
    return with_simulated_mde(out, power)

"""Crime outcomes: Poisson headline (proportional change) with a rate-based CS beside it.

Headline: Wooldridge's extended TWFE Poisson (`estimators.poisson.fit_poisson`) on incident
counts per district-month with population as exposure; its overall effect is the percentage
change in expected incidents over the treated district-months (the ratio of sums that
`truth.json` defines). Anticipation months are neither treated nor clean pre-periods.

Few districts (issue 12): the interval uses `HEADLINE_VCOV` (see `fit_poisson` and
`bench/coverage_crime.py` for the measured coverage of each method) with t(G-1); the result
carries `inference` (method, df, whether an honest interval is possible at all and why not)
and `cohort_sizes`, and a note for every cohort that has a single district.

Event study, pre-trend test and HonestDiD test the assumption the headline makes, on its
scale: a Poisson event study with leads from the same model (`fit_poisson(leads=True)`,
common base = the bin before roll-out, ratio of sums per event time, joint covariance by the
headline's few-district method), monthly for the chart, in quarters for the pre-trend test and
in half-years for HonestDiD. Callaway-Sant'Anna on the rate stays as a `secondary` estimate.
`_es_for_diagnostics` hands the half-year (and monthly, quarterly) event study with its
covariance and the post weights that reproduce the headline's target to the diagnostics.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from estimators.few_clusters import grouped_jackknife_label
from estimators.panel import PanelData, prepare_panel
from estimators.poisson import fit_poisson
from estimators.results import Estimate
from estimators.twfe import fit_twfe
from evaluation import diagnostics as dg
from evaluation.outcomes import OutcomeSpec
from evaluation.power_sim import crime_simulated_mde, with_simulated_mde
from evaluation.settings import EvaluationSettings

ESTIMATOR = "Poisson extended TWFE (Wooldridge), population exposure"
# Few-district inference for the headline and its event studies (issue 12, item 1): chosen by
# the coverage study in bench/coverage_crime.py (table in the module docstring of
# tests/estimators/test_poisson_few_districts.py).
HEADLINE_VCOV = "jackknife"
MIN_TREATED = 3  # fewer treated districts: no honest interval (see inference_status)
VCOV_LABELS = {
    "cluster": "cluster-robust (CR1) delta method",
    "restricted": "delta method with restricted-fit residuals (one shared effect path), "
    "clustered by district",
    "jackknife": "cluster jackknife (leave one district out)",
}


def crime_frame(dm: pd.DataFrame, spec: OutcomeSpec) -> tuple[pd.DataFrame, int]:
    """Reported district-months with the columns the estimators need; (frame, rows dropped).

    A reporting gap is a district-month flagged `reported == False` (or with the flag
    missing): a reported month with zero incidents is a zero, not a gap, and stays (dropping
    zeros would bias the counts up, most in small districts and rare offences)."""
    if "reported" in dm:
        reported = dm["reported"].astype("boolean").fillna(False).astype(bool)
    else:
        reported = pd.Series(True, index=dm.index)
    keep = reported & dm["population"].gt(0) & dm[spec.count].notna()
    f = dm.loc[
        keep, ["district_id", "period", "population", "cohort_period", spec.count, spec.rate]
    ].copy()
    f["cohort_period"] = f["cohort_period"].fillna(0).astype(int)
    f["pop_weight"] = f.groupby("district_id")["population"].transform("mean")
    return f.reset_index(drop=True), int((~keep).sum())


def binned(f: pd.DataFrame, spec: OutcomeSpec, months: int, time: str = "quarter") -> pd.DataFrame:
    """District sums over bins of `months` months (column `time`); a bin is treated from the
    one holding the first treated month (bin 1 holds months 1..`months` of the window).

    Exposure is summed over the months present like the counts (`population` = resident-months
    of the bin, `n_months` = months present), so `rate` = 1000 * count / resident-months is
    per 1,000 residents per month and a bin with a reporting gap or a partial last bin reads
    neither low nor high."""
    q = f.assign(**{time: (f["period"] - 1) // months + 1})
    out = q.groupby(["district_id", time], as_index=False).agg(
        count=(spec.count, "sum"),
        population=("population", "sum"),
        n_months=("population", "size"),
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


def poisson_event_study(
    counts: PanelData, s: EvaluationSettings, bin_periods: int, vcov: str = HEADLINE_VCOV
):
    """Poisson event study with leads in bins of `bin_periods` panel periods (common base:
    the bin before roll-out and anticipation), joint covariance by `vcov`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_poisson(
            counts,
            exposure="population",
            anticipation=s.anticipation,
            alpha=s.alpha,
            vcov=vcov,
            leads=True,
            bin_months=bin_periods,
            jackknife_max_groups=s.jackknife_groups,
        )


def as_event_study(fit, window: tuple[int, int], alpha: float, seed: int) -> dg.EventStudy:
    """`dg.EventStudy` of a leads fit's event times inside `window` (reference row added at 0),
    with a sup-t uniform band from the joint covariance (t(G-1) margins, simulated)."""
    t = np.asarray(fit.event_times, int)
    keep = (t >= window[0]) & (t <= window[1])
    se_all = np.sqrt(np.clip(np.diag(fit.event_vcov), 0, None))
    keep &= np.isfinite(se_all) & (se_all > 0)
    est = np.array([r["estimate"] for r in fit.event_study], float)[keep]
    sig = fit.event_vcov[np.ix_(keep, keep)]
    se = se_all[keep]
    df = max(int(fit.inference.get("df", 1)), 1)
    crit = dg.sup_t_critical(sig, df, alpha, seed) if keep.any() else float("nan")
    tab = pd.DataFrame(
        {
            "event_time": np.append(t[keep], fit.reference),
            "estimate": np.append(est, 0.0),
            "se": np.append(se, np.nan),
            "ci_low": np.append(est - crit * se, np.nan),
            "ci_high": np.append(est + crit * se, np.nan),
        }
    ).sort_values("event_time", ignore_index=True)
    return dg.EventStudy(tab, est, sig, t[keep], int(fit.reference), True, crit)


def es_payload(
    fit, window: tuple[int, int], bin_months: int, headline: float, n_treated: int
) -> dict:
    """The event study the diagnostics layer tests: leads inside the event window, every
    post bin, joint covariance, t df, and `target_weights` (aligned with `event_times`, 0 for
    leads): each post bin's share of the treated cells' expected untreated count, so
    sum(w * estimates) is the leads fit's own overall effect (`headline_from_event_study`),
    which differs from the headline only by the base (the leads fit compares with the
    reference bin alone, the headline with all clean pre-periods): over cities without a
    pre-trend the gap averages 0.05-0.15 headline SEs with an SD of 1.6-1.9 headline SEs
    (quarterly bins; bench/results/event_study_crime.json), the price of a common base.

    `df` is clusters - 1; the leads' covariance learns the treated districts' own noise from
    `n_treated` districts only. Measured size of the 5% Hotelling pre-trend test on these
    quarterly leads (no pre-trend, 150 cities): jackknife with G clusters 16% (10 districts,
    cohorts 1/1/2) and 8.7% (25 districts, 2/3/4/5); with n_treated + 1 clusters 0% and 5.3%;
    CR1 49% and 17%."""
    t = np.asarray(fit.event_times, int)
    keep = ((t >= window[0]) & (t < fit.reference)) | (t >= 0)
    est = np.array([r["estimate"] for r in fit.event_study], float)
    post_w = dict(zip(t[t >= 0].tolist(), fit.target_weights[t >= 0].tolist(), strict=True))
    w = [post_w.get(int(e), 0.0) if e >= 0 else 0.0 for e in t[keep]]
    return {
        "event_times": t[keep].tolist(),
        "estimates": [dg._num(v) for v in est[keep]],
        "vcov": [[dg._num(v) for v in row] for row in fit.event_vcov[np.ix_(keep, keep)]],
        "df": int(fit.inference.get("df", 0)),
        "bin_months": int(bin_months),
        "reference": int(fit.reference),
        "target_weights": w,
        "n_treated": int(n_treated),
        "headline_from_event_study": dg._num(fit.overall.estimate),
        "headline": dg._num(headline),
        "vcov_method": fit.inference.get("vcov"),
    }


def cohort_sizes(f: pd.DataFrame) -> dict[str, int]:
    units = f.groupby("district_id")["cohort_period"].first()
    vc = units[units > 0].value_counts().sort_index()
    return {str(int(g)): int(n) for g, n in vc.items()}


def inference_status(
    sizes: dict[str, int], method: str, df: int, groups: int | None = None
) -> tuple[dict, list[str]]:
    """`inference` entry of an outcome and the notes that go with it.

    No method can estimate the noise of a lone treated district from that district (its own
    effect absorbs it); with one treated district in all, nothing else carries that noise
    either. The jackknife judges a lone district's cohort from how far the estimate moves
    when it is left out, which needs several treated districts: measured coverage of the 95%
    interval (bench/coverage_crime.py, 500 cities each, 10 districts, overdispersion 0.2):
    one treated district 54%, two lone districts 90%, one pair 90%; three treated districts
    93% (one cohort of 3) and 94% (1/2, 300 cities each); four in cohorts of 1/1/2 94%. Below `MIN_TREATED` treated districts `valid` is False; a
    cohort of one district is warned about in any case. `groups`: the number of jackknife
    groups when districts were left out in groups (many districts), for the method's name."""
    n_treated = sum(sizes.values())
    notes, reason = [], None
    singles = [g for g, n in sizes.items() if n == 1]
    if singles:
        notes.append(
            f"{len(singles)} roll-out cohort(s) with a single district (starting in period "
            f"{', '.join(singles)}): that district's own effect cannot be told apart from its "
            "own noise; the interval rests on how far the estimate moves when each district is "
            "left out"
        )
    if n_treated <= 1:
        reason = (
            "only one district received the program: its effect and its own month-to-month "
            "swings cannot be separated, so no interval can be trusted"
        )
    elif n_treated < MIN_TREATED:
        reason = (
            f"only {n_treated} districts received the program: too few to estimate how much "
            "a treated district varies on its own (simulated 95% intervals covered the truth "
            "only about 90% of the time)"
        )
    if reason:
        notes.append(f"No trustworthy interval: {reason}.")
    return {
        "method": grouped_jackknife_label(groups) if groups else VCOV_LABELS.get(method, method),
        "df": int(df),
        "valid": reason is None,
        "reason": reason,
    }, notes


def pre_rollout(f: pd.DataFrame, time: str, anticipation: int) -> pd.Series:
    c = f["cohort_period"]
    return (c > 0) & (f[time] < c - anticipation)


def count_panel(f: pd.DataFrame, spec: OutcomeSpec, **options) -> PanelData:
    """The Poisson headline's panel: counts per district-period, population kept as the
    exposure column (`options` go to `prepare_panel`)."""
    return prepare_panel(
        f,
        unit="district_id",
        time="period",
        outcome=spec.count,
        cohort="cohort_period",
        covariates=["population"],
        **options,
    )


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
            f"{dropped} district-months flagged as not reported (reporting gaps) left out; "
            "reported months with zero incidents count as zeros"
        )
    pre = pre_rollout(f, "period", s.anticipation)
    units = f.groupby("district_id")["cohort_period"].first()
    sizes = cohort_sizes(f)

    counts = count_panel(f, spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pois = fit_poisson(
            counts,
            exposure="population",
            anticipation=s.anticipation,
            alpha=s.alpha,
            vcov=HEADLINE_VCOV,
            jackknife_max_groups=s.jackknife_groups,
        )
    head = pois.overall
    inference, inf_notes = inference_status(
        sizes, HEADLINE_VCOV, pois.inference["df"], pois.inference.get("jackknife_groups")
    )
    notes.extend(inf_notes)
    if not inference["valid"]:
        # no interval is honest here (coverage study): publish the estimate, withhold the
        # interval and p-value, as the survey headline does
        nan = float("nan")
        head = Estimate(head.estimate, nan, nan, nan, nan)
    timings["poisson"] = time.perf_counter() - clock

    clock = time.perf_counter()
    rates = rate_panel(f, "period", spec.rate, weighted=True)
    cs = dg.fit_cs(rates, s)
    cs_simple = cs.aggregate("simple").overall
    timings["cs_secondary"] = time.perf_counter() - clock

    clock = time.perf_counter()
    es_m_fit = poisson_event_study(counts, s, 1)
    es = as_event_study(es_m_fit, s.window(s.grain), s.alpha, s.seed)
    timings["poisson_event_study"] = time.perf_counter() - clock

    clock = time.perf_counter()
    mde = dg.mde(head.se, s.alpha)
    q_per, q_months = dg.grain_bins(s.grain, 3)  # quarters, or the grain if coarser
    q_units = {3: "quarter", 12: "year"}.get(q_months, "month")
    es_q_fit = poisson_event_study(counts, s, q_per)
    es_q = as_event_study(es_q_fit, s.window(q_units), s.alpha, s.seed)
    n_clusters = pois.n_clusters
    pt = dg.pre_trend(es_q, mde, s.alpha, n_clusters)
    h_per, h_months = dg.grain_bins(s.grain, dg.HONEST_BIN_MONTHS)
    es_h_fit = poisson_event_study(counts, s, h_per)
    h_window = dg.honest_window(s, h_months)
    es_h = as_event_study(es_h_fit, h_window, s.alpha, s.seed)
    hon = dg.honest(es_h, s, h_months)
    month_per = max(1, h_months // max(h_per, 1))  # months per panel period
    n_tr = int((units > 0).sum())
    es_diag = {
        **es_payload(es_h_fit, h_window, h_months, head.estimate, n_tr),
        # every lead the panel has: a steady trend is seen best over the whole pre-roll-out
        # span (the verdict's checks use this one, see evaluation.verdict.CHECK_RESOLUTION)
        "monthly": es_payload(
            es_m_fit, (-(10**6), s.window(s.grain)[1]), month_per, head.estimate, n_tr
        ),
        "quarterly": es_payload(es_q_fit, s.window(q_units), q_months, head.estimate, n_tr),
    }
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
        "effect_count_per_unit_period": {
            "estimate": dg._num(pois.effect_count.estimate),
            "ci_low": dg._num(pois.effect_count.ci_low),
            "ci_high": dg._num(pois.effect_count.ci_high),
        },
        "inference": inference,
        "cohort_sizes": sizes,
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
            "event_study_source": "Poisson event study with leads (same model as the "
            "headline; common base: the month before roll-out and anticipation), ratio of "
            f"sums per event time, proportional; intervals: {inference['method']}, "
            "sup-t uniform band",
            "uniform_band": es.uniform,
            "band_critical_value": dg._num(es.crit_val),
            "effect_count_method": "sum over treated district-months of (mu1 - mu0) from the "
            "Poisson fit, per treated district-month",
            "pre_trend_slope": pt.slope,
            "pre_trend_test": "Hotelling F on the leads of the Poisson event study in "
            "quarters (proportional scale, common base)",
            "honestdid_target_estimate": hon.estimate,
            "honestdid_target_ci": list(hon.original_ci),
            "honestdid_method": "relative magnitudes, ARP hybrid (C-LF), on the Poisson event "
            "study in half-years (proportional scale, common base)",
            "twfe_rate": dg._num(twfe_fit.overall.estimate),
            "twfe_wild_bootstrap_p": dg._num(twfe_fit.overall.p_value),
            "twfe_forbidden_weight": tw.forbidden_weight,
            "twfe_scale": "TWFE on the rate divided by the treated pre-roll-out mean rate "
            f"({base_rate:.6g})",
            "mde_method": "closed form (z_{1-alpha/2} + z_{0.8}) x headline SE",
            "poisson_notes": list(pois.notes),
        },
        "notes": [n for n in [*notes, pt.note, hon.note, tw.note] if n],
        "_es_for_diagnostics": es_diag,
        "_timings": timings,
    }
    return with_simulated_mde(out, power)

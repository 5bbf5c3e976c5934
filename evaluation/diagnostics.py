"""Diagnostics shared by every headline estimate: event study, pre-trends, HonestDiD, Bacon.

All of them work from a Callaway-Sant'Anna fit with the *universal* base period (every
event-study coefficient is relative to the last pre-roll-out period, the normalisation the
pre-trend test and HonestDiD assume) and from the influence functions of its aggregations,
whose cross-products give the event-study covariance.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from estimators.bacon import FORBIDDEN_TYPES, fit_bacon
from estimators.callaway_santanna import ATTgtResult, att_gt
from estimators.honest import fit_honest
from estimators.multiplier_bootstrap import cluster_sums
from estimators.panel import PanelData
from estimators.power import analytic_mde
from estimators.pretrends import pretest_power, wald_pretrend_test
from evaluation.settings import EvaluationSettings

BACON_LABELS = {
    "Treated vs Untreated": "treated vs never treated",
    "Earlier vs Later Treated": "earlier vs later treated (before the later start)",
    "Later vs Earlier Treated": "later vs earlier treated (already-treated controls)",
    "Later vs Always Treated": "later vs always treated (already-treated controls)",
}


def fit_cs(panel: PanelData, settings: EvaluationSettings, bootstrap: bool = True) -> ATTgtResult:
    """Callaway-Sant'Anna, universal base period, the configured comparison group."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return att_gt(
            panel,
            control_group=settings.control_group,
            base_period="universal",
            anticipation=settings.anticipation,
            est_method="reg",
            bootstrap=settings.bootstrap_draws if bootstrap else 0,
            seed=settings.seed,
            alpha=settings.alpha,
        )


@dataclass
class EventStudy:
    """Event-study coefficients (reference period included, estimate 0, no interval)."""

    table: pd.DataFrame  # event_time, estimate, se, ci_low, ci_high (uniform band)
    beta: np.ndarray  # without the reference period
    sigma: np.ndarray
    event_times: np.ndarray
    reference: int
    uniform: bool
    crit_val: float

    def scaled(self, factor: float) -> EventStudy:
        """The same event study in other units (e.g. rate -> proportional change)."""
        tab = self.table.copy()
        for c in ("estimate", "se", "ci_low", "ci_high"):
            tab[c] = tab[c] * factor
        return EventStudy(
            tab,
            self.beta * factor,
            self.sigma * factor**2,
            self.event_times,
            self.reference,
            self.uniform,
            self.crit_val,
        )

    def records(self) -> list[dict]:
        out = []
        for r in self.table.itertuples(index=False):
            ref = int(r.event_time) == self.reference
            out.append(
                {
                    "event_time": int(r.event_time),
                    "estimate": _num(r.estimate),
                    "ci_low": None if ref else _num(r.ci_low),
                    "ci_high": None if ref else _num(r.ci_high),
                    "se": None if ref else _num(r.se),
                }
            )
        return out


def event_study(res: ATTgtResult, window: tuple[int, int], anticipation: int) -> EventStudy:
    """Dynamic aggregation in `window`, its covariance and (bootstrapped) uniform band."""
    dyn = res.aggregate("dynamic", min_e=window[0], max_e=window[1])
    tab = dyn.table[["event_time", "estimate", "se", "ci_low", "ci_high"]].copy()
    reference = -1 - anticipation
    inf = dyn.inf_func_table
    sums = cluster_sums(inf, res.cluster_codes, res.n_clusters)
    sigma_all = sums.T @ sums / inf.shape[0] ** 2
    times = tab["event_time"].to_numpy(int)
    keep = (times != reference) & np.isfinite(tab["se"].to_numpy())
    return EventStudy(
        tab,
        tab["estimate"].to_numpy()[keep],
        sigma_all[np.ix_(keep, keep)],
        times[keep],
        reference,
        dyn.uniform_band,
        float(dyn.crit_val),
    )


@dataclass
class PreTrend:
    p_value: float | None
    power: float | None
    slope: float | None
    note: str | None = None


def pre_trend(es: EventStudy, mde: float | None, alpha: float, n_clusters: int) -> PreTrend:
    """Joint test of the pre-period coefficients and its power against a linear trend whose
    bias on the average post-period coefficient equals the MDE (Roth 2022).

    The covariance is estimated from G district clusters, so the Wald statistic W of k
    coefficients is referred to Hotelling's F: W (G - k) / (k (G - 1)) ~ F(k, G - k), power
    from the non-central F (`estimators.pretrends` with `n_clusters`). The chi-square
    over-rejects badly when k is close to G, e.g. 11 monthly leads from 12 districts.
    """
    pre = es.event_times < es.reference
    post = es.event_times >= es.reference + 1
    k = int(pre.sum())
    if not k:
        return PreTrend(None, None, None, "no pre-roll-out periods in the event window")
    if n_clusters - k < 1:
        return PreTrend(
            None,
            None,
            None,
            f"{k} pre-period coefficients from only {n_clusters} districts: no joint test possible",
        )
    try:
        test = wald_pretrend_test(
            es.beta, es.sigma, es.event_times, es.reference, n_clusters=n_clusters
        )
    except np.linalg.LinAlgError:
        return PreTrend(None, None, None, "pre-period covariance is singular")
    p_value = test.p_value
    power = slope = None
    if mde is not None and math.isfinite(mde) and post.any():
        lever = float(np.mean(es.event_times[post] - es.reference))
        slope = abs(mde) / lever
        delta = slope * (es.event_times[pre] - es.reference)
        s_pre = es.sigma[np.ix_(pre, pre)]
        power = pretest_power(delta, s_pre, rule="wald", alpha=alpha, n_clusters=n_clusters)
    return PreTrend(_num(p_value), _num(power), _num(slope))


HONEST_BIN_MONTHS = 6  # HonestDiD event-study bins: half-years (see `honest`)


def grain_bins(grain: str, bin_months: int) -> tuple[int, int]:
    """(periods per bin, months per bin) of `bin_months`-month bins at a panel grain: at a
    grain coarser than the bin, one period per bin (yearly panels)."""
    from engagement_eval.grain import MONTHS_PER_PERIOD, periods_per_bin

    per = periods_per_bin(grain, bin_months)
    return per, per * MONTHS_PER_PERIOD[grain]


def honest_window(
    settings: EvaluationSettings, bin_months: int = HONEST_BIN_MONTHS
) -> tuple[int, int]:
    """Event window of the HonestDiD event study, in bins of `HONEST_BIN_MONTHS` months.

    Post: every bin holding a month of the configured event window (months 0..hi). Pre: the
    `honestdid_pre` bins before the reference bin, or the configured window when wider.
    """
    lo, hi = settings.event_window
    lo_bins = max(settings.honestdid_pre + 1, -(-abs(min(lo, 0)) // bin_months))
    return -lo_bins, max(0, hi) // bin_months


def bin_anticipation(anticipation: int, periods_per_bin: int) -> int:
    """Anticipation in bins, rounded up (a bin partly anticipating is not a clean pre bin)."""
    return -(-anticipation // periods_per_bin)


@dataclass
class Honest:
    breakdown: float | None
    rows: list[dict]
    target: str
    estimate: float | None = None
    original_ci: tuple[float | None, float | None] = (None, None)
    window: dict | None = None  # first_month, last_month, bin_months of the target
    note: str | None = None


def honest(es: EventStudy, settings: EvaluationSettings, bin_months: int) -> Honest:
    """HonestDiD relative magnitudes (Rambachan & Roth 2023) for the average post-period effect.

    Target: the equal-weight average of the post-period coefficients of `es` (all of them,
    or the first `honestdid_post` when that is > 0): the average effect over the event
    window, the closest event-study counterpart of the headline average effect. `es` is a
    coarse (half-year) event study: the ARP hybrid test that RM needs grows steeply with the
    number of post coefficients (5 half-years ~1 s; 9 quarters ~1 min), and coarse bins give
    pre-period changes with less noise. Mbar bounds the change of the post-roll-out violation
    per bin by Mbar times the largest change between consecutive pre-roll-out bins.

    Breakdown: the largest Mbar whose robust interval excludes zero, refined by bisection;
    None ("not applicable") when even Mbar = 0 (parallel trends exactly) includes zero.
    """
    t = es.event_times
    pre = np.flatnonzero(t < es.reference)[-settings.honestdid_pre :]
    post = np.flatnonzero(t > es.reference)
    if settings.honestdid_post > 0:
        post = post[: settings.honestdid_post]
    if len(pre) < 1 or len(post) < 1:
        return Honest(None, [], "", note="HonestDiD needs pre- and post-period coefficients")
    first, last = int(t[post[0]]), int(t[post[-1]])
    target = (
        f"average effect over event times {first}..{last} in {bin_months}-month bins "
        f"(months {first * bin_months}-{(last + 1) * bin_months - 1} after roll-out); "
        f"relative magnitudes against the last {len(pre)} pre-roll-out bins"
    )
    window = {
        "first_month": first * bin_months,
        "last_month": (last + 1) * bin_months - 1,
        "bin_months": bin_months,
    }
    idx = np.concatenate([pre, post])
    beta, sigma = es.beta[idx], es.sigma[np.ix_(idx, idx)]
    try:
        res = fit_honest(
            beta,
            sigma,
            len(pre),
            l_vec=np.full(len(post), 1 / len(post)),
            restriction="relative_magnitude",
            grid=list(settings.honestdid_grid),
            alpha=settings.alpha,
            breakdown_steps=4,
            lf_sims=500,
            seed=settings.seed % (2**32),
        )
    except (ValueError, np.linalg.LinAlgError) as exc:
        return Honest(None, [], target, window=window, note=f"HonestDiD failed: {exc}")
    rows = [
        {"m": float(r.m), "ci_low": _num(r.lb), "ci_high": _num(r.ub)}
        for r in res.table.itertuples(index=False)
    ]
    original = (_num(res.original[0]), _num(res.original[1]))
    note = None
    if math.isnan(res.breakdown):
        bd = None
        note = (
            "HonestDiD breakdown not applicable: the interval for its target (the average "
            "effect over the event window) includes zero even under exact parallel trends"
        )
    else:
        bd = float(res.breakdown)
        if res.breakdown_censored:
            note = f"HonestDiD breakdown at least {bd:g} (zero excluded over the whole grid)"
    return Honest(bd, rows, target, _num(res.estimate), original, window, note)


@dataclass
class Twfe:
    estimate: float | None
    components: list[dict]
    forbidden_weight: float | None
    note: str | None = None


def twfe_bacon(panel: PanelData, factor: float = 1.0) -> Twfe:
    """Naive TWFE coefficient and its Goodman-Bacon components, times `factor` (scale)."""
    try:
        bac = fit_bacon(panel)
    except ValueError as exc:  # unbalanced panel, no timing variation
        return Twfe(None, [], None, f"Goodman-Bacon decomposition not possible: {exc}")
    by = bac.by_type
    comps = [
        {
            "type": BACON_LABELS.get(r.type, r.type),
            "weight": _num(r.weight),
            "estimate": _num(r.avg_estimate * factor),
        }
        for r in by.itertuples(index=False)
    ]
    forbidden = float(by.loc[by["type"].isin(FORBIDDEN_TYPES), "weight"].sum())
    return Twfe(_num(bac.twfe_estimate * factor), comps, _num(forbidden))


def mde(se: float | None, alpha: float) -> float | None:
    """Closed-form MDE (80% power, two-sided alpha) from the headline standard error."""
    if se is None or not math.isfinite(se) or se <= 0:
        return None
    return _num(analytic_mde(se, alpha, 0.8))


def _num(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def headline_fields(head, pt, tw, mde, hon, ri, es) -> dict:
    """The results.json fields every headline outcome shares (crime and survey alike)."""
    return {
        "estimate": _num(head.estimate),
        "se": _num(head.se),
        "ci_low": _num(head.ci_low),
        "ci_high": _num(head.ci_high),
        "p_value": _num(head.p_value),
        "pre_trend_p": pt.p_value,
        "pre_trend_power": pt.power,
        "twfe_estimate": tw.estimate,
        "twfe_bacon": tw.components,
        "mde": mde,
        "honestdid_breakdown": hon.breakdown,
        "honestdid": hon.rows,
        "honestdid_target": hon.target,
        "honestdid_window": hon.window,
        "ri_p": ri,
        "event_study": es.records(),
    }


def sup_t_critical(sigma: np.ndarray, df: int, alpha: float, seed: int, draws: int = 4000) -> float:
    """Critical value of max |t| over the event times: multivariate t(df) with the
    correlation of `sigma` (the band covers every event time at once with prob. 1-alpha)."""
    sd = np.sqrt(np.diag(sigma))
    corr = sigma / np.outer(sd, sd)
    rng = np.random.default_rng(seed % (2**32))
    vals, vecs = np.linalg.eigh(corr)
    root = vecs * np.sqrt(np.clip(vals, 0, None))
    z = rng.standard_normal((draws, len(sd))) @ root.T
    z /= np.sqrt(rng.chisquare(df, draws) / df)[:, None]
    return float(np.quantile(np.abs(z).max(axis=1), 1 - alpha))


def rebase(times, beta, vcov, ref: int) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Leads and lags against another common base: b_t - b_ref for every t != ref (an
    estimator whose base is an average of earlier periods estimates `ref` too). Linear, so
    the covariance is A V A'; only the rows of `times` are used."""
    times = [int(t) for t in times]
    j = times.index(ref)
    a = np.delete(np.eye(len(times)), j, axis=0)
    a[:, j] -= 1.0
    v = a @ np.asarray(vcov, float) @ a.T
    return [t for t in times if t != ref], a @ np.asarray(beta, float), (v + v.T) / 2

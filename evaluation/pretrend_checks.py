"""Could a pre-existing trend have produced the headline? (issue 12, item 3)

Pure numpy/scipy/pandas: works from an event study in the outcome's own units, whichever
estimator produced it (Poisson log-link event study for crime, CS for the survey):

    es = {"event_times": [...],   # ints, leads negative, lags >= 0, reference omitted
          "estimates": [...], "vcov": [[...]],
          "df": G - 1 or None,    # cluster degrees of freedom behind vcov (None: normal)
          "bin_months": int,      # months per event-time period
          "target_weights": [...],  # over the post event times (> reference); sum w_j b_j
                                    # is the headline
          "reference": -1,        # the omitted base period
          "n_treated": 7}         # optional: treated districts (clusters); caps df at
                                  # n_treated - 1 (see below)

Every lead must be against that one common base (a "long difference": b_t estimates
delta_t - delta_ref). Leads against a varying base (CS `base_period="varying"`: each lead is a
one-period change) are converted by `common_base_leads`.

Why these checks: a joint (Hotelling) test of all leads spreads its power over every direction
and, with few districts, has little of it; a steady divergence of the program districts is the
violation that most often fakes an effect, and it is one direction. So beside the joint test we
report a one-degree-of-freedom test for a linear trend in the leads, the power of both tests
against the linear trend that would by itself produce the headline (Roth 2022: a pre-test that
could not have seen that trend is a concern, not a reassurance), and HonestDiD intervals under
smoothness (Delta-SD; M = 0 extrapolates a linear pre-trend exactly) beside relative
magnitudes (Rambachan & Roth 2023). Field-by-field documentation: docs/pretrend_checks.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import optimize, stats

from estimators.honest import fit_honest, flci_separable
from estimators.pretrends import pretest_power, wald_pretrend_test

# Leads used, all ending at the reference period (HonestDiD needs consecutive periods):
# - linear-trend test: every lead handed over. The headlines' base is the average of the whole
#   pre-roll-out span, so the trend that could produce them is a trend over that span, and
#   a steady trend is measured best over all of it (slope SE falls as K^-1.5). With an
#   estimated covariance the test uses fixed weights (ordinary least squares through the
#   reference point) and so loses no degrees of freedom per lead (see `linear_trend_test`):
#   more leads only add power. (An earlier default kept the last two years; on the verdict
#   study its power against the explaining trend was about half.)
# - joint test and HonestDiD: the last K of the last LEAD_SPAN_MONTHS // bin_months leads, K = min(span, (df + 1) // 2). These use the
#   inverse of the estimated covariance, and every lead costs a degree of freedom (joint test
#   F(K, G - K), Delta-SD t(G - K)), so K is capped at half the districts. Measured (400
#   Wishart replications each, trend biasing the target by 4 SE): with 22 districts and
#   monthly leads the joint test's power peaked at K = 11 (0.16) and fell to 0.10 at K = 20;
#   with 12 districts and quarterly leads it still rose from 0.30 (K = 6) to 0.36 (K = 8).
#   The cap is a middle ground; the linear test carries the power either way (0.95 there).
LEAD_SPAN_MONTHS = 24
# Delta-SD grid: M = these multiples of the standard error of the pre-period curvature (the
# second difference of a quadratic fitted through the leads and the zero reference point).
# The unit depends only on the covariance, not on the noisy estimates, so the grid is the same
# in every replication, and "M = 1" reads "a bend in the trend as large as the leads can
# measure with one standard error".
SD_GRID_MULTIPLES = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
# Relative magnitudes: R HonestDiD's C-LF (ARP hybrid) inference, whose cost grows steeply with
# the number of post periods (6 post periods ~5 s); computed only up to RM_MAX_POST post
# periods, from the last RM_MAX_PRE leads.
RM_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)
RM_MAX_POST = 5
RM_MAX_PRE = 3


@dataclass(frozen=True)
class PreTrendChecks:
    """Pre-trend checks of one outcome; `to_dict()` is JSON-ready. See docs/pretrend_checks.md."""

    alpha: float
    df_used: int | None  # degrees of freedom of the small-sample steps (None: normal)
    reference: int
    bin_months: int
    headline: float
    target_estimate: float  # sum of target_weights x post estimates (should equal headline)
    leads_linear: list[int]  # leads of the linear-trend test
    leads_used: list[int]  # leads of the joint test and HonestDiD
    n_leads_available: int
    joint_stat: float | None  # Wald W, or Hotelling F with df
    joint_p: float | None
    joint_df: list[int] | None  # [K] (chi-square) or [K, G - K] (Hotelling F)
    linear_slope: float | None  # per event period, outcome units
    linear_slope_se: float | None
    linear_t: float | None
    linear_df: int | None  # None: normal reference distribution
    linear_method: str | None  # "gls" or "ols" (see linear_trend_test)
    linear_p: float | None
    explaining_slope: float | None
    explaining_lever: float | None  # sum_j w_j (t_j - reference), or - es["base_center"]
    power_linear_vs_explaining: float | None
    power_joint_vs_explaining: float | None
    long_differences: list[dict]
    honest_sd: list[dict]
    honest_sd_unit: float | None  # M grid unit: SE of the pre-period curvature
    honest_sd_breakdown: float | None
    honest_sd_breakdown_units: float | None  # breakdown / honest_sd_unit
    honest_rm: list[dict]
    honest_rm_breakdown: float | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return _clean(asdict(self))


def common_base_leads(event_times, estimates, vcov, reference: int = -1):
    """Leads against a varying base -> leads against the common base `reference`.

    A varying-base lead (CS `base_period="varying"`) at event time e < reference is the
    one-period change c_e = delta_e - delta_{e-1}; the common-base lead is the long difference
    b_e = delta_e - delta_ref = -(c_{e+1} + ... + c_ref). Post-period coefficients are long
    differences against the period before treatment in both conventions and pass unchanged.
    The map is linear (b = L c), so the covariance is L V L'. Exact for one cohort (ATT(g, t));
    for an aggregate over cohorts it is exact when every event time averages the same cohorts
    with the same weights (a balanced event window), otherwise convert each cohort's
    ATT(g, t) first and aggregate after. Returns (event_times, estimates, vcov) numpy arrays.
    """
    t = np.asarray(event_times, int)
    c = np.asarray(estimates, float)
    v = np.asarray(vcov, float)
    lmap = np.eye(t.size)
    pre = np.flatnonzero(t <= reference)
    times = set(t[pre].tolist())
    for i in pre:
        if t[i] == reference:
            continue
        needed = range(t[i] + 1, reference + 1)
        if not all(e in times for e in needed):
            raise ValueError(f"lead {t[i]}: varying-base leads {list(needed)} are all needed")
        lmap[i] = 0.0
        for e in needed:
            lmap[i, np.flatnonzero(t == e)[0]] = -1.0
    keep = t != reference
    lmap = lmap[keep]
    return t[keep], lmap @ c, lmap @ v @ lmap.T


LINEAR_METHODS = ("auto", "gls", "ols")


@dataclass(frozen=True)
class LinearTrendTest:
    slope: float
    se: float
    t: float
    df: int | None
    p_value: float
    method: str


def _ols_weights(x) -> np.ndarray:
    x = np.asarray(x, float)
    return x / float(x @ x)


def linear_trend_test(
    b_pre, v_pre, x, df: int | None = None, method: str = "auto"
) -> LinearTrendTest:
    """One-degree-of-freedom test of a linear trend delta_t = s * x_t through the leads.

    `x` = event time - reference: the trend passes through the zero reference point.

    - "gls": s = x'V^-1 b / x'V^-1 x, se = (x'V^-1 x)^(-1/2); the most powerful test when V is
      known. With `df` = n cluster degrees of freedom (V estimated, about Wishart with
      n = G - 1) the weights use the noisy V, so t_GLS is not t(n). Rao's covariance
      adjustment gives the exact test: with W = b'V^-1 b (the joint Hotelling statistic) and
      W_resid = W - t_GLS^2, t = t_GLS sqrt((n - K + 1) / (n + W_resid)) ~ t(n - K + 1)
      (Rao 1948's "additional information" decomposition of Hotelling's T^2; Kshirsagar 1972
      ch. 8). Each of the K leads costs a degree of freedom.
    - "ols": s = x'b / x'x, se = sqrt(x'V x) / x'x, t(n) (normal without df): exact under the
      same Wishart model because the weights do not depend on the estimated V, so using many
      leads costs nothing. In the Monte Carlo (docs/pretrend_checks.md) against a trend
      biasing the target by 4 SE it had 0.89 power with 20 monthly leads and 22 districts,
      where the Rao-GLS test peaked at 0.37 (11 leads); with 12 districts and 8 quarterly
      leads 0.95 against 0.55.
    - "auto" (default): "gls" when `df` is None (known covariance), "ols" otherwise.
    The reported se is slope / t, so any small-sample adjustment is in the se.
    """
    if method not in LINEAR_METHODS:
        raise ValueError(f"method must be one of {LINEAR_METHODS}")
    if method == "auto":
        method = "gls" if df is None else "ols"
    b_pre = np.asarray(b_pre, float)
    v_pre = np.atleast_2d(np.asarray(v_pre, float))
    x = np.asarray(x, float)
    if method == "ols":
        c = _ols_weights(x)
        slope = float(c @ b_pre)
        se = math.sqrt(float(c @ v_pre @ c))
        t = slope / se
        if df is None:
            return LinearTrendTest(slope, se, t, None, float(2 * stats.norm.sf(abs(t))), method)
        return LinearTrendTest(slope, se, t, int(df), float(2 * stats.t.sf(abs(t), df)), method)
    vi_b = np.linalg.solve(v_pre, b_pre)
    vi_x = np.linalg.solve(v_pre, x)
    info = float(x @ vi_x)
    slope = float(x @ vi_b) / info
    se = 1.0 / math.sqrt(info)
    t_gls = slope / se
    if df is None:
        p = float(2 * stats.norm.sf(abs(t_gls)))
        return LinearTrendTest(slope, se, t_gls, None, p, method)
    k = b_pre.size
    dfd = int(df) - k + 1
    if dfd < 1:
        raise ValueError(f"{k} leads from {df} cluster degrees of freedom: no GLS linear test")
    w_resid = max(float(b_pre @ vi_b) - t_gls**2, 0.0)
    t_adj = t_gls * math.sqrt(dfd / (df + w_resid))
    se_adj = se * math.sqrt((df + w_resid) / dfd)
    p = float(2 * stats.t.sf(abs(t_adj), dfd))
    return LinearTrendTest(slope, se_adj, t_adj, dfd, p, method)


def linear_test_power(
    slope, v_pre, x, alpha: float, df: int | None = None, method: str = "auto"
) -> float:
    """Power of `linear_trend_test` (two-sided, level alpha) when the leads follow slope * x,
    with `v_pre` taken as the true covariance (plug-in).

    "ols": exact, noncentral t(n) (normal without df) with noncentrality
    slope x'x / sqrt(x'Vx). "gls": lambda = slope / se_GLS; normal without df, otherwise
    F(1, n - K + 1) with noncentrality lambda^2 (n - K + 1) / n, the shrinkage of the plug-in
    noncentrality `estimators.pretrends.pretest_power` uses for the joint Hotelling test.
    """
    if method == "auto":
        method = "gls" if df is None else "ols"
    v_pre = np.atleast_2d(np.asarray(v_pre, float))
    x = np.asarray(x, float)
    if method == "ols":
        c = _ols_weights(x)
        lam = float(slope) / math.sqrt(float(c @ v_pre @ c))
    else:
        lam = abs(float(slope)) * math.sqrt(float(x @ np.linalg.solve(v_pre, x)))
    if df is None:
        z = stats.norm.ppf(1 - alpha / 2)
        return float(stats.norm.sf(z - lam) + stats.norm.cdf(-z - lam))
    if method == "ols":
        q = stats.t.ppf(1 - alpha / 2, df)
        lam = abs(lam)
        # scipy's nct returns nan for some far-tail values (e.g. cdf(-2.2, 11, 20)); that
        # wrong-side tail is then below 1e-100.
        far = float(np.nan_to_num(stats.nct.cdf(-q, df, lam), nan=0.0))
        return min(1.0, float(stats.nct.sf(q, df, lam)) + far)
    dfd = int(df) - x.size + 1
    if lam == 0:
        return float(alpha)
    crit = stats.f.ppf(1 - alpha, 1, dfd)
    return float(stats.ncf.sf(crit, 1, dfd, lam**2 * dfd / df))


def small_sample_scale(b_pre, v_pre, x, df: int | None, alpha: float) -> float:
    """Factor for the covariance given to the Delta-SD FLCI when it was estimated from
    clusters (df = n); 1 without df.

    At M = 0 the FLCI is the GLS extrapolation of the linear pre-trend, whose weights use the
    noisy covariance. In the Wishart model (see `linear_trend_test`) Rao's covariance
    adjustment makes it exact: the leads' K - 1 directions orthogonal to the trend are the
    covariates, so (estimate - target) / (se_GLS sqrt((n + W_resid) / (n - K + 1))) ~
    t(n - K + 1), W_resid the part of the leads' Hotelling statistic orthogonal to the trend.
    Multiplying the covariance by ((n + W_resid) / (n - K + 1)) (t_q / z_q)^2 turns the M = 0
    FLCI into exactly that t interval. For M > 0 the same factor widens the noise part of the
    FLCI (not its bias bound): a heuristic, whose coverage is measured in
    tests/evaluation/pretrend_mc.py. Without it the M = 0 interval covered 62-68% of the time
    with 10-22 districts (docs/pretrend_checks.md).
    """
    if df is None:
        return 1.0
    b_pre = np.asarray(b_pre, float)
    v_pre = np.atleast_2d(np.asarray(v_pre, float))
    x = np.asarray(x, float)
    k = b_pre.size
    dfd = int(df) - k + 1
    if dfd < 1:
        raise ValueError(f"{k} leads from {df} cluster degrees of freedom")
    vi_b = np.linalg.solve(v_pre, b_pre)
    vi_x = np.linalg.solve(v_pre, x)
    t_gls2 = float(x @ vi_b) ** 2 / float(x @ vi_x)
    w_resid = max(float(b_pre @ vi_b) - t_gls2, 0.0)
    ratio = stats.t.ppf(1 - alpha / 2, dfd) / stats.norm.ppf(1 - alpha / 2)
    return (df + w_resid) / dfd * ratio**2


def curvature_se(v_pre, x) -> float:
    """SE of the second difference of a quadratic a x + c x^2 fitted by GLS through the leads
    (x = event time - reference) and the zero reference point: 2 sqrt([(X'V^-1X)^-1]_cc)."""
    x = np.asarray(x, float)
    xm = np.column_stack([x, x**2])
    info = xm.T @ np.linalg.solve(np.atleast_2d(v_pre), xm)
    return 2.0 * math.sqrt(float(np.linalg.inv(info)[1, 1]))


def default_lead_count(n_leads: int, bin_months: int, df: int | None) -> tuple[int, int]:
    """(leads for the linear test, leads for the joint test and HonestDiD), see the comment
    at LEAD_SPAN_MONTHS: all available for the first; min(available, LEAD_SPAN_MONTHS //
    bin_months), and of those at most (df + 1) // 2, for the second."""
    k = min(n_leads, max(1, LEAD_SPAN_MONTHS // max(1, int(bin_months))))
    k_joint = k if df is None else min(k, max(1, (int(df) + 1) // 2))
    return max(0, n_leads), max(0, k_joint)


def pretrend_checks(
    es: dict,
    headline: float,
    alpha: float = 0.05,
    *,
    n_leads: int | None = None,
    sd_grid=None,
    rm_grid=RM_GRID,
    linear_method: str = "auto",
    rm_max_pre: int = RM_MAX_PRE,
    seed: int = 0,
) -> PreTrendChecks:
    """All pre-trend checks of one outcome (see the module docstring and
    docs/pretrend_checks.md). `n_leads`: use the last `n_leads` leads for every check
    instead of the two counts of `default_lead_count`. `linear_method`: see
    `linear_trend_test`. `rm_max_pre`: leads given to relative magnitudes. `sd_grid`:
    Delta-SD M values in outcome units per period^2 instead of SD_GRID_MULTIPLES x the
    curvature SE. `seed`: the least-favourable draws of the relative-magnitudes (ARP hybrid)
    intervals."""
    notes: list[str] = []
    t_all = np.asarray(es["event_times"], int)
    b_all = np.asarray(es["estimates"], float)
    v_all = np.asarray(es["vcov"], float)
    ref = int(es.get("reference", -1))
    df = None if es.get("df") is None else int(es["df"])
    df_given = df
    n_treated = es.get("n_treated")
    if df is not None and n_treated is not None and int(n_treated) - 1 < df:
        # With few treated districts a cluster-robust covariance of the leads behaves like a
        # Wishart matrix with far fewer than G - 1 degrees of freedom (22 districts, 7
        # treated: the joint test rejected 75% of parallel-trend cities with G - 1, 0.5%
        # with n_treated - 1; docs/pretrend_checks.md). Conservative, not exact.
        df = max(1, int(n_treated) - 1)
        notes.append(
            f"Small-sample steps use {df} degrees of freedom (treated districts - 1) instead "
            f"of {df_given}."
        )
    bin_months = int(es.get("bin_months", 1))
    if v_all.shape != (t_all.size, t_all.size) or b_all.size != t_all.size:
        raise ValueError("event_times, estimates and vcov must agree")
    if (t_all == ref).any():
        raise ValueError(f"the reference period {ref} must be omitted")
    order = np.argsort(t_all)
    t_all, b_all, v_all = t_all[order], b_all[order], v_all[np.ix_(order, order)]
    v_all = (v_all + v_all.T) / 2
    se_all = np.sqrt(np.clip(np.diag(v_all), 0, None))
    ok = np.isfinite(b_all) & np.isfinite(se_all) & (se_all > 0)

    post = np.flatnonzero(t_all > ref)
    w = np.asarray(es["target_weights"], float).ravel()
    if w.size != post.size:
        lags = np.flatnonzero(t_all >= 0)
        if w.size == lags.size:  # weights over lags >= 0 only: anticipation periods get 0
            w = np.zeros(post.size)
            w[np.isin(post, lags)] = np.asarray(es["target_weights"], float)
        else:
            raise ValueError(f"target_weights needs {post.size} entries (event times > {ref})")
    if not ok[post[w != 0]].all():
        raise ValueError("a post period with target weight has no finite estimate and se")
    target = float(w @ b_all[post])
    lever = float(w @ (t_all[post] - ref))
    if es.get("base_center") is not None:
        # The headline's own base is not the reference period but an average of earlier
        # periods (e.g. every pre-roll-out month): a linear trend s moves it by
        # s * (sum_j w_j t_j - base_center), a longer lever than from the reference alone.
        lever = float(w @ t_all[post] - float(es["base_center"]))
    if abs(target - headline) > 1e-6 * max(1.0, abs(headline)):
        notes.append(
            f"The event study's target ({target:.4g}) differs from the headline "
            f"({headline:.4g}); the explaining slope uses the headline."
        )

    lead_idx = np.flatnonzero((t_all < ref) & ok)
    long_differences = [
        {"event_time": int(t_all[i]), "estimate": float(b_all[i]), "se": float(se_all[i])}
        for i in lead_idx
    ]
    # Contiguous run of leads ending at ref - 1 (HonestDiD needs consecutive periods).
    run = []
    for i in lead_idx[::-1]:
        if t_all[i] != ref - 1 - len(run):
            break
        run.append(i)
    run = np.array(run[::-1], int)
    if run.size < lead_idx.size:
        notes.append(f"Leads before event time {ref - run.size} skipped: a lead is missing.")
    k_lin, k = default_lead_count(run.size, bin_months, df)
    if n_leads is not None:
        k_lin = k = min(int(n_leads), run.size)
    used_lin = run[run.size - k_lin :] if k_lin else run[:0]
    used = run[run.size - k :] if k else run[:0]
    base = dict(
        alpha=alpha,
        df_used=df,
        reference=ref,
        bin_months=bin_months,
        headline=float(headline),
        target_estimate=target,
        leads_linear=[int(v) for v in t_all[used_lin]],
        leads_used=[int(v) for v in t_all[used]],
        n_leads_available=int(lead_idx.size),
        long_differences=long_differences,
    )
    if k == 0:
        notes.append("No lead just before the reference period: no pre-trend check possible.")
        return _empty(base, notes)
    if k_lin < run.size or k < k_lin:
        notes.append(
            f"Leads used: the last {k_lin} of {run.size} for the linear test "
            f"({LEAD_SPAN_MONTHS}-month span), the last {k} for the joint test and HonestDiD "
            "(at most half the cluster degrees of freedom)."
        )
    x = (t_all[used] - ref).astype(float)
    b_pre, v_pre = b_all[used], v_all[np.ix_(used, used)]
    x_lin = (t_all[used_lin] - ref).astype(float)
    b_lin, v_lin = b_all[used_lin], v_all[np.ix_(used_lin, used_lin)]
    explaining = float(headline) / lever if lever > 0 else None

    joint = _joint(b_pre, v_pre, x, df, notes)
    lin = None
    try:
        lin = linear_trend_test(b_lin, v_lin, x_lin, df, linear_method)
    except ValueError as exc:
        notes.append(str(exc))
    p_lin = p_joint = None
    if explaining is not None:
        if lin is not None:
            p_lin = linear_test_power(explaining, v_lin, x_lin, alpha, df, lin.method)
        if joint is not None:
            p_joint = pretest_power(
                explaining * x, v_pre, alpha=alpha, n_clusters=None if df is None else df + 1
            )

    n_run = _contiguous(t_all[post], ref + 1)
    bad = np.flatnonzero(~ok[post])
    post_run = post[: min(n_run, bad[0]) if bad.size else n_run]
    if post_run.size < post.size and np.any(w[post_run.size :] != 0):
        notes.append("Post periods are not consecutive (or one is missing): HonestDiD skipped.")
        sd_rows, sd_unit, sd_bd, rm_rows, rm_bd = [], None, None, [], None
    else:
        wp = w[: post_run.size]
        idx = np.concatenate([used, post_run])
        beta, sigma = b_all[idx], v_all[np.ix_(idx, idx)]
        try:
            scale = small_sample_scale(b_pre, v_pre, x, df, alpha)
        except ValueError:
            scale = math.nan
        if math.isfinite(scale):
            sd_rows, sd_unit, sd_bd = _honest_sd(
                beta, sigma, k, wp, alpha, x, sd_grid, notes, scale
            )
        else:
            notes.append("Delta-SD not computed: too few cluster degrees of freedom.")
            sd_rows, sd_unit, sd_bd = [], None, None
        rm_rows, rm_bd = _honest_rm(beta, sigma, k, wp, alpha, rm_grid, seed, notes, rm_max_pre)
    if df is not None:
        notes.append(
            "Delta-SD intervals carry the small-sample (Rao) adjustment for the "
            f"{df} cluster degrees of freedom; relative-magnitudes intervals use normal "
            "critical values, as R HonestDiD."
        )
    return PreTrendChecks(
        **base,
        joint_stat=None if joint is None else joint[0],
        joint_p=None if joint is None else joint[1],
        joint_df=None if joint is None else joint[2],
        linear_slope=None if lin is None else lin.slope,
        linear_slope_se=None if lin is None else lin.se,
        linear_t=None if lin is None else lin.t,
        linear_df=None if lin is None else lin.df,
        linear_method=None if lin is None else lin.method,
        linear_p=None if lin is None else lin.p_value,
        explaining_slope=explaining,
        explaining_lever=lever,
        power_linear_vs_explaining=p_lin,
        power_joint_vs_explaining=p_joint,
        honest_sd=sd_rows,
        honest_sd_unit=sd_unit,
        honest_sd_breakdown=sd_bd,
        honest_sd_breakdown_units=None if sd_bd is None or not sd_unit else sd_bd / sd_unit,
        honest_rm=rm_rows,
        honest_rm_breakdown=rm_bd,
        notes=notes,
    )


def _contiguous(times, start) -> int:
    n = 0
    while n < len(times) and times[n] == start + n:
        n += 1
    return n


def _joint(b_pre, v_pre, x, df, notes):
    """(statistic, p, df list) of the joint test of the used leads, or None."""
    k = b_pre.size
    times = (x - 1).astype(int)  # any times with reference 0 - 1 = -1 below
    try:
        res = wald_pretrend_test(b_pre, v_pre, times, -1, n_clusters=None if df is None else df + 1)
    except ValueError as exc:
        notes.append(f"No joint test: {exc}")
        return None
    if res.f_statistic is None:
        return float(res.statistic), float(res.p_value), [k]
    return float(res.f_statistic), float(res.p_value), [k, int(res.df_denom)]


def _honest_sd(beta, sigma, k, w, alpha, x, grid, notes, scale=1.0):
    """Delta-SD FLCI rows over the grid, the grid unit and the breakdown M. `scale`
    multiplies the covariance the FLCI sees (`small_sample_scale`); the grid unit comes from
    the covariance as given."""
    if k < 2:
        notes.append("Delta-SD needs two leads: not computed.")
        return [], None, None
    unit = curvature_se(sigma[:k, :k], x)
    if grid is None:
        grid = [g * unit for g in SD_GRID_MULTIPLES]
    grid = sorted(float(g) for g in grid)

    def ci(m):
        lo, hi, _, _ = flci_separable(beta, sigma * scale, k, w, m, alpha)
        return lo, hi

    rows = []
    for m in grid:
        lo, hi = ci(m)
        rows.append({"m": m, "m_units": m / unit if unit else None, "ci_low": lo, "ci_high": hi})
    lo0, hi0 = ci(0.0)
    if lo0 <= 0 <= hi0:
        return rows, unit, None
    sign = 1.0 if lo0 > 0 else -1.0

    def gap(m):  # distance of the interval's near end beyond zero; decreasing in m
        lo, hi = ci(m)
        return lo if sign > 0 else -hi

    hi_m = max(unit, grid[-1]) if grid[-1] > 0 else unit
    steps = 0
    while gap(hi_m) > 0 and steps < 40:
        hi_m *= 2
        steps += 1
    if gap(hi_m) > 0:
        notes.append("Delta-SD breakdown not bracketed.")
        return rows, unit, None
    bd = optimize.brentq(gap, 0.0, hi_m, xtol=1e-4 * unit, rtol=1e-3)
    return rows, unit, float(bd)


def _honest_rm(beta, sigma, k, w, alpha, grid, seed, notes, max_pre=RM_MAX_PRE):
    """Relative-magnitudes C-LF rows and breakdown Mbar (last `max_pre` leads)."""
    num_post = w.size
    if not len(grid):
        return [], None
    if num_post > RM_MAX_POST:
        notes.append(
            f"Relative magnitudes not computed: {num_post} post periods (the ARP hybrid is "
            f"limited to {RM_MAX_POST} here for runtime; pass a coarser event study)."
        )
        return [], None
    kk = min(k, max_pre)
    idx = np.concatenate([np.arange(k - kk, k), np.arange(k, k + num_post)])
    try:
        res = fit_honest(
            beta[idx],
            sigma[np.ix_(idx, idx)],
            kk,
            l_vec=w,
            restriction="relative_magnitude",
            grid=list(grid),
            alpha=alpha,
            breakdown_steps=4,
            lf_sims=500,
            seed=seed,
        )
    except (ValueError, np.linalg.LinAlgError) as exc:
        notes.append(f"Relative magnitudes failed: {exc}")
        return [], None
    rows = [
        {"mbar": float(r.m), "ci_low": float(r.lb), "ci_high": float(r.ub)}
        for r in res.table.itertuples(index=False)
    ]
    bd = None if math.isnan(res.breakdown) else float(res.breakdown)
    if res.breakdown_censored:
        notes.append(f"Relative-magnitudes breakdown at least {bd:g} (end of the grid).")
    return rows, bd


def _empty(base, notes) -> PreTrendChecks:
    none = dict.fromkeys(
        [
            "joint_stat", "joint_p", "joint_df", "linear_slope", "linear_slope_se", "linear_t",
            "linear_df", "linear_method", "linear_p", "explaining_slope", "explaining_lever",
            "power_linear_vs_explaining", "power_joint_vs_explaining", "honest_sd_unit",
            "honest_sd_breakdown", "honest_sd_breakdown_units", "honest_rm_breakdown",
        ]
    )  # fmt: skip
    return PreTrendChecks(**base, **none, honest_sd=[], honest_rm=[], notes=notes)


def _clean(obj):
    """JSON-ready: numpy scalars to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj

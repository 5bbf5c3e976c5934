"""Minimum detectable effect of a planned roll-out, by simulation on the city's own panel.

Before a program starts, an evaluator asks what effect this city could detect with its
districts and months. We answer it on the city's real history (its noise, seasonality and
district heterogeneity) rather than on textbook formulas:

1. place a roll-out on the untreated history: `n_treated` districts drawn at random (or the
   planned cohort sizes) starting at the planned periods, optionally shifted in calendar time;
2. inject an effect d into treated post-roll-out cells: added for continuous outcomes, or
   multiplied for counts (binomial thinning for reductions, extra Poisson events for
   increases, so cells stay counts with the right mean);
3. re-estimate with the supplied estimator and record whether it rejects at `alpha`;
4. the MDE is the smallest |d| with rejection rate >= `power`, found by bisection with common
   random numbers (the same roll-outs and resampling draws at every d, so power rises
   smoothly in d).

Placebo roll-outs (d = 0) give the actual false-positive rate of the estimator and its
inference on this panel, and the spread of placebo estimates gives the closed-form check
MDE ~ (z_{1-alpha/2} + z_{power}) * SE.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from estimators.panel import EstimationInputError

EFFECT_KINDS = ("additive", "multiplicative")
ProgressHook = Callable[[int, int, str], None]


def analytic_mde(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Closed-form MDE of a two-sided z-test: (z_{1-alpha/2} + z_{power}) * se."""
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)


def _estimate_and_reject(result, alpha: float) -> tuple[float, float, bool]:
    """Accept (estimate, se) tuples or objects with estimate/se (and optionally p_value)."""
    if isinstance(result, tuple):
        est, se = float(result[0]), float(result[1])
        p = math.nan
    else:
        est, se = float(result.estimate), float(result.se)
        p = float(getattr(result, "p_value", math.nan))
    if not math.isfinite(p):
        p = 2 * stats.norm.sf(abs(est) / se) if se > 0 and math.isfinite(se) else 1.0
    return est, se, bool(p < alpha)


@dataclass(frozen=True)
class RolloutDraw:
    """One simulated roll-out: cohort (first treated period, 0 = never) per unit."""

    cohort: np.ndarray


@dataclass
class PowerResult:
    """MDE search result. `curve` has the rejection rate at every effect size tried."""

    mde: float
    mde_analytic: float
    mde_analytic_reported_se: float
    false_positive_rate: float
    placebo_sd: float
    placebo_mean_se: float
    kind: str
    alpha: float
    target_power: float
    n_sims: int
    curve: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def tidy(self) -> pd.DataFrame:
        return self.curve.copy()

    def summary(self) -> str:
        unit = "proportional" if self.kind == "multiplicative" else "outcome units"
        return "\n".join(
            [
                f"Minimum detectable effect ({unit}, {self.target_power:.0%} power, alpha "
                f"{self.alpha}): {self.mde:.4g} by simulation ({self.n_sims} roll-outs)",
                f"Closed form (z+z)*SE: {self.mde_analytic:.4g} with the placebo spread, "
                f"{self.mde_analytic_reported_se:.4g} with the estimator's own SE",
                f"False-positive rate on placebo roll-outs: {self.false_positive_rate:.3f}",
                self.curve.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
                *self.notes,
            ]
        )

    def to_dict(self) -> dict:
        def num(v):
            return float(v) if math.isfinite(v) else None

        return {
            "mde": num(self.mde),
            "mde_analytic": num(self.mde_analytic),
            "mde_analytic_reported_se": num(self.mde_analytic_reported_se),
            "false_positive_rate": num(self.false_positive_rate),
            "placebo_sd": num(self.placebo_sd),
            "placebo_mean_se": num(self.placebo_mean_se),
            "kind": self.kind,
            "alpha": self.alpha,
            "target_power": self.target_power,
            "n_sims": self.n_sims,
            "curve": [
                {k: (num(v) if isinstance(v, float) else v) for k, v in r.items()}
                for r in self.curve.to_dict("records")
            ],
            "notes": list(self.notes),
        }


class _Simulator:
    """Holds the panel as arrays and the per-simulation random draws (common across d)."""

    def __init__(self, df, unit, time, outcome, kind, starts, sizes, shift_range, n_sims, rng):
        self.frame = df[[unit, time, outcome]].copy()
        self.unit, self.time, self.outcome = unit, time, outcome
        self.kind = kind
        self.units = np.sort(df[unit].unique())
        self.unit_index = np.searchsorted(self.units, df[unit].to_numpy())
        self.t = df[time].to_numpy()
        self.y = df[outcome].to_numpy(float)
        self.draws: list[RolloutDraw] = []
        self.uniforms: list[np.ndarray] = []
        n_units = len(self.units)
        for _ in range(n_sims):
            shift = int(rng.integers(shift_range[0], shift_range[1] + 1))
            perm = rng.permutation(n_units)
            cohort = np.zeros(n_units, dtype=int)
            pos = 0
            for start, size in zip(starts, sizes, strict=True):
                cohort[perm[pos : pos + size]] = start + shift
                pos += size
            self.draws.append(RolloutDraw(cohort))
            self.uniforms.append(rng.random(len(self.y)) if kind == "multiplicative" else None)

    def panel(self, sim: int, effect: float) -> pd.DataFrame:
        draw = self.draws[sim]
        g = draw.cohort[self.unit_index]
        treated = (g > 0) & (self.t >= g)
        y = self.y.copy()
        if effect != 0 and treated.any():
            if self.kind == "additive":
                y[treated] += effect
            else:
                y[treated] = _scale_counts(y[treated], effect, self.uniforms[sim][treated])
        out = self.frame.copy()
        out[self.outcome] = y
        out["cohort"] = g
        return out


def _scale_counts(y: np.ndarray, effect: float, u: np.ndarray) -> np.ndarray:
    """Counts with mean multiplied by (1 + effect), driven by fixed uniforms `u`.

    Reductions thin each count binomially; increases add Poisson(y * effect) events. Using
    the inverse CDF of the same uniforms keeps draws monotone in the effect size.
    """
    y = np.round(np.clip(y, 0, None))
    if effect < 0:
        return stats.binom.ppf(u, y, 1 + effect).astype(float)
    extra = stats.poisson.ppf(u, y * effect)
    return y + np.nan_to_num(extra, nan=0.0)


def fit_power(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    estimator: Callable[[pd.DataFrame], object],
    n_treated: int | None = None,
    start_periods: Sequence[int] | None = None,
    cohorts: Mapping | None = None,
    kind: str = "additive",
    direction: int = 1,
    alpha: float = 0.05,
    power: float = 0.8,
    n_sims: int = 200,
    shift_dates: bool = False,
    min_pre_periods: int = 2,
    max_steps: int = 10,
    rel_tol: float = 0.02,
    seed: int = 0,
    progress: ProgressHook | None = None,
) -> PowerResult:
    """Minimum detectable effect for a planned roll-out on an untreated panel `df`.

    The plan is either `n_treated` units split evenly across `start_periods`, or `cohorts`
    (unit -> first treated period, the planned roll-out, whose cohort sizes and dates are
    kept while units are re-drawn at random each simulation: the MDE of a design, not of
    one assignment). `estimator(frame)` gets columns unit, time, outcome and `cohort`
    (0 = never) and returns (estimate, se) or an object with `estimate`, `se` and
    optionally `p_value`. `kind="multiplicative"` treats the outcome as counts and the
    effect as a proportional change; `direction=-1` searches reductions. With
    `shift_dates` every simulation moves the whole roll-out by a random number of periods
    (keeping `min_pre_periods` before it), spreading placebo dates over the history.
    """
    if kind not in EFFECT_KINDS:
        raise ValueError(f"kind must be one of {EFFECT_KINDS}")
    if direction not in (1, -1):
        raise ValueError("direction must be 1 or -1")
    missing = [c for c in (unit, time, outcome) if c not in df.columns]
    if missing:
        raise EstimationInputError(f"column(s) {missing} not in the panel")
    periods = np.sort(df[time].unique())
    if cohorts is not None:
        planned = pd.Series(dict(cohorts))
        planned = planned[planned > 0]
        sizes_by_start = planned.value_counts().sort_index()
        starts, sizes = list(sizes_by_start.index.astype(int)), list(sizes_by_start.values)
    else:
        if n_treated is None or start_periods is None:
            raise ValueError("give either cohorts or n_treated with start_periods")
        starts = [int(s) for s in start_periods]
        base, extra = divmod(int(n_treated), len(starts))
        sizes = [base + (i < extra) for i in range(len(starts))]
    n_units = df[unit].nunique()
    if sum(sizes) >= n_units:
        raise EstimationInputError(
            f"the plan treats {sum(sizes)} of {n_units} units; keep some as comparisons"
        )
    if min(starts) - periods[0] < min_pre_periods or max(starts) > periods[-1]:
        raise EstimationInputError(
            f"start periods {starts} must leave {min_pre_periods} pre-periods and fall inside "
            f"{periods[0]}..{periods[-1]}"
        )
    shift_range = (0, 0)
    if shift_dates:
        earliest = int(periods[0] + min_pre_periods - min(starts))
        latest = int(periods[-1] - max(starts))
        shift_range = (earliest, max(earliest, latest))
    rng = np.random.default_rng(seed)
    sim = _Simulator(df, unit, time, outcome, kind, starts, sizes, shift_range, n_sims, rng)

    total = n_sims * (max_steps + 3)
    done = 0
    curve: list[dict] = []

    def rejection_rate(effect: float) -> tuple[float, np.ndarray, np.ndarray]:
        nonlocal done
        ests, ses, rej = np.empty(n_sims), np.empty(n_sims), np.empty(n_sims, bool)
        for s in range(n_sims):
            ests[s], ses[s], rej[s] = _estimate_and_reject(estimator(sim.panel(s, effect)), alpha)
            done += 1
            if progress is not None:
                progress(done, total, f"effect {effect:.4g}: simulation {s + 1}/{n_sims}")
        rate = float(rej.mean())
        curve.append(
            {"effect": float(effect), "rejection_rate": rate, "mean_estimate": float(ests.mean())}
        )
        return rate, ests, ses

    fpr, placebo_est, placebo_se = rejection_rate(0.0)
    placebo_sd = float(np.std(placebo_est, ddof=1)) if n_sims > 1 else math.nan
    mean_se = float(np.nanmean(placebo_se))
    mde_closed = analytic_mde(placebo_sd, alpha, power)
    mde_reported = analytic_mde(mean_se, alpha, power)
    notes = []
    if fpr > alpha + 2 * math.sqrt(alpha * (1 - alpha) / n_sims):
        notes.append(
            f"Placebo roll-outs reject {fpr:.1%} of the time at alpha {alpha}: the "
            "estimator's inference over-rejects on this panel."
        )

    limit = 0.95 if (kind == "multiplicative" and direction < 0) else math.inf
    hi = min(max(mde_closed, mde_reported, 1e-12) * 1.5, limit)
    lo = 0.0
    rate_hi, *_ = rejection_rate(direction * hi)
    steps = 0
    while rate_hi < power and hi < limit and steps < 6:
        lo, hi = hi, min(hi * 2, limit)
        rate_hi, *_ = rejection_rate(direction * hi)
        steps += 1
    if rate_hi < power:
        notes.append(f"Power stays below {power:.0%} up to an effect of {hi:.4g}.")
        mde = math.nan
    else:
        for _ in range(max_steps):
            if hi - lo <= rel_tol * hi:
                break
            mid = (lo + hi) / 2
            rate, *_ = rejection_rate(direction * mid)
            if rate >= power:
                hi = mid
            else:
                lo = mid
        mde = direction * hi
    table = pd.DataFrame(curve).sort_values("effect", key=np.abs).reset_index(drop=True)
    return PowerResult(
        mde=mde,
        mde_analytic=direction * mde_closed,
        mde_analytic_reported_se=direction * mde_reported,
        false_positive_rate=fpr,
        placebo_sd=placebo_sd,
        placebo_mean_se=mean_se,
        kind=kind,
        alpha=alpha,
        target_power=power,
        n_sims=n_sims,
        curve=table,
        notes=notes,
    )

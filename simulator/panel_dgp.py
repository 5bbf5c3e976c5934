"""Small staggered-adoption panels with a known truth, for estimator tests and Monte Carlo.

Effects are heterogeneous across cohorts and grow with time since adoption: exactly the case
where two-way fixed effects is biased (Goodman-Bacon 2021) and group-time estimators are not.
This is independent of the city simulator so estimator tests stay small and fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class StaggeredTruth:
    """True effects of a simulated panel.

    `att_by_event_time[e]` averages the effect over treated units observed at event time e;
    `overall` is the average over all treated unit-periods (the CS `simple` aggregation's
    target when the panel is balanced).
    """

    overall: float
    att_by_event_time: dict[int, float]
    att_by_group: dict[int, float]


def simulate_staggered_panel(
    n_units: int = 200,
    n_periods: int = 10,
    cohorts: tuple[int, ...] = (4, 6, 8),
    never_share: float = 0.3,
    base_effect: float = 1.0,
    growth: float = 0.5,
    cohort_heterogeneity: float = 0.5,
    noise_sd: float = 1.0,
    n_clusters: int | None = None,
    poisson: bool = False,
    seed: int = 0,
) -> tuple[pd.DataFrame, StaggeredTruth]:
    """Return (panel, truth).

    Effect for unit in cohort g at period t >= g: (base_effect + growth*(t-g)) * m_g where
    m_g = 1 + cohort_heterogeneity * (rank of g, centred). With `poisson=True` the outcome is a
    count with log-mean = unit + time effects + log(1 + effect/10) so the proportional effect
    is effect/10; the truth is then on the proportional scale.

    Columns: unit, time (1..n_periods), y, cohort (0 = never), cluster, x (covariate).
    """
    rng = np.random.default_rng(seed)
    units = np.arange(1, n_units + 1)
    n_never = int(round(never_share * n_units))
    assigned = np.concatenate(
        [np.zeros(n_never, dtype=int), rng.choice(cohorts, size=n_units - n_never)]
    )
    rng.shuffle(assigned)
    ranks = {g: i - (len(cohorts) - 1) / 2 for i, g in enumerate(sorted(cohorts))}
    mult = {g: 1 + cohort_heterogeneity * ranks[g] for g in cohorts}

    unit_fe = rng.normal(0, 1, n_units)
    time_fe = np.cumsum(rng.normal(0.1, 0.2, n_periods))
    x = rng.normal(0, 1, n_units)
    t = np.tile(np.arange(1, n_periods + 1), n_units)
    u = np.repeat(units, n_periods)
    g = np.repeat(assigned, n_periods)
    ui = np.repeat(np.arange(n_units), n_periods)
    treated = (g > 0) & (t >= g)
    eff = np.zeros(len(t))
    m = np.array([mult.get(int(gg), 0.0) for gg in g])
    eff[treated] = (base_effect + growth * (t[treated] - g[treated])) * m[treated]

    if poisson:
        prop = eff / 10.0
        mu = np.exp(2.0 + 0.5 * unit_fe[ui] + 0.3 * time_fe[t - 1] + 0.1 * x[ui]) * (1 + prop)
        y = rng.poisson(mu).astype(float)
        eff_report = prop
        mu0 = mu / (1 + prop)
        overall = float((mu[treated] - mu0[treated]).sum() / mu0[treated].sum())
    else:
        y = unit_fe[ui] + time_fe[t - 1] + 0.5 * x[ui] * t / n_periods + eff
        y = y + rng.normal(0, noise_sd, len(t))
        eff_report = eff
        overall = float(eff[treated].mean()) if treated.any() else 0.0

    if n_clusters is None:
        cluster = u
    else:
        cluster = np.repeat(rng.integers(1, n_clusters + 1, n_units), n_periods)
    df = pd.DataFrame({"unit": u, "time": t, "y": y, "cohort": g, "cluster": cluster, "x": x[ui]})
    e = t - g
    by_e = {
        int(k): float(v)
        for k, v in pd.Series(eff_report[treated]).groupby(e[treated]).mean().items()
    }
    by_g = {
        int(k): float(v)
        for k, v in pd.Series(eff_report[treated]).groupby(g[treated]).mean().items()
    }
    return df, StaggeredTruth(overall=overall, att_by_event_time=by_e, att_by_group=by_g)

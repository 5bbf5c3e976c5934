"""Coverage of the Poisson proportional overall ATT at the crime headline's size (25 clusters).

Design: 25 units (= clusters, as districts are in `evaluation.crime`), 60 periods, four
cohorts, 30% never treated. Two count models: plain Poisson (`simulate_staggered_panel`) and
Poisson with unit-level AR(1) lognormal overdispersion (sd 0.3, rho 0.6; crime counts are
overdispersed and serially correlated within a district). Truth: sum(mu1 - mu0) / sum(mu0)
over the treated cells, from the latent means.

Study (Nov 2026), t(G-1) 95% interval: plain Poisson 0.940 (2,000 draws) and 0.937 (1,200),
reported SE / empirical SD about 0.96, bias < 0.1 SE: within 93-97%, so the slow test
asserts 0.92-0.97 on 1,200 draws (MC SE about 0.007, the lower bound about 2.5 MC SE under
the observed rate); it rejects CR0 (no small-sample factor, about 0.91) and CR0 with normal
quantiles (about 0.90). The overdispersed design covers only about 0.924 (3,200 draws, MC SE
0.005; SE ratio 0.94), so it is not asserted at nominal level here (an open finding for the
estimator, not a tolerance to encode); the fast test runs both designs loosely on 60 draws.
"""

import numpy as np
import pandas as pd
import pytest

from estimators.panel import prepare_panel
from estimators.poisson import fit_poisson
from simulator.panel_dgp import simulate_staggered_panel

COHORTS = (12, 24, 36, 48)
N_UNITS, N_PERIODS = 25, 60


def overdispersed_panel(seed: int, rho: float = 0.6, sigma: float = 0.3):
    """Staggered Poisson panel whose means carry a unit AR(1) lognormal factor (mean one)."""
    rng = np.random.default_rng(seed)
    n_never = round(0.3 * N_UNITS)
    cohort = np.concatenate([np.zeros(n_never, int), rng.choice(COHORTS, size=N_UNITS - n_never)])
    rng.shuffle(cohort)
    multiplier = {g: 1 + 0.5 * (i - 1.5) for i, g in enumerate(COHORTS)}
    unit_fe = rng.normal(0, 1, N_UNITS)
    time_fe = np.cumsum(rng.normal(0.1, 0.2, N_PERIODS))
    log_factor = np.empty((N_UNITS, N_PERIODS))
    log_factor[:, 0] = rng.normal(0, sigma, N_UNITS)
    for k in range(1, N_PERIODS):
        shock = rng.normal(0, sigma * np.sqrt(1 - rho**2), N_UNITS)
        log_factor[:, k] = rho * log_factor[:, k - 1] + shock
    ui = np.repeat(np.arange(N_UNITS), N_PERIODS)
    t = np.tile(np.arange(1, N_PERIODS + 1), N_UNITS)
    g = cohort[ui]
    treated = (g > 0) & (t >= g)
    prop = np.zeros(len(t))
    m = np.array([multiplier.get(int(x), 0.0) for x in g[treated]])
    prop[treated] = (1.0 + 0.02 * (t[treated] - g[treated])) * m / 10
    mu0 = np.exp(2.0 + 0.5 * unit_fe[ui] + 0.3 * time_fe[t - 1] + log_factor.ravel() - sigma**2 / 2)
    y = rng.poisson(mu0 * (1 + prop)).astype(float)
    truth = float((mu0[treated] * prop[treated]).sum() / mu0[treated].sum())
    return pd.DataFrame({"unit": ui + 1, "time": t, "y": y, "cohort": g}), truth


def plain_panel(seed: int):
    df, truth = simulate_staggered_panel(
        n_units=N_UNITS, n_periods=N_PERIODS, cohorts=COHORTS, growth=0.02, poisson=True, seed=seed
    )
    return df, truth.overall


def _study(make_panel, n_reps: int, seed0: int) -> dict[str, float]:
    err, se, covered = [], [], []
    for seed in range(seed0, seed0 + n_reps):
        df, truth = make_panel(seed)
        panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
        res = fit_poisson(panel).overall
        err.append(res.estimate - truth)
        se.append(res.se)
        covered.append(res.ci_low <= truth <= res.ci_high)
    err, se = np.array(err), np.array(se)
    return {
        "coverage": float(np.mean(covered)),
        "bias_in_mc_se": float(err.mean() / (err.std(ddof=1) / np.sqrt(n_reps))),
        "se_ratio": float(np.sqrt(np.mean(se**2)) / err.std(ddof=1)),
    }


@pytest.mark.parametrize("make_panel", [plain_panel, overdispersed_panel])
def test_coverage_fast(make_panel):
    s = _study(make_panel, 60, seed0=70_000)
    # 60 draws: MC SE of coverage about 0.03, of the SE ratio about 0.09.
    assert 0.83 <= s["coverage"] <= 1.0
    assert 0.7 <= s["se_ratio"] <= 1.3
    assert abs(s["bias_in_mc_se"]) < 3.5


@pytest.mark.slow
def test_coverage_1200_replications():
    s = _study(plain_panel, 1200, seed0=80_000)
    assert 0.92 <= s["coverage"] <= 0.97, s
    # SE ratio: MC SE about 0.02 at 1,200 draws; the study's ratio is about 0.95.
    assert 0.88 <= s["se_ratio"] <= 1.1, s
    assert abs(s["bias_in_mc_se"]) < 3.5, s

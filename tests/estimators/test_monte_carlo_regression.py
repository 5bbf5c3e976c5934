"""Monte Carlo: heterogeneity-robust estimators recover the truth where TWFE does not, their
95% intervals cover, and the wild cluster bootstrap holds size with 12 clusters.

DGP (simulator.panel_dgp): cohorts 4/6/8 of 10 periods, 10% never treated, effects growing
one unit per period and larger for later cohorts; TWFE's forbidden comparisons (already
treated units as controls) bias it by about -35%. The slow versions use 500 replications,
so a coverage rate has a Monte Carlo SE of about 1 point and the 93-97% band is meaningful.
"""

import numpy as np
import pandas as pd
import pytest

from estimators.imputation import fit_imputation
from estimators.panel import prepare_panel
from estimators.sun_abraham import fit_sun_abraham
from estimators.twfe import fit_twfe
from simulator.panel_dgp import simulate_staggered_panel

DGP = dict(n_units=100, n_periods=10, growth=1.0, never_share=0.1)
FITS = {"sun-abraham": fit_sun_abraham, "imputation": fit_imputation, "twfe": fit_twfe}


def _simulate(n_reps: int) -> dict:
    out = {k: {"err": [], "cover": []} for k in FITS}
    truth_sum = 0.0
    for seed in range(n_reps):
        df, truth = simulate_staggered_panel(seed=seed, **DGP)
        panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
        truth_sum += truth.overall
        for name, fit in FITS.items():
            o = fit(panel).overall
            out[name]["err"].append(o.estimate - truth.overall)
            out[name]["cover"].append(o.ci_low <= truth.overall <= o.ci_high)
    mean_truth = truth_sum / n_reps
    return {
        k: {
            "rel_bias": np.mean(v["err"]) / mean_truth,
            "coverage": np.mean(v["cover"]),
            "rel_mc_se": np.std(v["err"]) / np.sqrt(n_reps) / mean_truth,
        }
        for k, v in out.items()
    }


def _check_bias(summary):
    for name in ("sun-abraham", "imputation"):
        assert abs(summary[name]["rel_bias"]) < 0.10, (name, summary[name])
    assert abs(summary["twfe"]["rel_bias"]) > 0.10, summary["twfe"]


def test_bias_fast():
    _check_bias(_simulate(25))


@pytest.fixture(scope="module")
def mc500():
    return _simulate(500)


@pytest.mark.slow
def test_bias_and_sun_abraham_coverage_500_replications(mc500):
    _check_bias(mc500)
    assert 0.93 <= mc500["sun-abraham"]["coverage"] <= 0.97, mc500["sun-abraham"]


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="BJS Theorem-3 variance under-covers here (91.6% in "
    "500 reps): imputation for late periods rests on 10 never-treated units; "
    "the leave-out residuals of BJS appendix A.6 are not implemented yet",
)
def test_imputation_coverage_500_replications(mc500):
    assert 0.93 <= mc500["imputation"]["coverage"] <= 0.97, mc500["imputation"]


def _few_cluster_panel(seed: int, n_clusters: int = 12, n_periods: int = 20, n_treated: int = 4):
    """Districts = clusters; AR(1) errors, treated districts noisier; no effect (null true)."""
    rng = np.random.default_rng(seed)
    cohorts = np.zeros(n_clusters, int)
    treated = rng.choice(n_clusters, n_treated, replace=False)
    cohorts[treated] = rng.integers(6, 16, n_treated)
    sd = np.where(cohorts > 0, 2.0, 1.0)
    e = np.zeros((n_clusters, n_periods))
    for t in range(n_periods):
        e[:, t] = (0.7 * e[:, t - 1] if t else 0.0) + rng.normal(0, 1, n_clusters) * sd
    y = rng.normal(0, 1, n_clusters)[:, None] + np.linspace(0, 1, n_periods)[None, :] + e
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_clusters), n_periods),
            "time": np.tile(np.arange(1, n_periods + 1), n_clusters),
            "y": y.ravel(),
            "cohort": np.repeat(cohorts, n_periods),
        }
    )
    return prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")


def _size(n_reps: int) -> tuple[float, float]:
    cr1 = wild = 0
    for seed in range(n_reps):
        panel = _few_cluster_panel(seed)
        cr1 += fit_twfe(panel).overall.p_value < 0.05
        wild += fit_twfe(panel, wild_bootstrap=999, seed=seed).overall.p_value < 0.05
    return cr1 / n_reps, wild / n_reps


def test_wild_bootstrap_size_fast():
    cr1, wild = _size(60)
    assert wild <= 0.15  # 60 draws: only catches a broken bootstrap
    assert wild <= cr1 + 1e-12


@pytest.mark.slow
def test_wild_bootstrap_size_500_replications():
    cr1, wild = _size(500)
    assert 0.025 <= wild <= 0.09, wild
    assert cr1 >= wild + 0.02, (cr1, wild)

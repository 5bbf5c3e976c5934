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

from estimators._design import panel_arrays
from estimators.fixed_effects import TwoWayFE
from estimators.imputation import fit_imputation
from estimators.panel import prepare_panel
from estimators.sun_abraham import fit_sun_abraham
from estimators.twfe import fit_twfe, treatment_dummy
from estimators.wild_bootstrap import wild_cluster_bootstrap
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
def test_imputation_coverage_1000_replications():
    """Leave-out BJS variance with t(G*-1) intervals (see estimators/imputation.py).

    Measured: 93.9% over these 1000 replications (93.4% on the first 500, 94.4% on the next);
    Theorem 3 with t(99) gave 91.6%. The remaining shortfall is the leverage of the
    untreated residuals (expected variance estimate / true variance = 0.935 for this design,
    computed exactly); 1000 replications give a Monte Carlo SE of 0.75 points.
    """
    cover = []
    for seed in range(1000):
        df, truth = simulate_staggered_panel(seed=seed, **DGP)
        o = fit_imputation(
            prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
        ).overall
        cover.append(o.ci_low <= truth.overall <= o.ci_high)
    assert 0.93 <= np.mean(cover) <= 0.97, np.mean(cover)


def few_cluster_panel(seed: int, n_clusters: int = 12, n_periods: int = 20, n_treated: int = 4):
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


def wcr_p_value(panel, weight_type: str = "rademacher", seed: int = 0) -> float:
    """WCR-t p-value of the TWFE treatment coefficient (12 clusters: full enumeration)."""
    arr = panel_arrays(panel)
    return wild_cluster_bootstrap(
        TwoWayFE(arr.unit, arr.time),
        treatment_dummy(arr)[:, None],
        arr.y,
        arr.cluster,
        np.array([1.0]),
        n_boot=9999,
        weight_type=weight_type,
        seed=seed,
        ci=False,
    ).p_value


def _size(n_reps: int, n_treated: int) -> dict[str, float]:
    rejections = {"cr1": 0, "wcr": 0, "wcr_webb": 0}
    for seed in range(n_reps):
        panel = few_cluster_panel(seed, n_treated=n_treated)
        rejections["cr1"] += fit_twfe(panel).overall.p_value < 0.05
        rejections["wcr"] += wcr_p_value(panel) < 0.05
        rejections["wcr_webb"] += wcr_p_value(panel, "webb", seed) < 0.05
    return {k: v / n_reps for k, v in rejections.items()}


def test_wild_bootstrap_size_fast():
    size = _size(60, n_treated=4)
    assert size["wcr"] <= 0.15  # 60 replications: only catches a broken bootstrap
    assert size["wcr"] <= size["cr1"] + 1e-12


# Size with 12 districts, AR(1) errors and treated districts twice as noisy, no effect, 500
# replications (Monte Carlo SE of a 5% rate: 1.0 point; of an 8% rate: 1.2). Measured:
#   6 of 12 treated: CR1 t(11) 6.4%, WCR Rademacher 5.8%, WCR Webb 5.8%
#   4 of 12 treated: CR1 t(11) 10.8%, WCR Rademacher 8.0%, WCR Webb 8.6%
# Our WCR p-values equal wildboottest's (both enumerate all 2^12 sign vectors) in every one of
# 300 replications of the 4-treated design (test_wild_bootstrap.py checks single data sets),
# so the 8% is a property of WCR here, not a bug. It matches MacKinnon & Webb (2017, 2018):
# WCR is reliable when treated and control clusters are alike and many, and departs from 5%
# as treated clusters get few or differ. Same design with equal error variances: 4 treated
# WCR 6.8% (CR1 7.8%); 2 treated WCR 1.0% (CR1 17.6%), their under-rejection with very few
# treated clusters.
@pytest.mark.slow
def test_wild_bootstrap_size_half_treated_500_replications():
    size = _size(500, n_treated=6)
    assert 0.025 <= size["wcr"] <= 0.075, size  # nominal 5% +- 2.5 MC SE
    assert 0.025 <= size["wcr_webb"] <= 0.075, size


@pytest.mark.slow
def test_wild_bootstrap_size_few_treated_500_replications():
    size = _size(500, n_treated=4)
    # Few treated: 5% + 2.5 MC SE would be 8%; the bound allows the documented excess.
    assert 0.025 <= size["wcr"] <= 0.10, size
    assert 0.025 <= size["wcr_webb"] <= 0.11, size
    assert size["cr1"] >= size["wcr"] + 0.02, size

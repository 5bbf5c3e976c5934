"""HonestDiD sensitivity against R HonestDiD on BCdata_EventStudy (Benzarti & Carloni 2019).

Tolerances (see tests/data/SOURCES.md): R's FLCI uses a 1e6-draw simulated folded-normal
quantile and a 100-point search over the estimator's sd, so its bounds carry ~1e-3 error;
R's ARP intervals come from a 1000-point grid (spacing ~8e-4 here) and a least-favourable
critical value from 1000 simulated draws (our own seed-to-seed spread is ~8e-4). Hence
1.5e-3 (FLCI, conditional) and 2e-3 (C-LF) absolute on bounds of intervals ~0.1-0.5 wide.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from estimators.honest import (
    _Problem,
    fit_honest,
    original_ci,
    rm_piece_constraints,
    robust_ci,
    sd_upper_bound_m,
)
from estimators.honest_arp import ArpTest, flci

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def bc():
    r = json.loads((DATA / "honestdid_bc.json").read_text())
    r["beta"], r["sig"] = np.array(r["betahat"]), np.array(r["sigma"])
    r["problem"] = _Problem(r["beta"], r["sig"], 4, np.eye(4)[0], 0.05)
    return r


def test_original_ci(bc):
    np.testing.assert_allclose(original_ci(bc["problem"]), bc["original_ci"], rtol=1e-8)


def test_sd_upper_bound(bc):
    assert sd_upper_bound_m(bc["beta"], bc["sig"], 4) == pytest.approx(
        bc["sd_upper_bound_M"], rel=1e-8
    )


@pytest.mark.parametrize("key", ["sd_flci", "sd_flci_large_M"])
def test_flci_matches_r(bc, key):
    ref = bc[key]
    for i, m in enumerate(ref["M"]):
        lo, hi, half, v = flci(bc["beta"], bc["sig"], 4, np.eye(4)[0], m)
        assert lo == pytest.approx(ref["lb"][i], abs=1.5e-3)
        assert hi == pytest.approx(ref["ub"][i], abs=1.5e-3)
        assert half == pytest.approx((ref["ub"][i] - ref["lb"][i]) / 2, rel=2e-3)
        assert v[4:] == pytest.approx([1, 0, 0, 0])


def test_flci_at_m0_is_the_exact_optimum(bc):
    # At M = 0 the FLCI is the minimum-variance estimator unbiased for linear trends: no
    # simulated quantile is involved, so ours must be at least as short as R's.
    _, _, half, _ = flci(bc["beta"], bc["sig"], 4, np.eye(4)[0], 0.0)
    assert half <= bc["sd_flci_large_M"]["half_length"][0] + 1e-9
    assert half == pytest.approx(bc["sd_flci_large_M"]["half_length"][0], rel=2e-3)


def test_relative_magnitudes_clf_matches_r(bc):
    ref = bc["rm_clf"]
    for i, mbar in enumerate(ref["Mbar"]):
        lo, hi = robust_ci(bc["problem"], "relative_magnitude", mbar, "C-LF")
        assert lo == pytest.approx(ref["lb"][i], abs=2e-3)
        if mbar < 2:
            assert hi == pytest.approx(ref["ub"][i], abs=2e-3)
        else:
            # R's Mbar=2 upper bound is its grid edge (20 * sd(theta) = 0.37946): censored.
            assert hi > ref["ub"][i]


def test_smoothness_conditional_matches_r(bc):
    ref = bc["sd_conditional_arp"]
    for i, m in enumerate(ref["M"]):
        lo, hi = robust_ci(bc["problem"], "smoothness", m, "Conditional")
        assert lo == pytest.approx(ref["lb"][i], abs=1.5e-3)
        assert hi == pytest.approx(ref["ub"][i], abs=1.5e-3)


def test_breakdown_and_result_interface(bc):
    res = fit_honest(bc["beta"], bc["sig"], 4, grid=[0, 0.5, 1.0, 1.5, 2.0])
    # R: significant at Mbar = 1.5 (lb 0.0133), not at 2 (lb -0.042).
    assert 1.5 <= res.breakdown < 2.0
    assert not res.breakdown_censored
    table = res.tidy()
    assert table.iloc[0]["method"] == "Original"
    widths = (res.table["ub"] - res.table["lb"]).to_numpy()
    assert np.all(np.diff(widths) > 0)  # larger Mbar, wider interval
    json.dumps(res.to_dict())
    assert "Breakdown Mbar" in res.summary()


def test_average_effect_and_smoothness_defaults(bc):
    res = fit_honest(bc["beta"], bc["sig"], 4, restriction="smoothness", l_vec=np.full(4, 0.25))
    assert res.table["method"].eq("FLCI").all()
    assert res.table["m"].iloc[-1] == pytest.approx(bc["sd_upper_bound_M"], rel=1e-8)
    assert res.estimate == pytest.approx(bc["beta"][4:].mean())
    lo0, hi0 = res.table.iloc[0][["lb", "ub"]]
    assert lo0 < res.estimate < hi0


TARGETS = {
    "first": np.eye(4)[0],
    "second": np.eye(4)[1],
    "last": np.eye(4)[3],
    "average": np.full(4, 0.25),
}


@pytest.mark.parametrize("hybrid", ["LF", "ARP"])
@pytest.mark.parametrize("target", TARGETS)
def test_point_estimate_accepted_at_mbar_zero(bc, target, hybrid):
    # At Mbar = 0 the post-period violation is pinned to zero, so theta = l'beta_post is the
    # one value the data support best. Each piece has a zero-variance dual vertex (a moment and
    # its negation) whose value there is 0 in exact arithmetic and ~1e-14 in floating point; a
    # sign test on it used to reject the point estimate in every piece.
    l_vec = TARGETS[target]
    theta_hat = float(l_vec @ bc["beta"][4:])
    sd = float(np.sqrt(l_vec @ bc["sig"][4:, 4:] @ l_vec))
    for s in range(-3, 1):
        for positive in (True, False):
            a, d = rm_piece_constraints(4, 4, 0.0, s, positive)
            test = ArpTest(bc["beta"], bc["sig"], a, d, l_vec, 4, hybrid=hybrid)
            assert test.accepts(theta_hat), (s, positive)
            # The tolerance must not swallow real evidence: half a standard error away from
            # the estimate is still accepted, forty standard errors away is rejected.
            assert test.accepts(theta_hat + 0.5 * sd)
            assert not test.accepts(theta_hat + 40 * sd)
            assert not test.accepts(theta_hat - 40 * sd)


def test_mbar_zero_interval_contains_point_estimate(bc):
    p = _Problem(bc["beta"], bc["sig"], 4, TARGETS["last"], 0.05)
    lo, hi = robust_ci(p, "relative_magnitude", 0.0, "C-LF")
    assert lo < p.theta < hi
    assert hi - lo < 2 * (original_ci(p)[1] - original_ci(p)[0])


def test_bad_inputs(bc):
    with pytest.raises(ValueError, match="l_vec"):
        fit_honest(bc["beta"], bc["sig"], 4, l_vec=[1, 0])
    with pytest.raises(ValueError, match="restriction"):
        fit_honest(bc["beta"], bc["sig"], 4, restriction="banana")

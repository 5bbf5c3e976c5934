"""Randomization inference benchmark: 999 permutations of roll-out dates, 300 units x 120
months, TWFE statistic (vectorised batch). Writes bench/results/randomization.json.

Run: .venv/bin/python -m bench.bench_randomization
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

# Multi-threaded BLAS spin-waits badly on small solves when the machine is busy; a benchmark
# process may pin it (the library itself never touches the environment).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from estimators.panel import prepare_panel  # noqa: E402
from estimators.randomization import randomization_inference  # noqa: E402
from estimators.twfe import fit_twfe  # noqa: E402
from simulator.panel_dgp import simulate_staggered_panel  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "randomization.json"


def main() -> dict:
    df, _ = simulate_staggered_panel(n_units=300, n_periods=120, cohorts=(24, 48, 72, 96), seed=1)
    panel = prepare_panel(df, unit="unit", time="time", outcome="y", cohort="cohort")
    start = time.perf_counter()
    fit_twfe(panel)
    single_fit = time.perf_counter() - start
    start = time.perf_counter()
    res = randomization_inference(panel, n_permutations=999, seed=20240101)
    elapsed = time.perf_counter() - start
    out = {
        "benchmark": "randomization inference, TWFE statistic",
        "n_units": 300,
        "n_periods": 120,
        "n_permutations": 999,
        "seconds": round(elapsed, 3),
        "single_twfe_fit_seconds": round(single_fit, 4),
        "target_seconds": 30,
        "p_value": res.p_value,
        "observed": res.observed,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))

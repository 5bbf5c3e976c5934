"""Small simulated cities (pandas panels from the simulator's files) for the evaluation tests."""

from __future__ import annotations

import json

import pytest
import sim_panels
from evaluation_sizes import FAST, SMALL

from evaluation.run import evaluate
from simulator.city import simulate_city


def _city(tmp_path_factory, name: str, **kw):
    folder = simulate_city(tmp_path_factory.mktemp(name), **kw)
    dm = sim_panels.district_month(folder)
    dq = sim_panels.district_quarter_survey(folder, dm)
    truth = json.loads((folder / "truth.json").read_text())
    return dm, dq, truth


@pytest.fixture(scope="session")
def small_city(tmp_path_factory):
    return _city(tmp_path_factory, "small", seed=21, **SMALL)


@pytest.fixture(scope="session")
def null_city(tmp_path_factory):
    return _city(tmp_path_factory, "null", seed=12, effect_scale=0.0, **SMALL)


@pytest.fixture(scope="session")
def small_results(small_city):
    dm, dq, _ = small_city
    return evaluate(dm, dq, FAST, city="Small City", generated_at="2026-01-01T00:00:00Z")


@pytest.fixture(scope="session")
def null_results(null_city):
    dm, dq, _ = null_city
    return evaluate(dm, dq, FAST, city="Null City", generated_at="2026-01-01T00:00:00Z")

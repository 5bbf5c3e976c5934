"""Cities shared by the simulator tests (generated once per session into a temp folder)."""

from __future__ import annotations

import time

import pytest
from simulator_cities import SMALL

from simulator.city import simulate_city


@pytest.fixture(scope="session")
def small_city(tmp_path_factory):
    return simulate_city(tmp_path_factory.mktemp("small_city"), **SMALL)


@pytest.fixture(scope="session")
def default_city(tmp_path_factory):
    """The documented demo city, with the wall time it took to generate."""
    started = time.perf_counter()
    out = simulate_city(tmp_path_factory.mktemp("default_city"))
    return out, time.perf_counter() - started

"""Cities shared by the simulator tests (generated once per session into a temp folder)."""

from __future__ import annotations

import json
import time

import pytest

from simulator.city import simulate_city

SMALL = {"seed": 11, "n_districts": 10, "start": "2018-04", "months": 48, "incidents_per_1000": 3.0}


@pytest.fixture(scope="session")
def small_city(tmp_path_factory):
    return simulate_city(tmp_path_factory.mktemp("small_city"), **SMALL)


@pytest.fixture(scope="session")
def default_city(tmp_path_factory):
    """The documented demo city, with the wall time it took to generate."""
    started = time.perf_counter()
    out = simulate_city(tmp_path_factory.mktemp("default_city"))
    return out, time.perf_counter() - started


def load_truth(folder) -> dict:
    return json.loads((folder / "truth.json").read_text(encoding="utf-8"))

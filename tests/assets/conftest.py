"""Fixtures for the data-layer tests (helpers live in data_layer_helpers.py)."""

import shutil
from pathlib import Path

import duckdb
import pytest
from data_layer_helpers import DATA

from warehouse.sql import ensure_schemas


@pytest.fixture
def con():
    c = duckdb.connect()
    ensure_schemas(c)
    yield c
    c.close()


@pytest.fixture
def tiny_city(tmp_path):
    return Path(shutil.copytree(DATA / "tiny_city", tmp_path / "tiny_city"))

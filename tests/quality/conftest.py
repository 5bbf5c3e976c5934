"""A small simulated city, copied per test so each test corrupts its own delivery."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from engagement_eval.config import load_config
from quality.gate import run_gate
from quality.structural import check_delivery
from simulator.city import simulate_city
from warehouse.ingest import ingest_city


@pytest.fixture(scope="session")
def base_city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("city")
    return simulate_city(
        out,
        seed=7,
        n_districts=6,
        start="2020-01",
        months=24,
        incidents_per_1000=0.5,
        survey_responses_per_cell=20,
    )


@pytest.fixture
def city(base_city, tmp_path) -> Path:
    target = tmp_path / "city"
    shutil.copytree(base_city, target)
    return target


def input_file(folder: Path, name: str) -> Path:
    (path,) = [p for p in folder.iterdir() if p.stem == name and p.suffix in (".csv", ".parquet")]
    return path


def read_input(folder: Path, name: str) -> pd.DataFrame:
    path = input_file(folder, name)
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype("string")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_input(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    path = input_file(folder, name)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


class Run:
    """Ingest + gate on one folder, with helpers to read what the gate wrote."""

    def __init__(self, folder: Path, inputs: tuple[str, ...], config_path=None):
        self.con = duckdb.connect()
        self.config = load_config(config_path, folder)
        check_delivery(folder, self.config)
        self.loaded = ingest_city(self.con, folder, self.config, inputs)
        self.report = run_gate(self.con, self.config, inputs=inputs)

    def rep(self, name):
        return self.report.inputs[name]

    def quarantined(self, name) -> dict[str, int]:
        rows = self.con.execute(
            "SELECT rule, count(*) FROM quality.quarantine WHERE input = ? GROUP BY 1", [name]
        ).fetchall()
        return dict(rows)

    def raw_rows(self, name) -> int:
        return self.con.execute(f"SELECT count(*) FROM raw.{name}").fetchone()[0]


@pytest.fixture
def run():
    runs = []

    def _run(folder, *inputs, config_path=None):
        r = Run(folder, inputs or ("districts",), config_path)
        runs.append(r)
        return r

    yield _run
    for r in runs:
        r.con.close()

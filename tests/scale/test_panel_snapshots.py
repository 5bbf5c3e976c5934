"""Parallel model steps read Parquet snapshots of the panels, not the DuckDB file: the
snapshot must equal the table, and reading it must work while a writer holds the file."""

import shutil
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assets"))
from data_layer_helpers import DATA, ingest, month_keys  # noqa: E402

from warehouse.panels import (  # noqa: E402
    build_district_month,
    build_district_quarter_survey,
    export_panels,
    read_panel,
)
from warehouse.sql import ensure_schemas  # noqa: E402

KEYS = month_keys("2020-01", "2020-04")


def test_snapshots_equal_the_panels_and_need_no_database_lock(tmp_path):
    city = Path(shutil.copytree(DATA / "tiny_city", tmp_path / "city"))
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))  # the writer keeps the file open (and locked) throughout
    ensure_schemas(con)
    config = ingest(con, city, KEYS)
    build_district_month(con, config, KEYS[-1])
    build_district_quarter_survey(con, config)
    written = export_panels(con, tmp_path / "panels")
    assert set(written) == {"district_month", "district_quarter_survey"}
    assert not list((tmp_path / "panels").glob("*.partial"))
    for name in written:
        table = con.execute(f"SELECT * FROM marts.{name}").df()
        snapshot = read_panel(tmp_path / "panels", name)
        assert list(snapshot.columns) == list(table.columns)
        assert snapshot.equals(table), name
    assert (
        read_panel(tmp_path / "panels", "district_month")["crimes_total"].sum()
        == (con.execute("SELECT sum(crimes_total) FROM marts.district_month").fetchone()[0])
    )
    with pytest.raises(ValueError):
        read_panel(tmp_path / "panels", "staging")
    con.close()

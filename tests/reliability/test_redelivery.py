"""Re-delivery through the command line on Chicago's real export format: the same file twice is
a no-op, a corrected month (later `Updated On`) wins without duplicates, and the superseded
version stays in raw with its load time."""

from __future__ import annotations

import shutil

import duckdb
from reliability_helpers import DATA, cli_env, run_cli


def _query(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_same_file_twice_then_corrected_month(tmp_path):
    city = shutil.copytree(DATA / "chicago_city", tmp_path / "city")
    out = tmp_path / "out"
    db = out / "engagement_eval.duckdb"
    args = ["run", "--data", str(city), "--out", str(out), "--quiet"]
    env = cli_env()
    assert run_cli(args, env).returncode == 0
    delivered = len((city / "crime_incidents.csv").read_text().splitlines()) - 1
    panel = _query(db, "SELECT sum(crimes_total), sum(crimes_violent) FROM marts.district_month")

    # 1. the same export delivered again, also under a second name: nothing changes
    shutil.copy(city / "crime_incidents.csv", city / "crime_incidents_resent.csv")
    assert run_cli(args, env).returncode == 0
    assert _query(
        db, "SELECT count(*) - count(DISTINCT incident_id) FROM staging.crime_incidents"
    ) == [(0,)]
    assert (
        _query(db, "SELECT sum(crimes_total), sum(crimes_violent) FROM marts.district_month")
        == panel
    )
    (city / "crime_incidents_resent.csv").unlink()

    # 2. the export revised: the first incident re-coded from BATTERY to THEFT, Updated On later
    lines = (city / "crime_incidents.csv").read_text().splitlines()
    first = (
        lines[1]
        .replace(",BATTERY,", ",THEFT,")
        .replace("01/13/2024 03:41:12 PM", "02/20/2024 09:00:00 AM")
    )
    incident = first.split(",")[0]
    (city / "crime_incidents.csv").write_text("\n".join([lines[0], first, *lines[2:]]) + "\n")
    assert run_cli(args, env).returncode == 0
    staged = _query(
        db,
        f"SELECT offense_label, count(*) OVER () FROM staging.crime_incidents"
        f" WHERE incident_id = '{int(incident)}'",
    )
    assert staged == [("THEFT", 1)]
    assert _query(db, "SELECT count(*) FROM staging.crime_incidents") == [(delivered,)]
    total, violent = _query(
        db, "SELECT sum(crimes_total), sum(crimes_violent) FROM marts.district_month"
    )[0]
    assert (total, violent) == (panel[0][0], panel[0][1] - 1)
    versions = _query(
        db,
        'SELECT "Primary Type", _loaded_at FROM raw.crime_incidents'
        f" WHERE \"ID\" = '{int(incident)}' AND _source_file = 'crime_incidents.csv'"
        " ORDER BY _loaded_at",
    )
    assert [v[0] for v in versions] == ["BATTERY", "THEFT"]
    assert versions[0][1] < versions[1][1]

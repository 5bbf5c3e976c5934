"""Issue 9: a unit_id that units.csv does not know (or that units.csv puts in another district
than the row says) is caught by the quality gate instead of dropping out of the panel."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd
import pytest
from shapes_helpers import month_keys

from engagement_eval.config import load_config
from engagement_eval.contract import INPUTS
from engagement_eval.errors import UserError
from quality.declared import declared_rules
from quality.gate import FAILED, QUARANTINED, run_gate
from simulator.city import simulate_city
from simulator.shapes import OutputShape
from warehouse.ingest import PartitionScope, build_staging, delivered_files, load_raw

UNKNOWN = "009-99"  # no such beat in units.csv (district 009 does not exist either)


@pytest.fixture(scope="module")
def beat_city(tmp_path_factory):
    return simulate_city(
        tmp_path_factory.mktemp("beats") / "city",
        seed=3,
        n_districts=4,
        start="2020-01",
        months=12,
        incidents_per_1000=0.5,
        survey_responses_per_cell=5,
        shape=OutputShape(beats=True),
    )


def _copy(city, target):
    target.mkdir()
    for f in city.iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    return target


def _gate(city):
    """Load every delivered input into an in-memory warehouse and run the whole gate."""
    config = load_config(None, city)
    keys = month_keys(f"{config.window_start:%Y-%m}", f"{config.window_end:%Y-%m}")
    con = duckdb.connect()
    for schema in ("raw", "staging", "quality", "marts"):
        con.execute(f"CREATE SCHEMA {schema}")
    for spec in INPUTS.values():
        files = delivered_files(con, spec, config, city)
        scope = PartitionScope(keys, keys[0], keys[-1], complete=True) if spec.partitioned else None
        load_raw(con, spec, config, files, datetime(2024, 1, 1), scope)
        build_staging(con, spec, config, files, scope)
    return con, run_gate(con, config, now=datetime(2030, 1, 1))


def _results(report, input_name):
    return {r.rule.name: r for r in report.inputs[input_name].results}


def _failed(report, input_name):
    return {
        r.rule.name: r.unexpected_count
        for r in report.inputs[input_name].results
        if r.rule.severity == "blocking" and not r.success
    }


def _unknown_beats(city, rows):
    path = city / "crime_incidents.parquet"
    df = pd.read_parquet(path)
    df.loc[list(rows), "unit_id"] = UNKNOWN
    df.to_parquet(path, index=False)
    return len(df)


def test_unknown_beat_in_incidents_is_quarantined_with_rule_and_count(beat_city, tmp_path):
    city = _copy(beat_city, tmp_path / "city")
    n = _unknown_beats(city, [4, 10])  # 2 of ~2,200 rows: under quality.max_bad_row_share
    con, report = _gate(city)
    rep = report.inputs["crime_incidents"]
    assert _failed(report, "crime_incidents") == {"unit_known": 2}
    assert rep.status == QUARANTINED and rep.bad_rows == 2
    examples = _results(report, "crime_incidents")["unit_known"].examples
    assert examples == [
        f"'{UNKNOWN}' (crime_incidents.parquet row 5)",
        f"'{UNKNOWN}' (crime_incidents.parquet row 11)",
    ]
    quarantined = con.execute(
        "SELECT rule, row_number, value FROM quality.quarantine"
        " WHERE input = 'crime_incidents' ORDER BY row_number"
    ).fetchall()
    assert quarantined == [("unit_known", 5, UNKNOWN), ("unit_known", 11, UNKNOWN)]
    assert not report.blocked and n > 200 * 2


def test_many_unknown_beats_stop_with_file_row_and_value(beat_city, tmp_path):
    city = _copy(beat_city, tmp_path / "city")
    n = _unknown_beats(city, range(0, 200, 2))  # 100 rows, ~4.5%: above 1%
    _, report = _gate(city)
    assert _failed(report, "crime_incidents") == {"unit_known": 100}
    assert report.inputs["crime_incidents"].status == FAILED
    with pytest.raises(UserError) as err:
        report.raise_if_blocked()
    text = str(err.value)
    assert f"100 of {n:,} rows" in text
    assert "unit_known (unit_id exists in units.csv" in text
    assert f"'{UNKNOWN}' (crime_incidents.parquet row 1)" in text
    assert (
        "First failing rows: crime_incidents.parquet row 1, crime_incidents.parquet row 3" in text
    )
    assert "add the unit to units.csv" in text


def test_unknown_unit_in_programs_stops_the_run(beat_city, tmp_path):
    city = _copy(beat_city, tmp_path / "city")
    programs = pd.read_csv(city / "programs.csv", dtype=str)
    programs.loc[0, "unit_id"] = UNKNOWN
    programs.to_csv(city / "programs.csv", index=False)
    _, report = _gate(city)
    assert _failed(report, "programs") == {"unit_known": 1}
    assert report.inputs["programs"].status == FAILED  # roll-out rows are never set aside
    assert "programs.csv row 1" in report.inputs["programs"].stop.message


def test_district_that_disagrees_with_the_crosswalk_is_flagged(beat_city, tmp_path):
    city = _copy(beat_city, tmp_path / "city")
    units = pd.read_csv(city / "units.csv", dtype=str)
    meetings = pd.read_csv(city / "meetings.csv", dtype=str)
    meetings["district_id"] = meetings["unit_id"].map(units.set_index("unit_id")["district_id"])
    assert meetings["district_id"].notna().all()
    wrong = "002" if meetings.loc[3, "district_id"] != "002" else "003"
    meetings.loc[3, "district_id"] = wrong  # a known unit placed in another district
    meetings.loc[7, "unit_id"] = UNKNOWN  # an unknown unit: reported once, as unknown
    meetings.to_csv(city / "meetings.csv", index=False)
    _, report = _gate(city)
    assert _failed(report, "meetings") == {"unit_known": 1, "unit_district_match": 1}
    match = _results(report, "meetings")["unit_district_match"]
    assert match.examples == [
        f"'{meetings.loc[3, 'unit_id']} in district {wrong}' (meetings.csv row 4)"
    ]
    assert report.inputs["meetings"].bad_rows == 2


def test_unit_ids_without_a_crosswalk(beat_city, tmp_path):
    # only unit_id places the rows, and nothing maps it: every row is unplaceable
    city = _copy(beat_city, tmp_path / "no_units")
    (city / "units.csv").unlink()
    (city / "programs.csv").unlink()  # programs per unit would stop first
    _, report = _gate(city)
    n = report.inputs["crime_incidents"].rows_in
    assert _failed(report, "crime_incidents") == {"unit_known": n}
    assert "add the unit to units.csv" in report.inputs["crime_incidents"].stop.fix

    # district_id places the rows: an extra unit_id column is not checked without units.csv
    city = _copy(beat_city, tmp_path / "district_level")
    (city / "units.csv").unlink()
    (city / "programs.csv").unlink()
    incidents = pd.read_parquet(city / "crime_incidents.parquet")
    incidents["district_id"] = incidents["unit_id"].str[:3]
    incidents.to_parquet(city / "crime_incidents.parquet", index=False)
    _, report = _gate(city)
    names = set(_results(report, "crime_incidents"))
    assert "district_known" in names
    assert not names & {"unit_known", "unit_district_match"}
    assert _failed(report, "crime_incidents") == {}


def test_unit_rules_are_declared_as_dagster_checks():
    config = load_config(None, None)
    for name in ("crime_incidents", "crime_counts", "meetings", "programs"):
        rules = {r.name: r for r in declared_rules(name, config)}
        for rule in ("district_known", "unit_known", "unit_district_match"):
            assert rules[rule].blocking and rules[rule].level == "row", (name, rule)
    assert "unit_known" not in {r.name for r in declared_rules("survey_responses", config)}

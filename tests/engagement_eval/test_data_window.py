"""Defaults drawn from the data (issue 13): an unset study_window.start is the first month
holding crime or survey data, and the gate does not refuse data for lying before it.

Two cities: one built from the published castle-doctrine state panel (tests/data/castle.csv,
Cheng & Hoekstra 2013; here from 2003, so it starts before the old fixed default of 2016-01
and its programmes, 2006-2010, too), and a simulated one starting 2019-01.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from engagement_eval.config import config_from_dict, load_config
from engagement_eval.grain import add_months, first_whole_period, month_keys
from quality.gate import run_gate
from quality.settings import gate_settings
from warehouse.data_window import first_month_in_files, first_month_in_staging, with_data_window
from warehouse.ingest import ingest_city

CASTLE = Path(__file__).resolve().parents[1] / "data" / "castle.csv"
NOW = datetime(2026, 1, 1)


def castle_city(folder: Path, first_year: int = 2003) -> Path:
    """States as districts, yearly homicide counts per 10 million residents (the file holds
    log rates per 100,000), programmes from the first year each state's law was in force."""
    panel = pd.read_csv(CASTLE)
    panel = panel[panel["year"] >= first_year]
    folder.mkdir()
    states = sorted(panel["sid"].unique())
    pd.DataFrame({"district_id": [f"s{s:02d}" for s in states], "population": 10_000_000}).to_csv(
        folder / "districts.csv", index=False
    )
    counts = pd.DataFrame(
        {
            "district_id": [f"s{s:02d}" for s in panel["sid"]],
            "period": panel["year"].astype(str),
            "offense_category": "violent",
            "count": [round(100 * math.exp(v)) for v in panel["l_homicide"]],
        }
    )
    counts.to_csv(folder / "crime_counts.csv", index=False)
    adopted = panel[panel["post"] == 1].groupby("sid")["year"].min()
    pd.DataFrame(
        {
            "district_id": [f"s{s:02d}" for s in adopted.index],
            "program": "castle_doctrine",
            "start_date": [f"{y}-01-01" for y in adopted],
        }
    ).to_csv(folder / "programs.csv", index=False)
    (folder / "city.yaml").write_text(yaml.safe_dump({"city": "Castle states", "grain": "year"}))
    return folder


def test_month_arithmetic_lives_in_grain():
    assert add_months(date(2019, 11, 1), 3) == date(2020, 2, 1)
    assert add_months(date(2020, 1, 31), -1) == date(2019, 12, 1)
    assert add_months(date(2020, 1, 1), -25) == date(2017, 12, 1)
    assert month_keys(date(2019, 11, 5), date(2020, 2, 1)) == [
        "2019-11",
        "2019-12",
        "2020-01",
        "2020-02",
    ]
    assert month_keys(date(2020, 3, 1), date(2020, 2, 1)) == []
    assert first_whole_period(date(2019, 2, 1), "quarter") == date(2019, 4, 1)
    assert first_whole_period(date(2019, 4, 1), "quarter") == date(2019, 4, 1)
    assert first_whole_period(date(2019, 2, 1), "year") == date(2020, 1, 1)


def test_unset_start_is_the_first_month_with_data_castle_2003(tmp_path):
    city = castle_city(tmp_path / "castle")
    config = load_config(None, city)
    assert config.window_start is None and config.window_source == "data"
    resolved = with_data_window(config, city)
    assert resolved.window_start == date(2003, 1, 1) and resolved.window_source == "data"
    assert resolved.window_record(date(2010, 12, 1)) == {
        "start": "2003-01",
        "end": "2010-12",
        "source": "data",
        "end_source": "data",
    }
    con = duckdb.connect()
    ingest_city(con, city, config)
    assert first_month_in_staging(con) == date(2003, 1, 1)
    report = run_gate(con, config, now=NOW)
    programs = {r.rule.name: r for r in report.inputs["programs"].results}
    # issue 13: with the old fixed 2016-01 default, every programme (2006-2010) was refused
    # as "start_date is not before the study window"
    assert all(r.success for r in programs.values()), [
        r.rule.name for r in programs.values() if not r.success
    ]
    assert not report.blocked


def test_the_old_fixed_default_would_refuse_the_castle_programmes(tmp_path):
    """The same city with study_window.start set to 2016-01 (the old default): the gate
    refuses the programmes, so the test above can fail."""
    city = castle_city(tmp_path / "castle")
    (city / "city.yaml").write_text(
        yaml.safe_dump({"grain": "year", "study_window": {"start": "2016-01"}})
    )
    config = load_config(None, city)
    assert with_data_window(config, city) is config  # a set start is kept
    con = duckdb.connect()
    ingest_city(con, city, config)
    report = run_gate(con, config, now=NOW)
    failed = [r.rule.name for r in report.inputs["programs"].results if not r.success]
    assert failed


@pytest.fixture(scope="module")
def city_2019(tmp_path_factory):
    from simulator.city import simulate_city

    city = simulate_city(
        tmp_path_factory.mktemp("c2019") / "city",
        seed=5,
        n_districts=6,
        start="2019-01",
        months=24,
        incidents_per_1000=0.5,
        survey_responses_per_cell=5,
    )
    cfg = yaml.safe_load((city / "city.yaml").read_text())
    cfg.pop("study_window", None)
    (city / "city.yaml").write_text(yaml.safe_dump(cfg))
    return city


def test_unset_start_is_the_first_month_with_data_2019(city_2019):
    config = load_config(None, city_2019)
    assert config.window_start is None
    con = duckdb.connect()
    assert first_month_in_files(con, city_2019, config) == date(2019, 1, 1)
    ingest_city(con, city_2019, config)
    assert first_month_in_staging(con) == date(2019, 1, 1)
    report = run_gate(con, config, now=NOW)
    assert not report.blocked


def test_a_start_set_in_the_config_wins_over_the_data(city_2019):
    config = config_from_dict({"study_window": {"start": "2019-07"}})
    resolved = with_data_window(config, city_2019)
    assert resolved.window_start == date(2019, 7, 1) and resolved.window_source == "config"


def test_unresolved_start_leaves_the_gate_window_open():
    settings = gate_settings(config_from_dict({}), now=NOW)
    assert settings.window_start.year == 1


def test_dates_before_1900_do_not_open_the_window(tmp_path):
    city = castle_city(tmp_path / "castle")
    counts = pd.read_csv(city / "crime_counts.csv", dtype=str)
    counts.loc[0, "period"] = "0203"  # a typing mistake for 2003
    counts.to_csv(city / "crime_counts.csv", index=False)
    config = load_config(None, city)
    assert with_data_window(config, city).window_start == date(2003, 1, 1)


HEADER = "incident_id,occurred_at,district_id,offense_category\n"


def test_the_data_window_scan_follows_the_delivery_folder_rules(tmp_path):
    """The first-month scan reads files before the gate does: a link out of the folder is not
    opened (its 1999 dates must not become the start), and a literal `*` in a name is not a glob
    (the 2001 file beside it must not be read through it)."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "crime_incidents.csv").write_text(HEADER + "1,1999-03-04T10:00:00,01,violent\n")
    city = tmp_path / "city"
    city.mkdir()
    (city / "crime_incidents.csv").symlink_to(outside / "crime_incidents.csv")
    config = config_from_dict({"city": "Linked"})
    assert first_month_in_files(duckdb.connect(), city, config) is None

    (city / "crime_incidents.csv").unlink()
    (city / "crime_incidents_*.csv").write_text(HEADER + "1,2012-05-04T10:00:00,01,violent\n")
    (city / "crime_incidents_old.csv").write_text(HEADER + "2,2001-01-04T10:00:00,01,violent\n")
    assert first_month_in_files(duckdb.connect(), city, config) == date(2001, 1, 1)
    (city / "crime_incidents_old.csv").unlink()
    assert first_month_in_files(duckdb.connect(), city, config) == date(2012, 5, 1)

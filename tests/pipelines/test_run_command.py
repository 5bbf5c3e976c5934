"""`engagement-eval run` end to end: tiny hand-written city, a small simulated city, errors."""

import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    for var in (
        "DAGSTER_HOME",
        "ENGAGEMENT_EVAL_DUCKDB",
        "ENGAGEMENT_EVAL_OUT",
        "ENGAGEMENT_EVAL_CONFIG",
    ):
        monkeypatch.delenv(var, raising=False)


def test_run_on_dirty_tiny_city_stops_at_the_gate_and_keeps_every_raw_row(tmp_path, capsys):
    """The tiny city is dirty on purpose (duplicate id, bad date, unknown district, a Likert 9,
    a program before the window): the gate stops the run, names each problem, loses nothing."""
    out = tmp_path / "out"
    for _ in range(2):  # a rerun ends the same way and duplicates nothing
        assert main(["run", "--data", str(DATA / "tiny_city"), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err and "quality gate stopped the run" in err
    assert "[file crime_incidents.csv, column 'incident_id']" in err
    assert "'not a date' (crime_incidents.csv row 10)" in err
    assert "'99' (crime_incidents.csv row 13)" in err
    assert "'2019-06-01' (programs.csv row 2)" in err
    assert "'9' (survey_responses.csv row 4)" in err
    con = duckdb.connect(str(out / "engagement_eval.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw.crime_incidents").fetchone()[0] == 14
        assert con.execute("SELECT count(*) FROM raw.survey_responses").fetchone()[0] == 7
        results = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'results'"
        ).fetchone()[0]
        assert results == 0  # models did not run on failing data
    finally:
        con.close()


def test_run_on_simulated_city_counts_every_in_window_incident(tmp_path):
    simulator = pytest.importorskip("simulator.city")
    city = simulator.simulate_city(
        tmp_path / "city",
        seed=7,
        n_districts=6,
        start="2020-01",
        months=24,
        incidents_per_1000=0.5,
        survey_responses_per_cell=20,
    )
    out = tmp_path / "out"
    assert main(["run", "--data", str(city), "--out", str(out), "--quiet"]) == 0
    con = duckdb.connect(str(out / "engagement_eval.duckdb"), read_only=True)
    files = sorted(Path(city).glob("crime_incidents.*"))
    reader = "read_parquet" if files[0].suffix == ".parquet" else "read_csv"
    delivered = con.execute(f"SELECT count(*) FROM {reader}(?)", [str(files[0])]).fetchone()[0]
    assert con.execute("SELECT count(*) FROM raw.crime_incidents").fetchone()[0] == delivered
    assert (
        con.execute("SELECT sum(crimes_total) FROM marts.district_month").fetchone()[0] == delivered
    )
    n_months = con.execute(
        "SELECT count(DISTINCT month), count(DISTINCT district_id) FROM marts.district_month"
    ).fetchone()
    assert n_months == (24, 6)
    cohorts = con.execute(
        "SELECT count(DISTINCT cohort_period) FROM marts.district_month"
    ).fetchone()[0]
    assert cohorts >= 2  # never-treated plus at least one roll-out cohort


def test_missing_column_stops_with_one_clear_message(tmp_path, capsys):
    city = shutil.copytree(DATA / "tiny_city", tmp_path / "city")
    text = (city / "meetings.csv").read_text().replace("attendees", "people", 1)
    (city / "meetings.csv").write_text(text)
    assert main(["run", "--data", str(city), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert (
        "meetings.csv" in err and "'attendees'" in err and "columns: {meetings: {attendees:" in err
    )
    assert "Traceback" not in err


def test_missing_folder_and_missing_file(tmp_path, capsys):
    assert main(["run", "--data", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    city = shutil.copytree(DATA / "tiny_city", tmp_path / "city")
    (city / "districts.csv").unlink()
    assert main(["run", "--data", str(city), "--out", str(tmp_path / "out")]) == 2
    assert "no districts file" in capsys.readouterr().err


def test_rows_the_gate_quarantines_do_not_reach_the_panels(tmp_path):
    """Five pairs of different incidents sharing an id (under the 1% threshold): the gate
    quarantines all ten rows, the run continues, and the panel counts none of them, although
    staging (deduplicated, latest wins) still holds one row of each pair."""
    import pandas as pd

    simulator = pytest.importorskip("simulator.city")
    city = simulator.simulate_city(
        tmp_path / "city",
        seed=3,
        n_districts=6,
        start="2020-01",
        months=24,
        incidents_per_1000=0.5,
        survey_responses_per_cell=20,
    )
    path = Path(city) / "crime_incidents.parquet"
    incidents = pd.read_parquet(path)
    delivered = len(incidents)
    assert delivered > 1_000  # so ten bad rows stay under the 1% threshold
    incidents.loc[incidents.index[1:11:2], "incident_id"] = (
        incidents["incident_id"].iloc[0:10:2].to_numpy()
    )
    incidents.loc[incidents.index[1:11:2], "district_id"] = (
        incidents["district_id"]
        .iloc[0:10:2]
        .map(lambda d: "001" if d != "001" else "002")
        .to_numpy()
    )
    incidents.to_parquet(path, index=False)
    out = tmp_path / "out"
    assert main(["run", "--data", str(city), "--out", str(out), "--quiet"]) == 0
    con = duckdb.connect(str(out / "engagement_eval.duckdb"), read_only=True)
    try:
        one = lambda sql: con.execute(sql).fetchall()[0][0]  # noqa: E731
        assert one("SELECT count(*) FROM raw.crime_incidents") == delivered
        assert (
            one("SELECT count(*) FROM quality.quarantined_rows WHERE input = 'crime_incidents'")
            == 10
        )
        assert one("SELECT sum(crimes_total) FROM marts.district_month") == delivered - 10
    finally:
        con.close()

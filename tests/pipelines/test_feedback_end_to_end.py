"""Meeting feedback through the whole Dagster graph (issue 15): the published item mean is
the plain mean of the delivered ratings that passed the gate, and a comment written on a form
appears in raw and in no published output (tables past raw, results.json, the report, the
Dagster event log with every asset's and check's metadata)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from engagement_eval.config import load_config
from evaluation.results_json import clean
from pipelines.definitions import build_definitions
from pipelines.jobs import ALL_ASSETS_JOB
from pipelines.partitions import monthly_partitions, range_tags
from pipelines.settings import Settings
from simulator.city import simulate_city

PLANTED = "PLANTED-COMMENT-qz7 call Mrs Example at 555-0199"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    for var in (
        "DAGSTER_HOME",
        "ENGAGEMENT_EVAL_DUCKDB",
        "ENGAGEMENT_EVAL_OUT",
        "ENGAGEMENT_EVAL_CONFIG",
        "ENGAGEMENT_EVAL_REPORTS",  # the report then goes beside results.json, under out/
    ):
        monkeypatch.delenv(var, raising=False)


def _text_in_tables(con, needle: str) -> list[str]:
    found = []
    columns = con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns"
        " WHERE data_type = 'VARCHAR' AND table_schema NOT IN ('raw', 'information_schema')"
        " AND table_catalog = current_database()"
    ).fetchall()
    for schema, table, column in columns:
        hits = con.execute(
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}" LIKE ?', [f"%{needle}%"]
        ).fetchone()[0]
        if hits:
            found.append(f"{schema}.{table}.{column}")
    return found


@pytest.mark.slow  # a full Dagster run, about 70 s
def test_feedback_means_and_comments_through_the_pipeline(tmp_path):
    city = Path(
        simulate_city(
            tmp_path / "city",
            seed=5,
            n_districts=6,
            start="2020-01",
            months=24,
            incidents_per_1000=0.5,
            survey_responses_per_cell=20,
        )
    )
    forms = pd.read_csv(city / "meeting_feedback.csv", dtype=str, keep_default_na=False)
    forms.loc[[3, 40, 41], "comment"] = PLANTED
    forms.loc[5, "felt_heard"] = "7"  # off the scale: quarantined, so not in the mean
    forms.to_csv(city / "meeting_feedback.csv", index=False)

    out = tmp_path / "out"
    settings = Settings.from_env(str(city), None, str(out))
    config = load_config(None, city)
    keys = monthly_partitions(config).get_partition_keys()
    job = build_definitions(settings, config).resolve_job_def(ALL_ASSETS_JOB)
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(
        instance=instance, tags=range_tags(keys[0], keys[-1]), raise_on_error=False
    )
    assert result.success

    # the mean, exactly, from the delivered file: forms of meetings in the window, minus the
    # one the gate set aside
    import json

    results = json.loads((out / "results.json").read_text())
    meetings = pd.read_csv(city / "meetings.csv", dtype=str)
    in_window = meetings[
        (meetings["meeting_date"] >= keys[0]) & (meetings["meeting_date"] < "2022-01-01")
    ]["meeting_id"]
    kept = forms[forms["meeting_id"].isin(in_window)].drop(index=5)
    ratings = pd.to_numeric(kept["felt_heard"].replace("", None)).dropna()
    published = results["meeting_feedback"]["items"]["felt_heard"]
    assert published["n"] == len(ratings)
    # exactly, at the precision results.json writes every float
    assert published["mean"] == clean(float(ratings.sum() / len(ratings)))

    con = duckdb.connect(str(out / "engagement_eval.duckdb"), read_only=True)
    try:
        raw_hits = con.execute(
            "SELECT count(*) FROM raw.meeting_feedback WHERE comment = ?", [PLANTED]
        ).fetchone()[0]
        assert raw_hits == 3  # it was delivered, and kept as delivered
        assert _text_in_tables(con, "PLANTED-COMMENT") == []
        quarantined = con.execute(
            "SELECT rule FROM quality.quarantine WHERE input = 'meeting_feedback'"
            " AND severity = 'blocking'"
        ).fetchall()
        assert quarantined == [("felt_heard_in_scale",)]
    finally:
        con.close()
    published_files = [
        p for p in out.rglob("*") if p.is_file() and p.suffix != ".duckdb" and ".wal" not in p.name
    ]
    assert any(p.name == "council_report.html" for p in published_files)
    for path in published_files:
        assert "PLANTED-COMMENT" not in path.read_text(errors="replace"), path
    report = next(p for p in published_files if p.name == "council_report.html").read_text()
    assert "What residents said at meetings" in report
    logs = "\n".join(str(record) for record in instance.all_logs(result.run_id))
    assert "marts.feedback_items" in logs or "feedback" in logs  # the log was read
    assert "PLANTED-COMMENT" not in logs

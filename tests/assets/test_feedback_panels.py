"""Feedback panels without Dagster (issue 15): the panel holds exactly the forms that passed
the gate, a planted comment reaches no table past raw, no results section and no report, and
a city without feedback gets a stated reason instead of a section."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from engagement_eval.config import load_config
from evaluation.feedback import meeting_feedback
from quality.gate import run_gate
from reports.render import render
from simulator.city import simulate_city
from warehouse.feedback_panels import build_feedback_panels, feedback_gaps, read_feedback
from warehouse.ingest import ingest_city
from warehouse.panels import build_district_month

PLANTED = "PLANTED-COMMENT-x81 my neighbour at 12 Example Road"


def _build(folder):
    config = load_config(None, folder)
    con = duckdb.connect()
    ingest_city(con, folder, config)
    run_gate(con, config)
    build_district_month(con, config, None)
    build_feedback_panels(con, config)
    return con, config


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    folder = simulate_city(
        tmp_path_factory.mktemp("fb"),
        seed=9,
        n_districts=6,
        start="2020-01",
        months=24,
        incidents_per_1000=0.3,
        survey_responses_per_cell=15,
    )
    forms = pd.read_csv(folder / "meeting_feedback.csv", dtype=str, keep_default_na=False)
    forms.loc[[0, 7], "comment"] = PLANTED
    forms.loc[[1], "topic"] = "  BURGLARY "  # mapped whatever its case and spaces
    forms.loc[[2], "topic"] = "Potholes"  # unmapped: other
    forms.loc[[4], "would_attend_again"] = "6"  # off the scale: set aside
    forms.to_csv(folder / "meeting_feedback.csv", index=False)
    return folder, forms


@pytest.fixture(scope="module")
def built(city):
    con, config = _build(city[0])
    yield con, config
    con.close()


def test_panel_sums_are_the_delivered_ratings_that_passed_the_gate(city, built):
    _, forms = city
    con, config = built
    items, themes = read_feedback(con)
    kept = forms.drop(index=4)
    for item in config.feedback.items:
        panel = items[items["item"] == item]
        delivered = pd.to_numeric(kept[item].replace("", None)).dropna()
        assert panel["n"].sum() == len(delivered)  # every form's meeting is in the window
        assert panel["sum"].sum() == delivered.sum()  # integer ratings: exact
    with_topic = kept[kept["topic"].str.strip() != ""]
    assert themes["n"].sum() == len(with_topic)
    assert set(themes["theme"]) <= set(config.feedback.topic_map.values()) | {"other"}
    assert themes.groupby(["district_id", "quarter"])["share"].sum().round(12).eq(1).all()
    assert feedback_gaps(con) == []  # the simulator's meetings all have forms


def test_planted_comment_reaches_nothing_past_raw(built):
    con, config = built
    assert (
        con.execute(
            "SELECT count(*) FROM raw.meeting_feedback WHERE comment = ?", [PLANTED]
        ).fetchone()[0]
        == 2
    )
    varchar = con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns"
        " WHERE data_type = 'VARCHAR' AND table_schema <> 'raw'"
    ).fetchall()
    for schema, table, column in varchar:
        hits = con.execute(
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}" LIKE ?',
            ["%PLANTED-COMMENT%"],
        ).fetchone()[0]
        assert hits == 0, f"{schema}.{table}.{column}"
    results = {
        "city": "x",
        "run": {"config": config.raw},
        "meeting_feedback": meeting_feedback(
            read_feedback(con), None, {}, alpha=0.05, min_cell_size=10, seed=1
        ),
    }
    assert "PLANTED-COMMENT" not in json.dumps(results)
    html = render(results)
    assert "What residents said at meetings" in html and "PLANTED-COMMENT" not in html


def test_without_feedback_the_section_states_why(city, tmp_path):
    folder, _ = city
    import shutil

    bare = shutil.copytree(folder, tmp_path / "bare")
    (bare / "meeting_feedback.csv").unlink()
    con, _ = _build(bare)
    assert read_feedback(con) is None
    section = meeting_feedback(read_feedback(con), None, {}, alpha=0.05, min_cell_size=10, seed=1)
    assert "reason" in section and "items" not in section
    html = render({"city": "x", "meeting_feedback": section})
    assert "no meeting feedback delivered" in html

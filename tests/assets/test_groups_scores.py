"""Resident groups from a survey_scores delivery (issue 15.2): a row with a group value is
that group's score; rows with the group column empty are everyone's and alone feed the
headline panel; the quality gate keys rows by district, period and group value."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from engagement_eval.config import load_config
from quality.gate import run_gate
from simulator.city import simulate_city
from simulator.scores import scores_table
from simulator.shapes import OutputShape
from warehouse.groups import build_survey_group_panel, read_group_panel
from warehouse.ingest import ingest_city
from warehouse.panels import build_district_month, build_district_quarter_survey
from warehouse.sql import ensure_schemas

SHAPE = OutputShape(survey="scores", grain="quarter", score_scale=(0.0, 100.0))


@pytest.fixture(scope="module")
def scores_city(tmp_path_factory):
    folder = simulate_city(
        tmp_path_factory.mktemp("scores") / "city",
        seed=9,
        n_districts=8,
        months=36,
        incidents_per_1000=0.05,
    )
    resp = pd.read_csv(folder / "survey_responses.csv", dtype={"district_id": str})
    everyone = scores_table(resp, SHAPE).assign(years_in_neighborhood="")
    by_group = [
        scores_table(g, SHAPE).assign(years_in_neighborhood=v)
        for v, g in resp.groupby("years_in_neighborhood")
    ]
    scores = pd.concat([everyone, *by_group], ignore_index=True)
    scores.to_csv(folder / "survey_scores.csv", index=False)
    (folder / "survey_responses.csv").unlink()
    config = yaml.safe_load((folder / "city.yaml").read_text())
    config["survey"] = {"scale": [0, 100], "groups": ["years_in_neighborhood"]}
    (folder / "city.yaml").write_text(yaml.safe_dump(config))
    con = duckdb.connect()
    ensure_schemas(con)
    cfg = load_config(None, folder)
    ingest_city(con, folder, cfg)
    report = run_gate(con, cfg)
    build_district_month(con, cfg, None)
    build_district_quarter_survey(con, cfg)
    build_survey_group_panel(con, cfg)
    dq = con.execute("SELECT * FROM marts.district_quarter_survey").df()
    dqg = read_group_panel(con)
    con.close()
    return {"scores": scores, "report": report, "dq": dq, "dqg": dqg}


def test_group_rows_pass_the_gate_and_stay_out_of_the_headline(scores_city):
    rep = scores_city["report"].inputs["survey_scores"]
    assert rep.status != "failed" and rep.bad_rows == 0, rep
    dq = scores_city["dq"]
    cells = dq[(dq.index_name == "trust_index") & dq["mean"].notna()]
    everyone = scores_city["scores"].query("years_in_neighborhood == ''")
    assert len(cells) == len(everyone)
    np.testing.assert_allclose(
        np.sort(cells["mean"].to_numpy()), np.sort(everyone["trust_index"].to_numpy()), rtol=1e-9
    )


def test_group_panel_holds_the_group_scores(scores_city):
    dqg = scores_city["dqg"]
    got = dqg[dqg.index_name == "trust_index"]
    groups = scores_city["scores"].query("years_in_neighborhood != ''")
    assert set(got["group_value"]) == {"0-4", "5+"}
    assert len(got) == len(groups)
    np.testing.assert_allclose(
        np.sort(got["mean"].to_numpy()), np.sort(groups["trust_index"].to_numpy()), rtol=1e-9
    )
    assert int(got["n_responses"].sum()) == int(groups["n_respondents"].sum())

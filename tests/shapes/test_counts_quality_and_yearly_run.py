"""Issue 9: quality rules for published counts, and a yearly counts city end to end."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from shapes_helpers import build  # noqa: F401  (keeps helper import path consistent)

from engagement_eval.config import load_config
from quality.gate import run_gate
from simulator.city import simulate_city
from simulator.shapes import OutputShape


def _count_city(folder):
    folder.mkdir()
    pd.DataFrame({"district_id": ["01", "02"], "population": [10000, 20000]}).to_csv(
        folder / "districts.csv", index=False
    )
    rows = [
        (d, f"2020-{m:02d}", cat, 5)
        for d in ("01", "02")
        for m in range(1, 13)
        for cat in ("violent", "property")
        if not (d == "02" and m == 7)  # a missing period: reporting gap
    ]
    df = pd.DataFrame(rows, columns=["district_id", "period", "offense_category", "count"])
    df["count"] = df["count"].astype(str)
    df.loc[0, "count"] = "-3"  # negative
    df.loc[1, "count"] = "2.5"  # not a whole number
    df.loc[2, "count"] = "4.0"  # whole, written as a decimal: fine
    extra = pd.DataFrame(
        [
            ("99", "2020-03", "violent", "1"),  # unknown district
            ("01", "2020-05", "violent", "7"),  # conflicting duplicate of a cell
            ("01", "2021-02", "violent", "2"),  # outside the window
            ("01", "2020-13", "violent", "2"),  # unreadable period
        ],
        columns=df.columns,
    )
    pd.concat([df, extra]).to_csv(folder / "crime_counts.csv", index=False)
    (folder / "city.yaml").write_text(
        yaml.safe_dump({"study_window": {"start": "2020-01", "end": "2020-12"}})
    )
    return folder


def test_count_rules_catch_each_fault(tmp_path):
    from shapes_helpers import month_keys  # noqa: F401

    from engagement_eval.contract import INPUTS
    from warehouse.ingest import build_staging, delivered_files, load_raw

    city = _count_city(tmp_path / "city")
    config = load_config(None, city)
    con = duckdb.connect()
    for schema in ("raw", "staging", "quality", "marts"):
        con.execute(f"CREATE SCHEMA {schema}")
    for name in ("districts", "crime_counts"):
        spec = INPUTS[name]
        files = delivered_files(con, spec, config, city)
        load_raw(con, spec, config, files, datetime(2024, 1, 1), None)
        build_staging(con, spec, config, files, None)
    report = run_gate(con, config, inputs=("districts", "crime_counts"), now=datetime(2024, 1, 1))
    results = {r.rule.name: r for r in report.inputs["crime_counts"].results}
    expected = {
        "count_not_negative": 1,
        "count_whole_number": 1,
        "district_known": 1,
        "key_unique": 2,  # both rows of the conflicting cell
        "period_in_window": 2,  # 2021-02 and the unreadable 2020-13
        "period_readable": 1,
        "place_period_reported": 1,  # district 02, 2020-07
    }
    for rule, count in expected.items():
        assert results[rule].unexpected_count == count, rule
        assert not results[rule].success
    assert results["count_parseable"].success  # "2.5" and "-3" are numbers, just bad ones
    gaps = con.execute("SELECT district_id, month FROM quality.reporting_gaps").fetchall()
    assert [(d, f"{m:%Y-%m}") for d, m in gaps] == [("02", "2020-07")]


def test_both_crime_shapes_delivered_is_one_clear_error(tmp_path):
    from engagement_eval.contract import INPUTS, find_files
    from engagement_eval.errors import UserError

    city = _count_city(tmp_path / "city")
    (city / "crime_incidents.csv").write_text("incident_id,occurred_at,district_id\n")
    with pytest.raises(UserError, match="crime data must come in one shape"):
        find_files(city, INPUTS["crime_counts"])


def test_yearly_counts_run_end_to_end_with_years(tmp_path, monkeypatch):
    from pipelines.commands.run import materialize

    city = simulate_city(
        tmp_path / "yearly",
        seed=4,
        n_districts=10,
        start="2006-01",
        months=180,
        incidents_per_1000=2.0,
        shape=OutputShape(crime="counts", grain="year"),
    )
    cfg = yaml.safe_load((city / "city.yaml").read_text())
    cfg["model"] = {"bootstrap_draws": 99, "ri_permutations": 19, "survey_sampling_draws": 20}
    (city / "city.yaml").write_text(yaml.safe_dump(cfg))
    (city / "meetings.csv").unlink()  # meetings are optional
    (city / "meeting_feedback.csv").unlink()  # forms need the meetings to be placed
    monkeypatch.delenv("ENGAGEMENT_EVAL_OUT", raising=False)
    monkeypatch.delenv("ENGAGEMENT_EVAL_DUCKDB", raising=False)
    where = materialize(str(city), None, str(tmp_path / "out"), quiet=True)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    truth = json.loads((city / "truth.json").read_text())["outcomes"]
    assert results["shape"]["grain"] == "year"
    assert results["study_window"] == {"start": "2006-01", "end": "2020-12"}
    crime = results["outcomes"]["crime_total"]
    assert crime["units"] == "year"
    times = [e["event_time"] for e in crime["event_study"]]
    assert min(times) <= -3 and max(times) >= 2  # leads for the pre-trend test
    assert crime["pre_trend_p"] is not None
    assert abs(crime["estimate"] - truth["crime_total"]["overall"]) < 3 * crime["se"]
    assert results["outcomes"]["trust_index"]["units"] == "year"
    assert any("years since roll-out" in n for n in results["notes"])
    html = Path(where["report"]).read_text(encoding="utf-8")
    assert "years since the program started" in html

"""The monthly cycle end to end (issue 14): a small simulated city is run through month M, then
into the same output through M+6 with one month already analysed revised. The second run must
know the first: results.history holds both, results.json carries previous_run and changes with
the right reasons, and the report opens with "since the last report"."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from html_probe import probe

from pipelines.cli import main

pytestmark = pytest.mark.slow

MONTHS = 30  # simulated; run 1 ends 6 months earlier


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """No setting of the shell (output folders, Dagster home, a pinned clock) leaks in."""
    names = [v for v in os.environ if v.startswith(("ENGAGEMENT_EVAL_", "DAGSTER_"))]
    for var in [*names, "SOURCE_DATE_EPOCH"]:
        monkeypatch.delenv(var, raising=False)


def _set_end(city: Path, end: str) -> None:
    path = city / "city.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["study_window"]["end"] = end
    # keep the run small: the history, not the statistics, is under test here
    cfg.setdefault("model", {}).update(ri_permutations=0, power_simulations=0)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _revise_one_month(city: Path, month: str) -> int:
    """Drop every third incident of `month` (a late correction to data already analysed);
    returns how many districts lost incidents."""
    files = sorted(city.glob("crime_incidents.*"))
    path = files[0]
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    when = pd.to_datetime(frame["occurred_at"])
    # mid-month only: no time-zone conversion can move these into a neighbouring month
    in_month = (when.dt.strftime("%Y-%m") == month) & when.dt.day.between(5, 25)
    drop = frame.index[in_month][::3]
    districts = frame.loc[drop, "district_id"].nunique()
    frame = frame.drop(index=drop)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return int(districts)


def test_second_run_knows_the_first(tmp_path):
    simulator = pytest.importorskip("simulator.city")
    city = simulator.simulate_city(
        tmp_path / "city",
        seed=7,
        n_districts=8,
        start="2020-01",
        months=MONTHS,
        incidents_per_1000=0.5,
        survey_responses_per_cell=20,
    )
    last = pd.Period("2020-01", "M") + MONTHS - 1
    first_end = str(last - 6)
    out = tmp_path / "out"

    _set_end(city, first_end)
    assert main(["run", "--data", str(city), "--out", str(out), "--quiet"]) == 0
    first = json.loads((out / "results.json").read_text())
    assert "previous_run" not in first and "changes" not in first

    _set_end(city, str(last))
    revised_districts = _revise_one_month(city, str(last - 10))
    assert revised_districts > 0
    assert main(["run", "--data", str(city), "--out", str(out), "--quiet"]) == 0
    second = json.loads((out / "results.json").read_text())

    prev = second["previous_run"]
    assert prev["data_through"] == first_end
    assert prev["generated_at"] == first["generated_at"]
    for name, o in first["outcomes"].items():
        assert prev["outcomes"][name]["estimate"] == pytest.approx(o.get("estimate"))
        assert prev["outcomes"][name]["verdict_level"] == o["verdict"]["level"]
    changes = second["changes"]
    assert set(changes) == set(second["outcomes"])
    for name, c in changes.items():
        assert "new_periods" in c["reasons"] and c["new_periods"] == 6
        assert "config_changed" not in c["reasons"]  # only the window's end moved
        now, before = (
            second["outcomes"][name].get("estimate"),
            first["outcomes"][name].get("estimate"),
        )
        if now is not None and before is not None:
            assert c["estimate_change"] == pytest.approx(now - before)
    # the revised month touched crime counts only: every crime outcome's district-months for
    # the districts that lost incidents (total always; violent/property when hit), no survey
    assert changes["crime_total"]["revised_rows"] == revised_districts
    assert "revised_data" in changes["crime_total"]["reasons"]
    for name in ("trust_index", "safety_index"):
        if name in changes:
            assert changes[name]["revised_rows"] == 0
            assert "revised_data" not in changes[name]["reasons"]

    con = duckdb.connect(str(out / "engagement_eval.duckdb"), read_only=True)
    try:
        runs = con.execute(
            "SELECT data_through, count(*) FROM results.history GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert runs == [(first_end, len(first["outcomes"])), (str(last), len(second["outcomes"]))]

    folders = sorted((out / "reports").glob("*/" + str(last)))
    assert folders, "the second run's report folder is missing"
    html = (folders[0] / "council_report.html").read_text()
    p = probe(html)
    section = p.by_id("since-last-report")
    assert section is not None
    first_section = [e for e in p.find("section") if "report-section" in e.attrs.get("class", "")]
    assert first_section[0].attrs["id"] == "since-last-report"  # the report opens with it
    text = " ".join(section.text.split())
    month_words = pd.Period(first_end, "M").strftime("%B %Y")
    assert f"Since the {month_words} report, six more months of data arrived" in text
    assert (
        f"{revised_districts:,} district-month{'s' if revised_districts > 1 else ''} of crime data already analysed"
        in text
    )
    assert "moved from" in text or "stayed at" in text
    assert (folders[0] / "council_data.xlsx").exists()
    assert (folders[0] / "council_data_since_last_report.csv").read_text().count("\n") == len(
        changes
    ) + 1

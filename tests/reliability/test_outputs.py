"""Determinism (same inputs -> same tables, rerun or rebuilt from an empty file) and residents'
privacy (planted respondent ids, free text and coordinates reach no published output; no survey
average of fewer than min_cell_size responses is published)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from reliability_helpers import (
    ADDRESS,
    FREE_TEXT,
    LATITUDE,
    LOAD_TIME_COLUMNS,
    LONGITUDE,
    RESPONDENT_PREFIX,
    dagster_home,
    make_city,
    tables,
)

from pipelines.cli import main

PLANTED = [FREE_TEXT, RESPONDENT_PREFIX, ADDRESS, LATITUDE, LONGITUDE]
INTERNAL = ("raw", "staging")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One city, run into a first folder twice and into a second, empty folder once."""
    root = tmp_path_factory.mktemp("outputs")
    city = _alone_in_a_quarter(make_city(root / "city", incidents=8_000))
    home = dagster_home(root / "home")
    with pytest.MonkeyPatch.context() as mp:
        for var in (
            "ENGAGEMENT_EVAL_DUCKDB",
            "ENGAGEMENT_EVAL_OUT",
            "ENGAGEMENT_EVAL_CONFIG",
            "ENGAGEMENT_EVAL_REPORTS",
        ):
            mp.delenv(var, raising=False)
        mp.setenv("DAGSTER_HOME", str(home))
        first, second = root / "first", root / "second"
        hashes = []
        for out in (first, first, second):
            assert main(["run", "--data", str(city), "--out", str(out), "--quiet"]) == 0
            hashes.append(_content_hashes(out / "engagement_eval.duckdb"))
        events = _materialization_metadata(dg.DagsterInstance.get())
    return {"first": first, "hashes": hashes, "metadata": events}


SMALL_QUARTER = ("2023-04-01", "2023-07-01")  # district 009's three answers are in it
MIN_CELL_SIZE = 10  # the city's model.min_cell_size


def _alone_in_a_quarter(city: Path) -> Path:
    """Drop the other comparison districts' answers in 009's quarter: the comparison group's
    average for that quarter is then 009's three answers alone, so it reaches every published
    trend unless it is suppressed."""
    path = city / "survey_responses.csv"
    survey = pd.read_csv(path, dtype=str)
    treated = set(pd.read_csv(city / "programs.csv", dtype=str)["district_id"])
    date = survey["response_date"]
    drop = (
        ~survey["district_id"].isin(treated | {"009"})
        & (date >= SMALL_QUARTER[0])
        & (date < SMALL_QUARTER[1])
    )
    survey.loc[~drop].to_csv(path, index=False)
    return city


# per-run keys and wall-clock values: everything else must repeat exactly
RUN_KEYS = {"run_id", "started_at", "seconds", "timings"} | LOAD_TIME_COLUMNS


def _content_hashes(db: Path) -> dict[str, str]:
    """sha256 per table of its distinct rows without run keys and clock values (tables that
    keep one row set per run, results.* and quality.*, must repeat the same rows every run;
    the stored results.json text is compared without its `generated_at`)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for schema, name in tables(con):
            cols = [c for c in _columns(con, schema, name) if c not in RUN_KEYS]
            quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
            rows = con.execute(f'SELECT {quoted} FROM "{schema}"."{name}"').fetchall()
            if "results_json" in cols:
                at = cols.index("results_json")
                rows = [r[:at] + (_without_stamp(r[at]),) + r[at + 1 :] for r in rows]
            canonical = sorted({repr(r) for r in rows})
            out[f"{schema}.{name}"] = hashlib.sha256(repr((cols, canonical)).encode()).hexdigest()
        return out
    finally:
        con.close()


def _without_stamp(text: str) -> str:
    """Without `generated_at` and the comparison with the previous run (issue 14: a rerun into
    the same folder gains `previous_run`/`changes`; test_results_json... checks them)."""
    doc = json.loads(text)
    for key in ("generated_at", "previous_run", "changes"):
        doc.pop(key, None)
    return json.dumps(doc, sort_keys=True)


def _materialization_metadata(instance: dg.DagsterInstance) -> str:
    """Every description and metadata value the UI shows for materializations."""
    texts = []
    for key in instance.get_asset_keys():
        for record in instance.fetch_materializations(key, limit=100).records:
            materialization = record.asset_materialization
            texts.append(str(materialization.description))
            texts += [f"{k}: {v.value}" for k, v in materialization.metadata.items()]
    return "\n".join(texts)


def test_same_inputs_give_identical_tables_on_rerun_and_on_rebuild(runs):
    rerun, again, rebuilt = runs["hashes"]
    assert rerun and set(rerun) >= {"raw.crime_incidents", "staging.crime_incidents"}
    assert "marts.district_month" in rerun
    assert again == rerun  # same folder, second run
    assert rebuilt == rerun  # empty folder, full rebuild


def test_results_json_is_identical_apart_from_its_timestamp(runs):
    mine = json.loads((runs["first"] / "results.json").read_text())
    other = json.loads((runs["first"].parent / "second" / "results.json").read_text())
    # the rerun into the first folder knows the first run and finds nothing changed
    changes = mine.pop("changes")
    assert set(changes) == set(mine["outcomes"])
    assert all(c["reasons"] == [] and c["revised_rows"] == 0 for c in changes.values())
    assert all(c["estimate_change"] in (0, None) for c in changes.values())
    assert mine.pop("previous_run")["outcomes"].keys() == mine["outcomes"].keys()
    assert "previous_run" not in other  # a fresh folder has no history
    for doc in (mine, other):
        doc.pop("generated_at", None)
    assert "outcomes" in mine and other == mine


def test_no_planted_private_value_reaches_a_published_output(runs):
    db = runs["first"] / "engagement_eval.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    leaks = []
    try:
        published = [(s, t) for s, t in tables(con) if s not in INTERNAL]
        assert ("marts", "district_month") in published
        for schema, name in published:
            cols = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = ? AND table_name = ?",
                    [schema, name],
                ).fetchall()
            ]
            leaks += [f"{schema}.{name} column {c}" for c in cols if c.lower() in _PRIVATE_COLS]
            for col in cols:
                quoted = '"' + col.replace('"', '""') + '"'
                for value in PLANTED:
                    hit = con.execute(
                        f'SELECT count(*) FROM "{schema}"."{name}"'
                        f" WHERE CAST({quoted} AS VARCHAR) LIKE ?",
                        [f"%{value}%"],
                    ).fetchone()[0]
                    if hit:
                        leaks.append(f"{schema}.{name}.{col} holds {value!r}")
        # staging keeps only contract columns: no free text, no address or coordinates
        for name in ("survey_responses", "crime_incidents"):
            staged = {c.lower() for c in _columns(con, "staging", name)}
            leaks += [f"staging.{name}.{c}" for c in staged & _PRIVATE_COLS]
    finally:
        con.close()
    files = [p for p in runs["first"].rglob("*") if p.is_file() and p.suffix != ".duckdb"]
    for path in files:
        if path.name.endswith((".wal", ".lock")):
            continue
        content = path.read_bytes().decode("utf-8", "replace")
        leaks += [f"{path.name} holds {v!r}" for v in PLANTED if v in content]
    leaks += [f"Dagster metadata holds {v!r}" for v in PLANTED if v in runs["metadata"]]
    assert runs["metadata"], "no materialization metadata was recorded"
    assert leaks == []


_PRIVATE_COLS = {"comments", "address", "latitude", "longitude"}


def _columns(con, schema: str, name: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    ]


def _small_trend_means(doc: dict) -> list[str]:
    """Trend points of a results document that publish a mean of < MIN_CELL_SIZE answers."""
    bad = []
    for outcome, points in (doc.get("trends") or {}).items():
        for p in points:
            for group in ("treated", "comparison"):
                n = p.get(f"{group}_n")
                if n is not None and n < MIN_CELL_SIZE and p.get(f"{group}_mean") is not None:
                    bad.append(f"{outcome} {p['period']} {group}: n = {n}")
    return bad


def test_survey_means_are_only_published_for_cells_above_min_cell_size(runs):
    """Every published output of the run: results.json, the results.* tables, the report and
    the Dagster metadata. The internal analysis table marts.district_quarter_survey keeps the
    small cells (the estimators weight them by precision); it is not published."""
    first = runs["first"]
    doc = json.loads((first / "results.json").read_text())
    planted = [
        p
        for points in doc["trends"].values()
        for p in points
        if p["period"] == SMALL_QUARTER[0][:7] and p.get("comparison_n") == 3
    ]
    assert len(planted) == 2, "district 009's quarter should be a comparison cell of 3 answers"
    assert all(p["comparison_suppressed"] for p in planted)
    leaks = _small_trend_means(doc)
    con = duckdb.connect(str(first / "engagement_eval.duckdb"), read_only=True)
    try:
        small = con.execute(
            "SELECT mean FROM marts.district_quarter_survey WHERE district_id = '009'"
            " AND quarter = CAST(? AS DATE) AND n_responses = 3",
            [SMALL_QUARTER[0]],
        ).fetchall()
        stored = con.execute("SELECT results_json FROM results.run_metadata").fetchall()
        texts = [
            str(row)
            for schema, name in tables(con, ("results",))
            for row in con.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()
        ]
    finally:
        con.close()
    assert len(small) == 2  # both indices; the marts table keeps the small cells
    for (text,) in stored:
        leaks += [f"results.run_metadata: {b}" for b in _small_trend_means(json.loads(text))]
    texts += [
        p.read_text(errors="replace")
        for p in first.rglob("*")
        if p.is_file() and p.suffix in (".json", ".html", ".md", ".csv")
    ]
    texts.append(runs["metadata"])
    # the small cells' own means, to 7 significant digits, anywhere in a published text
    for (mean,) in small:
        digits = f"{mean:.7g}"
        if len(digits.replace(".", "")) >= 6:
            leaks += [f"{digits} in a published output" for t in texts if digits in t]
    report = [p for p in first.rglob("council_report.html")]
    assert report, "the run should write the council report"
    assert leaks == []

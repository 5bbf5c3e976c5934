"""Corrupt a small simulated city one way at a time and assert the gate's exact outcome.

Each case states what must happen: the run stops with one message naming file, column and
rule; or exactly the broken rows are quarantined under the right rule; or a warning is
counted and nothing is removed. Every case also checks that raw holds every delivered row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pytest

from engagement_eval.errors import UserError
from tests.quality.conftest import input_file, read_input, write_input


def _set(frame: pd.DataFrame, rows: list[int], column: str, value) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[rows, column] = value
    return frame


def _dup_ids(frame):
    frame = frame.copy()
    frame.loc[[10, 11, 12], "incident_id"] = frame.loc[[20, 21, 22], "incident_id"].to_numpy()
    return frame


def _append_copies(frame):
    return pd.concat([frame, frame.iloc[100:110]], ignore_index=True)


def _first_rows_unknown(share):
    def mutate(frame):
        n = int(len(frame) * share)
        return _set(frame, list(range(n)), "district_id", "999")

    return mutate


@dataclass
class Case:
    input: str
    mutate: object
    status: str  # passed | warned | quarantined | failed
    quarantined: dict = field(default_factory=dict)  # blocking rule -> rows set aside
    warned: dict = field(default_factory=dict)  # warning/info rule -> unexpected count
    stop: tuple = ()  # (file name, column, rule) named in the stop message


CASES = {
    "district_key_conflict": Case(
        "districts",
        lambda f: _set(f, [1], "district_id", f.loc[0, "district_id"]),
        "failed",
        stop=("districts.csv", "district_id", "key_unique"),
    ),
    "population_zero": Case(
        "districts",
        lambda f: _set(f, [2], "population", "0"),
        "failed",
        stop=("districts.csv", "population", "population_positive"),
    ),
    "population_text": Case(
        "districts",
        lambda f: _set(f, [3], "population", "about 9000"),
        "failed",
        stop=("districts.csv", "population", "population_parseable"),
    ),
    "program_unknown_district": Case(
        "programs",
        lambda f: _set(f, [0], "district_id", "77"),
        "failed",
        stop=("programs.csv", "district_id", "district_known"),
    ),
    "program_before_window": Case(
        "programs",
        lambda f: _set(f, [0], "start_date", "2015-03-01"),
        "failed",
        stop=("programs.csv", "start_date", "start_date_not_before_window"),
    ),
    "program_after_window": Case(
        "programs",
        lambda f: _set(f, [0], "start_date", "2023-03-01"),
        "warned",
        warned={"start_date_in_window": 1},
    ),
    "incident_id_conflict": Case(
        "crime_incidents", _dup_ids, "quarantined", quarantined={"key_unique": 6}
    ),
    "incident_exact_copies": Case(
        "crime_incidents", _append_copies, "warned", warned={"no_exact_duplicates": 10}
    ),
    "incident_future_date": Case(
        "crime_incidents",
        lambda f: _set(f, [5, 6, 7], "occurred_at", "2205-01-03T10:00:00"),
        "quarantined",
        quarantined={"occurred_at_not_future": 3},
    ),
    "incident_bad_date": Case(
        "crime_incidents",
        lambda f: _set(f, [8, 9], "occurred_at", "31/02/2021"),
        "quarantined",
        quarantined={"occurred_at_parseable": 2},
    ),
    "incident_missing_date": Case(
        "crime_incidents",
        lambda f: _set(f, [8], "occurred_at", None),
        "quarantined",
        quarantined={"occurred_at_not_null": 1},
    ),
    "incident_unknown_district": Case(
        "crime_incidents",
        lambda f: _set(f, [1, 2, 3, 4], "district_id", "999"),
        "quarantined",
        quarantined={"district_known": 4},
    ),
    "incident_leading_zero_lost": Case(
        "crime_incidents",
        lambda f: _set(f, [30], "district_id", "1"),
        "quarantined",
        quarantined={"district_known": 1},
    ),
    "incident_missing_id": Case(
        "crime_incidents",
        lambda f: _set(f, [40, 41], "incident_id", None),
        "quarantined",
        quarantined={"incident_id_not_null": 2},
    ),
    "incident_too_many_bad": Case(
        "crime_incidents",
        _first_rows_unknown(0.05),
        "failed",
        stop=("crime_incidents.parquet", "district_id", "district_known"),
    ),
    "incident_before_window": Case(
        "crime_incidents",
        lambda f: _set(f, [50, 51], "occurred_at", "2019-06-01T08:00:00"),
        "passed",
        warned={"occurred_at_in_window": 2},
    ),
    "incident_unmapped_label": Case(
        "crime_incidents",
        lambda f: _set(f, [60, 61, 62], "offense_category", "JAYWALKING"),
        "warned",
        warned={"offense_category_mapped": 3},
    ),
    "likert_out_of_scale": Case(
        "survey_responses",
        lambda f: _set(_set(f, [0], "trust_police", "0"), [1], "trust_police", "9"),
        "quarantined",
        quarantined={"trust_police_in_scale": 2},
    ),
    "likert_not_a_number": Case(
        "survey_responses",
        lambda f: _set(f, [4], "feel_safe", "agree"),
        "quarantined",
        quarantined={"feel_safe_parseable": 1},
    ),
    "likert_skipped": Case(
        "survey_responses",
        lambda f: _set(f, [5, 6], "police_fair", ""),
        "warned",
        warned={"police_fair_not_null": 2},
    ),
    "weight_not_positive": Case(
        "survey_responses",
        lambda f: _set(_set(f, [2], "weight", "0"), [3], "weight", "-1.5"),
        "quarantined",
        quarantined={"weight_positive": 2},
    ),
    "survey_future_date": Case(
        "survey_responses",
        lambda f: _set(f, [7], "response_date", "2099-01-01"),
        "quarantined",
        quarantined={"response_date_not_future": 1},
    ),
    "attendees_negative": Case(
        "meetings",
        lambda f: _set(f, [3], "attendees", "-5"),
        "quarantined",
        quarantined={"attendees_not_negative": 1},
    ),
    "attendees_implausible": Case(
        "meetings",
        lambda f: _set(f, [4], "attendees", "100000"),
        "warned",
        warned={"attendees_plausible": 1},
    ),
    "meeting_type_unknown": Case(
        "meetings",
        lambda f: _set(f, [5], "meeting_type", "bbq"),
        "warned",
        warned={"meeting_type_known": 1},
    ),
    "meeting_id_conflict": Case(
        "meetings",
        lambda f: _set(f, [1], "meeting_id", f.loc[0, "meeting_id"]),
        "quarantined",
        quarantined={"key_unique": 2},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_corruption_outcome(name, city, run):
    case = CASES[name]
    original = read_input(city, case.input)
    corrupted = case.mutate(original)
    write_input(city, case.input, corrupted)

    r = run(city, case.input)
    rep = r.rep(case.input)
    assert r.raw_rows(case.input) == len(corrupted), "raw must hold every delivered row"
    assert r.loaded[case.input] == len(corrupted)
    assert rep.status == case.status, r.report.summary_text()

    blocking = {k: v for k, v in r.quarantined(case.input).items()}
    results = {x.rule.name: x for x in rep.results}
    for rule, count in case.quarantined.items():
        assert results[rule].unexpected_count == count
        assert blocking.get(rule) == count
    if case.status == "quarantined":
        assert rep.bad_rows == sum(case.quarantined.values())
        assert (
            r.con.execute(
                "SELECT count(*) FROM quality.quarantined_rows WHERE input = ?", [case.input]
            ).fetchone()[0]
            == rep.bad_rows
        )
    for rule, count in case.warned.items():
        assert results[rule].unexpected_count == count
        assert results[rule].rule.severity in ("warning", "info")
    if case.status in ("passed", "warned"):
        assert rep.bad_rows == 0
    if case.stop:
        file, column, rule = case.stop
        with pytest.raises(UserError) as err:
            r.report.raise_if_blocked()
        assert err.value.file == file and err.value.column == column
        assert rule in err.value.message and "How to fix" in err.value.message
    else:
        r.report.raise_if_blocked()  # must not raise


def test_clean_view_leaves_out_exactly_the_quarantined_rows(city, run):
    frame = read_input(city, "meetings")
    write_input(city, "meetings", _set(frame, [3, 8], "attendees", "-1"))
    r = run(city, "meetings")
    staged = r.con.execute("SELECT count(*) FROM staging.meetings").fetchone()[0]
    clean = r.con.execute("SELECT count(*) FROM staging.meetings_clean").fetchone()[0]
    assert staged - clean == 2
    left_out = r.con.execute(
        "SELECT _row_number FROM staging.meetings EXCEPT SELECT _row_number FROM "
        "staging.meetings_clean ORDER BY 1"
    ).fetchall()
    assert [x[0] for x in left_out] == [4, 9]  # 1-based data rows of the file


def test_reporting_gap_month_is_found(city, run):
    frame = read_input(city, "crime_incidents")
    busiest = frame["district_id"].value_counts().index[0]
    month = frame["occurred_at"].str[:7]
    write_input(
        city, "crime_incidents", frame[~((frame.district_id == busiest) & (month == "2021-03"))]
    )
    path = city / "city.yaml"
    path.write_text(path.read_text() + "quality: {gap_min_typical: 5}\n")
    r = run(city, "crime_incidents")
    gap = {x.rule.name: x for x in r.rep("crime_incidents").results}["district_month_reported"]
    assert gap.unexpected_count == 1
    rows = r.con.execute(
        "SELECT district_id, strftime(month, '%Y-%m') FROM quality.reporting_gaps"
    ).fetchall()
    assert rows == [(busiest, "2021-03")]
    assert r.rep("crime_incidents").status == "warned"


def test_duplicated_file_delivery_keeps_one_copy(city, run):
    path = input_file(city, "meetings")
    (city / "meetings_resent.csv").write_bytes(path.read_bytes())
    r = run(city, "meetings")
    n = len(read_input(city, "meetings"))
    assert r.raw_rows("meetings") == 2 * n
    results = {x.rule.name: x for x in r.rep("meetings").results}
    assert results["no_exact_duplicates"].unexpected_count == n
    assert results["key_unique"].unexpected_count == 0
    assert r.rep("meetings").bad_rows == 0
    assert r.con.execute("SELECT count(*) FROM staging.meetings_clean").fetchone()[0] == n


def test_run_summary_records_each_input(city, run):
    frame = read_input(city, "meetings")
    write_input(city, "meetings", _set(frame, [3], "attendees", "-1"))
    r = run(city, "districts", "meetings")
    rows = r.con.execute(
        "SELECT input, rows_in, rows_quarantined, quarantined_by_rule, status "
        "FROM quality.run_summary ORDER BY input"
    ).fetchall()
    assert rows == [
        ("districts", 6, 0, "{}", "passed"),
        ("meetings", len(frame), 1, '{"attendees_not_negative": 1}', "quarantined"),
    ]


def test_reductions_and_small_batches_keep_exact_counts(city, run):
    """GX sees reduced batches (distinct values, missing-value patterns, shared keys), cut
    into batches of quality.chunk_rows: the row counts and rows must not depend on that."""
    frame = read_input(city, "crime_incidents")
    frame = _set(frame, [3, 4], "occurred_at", "9999-01-01T00:00:00")  # beyond pandas' ns range
    frame = _set(frame, [5], "occurred_at", None)
    frame = _set(frame, [5, 6], "offense_category", None)  # two missing-value patterns
    frame = _set(frame, [6, 7, 8], "district_id", "999")
    frame = _dup_ids(frame)
    write_input(city, "crime_incidents", frame)
    path = city / "city.yaml"
    path.write_text(path.read_text() + "quality: {chunk_rows: 7, max_bad_row_share: 0.5}\n")
    r = run(city, "crime_incidents")
    results = {x.rule.name: x for x in r.rep("crime_incidents").results}
    expected = {
        "occurred_at_not_future": [4, 5],
        "occurred_at_not_null": [6],
        "offense_category_not_null": [6, 7],
        "district_known": [7, 8, 9],
        "key_unique": [11, 12, 13, 21, 22, 23],
    }
    for rule, row_numbers in expected.items():
        assert results[rule].unexpected_count == len(row_numbers), rule
        found = r.con.execute(
            "SELECT row_number FROM quality.quarantine WHERE rule = ? ORDER BY 1", [rule]
        ).fetchall()
        assert [x[0] for x in found] == row_numbers, rule
    assert results["occurred_at_in_window"].unexpected_count == 2
    assert r.rep("crime_incidents").bad_rows == 2 + 1 + 3 + 6

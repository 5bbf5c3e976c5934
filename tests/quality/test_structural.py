"""Structural problems stop before any row is checked, with one message naming file and fix."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement_eval.config import load_config
from engagement_eval.errors import UserError
from pipelines.cli import main as cli_main
from quality.structural import check_delivery
from tests.quality.conftest import input_file, read_input


def _stop(city) -> UserError:
    with pytest.raises(UserError) as err:
        check_delivery(city, load_config(None, city))
    return err.value


def test_renamed_column_names_the_mapping(city):
    path = input_file(city, "meetings")
    path.write_text(path.read_text().replace("attendees", "Attendance", 1))
    err = _stop(city)
    assert err.file.endswith("meetings.csv") and err.column == "attendees"
    assert "columns: {meetings: {attendees:" in err.message


def test_renamed_column_passes_with_mapping(city, run):
    path = input_file(city, "meetings")
    path.write_text(path.read_text().replace("attendees", "Attendance", 1))
    cfg = city / "city.yaml"
    cfg.write_text(cfg.read_text() + "columns: {meetings: {attendees: Attendance}}\n")
    r = run(city, "meetings")
    assert r.rep("meetings").status == "passed"


def test_empty_file(city):
    input_file(city, "survey_responses").write_bytes(b"")
    err = _stop(city)
    assert err.file.endswith("survey_responses.csv") and "empty" in err.message


def test_header_only_file_stops_the_gate(city, run):
    path = input_file(city, "meetings")
    path.write_text(path.read_text().splitlines()[0] + "\n")
    r = run(city, "meetings")
    assert r.raw_rows("meetings") == 0 and r.rep("meetings").status == "failed"
    with pytest.raises(UserError, match="has_rows"):
        r.report.raise_if_blocked()


def test_wrong_encoding_names_line_and_fix(city):
    path = input_file(city, "districts")
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",", "\u00e9,".encode("latin-1"), 1)
    path.write_bytes(b"\n".join(lines))
    err = _stop(city)
    assert err.file.endswith("districts.csv")
    assert "line 4" in err.message and "UTF-8" in err.message


def test_missing_required_file(city):
    input_file(city, "districts").unlink()  # districts.csv stays required (meetings did not)
    err = _stop(city)
    assert "districts" in err.message and "districts.csv" in err.message


def test_missing_optional_programs_is_fine(city):
    input_file(city, "programs").unlink()
    assert check_delivery(city, load_config(None, city)) == []


def test_feedback_without_meetings_is_one_clear_error(city):
    """Without any meetings file every form would fail meeting_known (100% of rows): say the
    one thing that is wrong instead."""
    for path in city.glob("meeting_feedback*"):
        path.unlink()
    input_file(city, "meetings").unlink()
    assert check_delivery(city, load_config(None, city)) == []  # no feedback, no meetings: fine
    (city / "meeting_feedback.csv").write_text(
        "feedback_id,meeting_id,submitted_date,felt_heard,concerns_addressed,would_attend_again\n"
        "f1,m1,2020-01-05,4,3,5\n"
    )
    err = _stop(city)
    assert "meeting_feedback.csv was delivered but no meetings file" in err.message
    assert "deliver meetings.csv" in err.fix


def test_identical_second_file_is_a_note(city):
    path = input_file(city, "districts")
    (city / "districts_copy.csv").write_bytes(path.read_bytes())
    notes = check_delivery(city, load_config(None, city))
    assert notes and "districts_copy.csv" in notes[0]


def test_validate_command_exit_codes(city, capsys):
    assert cli_main(["validate", "--data", str(city)]) == 0
    out = capsys.readouterr().out
    assert "crime_incidents" in out and "passed" in out
    frame = read_input(city, "districts")
    frame.loc[0, "population"] = "-3"
    frame.to_csv(input_file(city, "districts"), index=False)
    assert cli_main(["validate", "--data", str(city)]) == 2
    err = capsys.readouterr().err
    assert "population_positive" in err and "districts.csv" in err


garbage = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    max_size=12,
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(garbage, min_size=5, max_size=5), min_size=1, max_size=30))
def test_garbage_rows_never_crash_and_never_vanish(base_city, tmp_path_factory, rows):
    """Random text in every meetings column: either a UserError with a message, or every row
    in raw and each one either clean or quarantined with a reason."""
    import csv
    import shutil

    import duckdb

    from quality.gate import run_gate
    from warehouse.ingest import ingest_city

    city = tmp_path_factory.mktemp("garbage") / "city"
    shutil.copytree(base_city, city)
    with open(input_file(city, "meetings"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["meeting_id", "district_id", "meeting_date", "meeting_type", "attendees"])
        writer.writerows(rows)
    con = duckdb.connect()
    try:
        config = load_config(None, city)
        try:
            check_delivery(city, config)
            loaded = ingest_city(con, city, config, ("meetings",))
        except UserError as err:
            assert err.message.strip()
            return
        assert loaded["meetings"] == len(rows)
        assert con.execute("SELECT count(*) FROM raw.meetings").fetchone()[0] == len(rows)
        report = run_gate(con, config, inputs=("meetings",))
        rep = report.inputs["meetings"]
        if rep.status == "failed":
            assert rep.stop is not None and rep.stop.message.strip()
        else:
            assert rep.rows_in == len(rows)
            staged = con.execute("SELECT count(*) FROM staging.meetings").fetchone()[0]
            clean = con.execute("SELECT count(*) FROM staging.meetings_clean").fetchone()[0]
            assert staged - clean <= rep.bad_rows
    finally:
        con.close()

"""Whole-number contract columns (population, attendees, years) with fractions are a gate
failure naming file, row and column, never silently rounded (issue 13: population 20000.5
became 20001 and no rule fired)."""

from __future__ import annotations

import pytest

from engagement_eval.errors import UserError
from tests.quality.conftest import read_input, write_input


def test_fractional_population_stops_the_run_naming_file_row_and_column(city, run):
    frame = read_input(city, "districts")
    frame.loc[2, "population"] = "20000.5"
    write_input(city, "districts", frame)
    r = run(city, "districts")
    with pytest.raises(UserError) as err:
        r.report.raise_if_blocked()
    assert err.value.file.startswith("districts.") and err.value.column == "population"
    message = err.value.message
    assert "population_parseable" in message and "whole number" in message
    assert "'20000.5'" in message and "row 3" in message, message
    staged = r.con.execute(
        "SELECT population FROM staging.districts WHERE district_id = ?",
        [frame.loc[2, "district_id"]],
    ).fetchone()[0]
    assert staged is None  # not 20001


@pytest.mark.parametrize("value", ["10.5", "0.25", "-3.5e0"])
def test_fractional_attendees_are_set_aside_not_rounded(city, run, value):
    frame = read_input(city, "meetings")
    frame.loc[[3], "attendees"] = value
    write_input(city, "meetings", frame)
    r = run(city, "meetings")
    assert r.quarantined("meetings") == {"attendees_parseable": 1}
    staged = r.con.execute(
        "SELECT count(*) FROM staging.meetings WHERE meeting_id = ? AND attendees IS NOT NULL",
        [frame.loc[3, "meeting_id"]],
    ).fetchone()[0]
    assert staged == 0


@pytest.mark.parametrize("value", ["12", "12.0", "1.2e1", " 12 "])
def test_whole_numbers_written_as_decimals_still_count(city, run, value):
    frame = read_input(city, "meetings")
    frame.loc[[3], "attendees"] = value
    write_input(city, "meetings", frame)
    r = run(city, "meetings")
    assert r.quarantined("meetings") == {}
    staged = r.con.execute(
        "SELECT attendees FROM staging.meetings WHERE meeting_id = ?", [frame.loc[3, "meeting_id"]]
    ).fetchone()[0]
    assert staged == 12

"""The meeting feedback suite (issue 15): each kind of bad form is set aside under its own
rule with the delivered text as the reason, and too many stop the run naming the rule."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from engagement_eval.errors import UserError
from tests.quality.conftest import read_input, write_input

INPUTS = ("meetings", "meeting_feedback")


def _allow_bad_share(city, share: float) -> None:
    path = city / "city.yaml"
    config = yaml.safe_load(path.read_text())
    config["quality"] = {"max_bad_row_share": share}
    path.write_text(yaml.safe_dump(config))


def test_clean_feedback_passes_and_comments_never_reach_staging(city, run):
    r = run(city, *INPUTS)
    assert r.rep("meeting_feedback").status in ("passed", "warned")
    assert r.rep("meeting_feedback").bad_rows == 0
    staged = [
        c
        for (c,) in r.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging'"
            " AND table_name = 'meeting_feedback'"
        ).fetchall()
    ]
    assert "comment" not in staged and "topic" in staged
    raw = [
        c
        for (c,) in r.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw'"
            " AND table_name = 'meeting_feedback'"
        ).fetchall()
    ]
    assert "comment" in raw  # kept as delivered, and only there


def test_each_bad_form_is_quarantined_with_its_reason(city, run):
    _allow_bad_share(city, 0.05)
    forms = read_input(city, "meeting_feedback")
    meetings = read_input(city, "meetings")
    meeting_date = dict(zip(meetings["meeting_id"], meetings["meeting_date"], strict=True))
    earliest = 20
    before = pd.Timestamp(meeting_date[forms.loc[earliest, "meeting_id"]]) - pd.Timedelta(days=1)
    forms.loc[[0, 1], "meeting_id"] = "no-such-meeting"
    forms.loc[[2, 3, 4], "felt_heard"] = "9"
    forms.loc[5, "concerns_addressed"] = "0"
    forms.loc[7, "feedback_id"] = forms.loc[6, "feedback_id"]  # same id, different form
    forms.loc[earliest, "submitted_date"] = before.strftime("%Y-%m-%d")
    forms.loc[8, "submitted_date"] = "2205-01-01"
    forms.loc[9, "submitted_date"] = "31/31/2021"
    write_input(city, "meeting_feedback", forms)
    r = run(city, *INPUTS)
    rep = r.rep("meeting_feedback")
    assert rep.status == "quarantined"
    blocking = dict(
        r.con.execute(
            "SELECT rule, count(*) FROM quality.quarantine WHERE input = 'meeting_feedback'"
            " AND severity = 'blocking' GROUP BY 1"
        ).fetchall()
    )
    assert blocking == {
        "meeting_known": 2,
        "felt_heard_in_scale": 3,
        "concerns_addressed_in_scale": 1,
        "key_unique": 2,
        "submitted_after_meeting": 1,
        "submitted_date_not_future": 1,
        "submitted_date_parseable": 1,
    }
    reasons = dict(
        r.con.execute(
            "SELECT rule, any_value(value) FROM quality.quarantine WHERE input = 'meeting_feedback'"
            " AND rule IN ('meeting_known', 'felt_heard_in_scale', 'submitted_date_parseable')"
            " GROUP BY 1"
        ).fetchall()
    )
    assert reasons == {
        "meeting_known": "no-such-meeting",
        "felt_heard_in_scale": "9",
        "submitted_date_parseable": "31/31/2021",
    }
    # the clean view leaves exactly the set-aside forms out
    clean = r.con.execute("SELECT count(*) FROM staging.meeting_feedback_clean").fetchone()[0]
    staged = r.con.execute("SELECT count(*) FROM staging.meeting_feedback").fetchone()[0]
    assert staged - clean == rep.bad_rows - 1  # staging keeps one form of the id pair


def test_many_unknown_meetings_stop_the_run_naming_the_rule(city, run):
    forms = read_input(city, "meeting_feedback")
    forms.loc[: len(forms) // 10, "meeting_id"] = "gone"
    write_input(city, "meeting_feedback", forms)
    r = run(city, *INPUTS)
    rep = r.rep("meeting_feedback")
    assert rep.status == "failed"
    with pytest.raises(UserError) as err:
        r.report.raise_if_blocked()
    text = str(err.value)
    assert "meeting_known" in text and "meeting_feedback.csv" in text and "'gone'" in text

"""Issue 9: surveys and meetings are optional. A city with only crime data, or only surveys,
gets the evaluation its data allow through `engagement-eval run`; results.json and the council
report say which analyses were not possible and why. Without programs and meetings nothing
says when districts started, and the run stops with one message naming the fix."""

from __future__ import annotations

import html
import json
import math
import re
import shutil
from pathlib import Path

import pytest
import yaml

from pipelines.cli import main
from simulator.city import simulate_city

CRIME = ("crime_total", "crime_violent", "crime_property")
SURVEY = ("trust_index", "safety_index")
FAST_MODEL = {"bootstrap_draws": 49, "ri_permutations": 0, "survey_sampling_draws": 20}


@pytest.fixture(scope="module")
def base_city(tmp_path_factory):
    city = simulate_city(
        tmp_path_factory.mktemp("optional") / "city",
        seed=3,
        n_districts=8,
        start="2018-01",
        months=36,
        incidents_per_1000=2.0,
        survey_responses_per_cell=15,
    )
    cfg = yaml.safe_load((city / "city.yaml").read_text())
    cfg["model"] = FAST_MODEL
    (city / "city.yaml").write_text(yaml.safe_dump(cfg))
    return city


@pytest.fixture(autouse=True)
def _no_env_outputs(monkeypatch):
    for name in ("ENGAGEMENT_EVAL_OUT", "ENGAGEMENT_EVAL_DUCKDB", "ENGAGEMENT_EVAL_REPORTS"):
        monkeypatch.delenv(name, raising=False)


def _city_without(base: Path, target: Path, *patterns: str) -> Path:
    shutil.copytree(base, target)
    for pattern in patterns:
        found = list(target.glob(pattern))
        assert found, pattern
        for path in found:
            path.unlink()
    return target


def _run(city: Path, out: Path, capsys) -> tuple[int, str]:
    code = main(["run", "--data", str(city), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    return code, captured.err


def _report_text(out: Path) -> str:
    (page,) = out.glob("reports/*/2020-12/council_report.html")  # the window end
    doc = page.read_text(encoding="utf-8")
    doc = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", doc, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", doc)).split())


def _estimated(outcome: dict) -> bool:
    return "reason" not in outcome and math.isfinite(outcome["estimate"]) and outcome["se"] > 0


def test_crime_only_city(base_city, tmp_path, capsys):
    city = _city_without(base_city, tmp_path / "crime_only", "survey_responses*", "meeting*")
    code, err = _run(city, tmp_path / "out", capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    outcomes = results["outcomes"]
    assert all(_estimated(outcomes[name]) for name in CRIME)
    for name in SURVEY:
        assert outcomes[name]["reason"] == "no survey data delivered for this index"
        assert "estimate" not in outcomes[name]
    assert results["shape"]["survey_input"] is None and results["shape"]["meetings"] is False
    notes = results["notes"]
    assert "Trust and safety effects not possible: no survey data delivered" in " ".join(notes)
    assert "Dose-response by meeting attendance not possible: no meetings delivered." in notes
    assert results["meetings"] == []  # not delivered is not "no meetings held"
    assert set(results["trends"]) == set(CRIME)

    text = _report_text(tmp_path / "out")
    assert "Trust in police could not be estimated: no survey data delivered" in text
    assert "Feeling safe could not be estimated: no survey data delivered" in text
    assert "Trust and safety effects not possible: no survey data delivered" in text
    assert "No meeting records were supplied for this city." in text
    assert "0 meetings with 0 attendees" not in text


def test_surveys_only_city(base_city, tmp_path, capsys):
    city = _city_without(base_city, tmp_path / "surveys_only", "crime_incidents*", "meeting*")
    assert (city / "programs.csv").exists()
    code, err = _run(city, tmp_path / "out", capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    outcomes = results["outcomes"]
    truth = json.loads((city / "truth.json").read_text())["outcomes"]
    for name in SURVEY:
        o = outcomes[name]
        assert _estimated(o) and o["units"] == "quarter", name
        assert abs(o["estimate"] - truth[name]["overall"]) < 4 * o["se"], name
    for name in CRIME:
        assert outcomes[name]["reason"] == "no crime data delivered"
        assert "estimate" not in outcomes[name]
    assert results["shape"]["crime_input"] is None
    assert results["rollout_source"] == "programs.csv"
    assert sum(r["start"] is not None for r in results["rollout"]) == 6
    assert "Crime effects not possible: no crime data delivered" in " ".join(results["notes"])
    assert set(results["trends"]) == set(SURVEY)  # no all-zero crime lines
    assert results["meetings"] == []

    text = _report_text(tmp_path / "out")
    assert "All recorded crime could not be estimated: no crime data delivered" in text
    assert "Property crime could not be estimated: no crime data delivered" in text
    assert "Crime effects not possible: no crime data delivered" in text
    assert "went from 0.0 to 0.0" not in text
    assert "Trust in police: the best estimate is" in text


def test_no_programs_and_no_meetings_is_one_clear_message(base_city, tmp_path, capsys):
    city = _city_without(base_city, tmp_path / "no_rollout", "programs.csv", "meeting*")
    code, err = _run(city, tmp_path / "out", capsys)
    assert code == 2
    assert err.count("error:") == 1 and "Traceback" not in err
    assert "the program roll-out cannot be derived" in err
    assert "neither programs.csv nor meetings were delivered" in err
    assert "How to fix: deliver programs.csv" in err
    assert "or meetings.csv" in err
    assert not (tmp_path / "out" / "results.json").exists()

"""Issue 9 shapes: counts, scores, quarterly/yearly grain, beats. Each must be the same city as
the default shape of the same seed, re-aggregated, with truth at the matching grain and scale."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import yaml
from simulator_cities import SMALL, load_truth
from simulator_reference import (
    PANDAS_FREQ,
    crime_truth_at_grain,
    expected_crime,
    expected_survey,
    index_effect_at_grain,
    period_text,
)

from pipelines.cli import main as cli_main
from simulator.city import contract_files, simulate_city
from simulator.shapes import OutputShape

INDICES = {"trust_index": ["trust_police", "police_fair"], "safety_index": ["feel_safe"]}
CRIME = {"crime_total": None, "crime_violent": "violent", "crime_property": "property"}
# Yearly grain needs a January start and whole years; roll-outs then fall on January 1.
YEARLY = {
    "seed": 7,
    "n_districts": 8,
    "start": "2012-01",
    "months": 120,
    "incidents_per_1000": 1.0,
    "survey_responses_per_cell": 30.0,
}
AGGREGATED = OutputShape(crime="counts", survey="scores")


def _shape(**kw) -> OutputShape:
    return OutputShape(**{"crime": "counts", "survey": "scores", **kw})


@pytest.fixture(scope="module")
def cities(tmp_path_factory, small_city):
    """Per grain: (city in the default shapes, same seed as counts + scores)."""
    root = tmp_path_factory.mktemp("shapes")
    out = {
        "month": (small_city, simulate_city(root / "month", shape=_shape(), **SMALL)),
        "quarter": (
            small_city,
            simulate_city(root / "quarter", shape=_shape(grain="quarter"), **SMALL),
        ),
    }
    yearly_records = simulate_city(root / "year_records", shape=OutputShape(grain="year"), **YEARLY)
    yearly = simulate_city(root / "year", shape=_shape(grain="year"), **YEARLY)
    out["year"] = (yearly_records, yearly)
    return out


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _label(dates: pd.Series, grain: str) -> pd.Series:
    periods = pd.PeriodIndex(pd.to_datetime(dates.str.slice(0, 10)), freq=PANDAS_FREQ[grain])
    return pd.Series([period_text(p, grain) for p in periods], index=dates.index)


# --- crime counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("grain", ["month", "quarter", "year"])
def test_counts_are_the_incidents_aggregated(cities, grain):
    records, aggregated = cities[grain]
    assert not (aggregated / "crime_incidents.parquet").exists()
    counts = _read(aggregated / "crime_counts.csv")
    assert list(counts.columns) == ["district_id", "period", "offense_category", "count"]
    assert counts["count"].str.fullmatch(r"\d+").all()
    pattern = {"month": r"\d{4}-\d{2}", "quarter": r"\d{4}-Q[1-4]", "year": r"\d{4}"}[grain]
    assert counts.period.str.fullmatch(pattern).all()
    keys = ["district_id", "period", "offense_category"]
    assert not counts.duplicated(keys).any()

    incidents = pd.read_parquet(records / "crime_incidents.parquet")
    incidents["period"] = _label(incidents.occurred_at, grain)
    from_incidents = incidents.groupby(keys).size()
    stated = counts.set_index(keys)["count"].astype(int)
    # Every district x period x offense is written, zeros included (missing = reporting gap).
    n_periods = counts.period.nunique()
    truth = load_truth(records)
    assert len(stated) == len(truth["cohorts"]) * n_periods * stated.index.levels[2].size
    assert (stated == 0).any() or grain == "year"
    pd.testing.assert_series_equal(
        stated[stated > 0].sort_index(), from_incidents.sort_index(), check_names=False
    )


# --- survey scores --------------------------------------------------------------------------


def _scores_from_responses(responses: pd.DataFrame, grain: str, lo=0.0, hi=100.0):
    """Independent weighted means and linearised SEs (docs/data_contract.md), rescaled."""
    responses = responses.assign(
        period=_label(responses.response_date, grain), weight=responses.weight.astype(float)
    )
    out = {}
    for index, items in INDICES.items():
        y = responses[items].astype(float).mean(axis=1)
        rows = []
        for (district, period), cell in responses.assign(y=y).groupby(["district_id", "period"]):
            w, v = cell.weight.to_numpy(), cell.y.to_numpy()
            mean = np.sum(w * v) / w.sum()
            n = len(v)
            se = (
                np.sqrt(n / (n - 1) * np.sum(w**2 * (v - mean) ** 2)) / w.sum() if n > 1 else np.nan
            )
            rows.append((district, period, n, mean, se))
        frame = pd.DataFrame(rows, columns=["district_id", "period", "n", "mean", "se"])
        factor = (hi - lo) / 4
        frame[index] = lo + (frame["mean"] - 1) * factor
        frame[f"{index}_se"] = frame.se * factor
        out[index] = frame.set_index(["district_id", "period"])
    return out


@pytest.mark.parametrize("grain", ["month", "quarter", "year"])
def test_scores_are_weighted_means_of_the_responses(cities, grain):
    records, aggregated = cities[grain]
    assert not (aggregated / "survey_responses.csv").exists()
    scores = pd.read_csv(
        aggregated / "survey_scores.csv", dtype={"district_id": str, "period": str}
    )
    assert list(scores.columns) == [
        "district_id",
        "period",
        "trust_index",
        "safety_index",
        "n_respondents",
        "trust_index_se",
        "safety_index_se",
    ]
    scores = scores.set_index(["district_id", "period"])
    assert scores.index.is_unique
    expected = _scores_from_responses(_read(records / "survey_responses.csv"), grain)
    for index, frame in expected.items():
        frame = frame.reindex(scores.index)
        assert frame.n.notna().all() and len(frame) == len(expected[index])
        assert (scores.n_respondents == frame.n).all()
        # CSV weights carry 6 decimals, so agreement is to about 1e-5 points on 0-100.
        np.testing.assert_allclose(scores[index], frame[index], atol=1e-4, rtol=0)
        np.testing.assert_allclose(
            scores[f"{index}_se"], frame[f"{index}_se"], atol=1e-4, rtol=0, equal_nan=True
        )
        assert scores[index].between(0, 100).all()
    config = yaml.safe_load((aggregated / "city.yaml").read_text(encoding="utf-8"))
    assert config["survey"] == {"scale": [0, 100]}


def test_score_scale_and_standard_error_flag(cities, tmp_path):
    _, default_scale = cities["quarter"]
    shape = _shape(grain="quarter", score_scale=(0.0, 10.0), score_se=False)
    city = simulate_city(tmp_path / "ten", shape=shape, **SMALL)
    ten = pd.read_csv(city / "survey_scores.csv", dtype={"district_id": str})
    hundred = pd.read_csv(default_scale / "survey_scores.csv", dtype={"district_id": str})
    assert list(ten.columns) == [
        "district_id",
        "period",
        "trust_index",
        "safety_index",
        "n_respondents",
    ]
    np.testing.assert_allclose(ten.trust_index * 10, hundred.trust_index, atol=1e-4)
    assert yaml.safe_load((city / "city.yaml").read_text())["survey"] == {"scale": [0, 10]}
    truth, truth_100 = load_truth(city), load_truth(default_scale)
    for index in INDICES:
        assert truth["outcomes"][index]["overall"] * 10 == pytest.approx(
            truth_100["outcomes"][index]["overall"], rel=1e-12
        )
        assert truth["outcomes"][index]["scale"] == "points on the 0-10 score scale"


def test_fewer_respondents_widen_the_standard_errors(tmp_path):
    base = {**SMALL, "incidents_per_1000": 0.2}
    shape = _shape(grain="quarter")
    many = simulate_city(tmp_path / "many", shape=shape, survey_responses_per_cell=80, **base)
    few = simulate_city(tmp_path / "few", shape=shape, survey_responses_per_cell=20, **base)
    many_s = pd.read_csv(many / "survey_scores.csv")
    few_s = pd.read_csv(few / "survey_scores.csv")
    ratio_n = many_s.n_respondents.sum() / few_s.n_respondents.sum()
    assert ratio_n == pytest.approx(4, rel=0.15)
    ratio_se = few_s.trust_index_se.median() / many_s.trust_index_se.median()
    assert 1.6 < ratio_se < 2.5  # about sqrt(4)
    # Same latent city: the truth does not depend on the sample size.
    assert load_truth(many)["outcomes"] == load_truth(few)["outcomes"]


# --- truth at each grain --------------------------------------------------------------------


@pytest.mark.parametrize("grain", ["month", "quarter", "year"])
def test_crime_truth_at_grain_matches_reference(cities, grain):
    _, city = cities[grain]
    truth = load_truth(city)
    expected = expected_crime(truth)
    for outcome, crime_class in CRIME.items():
        stated = truth["outcomes"][outcome]
        assert stated["event_time_unit"] == grain
        overall, by_e = crime_truth_at_grain(truth, expected, crime_class, grain)
        assert overall < -0.005
        assert stated["overall"] == pytest.approx(overall, rel=1e-9, abs=1e-12)
        assert {int(k) for k in stated["by_event_time"]} == set(by_e)
        for e, value in by_e.items():
            assert stated["by_event_time"][str(e)] == pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("grain", ["month", "quarter", "year"])
def test_index_truth_at_grain_matches_reference(cities, grain):
    _, city = cities[grain]
    truth = load_truth(city)
    expected = expected_survey(truth)
    from simulator_reference import index_frame

    for index, items in INDICES.items():
        stated = truth["outcomes"][index]
        assert stated["event_time_unit"] == grain
        assert stated["scale"] == "points on the 0-100 score scale"
        overall, by_e = index_effect_at_grain(truth, index_frame(expected, items), grain, 25.0)
        assert overall > 0.5  # points on 0-100
        assert stated["overall"] == pytest.approx(overall, rel=1e-9)
        assert {int(k) for k in stated["by_event_time"]} == set(by_e)
        for e, value in by_e.items():
            assert stated["by_event_time"][str(e)] == pytest.approx(value, rel=1e-9)


def test_yearly_grain_rolls_out_on_january_first(cities):
    records, city = cities["year"]
    truth = load_truth(city)
    programs = _read(city / "programs.csv")
    assert programs.start_date.str.endswith("-01-01").all()
    assert truth["shape"]["rollout_alignment_months"] == 12
    years = truth["shape"]["cohort_start_periods"]["year"]
    assert years == [m[:4] for m in truth["cohort_start_months"]]
    assert int(years[0]) - 2012 >= 3  # room for a pre-trend test at yearly grain
    # The records city of the same seed and grain is the same city.
    assert load_truth(records)["cohorts"] == truth["cohorts"]
    assert load_truth(records)["outcomes"]["crime_total"] == truth["outcomes"]["crime_total"]


@pytest.mark.parametrize(
    ("grain", "start", "months"),
    [("year", "2012-04", 120), ("year", "2012-01", 114), ("quarter", "2012-02", 120)],
)
def test_part_periods_are_refused(tmp_path, grain, start, months):
    with pytest.raises(ValueError, match=f"{grain}ly grain"):
        simulate_city(
            tmp_path / "x",
            shape=_shape(grain=grain),
            **{**YEARLY, "start": start, "months": months},
        )
    assert not (tmp_path / "x").exists()


# --- beats ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def beat_city(tmp_path_factory):
    return simulate_city(tmp_path_factory.mktemp("beats"), shape=OutputShape(beats=True), **SMALL)


def _to_district(frame: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    mapping = dict(zip(units.unit_id, units.district_id, strict=True))
    out = frame.rename(columns={"unit_id": "district_id"})
    out["district_id"] = out.district_id.map(mapping)
    assert out.district_id.notna().all()
    return out


def test_crosswalk_is_complete_and_populations_add_up(beat_city):
    units = _read(beat_city / "units.csv")
    districts = _read(beat_city / "districts.csv")
    assert list(units.columns) == ["unit_id", "district_id", "population"]
    assert units.unit_id.is_unique
    assert set(units.district_id) == set(districts.district_id)
    per_district = units.groupby("district_id").size()
    assert per_district.between(4, 15).all() and per_district.nunique() > 1
    sums = units.population.astype(int).groupby(units.district_id).sum()
    assert (units.population.astype(int) > 0).all()
    assert sums.to_dict() == dict(
        zip(districts.district_id, districts.population.astype(int), strict=True)
    )


def test_beat_records_roll_up_to_the_district_city(beat_city, small_city):
    units = _read(beat_city / "units.csv")
    beat_incidents = pd.read_parquet(beat_city / "crime_incidents.parquet")
    assert list(beat_incidents.columns) == [
        "incident_id",
        "occurred_at",
        "unit_id",
        "offense_category",
    ]
    rolled = _to_district(beat_incidents, units)
    district = pd.read_parquet(small_city / "crime_incidents.parquet")
    pd.testing.assert_frame_equal(rolled[list(district.columns)], district)

    meetings = _read(beat_city / "meetings.csv")
    assert list(meetings.columns)[:2] == ["meeting_id", "unit_id"]
    rolled = _to_district(meetings, units)
    district = _read(small_city / "meetings.csv")
    pd.testing.assert_frame_equal(rolled[list(district.columns)], district)

    programs = _to_district(_read(beat_city / "programs.csv"), units)
    assert programs.groupby("district_id").start_date.nunique().max() == 1  # one date each
    district = _read(small_city / "programs.csv")
    rolled = programs.drop_duplicates("district_id")[list(district.columns)]
    pd.testing.assert_frame_equal(rolled.reset_index(drop=True), district)
    # Every beat of a treated district is in the programs file.
    treated = units[units.district_id.isin(district.district_id)]
    assert len(programs) == len(treated)

    for name in ("districts.csv", "survey_responses.csv"):
        assert (beat_city / name).read_bytes() == (small_city / name).read_bytes()


def test_beat_counts_roll_up_to_district_counts(cities, tmp_path):
    _, district_city = cities["quarter"]
    beat_city = simulate_city(tmp_path / "bc", shape=_shape(grain="quarter", beats=True), **SMALL)
    units = _read(beat_city / "units.csv")
    counts = _read(beat_city / "crime_counts.csv")
    assert list(counts.columns) == ["unit_id", "period", "offense_category", "count"]
    keys = ["district_id", "period", "offense_category"]
    rolled = _to_district(counts, units).assign(count=lambda f: f["count"].astype(int))
    rolled = rolled.groupby(keys)["count"].sum()
    district = _read(district_city / "crime_counts.csv").set_index(keys)["count"].astype(int)
    pd.testing.assert_series_equal(rolled.sort_index(), district.sort_index(), check_names=False)
    assert (beat_city / "survey_scores.csv").read_bytes() == (
        district_city / "survey_scores.csv"
    ).read_bytes()


def test_beat_counts_follow_their_crime_shares(beat_city):
    """Each beat gets its stated share of its district's incidents (binomial error)."""
    truth = load_truth(beat_city)
    units = truth["parameters"]["beats"]["units"]
    incidents = pd.read_parquet(beat_city / "crime_incidents.parquet")
    classes = incidents.offense_category.map(truth["parameters"]["crime"]["offense_class"])
    incidents["district_id"] = incidents.unit_id.map(
        {u: v["district_id"] for u, v in units.items()}
    )
    observed = incidents.groupby(["unit_id", classes]).size()
    totals = incidents.groupby(["district_id", classes]).size()
    z = []
    for (unit, crime_class), n in observed.items():
        share = units[unit]["crime_share"][crime_class]
        total = totals[(units[unit]["district_id"], crime_class)]
        z.append((n - share * total) / np.sqrt(total * share * (1 - share)))
    assert len(z) > 150 and np.abs(z).max() < 5


def test_beat_truth_per_unit_and_district(beat_city, small_city):
    truth, district_truth = load_truth(beat_city), load_truth(small_city)
    expected = expected_crime(truth)
    units = truth["parameters"]["beats"]["units"]
    for outcome, crime_class in CRIME.items():
        stated = truth["outcomes"][outcome]
        reference = district_truth["outcomes"][outcome]
        for key in ("overall", "by_event_time", "by_cohort"):
            assert stated[key] == reference[key]
        rows = expected[expected.e >= 0]
        if crime_class is not None:
            rows = rows[rows.crime_class == crime_class]
        for district, cell in rows.groupby("district_id"):
            value = (cell.mu1 - cell.mu0).sum() / cell.mu0.sum()
            assert stated["by_district"][district] == pytest.approx(value, rel=1e-9)
        # A beat's expected counts are its class shares times the district's.
        for unit, spec in list(units.items())[::7]:
            cell = rows[rows.district_id == spec["district_id"]]
            if cell.empty:
                assert unit not in stated["by_unit"]
                continue
            share = cell.crime_class.map(spec["crime_share"])
            value = (share * (cell.mu1 - cell.mu0)).sum() / (share * cell.mu0).sum()
            assert stated["by_unit"][unit] == pytest.approx(value, rel=1e-9)


# --- defaults, determinism, CLI -------------------------------------------------------------


def _digests(folder, names) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


def test_new_shapes_leave_the_shared_files_alone(cities, small_city, beat_city):
    """Shapes are writers on one latent city: files they do not change are byte-identical."""
    _, month = cities["month"]
    assert _digests(month, ["districts.csv", "programs.csv", "meetings.csv"]) == _digests(
        small_city, ["districts.csv", "programs.csv", "meetings.csv"]
    )
    explicit = OutputShape()
    assert explicit.is_default and contract_files(explicit) == (
        "districts.csv",
        "programs.csv",
        "crime_incidents.parquet",
        "survey_responses.csv",
        "meetings.csv",
        "meeting_feedback.csv",  # issue 15
        "city.yaml",
        "truth.json",
    )
    assert "shape" not in load_truth(small_city) and "units" not in load_truth(small_city)
    assert load_truth(month)["parameters"] == load_truth(small_city)["parameters"]


def test_same_seed_same_bytes_for_every_shape(tmp_path):
    shape = OutputShape(crime="counts", survey="scores", grain="quarter", beats=True)
    base = {**SMALL, "incidents_per_1000": 0.5}
    first = simulate_city(tmp_path / "a", shape=shape, **base)
    again = simulate_city(tmp_path / "b", shape=shape, **base)
    names = contract_files(shape)
    assert sorted(p.name for p in first.iterdir()) == sorted(names)
    assert _digests(first, names) == _digests(again, names)


def test_cli_writes_a_yearly_counts_city(tmp_path, capsys):
    out = tmp_path / "yearly"
    code = cli_main(
        [
            "simulate",
            "--out",
            str(out),
            "--crime-shape",
            "counts",
            "--survey-shape",
            "scores",
            "--grain",
            "year",
            "--districts",
            "30",
            "--start",
            "2005-01",
            "--months",
            "240",
            "--incidents-per-1000",
            "1",
            "--no-score-se",
        ]
    )
    assert code == 0
    assert "event time in years" in capsys.readouterr().out
    counts = _read(out / "crime_counts.csv")
    assert sorted(counts.period.unique()) == [str(y) for y in range(2005, 2025)]
    assert counts.district_id.nunique() == 30
    truth = load_truth(out)
    assert truth["outcomes"]["crime_total"]["event_time_unit"] == "year"
    assert "trust_index_se" not in _read(out / "survey_scores.csv").columns
    assert (
        cli_main(
            ["simulate", "--out", str(tmp_path / "bad"), "--grain", "year", "--start", "2005-03"]
        )
        == 2
    )

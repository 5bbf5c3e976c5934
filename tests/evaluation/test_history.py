"""evaluation.history: the comparison with the previous run, on hand-built panels (fast)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from evaluation import history
from warehouse.results_store import previous_history, write_results


def _panel(months: int, bump: dict | None = None) -> pd.DataFrame:
    rows = []
    for d in ("001", "002", "003"):
        for i in range(months):
            month = pd.Timestamp("2024-01-01") + pd.DateOffset(months=i)
            n = 10 + i + (bump or {}).get((d, month.strftime("%Y-%m")), 0)
            rows.append(
                {
                    "district_id": d,
                    "month": month,
                    "population": 5000,
                    "crimes_total": n,
                    "crimes_violent": n // 3,
                    "crimes_property": n // 2,
                }
            )
    return pd.DataFrame(rows)


def _results(end: str, estimate: float, config: dict | None = None) -> dict:
    return {
        "city": "Test City",
        "generated_at": f"{end}-28T00:00:00Z",
        "study_window": {"start": "2024-01", "end": end},
        "inputs": [{"file": "crime.csv", "sha256": end, "rows": 1}],
        "outcomes": {
            "crime_total": {
                "scale": "proportional",
                "estimate": estimate,
                "ci_low": estimate - 0.05,
                "ci_high": estimate + 0.05,
                "verdict": {"level": "some"},
            }
        },
        "run": {"config": config or {"model": {"alpha": 0.05}}, "code_version": "abc"},
    }


OUTCOMES = ["crime_total", "crime_violent"]


def test_first_run_has_no_previous():
    assert history.compare(_results("2024-06", -0.1), pd.DataFrame(), {}) == {}


def test_new_months_and_revised_cells_are_counted_per_outcome():
    before_cells = history.fingerprints(_panel(6), None, OUTCOMES)
    before = history.history_rows(_results("2024-06", -0.10), "run1", before_cells)
    # two more months; district 002's March total revised by +2 (violent 12//3 -> 14//3 = 4,
    # unchanged), and a change *after* the previous end (not a revision)
    panel = _panel(8, {("002", "2024-03"): 2, ("001", "2024-08"): 5})
    cells = history.fingerprints(panel, None, OUTCOMES)
    now = _results("2024-08", -0.12)
    out = history.compare(now, before, cells)
    assert out["previous_run"]["data_through"] == "2024-06"
    assert out["previous_run"]["outcomes"]["crime_total"]["estimate"] == pytest.approx(-0.10)
    c = out["changes"]["crime_total"]
    assert c["reasons"] == ["new_periods", "revised_data"]
    assert c["revised_rows"] == 1 and c["new_periods"] == 2
    assert c["estimate_change"] == pytest.approx(-0.02)


def test_violent_count_unchanged_means_no_revision_for_violent():
    before_cells = history.fingerprints(_panel(6), None, OUTCOMES)
    after_cells = history.fingerprints(_panel(6, {("002", "2024-03"): 1}), None, OUTCOMES)
    # 12 -> 13 incidents: violent 12//3 == 13//3 == 4, total changed
    assert history.revised_cells(before_cells["crime_total"], after_cells["crime_total"], "2024-06")
    assert not history.revised_cells(
        before_cells["crime_violent"], after_cells["crime_violent"], "2024-06"
    )


def test_config_change_is_a_reason_but_moving_the_window_end_is_not():
    cfg = {"study_window": {"start": "2024-01", "end": "2024-06"}, "model": {"alpha": 0.05}}
    moved = {"study_window": {"start": "2024-01", "end": "2024-08"}, "model": {"alpha": 0.05}}
    changed = {"study_window": {"start": "2024-01", "end": "2024-08"}, "model": {"alpha": 0.1}}
    assert history.config_hash(cfg) == history.config_hash(moved)
    assert history.config_hash(cfg) != history.config_hash(changed)
    cells = history.fingerprints(_panel(6), None, OUTCOMES)
    before = history.history_rows(_results("2024-06", -0.1, cfg), "r1", cells)
    same = history.compare(_results("2024-06", -0.1, cfg), before, cells)
    assert same["changes"]["crime_total"]["reasons"] == []
    other = history.compare(_results("2024-06", -0.1, changed), before, cells)
    assert other["changes"]["crime_total"]["reasons"] == ["config_changed"]


def test_history_table_round_trip_picks_the_latest_earlier_run():
    con = duckdb.connect()
    cells = history.fingerprints(_panel(6), None, OUTCOMES)
    empty = {k: pd.DataFrame() for k in ("estimates", "event_studies", "diagnostics")}
    meta = pd.DataFrame()
    for run_id, end, est in (("r1", "2024-04", -0.05), ("r2", "2024-06", -0.1)):
        rows = history.history_rows(_results(end, est), run_id, cells)
        write_results(con, {**empty, "run_metadata": meta, "history": rows})
    prev = previous_history(con, "Test City", "r3")
    assert list(prev["run_id"].unique()) == ["r2"]
    assert prev["estimate"].iloc[0] == pytest.approx(-0.1)
    assert previous_history(con, "Other City", "r3").empty
    assert previous_history(duckdb.connect(), "Test City", "r3").empty


def test_last_bit_float_noise_is_not_a_revision():
    dq = pd.DataFrame(
        {
            "district_id": ["001", "002"],
            "quarter": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "index_name": "trust_index",
            "mean": [3.85827135, 0.1 + 0.2],  # on grid A's boundary, as round decimals can be
            "n_responses": [20, 20],
        }
    )
    # last-bit noise on both sides of the exact value
    noisy = dq.assign(mean=[3.85827135 * (1 - 2e-16), 0.3])
    noisy_up = dq.assign(mean=[3.85827135 * (1 + 2e-16), 0.3])
    a = history.fingerprints(_panel(1), dq, ["trust_index"])["trust_index"]
    b = history.fingerprints(_panel(1), noisy, ["trust_index"])["trust_index"]
    assert history.revised_cells(a, b, "2024-03") == 0
    up = history.fingerprints(_panel(1), noisy_up, ["trust_index"])["trust_index"]
    key = "001|2024-01"
    assert b[key].split(":")[0] != up[key].split(":")[0]  # one grid alone would see a change
    assert history.revised_cells(b, up, "2024-03") == 0
    changed = dq.assign(mean=[3.85827135, 0.3001])
    c = history.fingerprints(_panel(1), changed, ["trust_index"])["trust_index"]
    assert history.revised_cells(a, c, "2024-03") == 1

"""The panels of the hand-written tiny city (tests/data/tiny_city) against hand arithmetic."""

import math
from datetime import date

from data_layer_helpers import ingest, month_keys

from warehouse.panels import build_district_month, build_district_quarter_survey

KEYS = month_keys("2020-01", "2020-04")


def _month_panel(con, tiny_city):
    config = ingest(con, tiny_city, KEYS)
    build_district_month(con, config, KEYS[-1])
    rows = con.execute("SELECT * FROM marts.district_month ORDER BY district_id, month").fetchall()
    names = [d[0] for d in con.description]
    return config, {(r[0], r[1].month): dict(zip(names, r, strict=True)) for r in rows}


def test_district_month_counts_rates_and_cohorts(con, tiny_city):
    _, p = _month_panel(con, tiny_city)
    assert len(p) == 3 * 4  # unknown district 99 and out-of-window incidents never enter
    # (district, month): (total, violent, property, other, reported)
    expected = {
        ("01", 1): (2, 1, 1, 0, True),  # A1 violent, A2 THEFT -> property (offense_map)
        ("01", 2): (0, 0, 0, 0, False),  # A10 (2019-12) belongs before the window
        ("01", 3): (1, 0, 1, 0, True),  # A6 delivered twice: the later row (property) wins
        ("01", 4): (0, 0, 0, 0, False),  # A9 has no parseable date
        ("02", 1): (1, 0, 0, 1, True),
        ("02", 2): (2, 1, 1, 0, True),  # 'Property' passes through case-insensitively
        ("02", 3): (0, 0, 0, 0, False),
        ("02", 4): (1, 0, 0, 0, True),  # 'graffiti' is unmapped: counted in the total only
        ("10", 1): (0, 0, 0, 0, False),
        ("10", 2): (0, 0, 0, 0, False),
        ("10", 3): (1, 0, 1, 0, True),  # ARSON -> property
        ("10", 4): (1, 1, 0, 0, True),  # A11 (2020-05) is after the window end
    }
    for cell, (total, violent, prop, other, reported) in expected.items():
        row = p[cell]
        got = (
            row["crimes_total"],
            row["crimes_violent"],
            row["crimes_property"],
            row["crimes_other"],
        )
        assert got == (total, violent, prop, other), cell
        assert row["reported"] is reported, cell
        assert row["period"] == cell[1]
    assert p[("01", 1)]["rate_total"] == 2 / 2000 * 1000
    assert p[("02", 2)]["rate_violent"] == 1 / 4000 * 1000
    assert p[("10", 3)]["rate_property"] == 1 / 1000 * 1000
    # meetings: M1 + M2 in district 02, March: 2 meetings, 100 attendees, per 1,000 = 25
    assert (p[("02", 3)]["meetings"], p[("02", 3)]["attendees"]) == (2, 100)
    assert p[("02", 3)]["attendees_per_1000"] == 100 / 4000 * 1000
    assert p[("01", 1)]["attendees_per_1000"] == 10 / 2000 * 1000
    # programs: 01 never; 02 from 2020-03-15 -> period 3; 10 before the window -> period 1
    assert [p[("01", m)]["cohort_period"] for m in (1, 4)] == [0, 0]
    assert [p[("02", m)]["treated"] for m in (1, 2, 3, 4)] == [0, 0, 1, 1]
    assert p[("02", 1)]["cohort_period"] == 3 and p[("02", 1)]["start_month"] == date(2020, 3, 1)
    assert {p[("10", m)]["cohort_period"] for m in (1, 2, 3, 4)} == {1}
    assert {p[("10", m)]["treated"] for m in (1, 2, 3, 4)} == {1}


def test_survey_panel_weighted_means_and_standard_errors(con, tiny_city):
    config, _ = _month_panel(con, tiny_city)
    build_district_quarter_survey(con, config)
    rows = con.execute(
        "SELECT district_id, quarter, index_name, mean, se, n_responses, sum_weights,"
        " cohort_period, treated, period FROM marts.district_quarter_survey"
    ).fetchall()
    cells = {(r[0], r[1].month, r[2]): r[3:] for r in rows}
    assert len(cells) == 3 * 2 * 2  # districts x quarters (Q1, Q2 up to April) x indices

    def se(y, w):  # linearised ratio-mean variance, written out independently
        m = sum(a * b for a, b in zip(w, y, strict=True)) / sum(w)
        n = len(y)
        v = n / (n - 1) * sum(b * b * (a - m) ** 2 for a, b in zip(y, w, strict=True)) / sum(w) ** 2
        return math.sqrt(v)

    # District 01, Q1. trust = mean(trust_police, police_fair): R1 (4+2)/2 = 3, R2 5,
    # R3 police_fair missing -> 2. Weights 1, 3, 2: mean = (3 + 15 + 4) / 6 = 22/6.
    mean, s, n, sw, cohort, treated, period = cells[("01", 1, "trust_index")]
    assert math.isclose(mean, 22 / 6, rel_tol=1e-12) and (n, sw, period) == (3, 6.0, 1)
    assert math.isclose(s, se([3, 5, 2], [1, 3, 2]), rel_tol=1e-12)
    assert math.isclose(
        s,
        math.sqrt(1.5 * (1 * (1 / 3) ** 2 * 4 + 9 * (4 / 3) ** 2 + 4 * (5 / 3) ** 2) / 36),
        rel_tol=1e-12,
    )
    # safety = feel_safe: 3, 1, 5 -> (3 + 3 + 10) / 6 = 16/6
    mean, s, n, *_ = cells[("01", 1, "safety_index")]
    assert math.isclose(mean, 16 / 6, rel_tol=1e-12) and n == 3
    assert math.isclose(s, se([3, 1, 5], [1, 3, 2]), rel_tol=1e-12)
    # District 02, Q1: R4 trust_police = 9 is off the 1-5 scale, so trust = police_fair = 3
    mean, s, n, sw, cohort, treated, _ = cells[("02", 1, "trust_index")]
    assert (mean, s, n) == (3.0, None, 1)
    assert (cohort, treated) == (1, 1)  # program started 2020-03-15: quarter 1 is treated
    # Q2 stops at the window end (2020-04): R6 in May is excluded
    assert cells[("02", 4, "safety_index")][:3] == (5.0, None, 1)
    # District 10: R7 has no feel_safe -> an empty safety cell, trust (3+4)/2
    assert cells[("10", 4, "safety_index")][2] == 0 and cells[("10", 4, "safety_index")][0] is None
    assert cells[("10", 4, "trust_index")][0] == 3.5
    assert cells[("01", 4, "trust_index")][4:6] == (0, 0)  # never treated: cohort 0, untreated

"""Report wording for randomization inference and for p-values adjusted across outcomes:
"exact" only for a randomized roll-out; the estimates table shows the adjusted p-values and
names the primary outcome."""

from __future__ import annotations

import copy

from report_fixtures import demo_results

from reports.view import build_view


def _with_ri(randomized: bool) -> dict:
    r = copy.deepcopy(demo_results())
    names = list(r["outcomes"])
    for k, name in enumerate(names):
        o = r["outcomes"][name]
        o["adjusted_p"] = round(min(1.0, (o.get("ri_p") or 0.01) * 2.5), 4) + k * 1e-4
        o["ri"] = {
            "p": o.get("ri_p"),
            "statistic": "studentized Callaway-Sant'Anna overall ATT",
            "permutations": 999,
            "dropped": 0,
            "exact": randomized,
            "interpretation": ("EXACT SENTENCE" if randomized else "PLACEBO SENTENCE") + name,
        }
    r["multiple_outcomes"] = {
        "primary": "crime_total",
        "method": "Romano-Wolf",
        "adjusted_p": {n: r["outcomes"][n]["adjusted_p"] for n in names},
        "permutations": 999,
    }
    r.setdefault("run", {}).setdefault("config", {})["rollout"] = {"randomized": randomized}
    return r


def _rows(view):
    return [row for sec in ("crime", "survey") for row in view[sec]["table"]]


def test_estimates_table_shows_adjusted_p_and_the_primary_outcome():
    r = _with_ri(False)
    view = build_view(r)
    rows = _rows(view)
    primary = [row for row in rows if "(primary outcome)" in row["label"]]
    assert len(primary) == 1 and primary[0]["label"].startswith("All")
    assert all(row["adjusted_p"] != "—" for row in rows if not row["missing"])
    text = " ".join(view["methods"]["paragraphs"])
    assert "adjusted for testing all of them" in text and "Romano-Wolf" in text
    assert "primary outcome" in text
    appendix = dict(view["appendix"]["rows"])
    assert "adjusted_p" in appendix


def test_ri_is_a_placebo_check_unless_the_rollout_was_randomized():
    for randomized in (False, True):
        view = build_view(_with_ri(randomized))
        points = " ".join(text for s in view["sure"] for _, text in s["points"])
        assert ("an exact randomization test" in points) is randomized
        assert ("a placebo check" in points) is (not randomized)
        assert ("EXACT SENTENCE" in points) is randomized
        limits = " ".join(view["methods"]["limitations"])
        assert ("decided by lot" in limits) is randomized
        assert ("This is not a randomized trial" in limits) is (not randomized)


def test_old_results_without_the_new_keys_still_render():
    view = build_view(demo_results())
    assert all(row.get("adjusted_p", "—") == "—" for row in _rows(view) if not row["missing"])
    assert not any("(primary outcome)" in row["label"] for row in _rows(view))

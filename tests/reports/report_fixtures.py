"""Realistic results dicts for report tests, built in code (deterministic, no files).

`demo_results()` looks like the demo city: 12 districts, 8 starting the program between 2021
and 2023, monthly crime over 2019-2025, quarterly surveys. Effects are chosen so the three
verdict levels all occur: violent and total crime "strong", property crime "some" (fragile
sensitivity), trust "strong", safety "none". `null_results()` is a city with no effect at all.
"""

from __future__ import annotations

import copy

import numpy as np

from evaluation.verdict import decide

START, END = (2019, 1), (2025, 12)


def months(start=START, end=END) -> list[str]:
    out, (y, m) = [], start
    while (y, m) <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _event_study(rng, effect, lo_t, hi_t, se, pre_drift=0.0):
    rows = []
    for t in range(lo_t, hi_t + 1):
        if t == -1:
            rows.append({"event_time": t, "estimate": 0.0, "ci_low": None, "ci_high": None})
            continue
        true = effect * min(1.0, (t + 1) / 6) if t >= 0 else pre_drift * (t + 1)
        est = true + rng.normal(0, se * 0.5)
        rows.append(
            {
                "event_time": t,
                "estimate": round(float(est), 5),
                "ci_low": round(float(est - 2.9 * se), 5),
                "ci_high": round(float(est + 2.9 * se), 5),
            }
        )
    return rows


def _outcome(
    rng,
    *,
    scale,
    estimate,
    half,
    units,
    baseline=None,
    pre_p=0.54,
    power=0.41,
    breakdown=1.8,
    twfe=None,
    wild_p=None,
    es_window=(-12, 24),
):
    lo, hi = estimate - half, estimate + half
    p = float(min(1.0, 2 * (1 - _norm_cdf(abs(estimate) / (half / 1.96)))))
    twfe = estimate * 0.45 if twfe is None else twfe
    excludes_zero = lo > 0 or hi < 0
    widen = min(abs(lo), abs(hi)) / breakdown if excludes_zero else half * 0.5
    out = {
        "scale": scale,
        "estimator": "Poisson ETWFE (Wooldridge)"
        if scale == "proportional"
        else "Callaway & Sant'Anna (not-yet-treated)",
        "estimate": round(estimate, 5),
        "ci_low": round(lo, 5),
        "ci_high": round(hi, 5),
        "p_value": round(p, 5),
        "pre_trend_p": pre_p,
        "pre_trend_power": power,
        "twfe_estimate": round(twfe, 5),
        "mde": round(half * 2.8 / 1.96, 5),
        "honestdid_breakdown": breakdown if excludes_zero else 0.0,
        "event_study": _event_study(rng, estimate, *es_window, half / 1.96),
        "baseline_mean": baseline,
        "wild_bootstrap_p": wild_p if wild_p is not None else round(min(1.0, p * 1.6), 5),
        "ri_p": round(min(1.0, p * 1.8 + 0.002), 5),
        "twfe_bacon": [
            {"type": "treated vs never treated", "weight": 0.52, "estimate": round(estimate, 5)},
            {
                "type": "earlier vs later treated",
                "weight": 0.27,
                "estimate": round(estimate * 0.8, 5),
            },
            {
                "type": "later vs earlier treated",
                "weight": 0.21,
                "estimate": round(-estimate * 0.4, 5),
            },
        ],
        # evaluation writes the weight on already-treated comparisons (here: the last row)
        "details": {"twfe_forbidden_weight": 0.21},
        # robust intervals widen linearly in M and touch zero exactly at the breakdown value
        "honestdid": [
            {"m": m, "ci_low": round(lo - m * widen, 5), "ci_high": round(hi + m * widen, 5)}
            for m in (0, 0.5, 1, 1.5, 2, 2.5)
        ],
        "units": units,
        "n_units": 12,
        "n_treated": 8,
        "unit_label": "district",
        "cohort_sizes": {"25": 3, "31": 3, "37": 2},
        "inference": {"method": "cluster jackknife", "df": 11, "valid": True, "reason": None},
        # "fragile" outcomes (breakdown < 1): the pre-test has little power against the trend
        # that would produce them, and Delta-SD at M = 0 (widened by half / (2 x breakdown))
        # does not survive extrapolating the pre-roll-out trend
        "pre_trend_checks": {
            "linear_p": pre_p,
            "joint_p": pre_p,
            "power_linear_vs_explaining": 0.9 if breakdown >= 1 else 0.4,
            "honest_sd": [
                {
                    "m": 0.0,
                    "ci_low": round(lo - half / (2 * breakdown), 5),
                    "ci_high": round(hi + half / (2 * breakdown), 5),
                }
            ],
        },
    }
    out["verdict"] = decide(out).to_dict()
    return out


def _norm_cdf(z):
    from math import erf, sqrt

    return 0.5 * (1 + erf(z / sqrt(2)))


def _crime_trend(rng, baseline, effect, starts):
    pts = []
    first = min(starts)
    for i, mo in enumerate(months()):
        season = 1 + 0.08 * np.sin(2 * np.pi * i / 12)
        share_on = sum(1 for s in starts if mo >= s) / len(starts)
        treated = baseline * season * (1 + effect * share_on) * (1 - 0.001 * i)
        comp = baseline * 0.92 * season * (1 - 0.001 * i)
        pts.append(
            {
                "period": mo,
                "treated_mean": round(float(treated + rng.normal(0, baseline * 0.02)), 3),
                "comparison_mean": round(float(comp + rng.normal(0, baseline * 0.02)), 3),
            }
        )
    assert first  # starts are non-empty
    return pts


def _survey_trend(rng, level, effect, starts, small_at=(3, 11)):
    pts = []
    for q, mo in enumerate(months()[::3]):
        share_on = sum(1 for s in starts if mo >= s) / len(starts)
        n_t, n_c = int(rng.integers(60, 140)), int(rng.integers(30, 70))
        if q in small_at:
            n_t = 6  # a quarter with too few responses: must be suppressed
        pts.append(
            {
                "period": mo,
                "treated_mean": round(float(level + effect * share_on + rng.normal(0, 0.04)), 4),
                "comparison_mean": round(float(level - 0.05 + rng.normal(0, 0.04)), 4),
                "treated_n": n_t,
                "comparison_n": n_c,
            }
        )
    return pts


STARTS = ["2021-03", "2021-03", "2021-09", "2022-01", "2022-06", "2022-06", "2023-01", "2023-04"]


def demo_results(seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    oc = {
        "crime_total": _outcome(
            rng, scale="proportional", estimate=-0.062, half=0.04, units="month", baseline=112.4
        ),
        "crime_violent": _outcome(
            rng,
            scale="proportional",
            estimate=-0.081,
            half=0.05,
            units="month",
            baseline=24.6,
            pre_p=0.71,
            breakdown=2.3,
        ),
        "crime_property": _outcome(
            rng,
            scale="proportional",
            estimate=-0.041,
            half=0.035,
            units="month",
            baseline=63.0,
            breakdown=0.6,
            pre_p=0.33,
        ),
        "trust_index": _outcome(
            rng,
            scale="points",
            estimate=0.21,
            half=0.11,
            units="quarter",
            pre_p=0.62,
            breakdown=1.4,
            es_window=(-8, 12),
        ),
        "safety_index": _outcome(
            rng, scale="points", estimate=0.04, half=0.09, units="quarter", es_window=(-8, 12)
        ),
    }
    oc["crime_total"]["secondary"] = [
        {
            "estimator": "Callaway & Sant'Anna on rates",
            "scale": "incidents per 1,000 residents",
            "estimate": -0.412,
            "ci_low": -0.71,
            "ci_high": -0.11,
        }
    ]
    trends = {
        "crime_total": _crime_trend(rng, 112.4, -0.062, STARTS),
        "crime_violent": _crime_trend(rng, 24.6, -0.081, STARTS),
        "crime_property": _crime_trend(rng, 63.0, -0.041, STARTS),
        "trust_index": _survey_trend(rng, 3.1, 0.21, STARTS),
        "safety_index": _survey_trend(rng, 3.4, 0.04, STARTS),
    }
    names = [
        "Central",
        "North",
        "Harbour",
        "Riverside",
        "Eastgate",
        "Old Town",
        "Hillcrest",
        "Westfield",
        "Southport",
        "Lakeview",
        "Mill End",
        "Airport",
    ]
    rollout = [
        {"district": f"D{i + 1:02d}", "name": n, "start": STARTS[i] if i < len(STARTS) else None}
        for i, n in enumerate(names)
    ]
    meetings = []
    for mo in months():
        active = sum(1 for s in STARTS if mo >= s)
        meetings.append(
            {
                "month": mo,
                "meetings": 2 * active,
                "attendees": int(active * 35 + rng.integers(0, 30) * (active > 0)),
            }
        )
    return {
        "city": "Demo City",
        "generated_at": "2026-01-05T06:00:00+00:00",
        "study_window": {"start": "2019-01", "end": "2025-12"},
        "inputs": [
            {"file": "crime_incidents.csv", "sha256": "3f2a" + "0" * 58 + "c1", "rows": 1131520},
            {"file": "survey_responses.csv", "sha256": "9be1" + "1" * 58 + "07", "rows": 48211},
            {"file": "meetings.csv", "sha256": "77d0" + "2" * 58 + "aa", "rows": 1290},
            {"file": "districts.csv", "sha256": "0c4e" + "3" * 58 + "5b", "rows": 12},
        ],
        "outcomes": oc,
        "trends": trends,
        "rollout": rollout,
        "rollout_source": "programs.csv",
        "meetings": meetings,
        "quality": {
            "sources": [
                {
                    "source": "crime_incidents.csv",
                    "rows_in": 1131520,
                    "rows_quarantined": 2314,
                    "quarantined_by_rule": {"unknown_district": 1802, "date_out_of_range": 512},
                },
                {
                    "source": "survey_responses.csv",
                    "rows_in": 48211,
                    "rows_quarantined": 97,
                    "quarantined_by_rule": {"score_out_of_scale": 97},
                },
                {
                    "source": "meetings.csv",
                    "rows_in": 1290,
                    "rows_quarantined": 0,
                    "quarantined_by_rule": {},
                },
            ],
            "checks": [
                {
                    "source": "crime_incidents.csv",
                    "check": "incident_id is unique",
                    "status": "passed",
                },
                {
                    "source": "crime_incidents.csv",
                    "check": "bad row share below 1%",
                    "status": "passed",
                },
                {
                    "source": "meetings.csv",
                    "check": "attendees below ceiling 5000",
                    "status": "warned",
                    "detail": "3 meetings report more than 1,000 attendees",
                },
                {
                    "source": "survey_responses.csv",
                    "check": "weights are positive",
                    "status": "passed",
                },
            ],
            "reporting_gaps": [
                {"district": "Harbour", "month": "2020-04"},
                {"district": "Harbour", "month": "2020-05"},
                {"district": "Airport", "month": "2024-11"},
            ],
        },
        "run": {
            "versions": {
                "python": "3.11.9",
                "engagement-eval": "0.1.0",
                "numpy": "2.2.1",
                "statsmodels": "0.15.0",
                "pandas": "3.1.0",
                "dagster": "1.13.0",
            },
            "config": {
                "city": "Demo City",
                "model": {
                    "control_group": "notyet",
                    "anticipation": 0,
                    "alpha": 0.05,
                    "bootstrap_draws": 999,
                    "seed": 20240101,
                    "event_window": [-12, 24],
                    "min_cell_size": 10,
                },
                "survey": {"scale": [1, 5]},
            },
            "code_version": "95c269e",
            "timings": {
                "ingest": 12.4,
                "quality": 8.1,
                "panels": 3.2,
                "models": 41.7,
                "report": 0.3,
            },
        },
        "notes": ["Survey quarters with fewer than 10 responses are not shown on their own."],
    }


def null_results(seed: int = 11) -> dict:
    """A city where nothing happened: every interval includes zero."""
    rng = np.random.default_rng(seed)
    r = demo_results(seed)
    r["city"] = "Null Town"
    r["rollout_source"] = "attendance threshold"
    effects = {
        "crime_total": (0.008, 0.05, "month", 80.0),
        "crime_violent": (-0.012, 0.07, "month", 15.0),
        "crime_property": (0.015, 0.06, "month", 44.0),
        "trust_index": (-0.02, 0.12, "quarter", None),
        "safety_index": (0.01, 0.1, "quarter", None),
    }
    for key, (est, half, units, base) in effects.items():
        scale = "points" if base is None else "proportional"
        window = (-8, 12) if units == "quarter" else (-12, 24)
        r["outcomes"][key] = _outcome(
            rng, scale=scale, estimate=est, half=half, units=units, baseline=base, es_window=window
        )
    r["notes"] = ["Roll-out derived from attendance: no programs.csv was supplied."]
    return r


def without(results: dict, *paths: str) -> dict:
    """Deep copy with dotted keys removed, e.g. without(r, "outcomes.trust_index", "quality")."""
    r = copy.deepcopy(results)
    for path in paths:
        *parents, last = path.split(".")
        node = r
        for p in parents:
            node = node[p]
        node.pop(last, None)
    return r


def with_previous_run(results: dict, months_added: int = 2, revised: int = 3) -> dict:
    """`results` as a monthly rerun: a previous run six months earlier whose estimates were a
    little smaller, two more months of data, `revised` crime district-months revised."""
    r = copy.deepcopy(results)
    prev, changes = {}, {}
    for name, o in (r.get("outcomes") or {}).items():
        est = o.get("estimate")
        before = None if est is None else round(est * 0.8, 6)
        prev[name] = {
            "estimate": before,
            "ci_low": None if before is None else before - 0.05,
            "ci_high": None if before is None else before + 0.05,
            "verdict_level": (o.get("verdict") or {}).get("level"),
        }
        crime = name.startswith("crime")
        changes[name] = {
            "estimate_change": None if est is None else est - before,
            "reasons": ["new_periods"] + (["revised_data"] if crime and revised else []),
            "revised_rows": revised if crime else 0,
            "new_periods": months_added,
        }
    r["previous_run"] = {
        "generated_at": "2025-11-05T06:00:00Z",
        "data_through": "2025-10",
        "outcomes": prev,
    }
    r["changes"] = changes
    return r

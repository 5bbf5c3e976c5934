"""Panels in the `marts.*` layout built with pandas straight from a simulated city folder.

Only for small test cities: the pipeline builds the same tables in DuckDB
(`warehouse/panels.py`); this lets the evaluation tests run without the data layer.
Definitions follow docs/architecture.md (period 1 = first month / quarter of the window).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.special import ndtr

INDICES = {"trust_index": ["trust_police", "police_fair"], "safety_index": ["feel_safe"]}


def district_month(city: Path) -> pd.DataFrame:
    cfg = yaml.safe_load((city / "city.yaml").read_text())
    start = pd.Timestamp(cfg["study_window"]["start"] + "-01")
    end = pd.Timestamp(cfg["study_window"]["end"] + "-01")
    months = pd.date_range(start, end, freq="MS")
    districts = pd.read_csv(city / "districts.csv", dtype={"district_id": str})
    programs = pd.read_csv(city / "programs.csv", dtype={"district_id": str})
    inc = pd.read_parquet(city / "crime_incidents.parquet")
    inc["month"] = pd.to_datetime(inc["occurred_at"]).dt.to_period("M").dt.to_timestamp()
    inc["cat"] = inc["offense_category"].map(cfg["offense_map"]).fillna("other")
    counts = inc.groupby(["district_id", "month", "cat"]).size().unstack("cat", fill_value=0)
    meet = pd.read_csv(city / "meetings.csv", dtype={"district_id": str})
    meet["month"] = pd.to_datetime(meet["meeting_date"]).dt.to_period("M").dt.to_timestamp()
    meet = meet.groupby(["district_id", "month"]).agg(
        meetings=("meeting_id", "size"), attendees=("attendees", "sum")
    )
    grid = pd.MultiIndex.from_product(
        [districts["district_id"], months], names=["district_id", "month"]
    )
    df = pd.DataFrame(index=grid).join(counts).join(meet).fillna(0).reset_index()
    df = df.merge(districts[["district_id", "population"]], on="district_id")
    df["period"] = (df["month"].dt.year - start.year) * 12 + df["month"].dt.month - start.month + 1
    for c in ("violent", "property", "other"):
        df[f"crimes_{c}"] = df.get(c, 0).astype(int)
    df["crimes_total"] = df[["crimes_violent", "crimes_property", "crimes_other"]].sum(axis=1)
    for c in ("total", "violent", "property"):
        df[f"rate_{c}"] = 1000.0 * df[f"crimes_{c}"] / df["population"]
    df["meetings"] = df["meetings"].astype(int)
    df["attendees"] = df["attendees"].astype(int)
    df["attendees_per_1000"] = 1000.0 * df["attendees"] / df["population"]
    starts = programs.assign(
        start_month=pd.to_datetime(programs["start_date"]).dt.to_period("M").dt.to_timestamp()
    )
    df = df.merge(starts[["district_id", "program", "start_month"]], on="district_id", how="left")
    sm = df["start_month"]
    cp = (sm.dt.year - start.year) * 12 + sm.dt.month - start.month + 1
    df["cohort_period"] = np.where(sm.isna() | (sm > end), 0, cp.fillna(0).clip(lower=1)).astype(
        int
    )
    df["treated"] = (sm.notna() & (df["month"] >= sm)).astype(int)
    df["reported"] = df["crimes_total"] > 0
    keep = [
        "district_id",
        "month",
        "period",
        "population",
        "crimes_total",
        "crimes_violent",
        "crimes_property",
        "crimes_other",
        "rate_total",
        "rate_violent",
        "rate_property",
        "meetings",
        "attendees",
        "attendees_per_1000",
        "program",
        "start_month",
        "cohort_period",
        "treated",
        "reported",
    ]
    return df[keep].sort_values(["district_id", "month"]).reset_index(drop=True)


def district_quarter_survey(city: Path, dm: pd.DataFrame) -> pd.DataFrame:
    resp = pd.read_csv(city / "survey_responses.csv", dtype={"district_id": str})
    q0 = dm["month"].min().to_period("Q")
    resp["quarter"] = pd.to_datetime(resp["response_date"]).dt.to_period("Q")
    rows = []
    for name, items in INDICES.items():
        r = resp.assign(y=resp[items].mean(axis=1), w=resp["weight"])
        g = r.groupby(["district_id", "quarter"])
        cell = g.apply(_cell, include_groups=False).reset_index()
        cell["index_name"] = name
        rows.append(cell)
    out = pd.concat(rows, ignore_index=True)
    out["period"] = [(q - q0).n + 1 for q in out["quarter"]]
    starts = dm.groupby("district_id")["start_month"].first()
    sq = starts.dt.to_period("Q")
    cohort = {d: (0 if pd.isna(s) else (s - q0).n + 1) for d, s in sq.items()}
    out["cohort_period"] = out["district_id"].map(cohort).astype(int)
    out["treated"] = ((out["cohort_period"] > 0) & (out["period"] >= out["cohort_period"])).astype(
        int
    )
    out["quarter"] = out["quarter"].dt.to_timestamp()
    cols = [
        "district_id",
        "quarter",
        "period",
        "index_name",
        "mean",
        "se",
        "n_responses",
        "sum_weights",
        "cohort_period",
        "treated",
    ]
    return out[cols].sort_values(["district_id", "index_name", "quarter"]).reset_index(drop=True)


def _cell(c: pd.DataFrame) -> pd.Series:
    w, y = c["w"].to_numpy(), c["y"].to_numpy()
    n, sw = len(c), w.sum()
    mean = float((w * y).sum() / sw)
    se = float(np.sqrt(n / (n - 1) * np.sum(w**2 * (y - mean) ** 2)) / sw) if n > 1 else np.nan
    return pd.Series({"mean": mean, "se": se, "n_responses": n, "sum_weights": sw})


def expected_survey_panel(city: Path) -> pd.DataFrame:
    """`marts.district_quarter_survey` without sampling error: every cell's `mean` is the
    population mean of the expected answer (with the program once treated), recomputed from
    truth.json's parameters alone (the ordered probit of docs/simulator.md).

    An estimator run on this panel sees no survey noise, so any gap to truth.json's effect is
    a mismatch between what it estimates and the truth's definition (aggregation weights,
    cohort coding, event-window truncation, base period), not bad luck.
    """
    truth = json.loads((city / "truth.json").read_text())
    s, par = truth["parameters"]["survey"], truth["parameters"]
    window = truth["study_window"]
    quarters = pd.period_range(
        pd.Period(window["start"], "M").asfreq("Q"), pd.Period(window["end"], "M").asfreq("Q")
    )
    districts = list(par["population"])
    items = list(s["item_intercept"])
    strata = list(s["stratum_effect"])
    q = np.arange(len(quarters))
    cohort = np.array(
        [
            0
            if truth["cohorts"][d] is None
            else quarters.get_loc(pd.Period(truth["cohorts"][d], "M").asfreq("Q")) + 1
            for d in districts
        ]
    )
    event = np.where(cohort[:, None] > 0, q[None, :] + 1 - cohort[:, None], -1)  # (d, q)
    mult = np.array(
        [par["cohort_multiplier"].get(truth["cohorts"][d] or "", 0.0) for d in districts]
    )
    ramp = np.where(event >= 0, 1 - np.exp(-(event + 1) / s["ramp_quarters"]), 0.0)
    share = np.array([[s["strata_share"][d][k] for k in strata] for d in districts])  # (d, s)
    sigma = np.sqrt(1 + s["respondent_sd"] ** 2)
    cuts = np.asarray(s["cutpoints"])
    no_groups = {"all": {"share": 1.0, "latent_level": 0.0, "effect_multiplier": 1.0}}
    tenures = s.get("resident_groups", {}).get("years_in_neighborhood", no_groups)
    answer = {}
    for item in items:
        base = (
            s["item_intercept"][item]
            + np.array([s["district_level"][d][item] for d in districts])[:, None]
            + np.array([s["district_trend_per_year"][d][item] for d in districts])[:, None]
            * (q[None, :] - s["trend_centre_quarter_index"])
            / 4
            + np.asarray(s["common"][item])[None, :]
        )  # (d, q)
        shift = np.array([s["stratum_shift"][k][item] for k in strata])
        effect = (
            s["effect"][item]
            * par["city"]["effect_scale"]
            * mult[:, None, None]
            * ramp[:, :, None]
            * np.array([s["stratum_effect"][k] for k in strata])[None, None, :]
        )  # (d, q, s)
        latent = base[:, :, None] + shift[None, None, :]
        by_stratum = 0.0
        for t in tenures.values():  # issue 15: years-in-neighborhood classes
            z = latent + t["latent_level"] + effect * t["effect_multiplier"]
            by_stratum = by_stratum + t["share"] * (
                1 + ndtr((z[..., None] - cuts) / sigma).sum(axis=-1)
            )
        answer[item] = np.einsum("dqs,ds->dq", by_stratum, share)
    rows = []
    for name, index_items in INDICES.items():
        mean = np.mean([answer[i] for i in index_items], axis=0)
        rows.append(
            pd.DataFrame(
                {
                    "district_id": np.repeat(districts, len(q)),
                    "quarter": np.tile(quarters.to_timestamp(), len(districts)),
                    "period": np.tile(q + 1, len(districts)),
                    "index_name": name,
                    "mean": mean.ravel(),
                    "se": 0.0,
                    "n_responses": 1_000_000,
                    "sum_weights": 1_000_000.0,
                    "cohort_period": np.repeat(cohort, len(q)),
                    "treated": (event >= 0).astype(int).ravel(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)

"""Panels in the `marts.*` layout built with pandas straight from a simulated city folder.

Only for small test cities: the pipeline builds the same tables in DuckDB
(`assets/_panels_sql.py`); this lets the evaluation tests run without the data layer.
Definitions follow docs/architecture.md (period 1 = first month / quarter of the window).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

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

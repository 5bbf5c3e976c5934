"""Descriptive sections of results.json: roll-out, trends, meetings, study window.

Roll-out comes from the panel's `start_month`. When the city delivered no programs file, the
data layer derives the start as the first month a district's attendance per 1,000 residents
reaches `rollout.attendance_threshold_per_1000` (its `program` column then reads "inferred
from attendance"); `derive_rollout` is the same rule in pandas, and `rollout_source` says which
one applies so the report can say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INFERRED = "inferred from attendance"


def _month(v) -> str | None:
    return None if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m")


def derive_rollout(dm: pd.DataFrame, threshold: float) -> pd.Series:
    """First month with attendees per 1,000 >= threshold, per district (NaT: never)."""
    hit = dm.loc[dm["attendees_per_1000"] >= threshold]
    first = hit.groupby("district_id")["month"].min()
    return first.reindex(sorted(dm["district_id"].unique()))


def rollout_source(dm: pd.DataFrame, threshold: float) -> str:
    if "program" in dm and (dm["program"] == INFERRED).any():
        return (
            f"derived from meeting attendance: the first month with at least {threshold:g} "
            "attendees per 1,000 residents (no programs.csv)"
        )
    return "programs.csv"


def rollout(dm: pd.DataFrame, names: dict[str, str] | None = None) -> list[dict]:
    first = dm.groupby("district_id")["start_month"].first().sort_index()
    names = names or {}
    return [
        {"district": str(d), "name": str(names.get(d, d)), "start": _month(s)}
        for d, s in first.items()
    ]


def meetings(dm: pd.DataFrame) -> list[dict]:
    m = dm.groupby("month", as_index=False)[["meetings", "attendees"]].sum().sort_values("month")
    return [
        {"month": _month(r.month), "meetings": int(r.meetings), "attendees": int(r.attendees)}
        for r in m.itertuples(index=False)
    ]


def study_window(dm: pd.DataFrame) -> dict:
    end = dm["month"].max()
    if "grain" in dm and len(dm) and not pd.isna(end):  # last month of the last period
        months = {"quarter": 2, "year": 11}.get(str(dm["grain"].iloc[0]), 0)
        end = pd.Timestamp(end) + pd.DateOffset(months=months)
    return {"start": _month(dm["month"].min()), "end": _month(end)}


def crime_trend(dm: pd.DataFrame, count: str) -> list[dict]:
    """Mean incident count per district per period, districts that ever start vs never.

    Counts, not rates per 1,000: the report's sentences and tables speak of incidents per
    district per month (`baseline_mean` is the same count), and a chart must plot the unit its
    label and the sentences beside it name (issue 14).
    """
    ever = dm["cohort_period"].fillna(0) > 0
    g = dm.assign(ever=ever).groupby(["month", "ever"])[count].mean().unstack("ever")
    return [
        {"period": _month(m), "treated_mean": _f(r.get(True)), "comparison_mean": _f(r.get(False))}
        for m, r in g.iterrows()
    ]


def survey_trend(dq: pd.DataFrame, index_name: str, min_cell_size: int) -> list[dict]:
    """Response-weighted mean per quarter, districts that ever start vs never, with counts.

    Small-cell protection: a group-quarter mean backed by fewer than `min_cell_size`
    responses is published as null with `<group>_suppressed: true` (its count stays), so no
    published output carries an average of a handful of residents' answers.
    """
    f = dq.loc[(dq["index_name"] == index_name) & dq["mean"].notna()]
    f = f.assign(ever=f["cohort_period"].fillna(0) > 0, wy=f["mean"] * f["n_responses"])
    g = f.groupby(["quarter", "ever"])[["wy", "n_responses"]].sum()
    out = []
    for q in sorted(f["quarter"].unique()):
        row = {"period": _month(q)}
        for flag, key in ((True, "treated"), (False, "comparison")):
            n = int(g.loc[(q, flag), "n_responses"]) if (q, flag) in g.index else 0
            row[f"{key}_n"] = n
            row[f"{key}_mean"] = None
            if n >= max(min_cell_size, 1):
                row[f"{key}_mean"] = float(g.loc[(q, flag), "wy"] / n)
            elif n > 0:
                row[f"{key}_suppressed"] = True
        out.append(row)
    return out


def suppressed_count(trend: list[dict]) -> int:
    return sum(
        bool(p.get(k)) for p in trend for k in ("treated_suppressed", "comparison_suppressed")
    )


def _f(v) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)

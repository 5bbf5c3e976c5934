"""Shared pieces of the regression-based estimators: panel codes and the results container.

Every regression method reports the same shape (overall, event study, group, cell effects)
so the CLI, the report and the cross-checks can treat them alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from estimators.fixed_effects import codes, nested_in
from estimators.panel import PanelData
from estimators.results import Estimate, clean_records


@dataclass(frozen=True)
class PanelArrays:
    """Integer-coded view of a PanelData (row order of `panel.frame`)."""

    y: np.ndarray
    unit: np.ndarray  # codes 0..n_units-1
    time: np.ndarray  # codes 0..n_periods-1
    period: np.ndarray  # original period values
    cohort: np.ndarray  # first treated period, 0 = never
    cluster: np.ndarray  # codes
    weights: np.ndarray | None
    periods: np.ndarray
    units_nested_in_clusters: bool

    @property
    def n_units(self) -> int:
        return int(self.unit.max() + 1)

    @property
    def n_periods(self) -> int:
        return len(self.periods)

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max() + 1)


def panel_arrays(panel: PanelData) -> PanelArrays:
    f = panel.frame
    unit, _ = codes(f[panel.unit].to_numpy())
    time, periods = codes(f[panel.time].to_numpy())
    cluster, _ = codes(panel.cluster_ids())
    w = f[panel.weights].to_numpy(float) if panel.weights else None
    return PanelArrays(
        y=f[panel.outcome].to_numpy(float),
        unit=unit,
        time=time,
        period=f[panel.time].to_numpy(),
        cohort=f[panel.cohort].to_numpy(),
        cluster=cluster,
        weights=w,
        periods=periods,
        units_nested_in_clusters=nested_in(unit, cluster),
    )


def event_time(arr: PanelArrays) -> np.ndarray:
    """Periods since adoption on the period-number scale (NaN-free; large negative if never)."""
    return np.where(arr.cohort > 0, arr.period - arr.cohort, np.iinfo(np.int64).min // 4)


def t_critical(alpha: float, df: float | None = None) -> float:
    return float(stats.norm.ppf(1 - alpha / 2) if df is None else stats.t.ppf(1 - alpha / 2, df))


def interval_record(key: str, value, est: float, se: float, alpha: float) -> dict:
    e = Estimate.normal(est, se, alpha)
    return {
        key: value,
        "estimate": e.estimate,
        "se": e.se,
        "ci_low": e.ci_low,
        "ci_high": e.ci_high,
        "p_value": e.p_value,
    }


@dataclass
class RegressionDiDResult:
    """Results of one regression-based DiD method (see `to_dict` for the JSON shape).

    `coefficients` holds the underlying regression terms (name, estimate, se) so users can
    audit what was aggregated; `notes` says which choices were made (sample restrictions,
    small-sample correction, dropped cells).
    """

    method: str
    overall: Estimate | None
    event_study: list[dict] = field(default_factory=list)
    group: list[dict] = field(default_factory=list)
    att_gt: list[dict] = field(default_factory=list)
    coefficients: list[dict] = field(default_factory=list)
    n_units: int = 0
    n_obs: int = 0
    n_clusters: int = 0
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)
    vcov: np.ndarray | None = None

    def to_dict(self) -> dict:
        def strip(rows, keys):
            return clean_records([{k: r.get(k) for k in keys} for r in rows])

        return {
            "method": self.method,
            "overall": self.overall.to_dict() if self.overall is not None else None,
            "event_study": strip(
                self.event_study, ["event_time", "estimate", "se", "ci_low", "ci_high"]
            ),
            "group": strip(self.group, ["group", "estimate", "se"]),
            "att_gt": strip(self.att_gt, ["group", "time", "estimate", "se"]),
            "n_units": int(self.n_units),
            "n_obs": int(self.n_obs),
            "n_clusters": int(self.n_clusters),
            "notes": list(self.notes),
        }

    def tidy(self) -> pd.DataFrame:
        rows = []
        if self.overall is not None:
            rows.append({"term": "overall", **self.overall.to_dict()})
        for r in self.event_study:
            rows.append({"term": f"event_time::{r['event_time']}", **_est_cols(r)})
        for r in self.group:
            rows.append({"term": f"group::{r['group']}", **_est_cols(r)})
        for r in self.att_gt:
            rows.append({"term": f"att_gt::{r['group']}::{r['time']}", **_est_cols(r)})
        return pd.DataFrame(
            rows, columns=["term", "estimate", "se", "ci_low", "ci_high", "p_value"]
        )

    def summary(self) -> str:
        head = (
            f"{self.method}: {self.n_units} units, {self.n_obs} observations, "
            f"{self.n_clusters} clusters, {100 * (1 - self.alpha):.0f}% intervals"
        )
        table = self.tidy().to_string(index=False, float_format=lambda v: f"{v: .4f}")
        notes = "".join(f"\n  note: {n}" for n in self.notes)
        return f"{head}\n{table}{notes}"


def _est_cols(r: dict) -> dict:
    est, se = r.get("estimate", math.nan), r.get("se", math.nan)
    e = Estimate.normal(est, se) if "ci_low" not in r else None
    return {
        "estimate": est,
        "se": se,
        "ci_low": r.get("ci_low", e.ci_low if e else math.nan),
        "ci_high": r.get("ci_high", e.ci_high if e else math.nan),
        "p_value": r.get("p_value", e.p_value if e else math.nan),
    }

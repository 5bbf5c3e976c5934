"""Validated, integer-coded panel shared by every estimator.

Estimators work on integer periods (1, 2, ... or calendar years) so monthly, quarterly and
yearly panels go through the same code; the caller maps dates to period numbers. The cohort
column holds the first treated period on the same scale; 0 or missing means never treated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


class EstimationInputError(ValueError):
    """Input the estimator cannot use; the message names the column and what was expected."""


@dataclass(frozen=True)
class PanelData:
    """Long panel, one row per unit and period, sorted by (unit, time).

    `cohort` is 0 for never-treated units. `weights` are sampling weights (unit-level in
    Callaway-Sant'Anna; row-level elsewhere). `cluster` defaults to the unit.
    """

    frame: pd.DataFrame
    unit: str
    time: str
    outcome: str
    cohort: str
    covariates: tuple[str, ...] = ()
    weights: str | None = None
    cluster: str | None = None

    @property
    def units(self) -> np.ndarray:
        return self.frame[self.unit].to_numpy()

    @property
    def periods(self) -> np.ndarray:
        return np.sort(self.frame[self.time].unique())

    @property
    def groups(self) -> np.ndarray:
        """Treated cohorts (first treated period), ascending; excludes never-treated (0)."""
        g = np.sort(self.frame[self.cohort].unique())
        return g[g > 0]

    @property
    def n_units(self) -> int:
        return int(self.frame[self.unit].nunique())

    @property
    def is_balanced(self) -> bool:
        return len(self.frame) == self.n_units * len(self.periods)

    def cluster_ids(self) -> np.ndarray:
        return self.frame[self.cluster or self.unit].to_numpy()


def prepare_panel(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    cohort: str,
    covariates: list[str] | tuple[str, ...] = (),
    weights: str | None = None,
    cluster: str | None = None,
    require_never_treated: bool = False,
) -> PanelData:
    """Check a long panel and return it in the canonical form every estimator expects.

    Raises `EstimationInputError` with one clear message for: unknown columns, non-numeric
    outcome/time, duplicated (unit, time) rows, cohorts outside the time range, units whose
    cohort changes over time, non-positive weights, and the absence of comparison units.
    """
    needed = [unit, time, outcome, cohort, *covariates]
    if weights:
        needed.append(weights)
    if cluster:
        needed.append(cluster)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise EstimationInputError(
            f"column(s) {missing} not in the panel; available columns: {list(df.columns)}"
        )
    frame = df[list(dict.fromkeys(needed))].copy()

    for col in (outcome, time, *covariates):
        if not pd.api.types.is_numeric_dtype(frame[col]):
            converted = pd.to_numeric(frame[col], errors="coerce")
            bad = frame[col][converted.isna() & frame[col].notna()]
            if len(bad):
                raise EstimationInputError(
                    f"column '{col}' must be numeric; found non-numeric values such as "
                    f"{bad.astype(str).unique()[:3].tolist()}"
                )
            frame[col] = converted
    frame[cohort] = pd.to_numeric(frame[cohort], errors="coerce").fillna(0)
    if frame[time].isna().any():
        raise EstimationInputError(f"column '{time}' has missing periods")
    frame = frame.dropna(subset=[outcome, *covariates])
    if frame.empty:
        raise EstimationInputError(f"no rows with a non-missing outcome '{outcome}'")

    if frame.duplicated([unit, time]).any():
        dup = frame.loc[frame.duplicated([unit, time]), [unit, time]].iloc[0].tolist()
        raise EstimationInputError(
            f"more than one row per unit and period (first duplicate: {unit}={dup[0]}, "
            f"{time}={dup[1]}); aggregate the panel to one row per unit and period"
        )
    if frame.groupby(unit)[cohort].nunique().max() > 1:
        raise EstimationInputError(
            f"column '{cohort}' must be constant within each unit (the first treated period)"
        )
    periods = np.sort(frame[time].unique())
    treated_cohorts = np.sort(frame.loc[frame[cohort] > 0, cohort].unique())
    outside = [g for g in treated_cohorts if g < periods[0] or g > periods[-1]]
    if outside:
        raise EstimationInputError(
            f"cohort value(s) {outside[:5]} in '{cohort}' never appear in the time range "
            f"{periods[0]}..{periods[-1]} of '{time}'"
        )
    if weights is not None and (frame[weights].isna().any() or (frame[weights] <= 0).any()):
        raise EstimationInputError(f"weights column '{weights}' must be positive and non-missing")
    n_never = frame.loc[frame[cohort] == 0, unit].nunique()
    if require_never_treated and n_never == 0:
        raise EstimationInputError(
            "no never-treated comparison units (cohort 0 or empty); use not-yet-treated "
            "comparisons or add comparison units"
        )
    if n_never == 0 and len(treated_cohorts) < 2:
        raise EstimationInputError(
            "no comparison units: every unit is treated at the same time; a difference-in-"
            "differences needs never-treated or later-treated units"
        )
    frame = frame.sort_values([unit, time], kind="mergesort").reset_index(drop=True)
    return PanelData(
        frame=frame,
        unit=unit,
        time=time,
        outcome=outcome,
        cohort=cohort,
        covariates=tuple(covariates),
        weights=weights,
        cluster=cluster,
    )

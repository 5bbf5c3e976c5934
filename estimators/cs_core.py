"""Group-time cells of Callaway & Sant'Anna (2021): design, comparison sets and estimation.

The loop runs over (g, t) cells only; within a cell everything is a numpy operation over all
units, and each cell's influence function is written into one (units x cells) matrix. Choices
follow R `did::att_gt` (version 2.1) so results agree with R, moderndid and csdid:

- varying base period: pre-treatment cells compare t with t-1 (short gaps); post-treatment
  cells compare t with the last period before g - anticipation. Universal base period: every
  cell uses that last pre-period, and the base cell itself is reported as 0 with a zero
  influence function.
- not-yet-treated comparisons at a cell are the never-treated plus units first treated after
  max(t, base) + anticipation (excluding group g itself).
- covariates are taken in the earlier of the two periods of the cell (R `panel2cs2`).
- influence functions are rescaled by n / n_cell because each cell uses a subset of units.
- an unbalanced panel is estimated with the repeated cross-section estimators on the
  observations present in the two periods, and each observation's influence function is
  summed within its unit (R `allow_unbalanced_panel = TRUE`), so inference stays clustered
  by unit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from estimators.cs_drdid import PANEL_ESTIMATORS, RC_ESTIMATORS, CellEstimationError
from estimators.panel import EstimationInputError, PanelData


@dataclass
class CSDesign:
    """Unit- and row-level arrays one fit needs; built once by `build_design`."""

    periods: np.ndarray  # sorted distinct periods
    groups: np.ndarray  # treated cohorts with cells
    unit_ids: np.ndarray
    unit_cohort: np.ndarray  # 0 = never treated (or used as never treated)
    unit_weight: np.ndarray
    cluster_codes: np.ndarray | None  # None: cluster = unit
    n_clusters: int
    balanced: bool
    y_wide: np.ndarray | None  # (periods, units) when balanced
    x_wide: np.ndarray | None  # (periods, units, k) when balanced, with intercept
    row_unit: np.ndarray | None  # row-level arrays when unbalanced
    row_tidx: np.ndarray | None
    row_y: np.ndarray | None
    row_x: np.ndarray | None
    n_obs: int
    notes: tuple[str, ...]

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)


def _unit_constant(frame, unit, col, what):
    if frame.groupby(unit, sort=False)[col].nunique().max() > 1:
        raise EstimationInputError(f"{what} column '{col}' must be constant within each unit")


def build_design(
    panel: PanelData,
    control_group: str,
    anticipation: int,
    unbalanced: str = "rc",
) -> CSDesign:
    """Apply R did's sample rules and lay the panel out as arrays."""
    frame = panel.frame
    unit, time, cohort = panel.unit, panel.time, panel.cohort
    notes: list[str] = []
    first_period = frame[time].min()
    early = (frame[cohort] > 0) & (frame[cohort] <= first_period)
    if early.any():
        n_early = frame.loc[early, unit].nunique()
        notes.append(f"dropped {n_early} unit(s) already treated in the first period")
        frame = frame.loc[~early]
    if not (frame[cohort] == 0).any():
        if control_group == "never":
            raise EstimationInputError(
                "no never-treated comparison units (cohort 0 or empty); use the not-yet-treated "
                "comparison group (--control notyet) or add comparison units"
            )
        last_g = frame[cohort].max()
        frame = frame.loc[frame[time] < last_g - anticipation].copy()
        frame.loc[frame[cohort] == last_g, cohort] = 0
        notes.append(
            f"no never-treated units: periods from {last_g - anticipation} on dropped and "
            f"cohort {last_g} used as the comparison group"
        )
    if frame.empty or frame[time].nunique() < 2:
        raise EstimationInputError("fewer than two periods left to compare")
    if unbalanced == "balance":
        counts = frame.groupby(unit)[time].transform("size")
        keep = counts == frame[time].nunique()
        if not keep.all():
            notes.append(f"dropped {frame.loc[~keep, unit].nunique()} unit(s) with missing periods")
            frame = frame.loc[keep]
    elif unbalanced != "rc":
        raise ValueError("unbalanced must be 'rc' or 'balance'")

    for col, what in ((panel.weights, "weights"), (panel.cluster, "cluster")):  # cohort: checked
        if col is not None and col != unit:
            _unit_constant(frame, unit, col, what)

    periods = np.sort(frame[time].unique())
    codes, unit_ids = pd.factorize(frame[unit], sort=True)
    n_units = len(unit_ids)
    first_rows = np.unique(codes, return_index=True)[1]
    unit_cohort = frame[cohort].to_numpy(dtype=float)[first_rows]
    unit_weight = (
        frame[panel.weights].to_numpy(dtype=float)[first_rows]
        if panel.weights
        else np.ones(n_units)
    )
    cluster_codes, n_clusters = None, n_units
    if panel.cluster and panel.cluster != unit:
        cl_codes, cl_ids = pd.factorize(frame[panel.cluster].to_numpy()[first_rows])
        cluster_codes, n_clusters = cl_codes, len(cl_ids)

    groups = np.sort(np.unique(unit_cohort[unit_cohort > 0]))
    tidx = np.searchsorted(periods, frame[time].to_numpy())
    y = frame[panel.outcome].to_numpy(dtype=float)
    x = np.column_stack(
        [np.ones(len(frame))] + [frame[c].to_numpy(float) for c in panel.covariates]
    )
    balanced = len(frame) == n_units * len(periods)
    common = dict(
        periods=periods,
        groups=groups,
        unit_ids=np.asarray(unit_ids),
        unit_cohort=unit_cohort,
        unit_weight=unit_weight,
        cluster_codes=cluster_codes,
        n_clusters=n_clusters,
        balanced=balanced,
        n_obs=len(frame),
        notes=tuple(notes),
    )
    if balanced:
        y_wide = np.empty((len(periods), n_units))
        y_wide[tidx, codes] = y
        x_wide = np.empty((len(periods), n_units, x.shape[1]))
        x_wide[tidx, codes] = x
        return CSDesign(
            **common,
            y_wide=y_wide,
            x_wide=x_wide,
            row_unit=None,
            row_tidx=None,
            row_y=None,
            row_x=None,
        )
    return CSDesign(
        **common, y_wide=None, x_wide=None, row_unit=codes, row_tidx=tidx, row_y=y, row_x=x
    )


@dataclass
class CellPlan:
    group: float
    time_idx: int  # index of the period the effect refers to
    base_idx: int  # index of the comparison (base) period
    is_reference: bool  # universal base period cell: ATT fixed at 0


def plan_cells(design: CSDesign, base_period: str, anticipation: int) -> list[CellPlan]:
    """The (g, t, base) triples R did estimates, in its order (by group, then time)."""
    periods = design.periods
    universal = base_period == "universal"
    if base_period not in ("varying", "universal"):
        raise ValueError("base_period must be 'varying' or 'universal'")
    shift = 0 if universal else 1
    plans = []
    for g in design.groups:
        pre = np.flatnonzero(periods + anticipation < g)
        if len(pre) == 0:
            warnings.warn(
                f"cohort {g:g} has no pre-treatment period; its units are not used as treated",
                stacklevel=3,
            )
            continue
        last_pre = int(pre[-1])
        for t_i in range(len(periods) - shift):
            cur = t_i + shift
            post = g <= periods[cur]
            base = last_pre if (universal or post) else t_i
            plans.append(CellPlan(float(g), cur, base, universal and base == cur))
    return plans


def estimate_cells(design, plans, control_group, anticipation, est_method):
    """Return (att, influence matrix (units x cells), kept plans, skipped-cell messages)."""
    if control_group not in ("never", "notyet"):
        raise ValueError("control_group must be 'never' or 'notyet'")
    if est_method not in PANEL_ESTIMATORS:
        raise ValueError("est_method must be 'dr', 'ipw' or 'reg'")
    if design.balanced and design.x_wide.shape[2] == 1:
        fast = _unconditional_cells(design, plans, control_group, anticipation)
        if fast is not None:
            return fast
    n = design.n_units
    periods, cohort = design.periods, design.unit_cohort
    never = cohort == 0
    att = np.zeros(len(plans))
    inf = np.zeros((n, len(plans)))
    keep = np.ones(len(plans), dtype=bool)
    skipped = []
    for k, cell in enumerate(plans):
        if cell.is_reference:
            continue
        treated = cohort == cell.group
        if control_group == "never":
            control = never
        else:
            cutoff = periods[max(cell.time_idx, cell.base_idx)] + anticipation
            control = never | ((cohort > cutoff) & ~treated)
        try:
            if design.balanced:
                att[k], inf[:, k] = _panel_cell(design, cell, treated, control, est_method)
            else:
                att[k], inf[:, k] = _rc_cell(design, cell, treated, control, est_method)
        except (CellEstimationError, np.linalg.LinAlgError) as err:
            keep[k] = False
            skipped.append(f"ATT({cell.group:g},{periods[cell.time_idx]:g}) not estimated: {err}")
    if not np.isfinite(att[keep]).all():
        bad = [k for k in np.flatnonzero(keep) if not np.isfinite(att[k])]
        keep[bad] = False
        skipped += [
            f"ATT({plans[k].group:g},{periods[plans[k].time_idx]:g}) is not finite" for k in bad
        ]
    kept = [p for p, ok in zip(plans, keep, strict=True) if ok]
    return att[keep], inf[:, keep], kept, skipped


def _unconditional_cells(design, plans, control_group, anticipation):
    """All cells at once when there are no covariates and the panel is balanced.

    Every estimator (reg, ipw, dr) is then the weighted difference in mean changes, so the
    (units x cells) influence matrix is a few array expressions. With the n / n_cell rescaling
    the cell size cancels: psi = n * (w d (dy - m_t) / sum(w d) - w c (dy - m_c) / sum(w c)).
    Returns None (use the per-cell path) when a cell would trigger propensity-score trimming.
    """
    n = design.n_units
    periods, cohort, w = design.periods, design.unit_cohort, design.unit_weight
    cur = np.array([p.time_idx for p in plans])
    base = np.array([p.base_idx for p in plans])
    groups = np.array([p.group for p in plans])
    reference = np.array([p.is_reference for p in plans])
    treated = cohort[:, None] == groups[None, :]
    never = (cohort == 0)[:, None]
    if control_group == "never":
        control = np.broadcast_to(never, treated.shape)
    else:
        cutoff = periods[np.maximum(cur, base)] + anticipation
        control = never | ((cohort[:, None] > cutoff[None, :]) & ~treated)
    wt = w[:, None] * treated
    wc = w[:, None] * control
    s_t, s_c = wt.sum(axis=0), wc.sum(axis=0)
    ok = reference | ((s_t > 0) & (s_c > 0))
    if np.any(s_t[~reference] / (s_t + s_c)[~reference] >= 0.995):
        return None
    s_t, s_c = np.where(s_t > 0, s_t, 1.0), np.where(s_c > 0, s_c, 1.0)
    dy = (design.y_wide[cur] - design.y_wide[base]).T
    m_t = np.einsum("ij,ij->j", wt, dy) / s_t
    m_c = np.einsum("ij,ij->j", wc, dy) / s_c
    inf = n * (wt * (dy - m_t) / s_t - wc * (dy - m_c) / s_c)
    att = m_t - m_c
    att[reference] = 0.0
    inf[:, reference] = 0.0
    skipped = [
        f"ATT({p.group:g},{periods[p.time_idx]:g}) not estimated: no treated or comparison units"
        for p, good in zip(plans, ok, strict=True)
        if not good
    ]
    kept = [p for p, good in zip(plans, ok, strict=True) if good]
    return att[ok], inf[:, ok], kept, skipped


def _panel_cell(design, cell, treated, control, est_method):
    sel = treated | control
    n_cell = int(sel.sum())
    y_by_period = design.y_wide  # (periods, units): one contiguous row per period
    dy = y_by_period[cell.time_idx][sel] - y_by_period[cell.base_idx][sel]
    x = design.x_wide[min(cell.time_idx, cell.base_idx)][sel]
    d = treated[sel].astype(float)
    att, inf_cell = PANEL_ESTIMATORS[est_method](dy, d, x, design.unit_weight[sel])
    out = np.zeros(design.n_units)
    out[sel] = inf_cell * (design.n_units / n_cell)
    return att, out


def _rc_cell(design, cell, treated, control, est_method):
    ru = design.row_unit
    in_periods = (design.row_tidx == cell.time_idx) | (design.row_tidx == cell.base_idx)
    rows = in_periods & (treated | control)[ru]
    units = ru[rows]
    post = (design.row_tidx[rows] == cell.time_idx).astype(float)
    d = treated[units].astype(float)
    att, inf_obs = RC_ESTIMATORS[est_method](
        design.row_y[rows], post, d, design.row_x[rows], design.unit_weight[units]
    )
    inf_obs = inf_obs * (design.n_units / int(rows.sum()))
    return att, np.bincount(units, weights=inf_obs, minlength=design.n_units)

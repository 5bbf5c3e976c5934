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
    codes, unit_ids, first_rows = _unit_codes(frame[unit])
    n_units = len(unit_ids)
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
    k = 1 + len(panel.covariates)
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
        x_wide = np.ones((len(periods), n_units, k))  # intercept; covariates written below
        for j, c in enumerate(panel.covariates, start=1):
            x_wide[tidx, codes, j] = frame[c].to_numpy(float)
        return CSDesign(
            **common,
            y_wide=y_wide,
            x_wide=x_wide,
            row_unit=None,
            row_tidx=None,
            row_y=None,
            row_x=None,
        )
    x = np.column_stack(
        [np.ones(len(frame))] + [frame[c].to_numpy(float) for c in panel.covariates]
    )
    return CSDesign(
        **common, y_wide=None, x_wide=None, row_unit=codes, row_tidx=tidx, row_y=y, row_x=x
    )


def _unit_codes(units: pd.Series):
    """(row -> unit code, unit ids in ascending order, first row of each unit).

    A panel from `prepare_panel` is sorted by unit, so codes come from where the unit changes
    (one pass) instead of a hash factorization plus a sort of 4 M codes; unsorted input, or
    ids that do not compare as numbers, take the general path.
    """
    values = units.to_numpy()
    if len(values) and values.dtype.kind in "iuf" and np.all(values[1:] >= values[:-1]):
        change = np.empty(len(values), dtype=bool)
        change[0] = True
        np.not_equal(values[1:], values[:-1], out=change[1:])
        first_rows = np.flatnonzero(change)
        return np.cumsum(change) - 1, values[first_rows], first_rows
    codes, unit_ids = pd.factorize(units, sort=True)
    return codes, np.asarray(unit_ids), np.unique(codes, return_index=True)[1]


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
    inf = np.zeros((n, len(plans)), order="F")  # one contiguous column per cell
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
    if keep.all():  # no copy of the influence matrix in the usual case
        return att, inf, kept, skipped
    return att[keep], inf[:, keep], kept, skipped


def _unconditional_cells(design, plans, control_group, anticipation):
    """All cells without covariates on a balanced panel, one cheap pass per cell.

    Every estimator (reg, ipw, dr) is then the weighted difference in mean changes, and with
    the n / n_cell rescaling the cell size cancels:
    psi = n * (w d (dy - m_t) / sum(w d) - w c (dy - m_c) / sum(w c)).
    Each cell touches only its treated and comparison units (index arrays, not units x cells
    masks) and writes one contiguous column of a Fortran-ordered influence matrix, so memory
    stays at that matrix plus a few unit-length vectors: with 100,000 units the former
    broadcast version held about eight units x cells temporaries (1.9 GB for 195 cells).
    Returns None (use the per-cell path) when a cell would trigger propensity-score trimming.
    """
    n = design.n_units
    periods, cohort, w = design.periods, design.unit_cohort, design.unit_weight
    y = design.y_wide
    never = np.flatnonzero(cohort == 0)
    members = {g: np.flatnonzero(cohort == g) for g in {p.group for p in plans}}
    w_sum = {g: w[idx].sum() for g, idx in members.items()}
    w_never = w[never].sum()
    # Each cohort's (and the never-treated's) outcomes as one contiguous block, so a cell's
    # outcome changes are row differences instead of gathers from the full-width rows.
    blocks = {g: np.ascontiguousarray(y[:, idx]) for g, idx in members.items()}
    y_never = np.ascontiguousarray(y[:, never])
    cells = []
    for p in plans:
        if p.is_reference:
            cells.append((p, None, None, 0.0, 0.0))
            continue
        treated = members[p.group]
        if control_group == "never":
            control, s_c = never, w_never
        else:
            cutoff = periods[max(p.time_idx, p.base_idx)] + anticipation
            control = np.flatnonzero((cohort == 0) | ((cohort > cutoff) & (cohort != p.group)))
            s_c = w[control].sum()
        s_t = w_sum[p.group]
        if s_t > 0 and s_t / (s_t + s_c) >= 0.995:
            return None
        cells.append((p, treated, control, s_t, s_c))
    ok = np.array([p.is_reference or (s_t > 0 and s_c > 0) for p, _, _, s_t, s_c in cells])
    kept_idx = np.flatnonzero(ok)
    att = np.zeros(len(kept_idx))
    inf = np.zeros((n, len(kept_idx)), order="F")
    for j, k in enumerate(kept_idx):
        p, treated, control, s_t, s_c = cells[k]
        if p.is_reference:
            continue
        y_t = blocks[p.group]
        dy_t = y_t[p.time_idx] - y_t[p.base_idx]
        if control is never:
            dy_c = y_never[p.time_idx] - y_never[p.base_idx]
        else:
            dy_c = y[p.time_idx, control] - y[p.base_idx, control]
        w_t, w_c = w[treated], w[control]
        m_t, m_c = (w_t @ dy_t) / s_t, (w_c @ dy_c) / s_c
        att[j] = m_t - m_c
        col = inf[:, j]
        col[treated] = (n / s_t) * (w_t * (dy_t - m_t))
        col[control] = (-n / s_c) * (w_c * (dy_c - m_c))
    skipped = [
        f"ATT({p.group:g},{periods[p.time_idx]:g}) not estimated: no treated or comparison units"
        for (p, *_), good in zip(cells, ok, strict=True)
        if not good
    ]
    return att, inf, [plans[k] for k in kept_idx], skipped


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

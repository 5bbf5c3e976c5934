"""Aggregations of group-time ATTs (R `did::aggte`): simple, dynamic, group, calendar.

Each aggregate is a weighted average of ATT(g,t) with weights proportional to cohort size.
Because those weights are estimated, the aggregate's influence function carries an extra
term for them (R's `wif`), without which standard errors would be too small. Dynamic and
calendar overall effects are plain averages of the per-event-time / per-period effects and,
as in R, carry no weight term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from estimators.multiplier_bootstrap import analytic_se
from estimators.normal import norm_ppf, norm_sf
from estimators.results import Estimate, clean_records

AGGREGATION_TYPES = ("simple", "dynamic", "group", "calendar")
_KEY = {"dynamic": "event_time", "group": "group", "calendar": "time"}


@dataclass
class AggregateResult:
    """One aggregation: the overall `Estimate` plus a table by event time, group or period.

    `crit_val` is the critical value used for the table's intervals: the sup-t value of a
    uniform band when bootstrapped with `cband`, else the normal quantile.
    """

    type: str
    overall: Estimate
    table: pd.DataFrame
    crit_val: float
    alpha: float
    uniform_band: bool
    inf_func_overall: np.ndarray = field(repr=False)
    inf_func_table: np.ndarray = field(repr=False)
    options: dict = field(default_factory=dict)

    def tidy(self) -> pd.DataFrame:
        head = pd.DataFrame([{"term": "overall", **self.overall.to_dict()}])
        if self.table.empty:
            return head
        key = _KEY[self.type]
        rows = self.table.rename(columns={key: "level"}).assign(term=key)
        return pd.concat([head, rows], ignore_index=True)

    def summary(self) -> str:
        pct = int(round(100 * (1 - self.alpha)))
        o = self.overall
        lines = [
            f"Callaway-Sant'Anna aggregation: {self.type}",
            f"Overall ATT: {o.estimate:.4f}  (se {o.se:.4f}, {pct}% CI [{o.ci_low:.4f}, "
            f"{o.ci_high:.4f}], p = {o.p_value:.4f})",
        ]
        if not self.table.empty:
            band = "uniform" if self.uniform_band else "pointwise"
            lines.append(f"\n{pct}% {band} intervals (critical value {self.crit_val:.3f}):")
            lines.append(self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "type": self.type,
            "overall": self.overall.to_dict(),
            "table": clean_records(self.table.to_dict("records")),
            "crit_val": _finite(self.crit_val),
            "uniform_band": self.uniform_band,
            "alpha": self.alpha,
            "options": self.options,
        }


def _as_int_if_whole(x: np.ndarray) -> np.ndarray:
    return x.astype(np.int64) if np.all(np.isfinite(x) & (x == np.round(x))) else x


def _finite(v):
    return float(v) if v is not None and math.isfinite(v) else None


def weight_influence(keepers, pg, unit_weight, unit_cohort, cell_group):
    """R `wif`: influence of estimating P(G = g) in the aggregation weights (units x keepers)."""
    pk = pg[keepers]
    total = pk.sum()
    a = unit_weight[:, None] * (unit_cohort[:, None] == cell_group[keepers][None, :]) - pk
    return a / total - a.sum(axis=1)[:, None] * (pk / total**2)[None, :]


def cohort_positions(levels: np.ndarray, unit_cohort: np.ndarray) -> np.ndarray:
    """Index of each unit's cohort in the sorted `levels`, or len(levels) if not among them."""
    pos = np.searchsorted(levels, unit_cohort)
    clipped = np.minimum(pos, len(levels) - 1)
    return np.where(levels[clipped] == unit_cohort, clipped, len(levels))


def weight_influence_dot(keepers, pg, unit_weight, unit_cohort, cell_group, coef, cohorts=None):
    """``weight_influence(...) @ coef`` without the (units x keepers) matrix.

    Row i of that matrix is ``(a_i / total) - sum(a_i) * pk / total**2`` with
    ``a_ik = w_i [cohort_i == g_k] - pk``, so its product with `coef` needs, per unit, only the
    sum of `coef` (and the count of keepers) over the keepers of the unit's own cohort: a
    lookup by cohort instead of a units x keepers product (at 100,000 units and 100 post
    cells that matrix and its temporaries were about 0.3 GB). `cohorts` = (sorted cohort
    levels, `cohort_positions` of the units) may be passed to reuse the lookup across calls.
    """
    pk = pg[keepers]
    coef = np.asarray(coef, dtype=float)
    total = pk.sum()
    groups = cell_group[keepers]
    if cohorts is None:
        levels = np.unique(groups)
        cohorts = (levels, cohort_positions(levels, unit_cohort))
    levels, unit_pos = cohorts
    gi = np.searchsorted(levels, groups)
    own_coef = np.bincount(gi, weights=coef, minlength=len(levels) + 1)[unit_pos]
    own_count = np.bincount(gi, minlength=len(levels) + 1)[unit_pos]
    pk_coef = pk @ coef
    a_coef = unit_weight * own_coef - pk_coef
    a_sum = unit_weight * own_count - total
    return a_coef / total - a_sum * (pk_coef / total**2)


def aggregate(
    res,
    type: str = "group",
    *,
    min_e=-math.inf,
    max_e=math.inf,
    balance_e=None,
    cband: bool | None = None,
) -> AggregateResult:
    """Aggregate an `ATTgtResult` (see module docstring); arguments as R `aggte`."""
    if type not in AGGREGATION_TYPES:
        raise ValueError(f"type must be one of {AGGREGATION_TYPES}")
    att, inf = res.att, res.inf_func
    group, time = res.group, res.time
    ucoh, uw = res.unit_cohort, res.unit_weight
    glist = np.unique(group)
    pgg = np.array([np.mean(uw * (ucoh == g)) for g in glist])
    pg = pgg[np.searchsorted(glist, group)]
    post_window = (group <= time) & (time <= group + max_e)
    cohorts = (glist, cohort_positions(glist, ucoh))

    def combine(which, weights, with_wif=True):
        which = np.flatnonzero(which)
        w = weights[which] / weights[which].sum()
        est = float(att[which] @ w)
        inf_k = inf[:, which] @ w
        if with_wif:
            inf_k = inf_k + weight_influence_dot(which, pg, uw, ucoh, group, att[which], cohorts)
        return est, inf_k

    levels: list = []
    cols: list[tuple[float, np.ndarray]] = []
    if type == "simple":
        est, inf_o = combine(post_window, pg)
    elif type == "group":
        for g in glist:
            which = (group == g) & post_window
            if which.any():
                levels.append(g)
                cols.append(combine(which, pg, with_wif=False))
        est_g = np.array([c[0] for c in cols])
        inf_g = np.column_stack([c[1] for c in cols])
        gi = np.searchsorted(glist, levels)
        wg = pgg[gi] / pgg[gi].sum()
        est = float(est_g @ wg)
        wif = weight_influence_dot(
            np.arange(len(gi)), pgg[gi], uw, ucoh, np.asarray(levels, dtype=float), est_g, cohorts
        )
        inf_o = inf_g @ wg + wif
    elif type == "dynamic":
        e_cell = time - group
        include = np.ones(len(att), dtype=bool)
        eseq = np.unique(e_cell)
        if balance_e is not None:
            t_max, t_min = res.periods.max(), res.periods.min()
            include = (t_max - group) >= balance_e
            eseq = np.unique(e_cell[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t_max + t_min)]
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        for e in eseq:
            levels.append(e)
            cols.append(combine((e_cell == e) & include, pg))
        post_e = np.asarray(levels) >= 0
        if not post_e.any():
            raise ValueError("no post-treatment event times in the requested window")
        est = float(np.mean([c[0] for c, p in zip(cols, post_e, strict=True) if p]))
        inf_o = np.column_stack([c[1] for c, p in zip(cols, post_e, strict=True) if p]).mean(1)
    else:  # calendar
        for t1 in res.periods[res.periods >= group.min()]:
            which = (time == t1) & post_window
            if which.any():
                levels.append(t1)
                cols.append(combine(which, pg))
        est = float(np.mean([c[0] for c in cols]))
        inf_o = np.column_stack([c[1] for c in cols]).mean(axis=1)

    alpha = res.alpha
    z = norm_ppf(1 - alpha / 2)
    inf_table = np.column_stack([c[1] for c in cols]) if cols else np.zeros((len(inf), 0))
    est_table = np.array([c[0] for c in cols])
    uniform = bool(res.n_boot and (res.cband if cband is None else cband) and cols)
    if res.n_boot:
        se_o = float(res.bootstrap_se(inf_o[:, None])[0][0])
        se_t, crit = res.bootstrap_se(inf_table) if cols else (np.array([]), z)
        crit = crit if uniform and math.isfinite(crit) else z
    else:
        se_o = float(analytic_se(inf_o[:, None], res.cluster_codes, res.n_clusters)[0])
        se_t = analytic_se(inf_table, res.cluster_codes, res.n_clusters)
        crit = z
    table = pd.DataFrame()
    if type != "simple":
        se_t = np.asarray(se_t, dtype=float)
        table = pd.DataFrame(
            {
                _KEY[type]: _as_int_if_whole(np.asarray(levels, dtype=float)),
                "estimate": est_table,
                "se": se_t,
                "ci_low": est_table - crit * se_t,
                "ci_high": est_table + crit * se_t,
                "p_value": 2 * norm_sf(np.abs(est_table) / se_t),
            }
        )
    options = {"min_e": _finite(min_e), "max_e": _finite(max_e), "balance_e": balance_e}
    return AggregateResult(
        type=type,
        overall=Estimate.normal(est, se_o, alpha),
        table=table,
        crit_val=float(crit),
        alpha=alpha,
        uniform_band=uniform,
        inf_func_overall=inf_o,
        inf_func_table=inf_table,
        options=options,
    )

"""Callaway & Sant'Anna (2021) group-time average treatment effects.

`att_gt` estimates every ATT(g,t) with its influence function (see `cs_core`), and the result's
`.aggregate(type)` gives the simple, dynamic (event-study), group and calendar summaries of R
`did::aggte` (see `cs_aggregate`). Inference is analytic from the influence functions by
default, or the multiplier bootstrap with uniform bands when `bootstrap` > 0 (see
`multiplier_bootstrap`). `fit_cs` is the entry the CLI and the pipeline use: one fit with the
headline (simple) ATT, the event study and the group effects.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from estimators.cs_aggregate import AggregateResult, aggregate
from estimators.cs_core import build_design, estimate_cells, plan_cells
from estimators.multiplier_bootstrap import MultiplierDraws, analytic_se, se_and_crit_from_draws
from estimators.normal import norm_ppf, norm_sf
from estimators.panel import EstimationInputError, PanelData, prepare_panel
from estimators.results import clean_records

CONTROL_ALIASES = {
    "never": "never",
    "nevertreated": "never",
    "notyet": "notyet",
    "notyettreated": "notyet",
}


@dataclass
class ATTgtResult:
    """All group-time ATTs of one fit, with what inference and aggregation need.

    `inf_func` is (units x cells), scaled so that ``se = sqrt(sum(psi**2)) / n_units``.
    `se` is analytic, or the bootstrap IQR standard error when `n_boot` > 0; intervals use
    `crit_val` (sup-t uniform band when bootstrapped with `cband`).
    """

    group: np.ndarray
    time: np.ndarray
    att: np.ndarray
    se: np.ndarray
    crit_val: float
    alpha: float
    inf_func: np.ndarray = field(repr=False)
    periods: np.ndarray = field(repr=False)
    unit_ids: np.ndarray = field(repr=False)
    unit_cohort: np.ndarray = field(repr=False)
    unit_weight: np.ndarray = field(repr=False)
    cluster_codes: np.ndarray | None = field(repr=False)
    n_clusters: int
    n_obs: int
    n_boot: int
    cband: bool
    settings: dict
    boot_draws: np.ndarray | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()
    _draws: MultiplierDraws | None = field(default=None, repr=False)

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def event_time(self) -> np.ndarray:
        return self.time - self.group

    def bootstrap_se(self, inf_func: np.ndarray):
        """Bootstrap SEs and sup-t critical value of any linear combination's influence."""
        boot = self._draws.draws(inf_func)
        return se_and_crit_from_draws(boot, self.alpha)

    def table(self) -> pd.DataFrame:
        with np.errstate(invalid="ignore", divide="ignore"):
            p = 2 * norm_sf(np.abs(self.att) / self.se)
        return pd.DataFrame(
            {
                "group": _as_int_if_whole(self.group),
                "time": _as_int_if_whole(self.time),
                "event_time": _as_int_if_whole(self.event_time),
                "estimate": self.att,
                "se": self.se,
                "ci_low": self.att - self.crit_val * self.se,
                "ci_high": self.att + self.crit_val * self.se,
                "p_value": p,
                "post": (self.time >= self.group).astype(int),
            }
        )

    def tidy(self) -> pd.DataFrame:
        return self.table()

    def aggregate(self, type: str = "group", **kwargs) -> AggregateResult:
        """R `aggte`: type in simple | dynamic | group | calendar; min_e, max_e, balance_e."""
        return aggregate(self, type, **kwargs)

    def summary(self) -> str:
        pct = int(round(100 * (1 - self.alpha)))
        band = "uniform (sup-t bootstrap)" if self.n_boot and self.cband else "pointwise"
        s = self.settings
        head = [
            "Callaway-Sant'Anna group-time ATT",
            f"comparison: {s['control_group']}-treated, base period: {s['base_period']}, "
            f"estimation: {s['est_method']}, anticipation: {s['anticipation']}",
            f"units: {self.n_units}, observations: {self.n_obs}, "
            f"{'bootstrap ' + str(self.n_boot) + ' draws' if self.n_boot else 'analytic SEs'}",
            f"{pct}% {band} intervals, critical value {self.crit_val:.3f}",
        ]
        body = self.table().drop(columns=["post"])
        return "\n".join(head + list(self.notes) + [body.to_string(index=False, float_format=_fmt)])

    def to_dict(self) -> dict:
        tab = self.table()
        return {
            "method": "cs",
            "att_gt": clean_records(tab.to_dict("records")),
            "crit_val": float(self.crit_val),
            "n_units": self.n_units,
            "n_obs": self.n_obs,
            "settings": self.settings,
            "notes": list(self.notes),
        }


def _as_int_if_whole(x: np.ndarray) -> np.ndarray:
    """Periods are integers in practice; keep them integers in tables and JSON."""
    return x.astype(np.int64) if np.all(np.isfinite(x) & (x == np.round(x))) else x


def _fmt(v):
    return f"{v:.4f}"


def att_gt(
    data: pd.DataFrame | PanelData,
    *,
    unit: str | None = None,
    time: str | None = None,
    outcome: str | None = None,
    cohort: str | None = None,
    control_group: str = "never",
    base_period: str = "varying",
    anticipation: int = 0,
    covariates: tuple[str, ...] | list[str] = (),
    est_method: str = "dr",
    weights: str | None = None,
    cluster: str | None = None,
    bootstrap: int = 0,
    bootstrap_weights: str = "rademacher",
    cband: bool = True,
    seed: int | None = None,
    alpha: float = 0.05,
    unbalanced: str = "rc",
) -> ATTgtResult:
    """Group-time ATTs as R `did::att_gt`.

    `data` is a long DataFrame (give the column names) or a `PanelData`. `control_group` is
    "never" or "notyet"; `est_method` "dr" (default, as R), "ipw" or "reg". `bootstrap` > 0
    switches inference to the multiplier bootstrap with that many draws (R's default is 1000
    draws; ours is analytic, which is exact and faster). `unbalanced`: "rc" keeps every
    observation and uses R's `allow_unbalanced_panel` estimators; "balance" drops units with
    missing periods (R's default).
    """
    control = CONTROL_ALIASES.get(control_group)
    if control is None:
        raise ValueError("control_group must be 'never' or 'notyet'")
    if anticipation < 0:
        raise ValueError("anticipation must be >= 0")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    if isinstance(data, PanelData):
        panel = data
    else:
        if None in (unit, time, outcome, cohort):
            raise ValueError("give unit, time, outcome and cohort column names")
        panel = prepare_panel(
            data,
            unit=unit,
            time=time,
            outcome=outcome,
            cohort=cohort,
            covariates=tuple(covariates),
            weights=weights,
            cluster=cluster,
        )
    design = build_design(panel, control, anticipation, unbalanced)
    plans = plan_cells(design, base_period, anticipation)
    if not plans:
        raise EstimationInputError("no group-time cell can be estimated (no pre-periods?)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        att, inf, plans, skipped = estimate_cells(design, plans, control, anticipation, est_method)
    if len(att) == 0:
        raise EstimationInputError(
            "no group-time ATT could be estimated: "
            + (skipped[0] if skipped else "no comparison units")
        )
    for msg in skipped:
        warnings.warn(msg, stacklevel=2)
    group = np.array([p.group for p in plans])
    time_ = design.periods[[p.time_idx for p in plans]].astype(float)
    z = norm_ppf(1 - alpha / 2)
    draws, boot = None, None
    if bootstrap:
        draws = MultiplierDraws(
            n_draws=int(bootstrap),
            n_units=design.n_units,
            cluster_codes=design.cluster_codes,
            n_clusters=design.n_clusters,
            kind=bootstrap_weights,
            seed=seed,
        )
        se, crit, boot = draws.se_and_crit(inf, alpha)
        crit = crit if cband and math.isfinite(crit) else z
    else:
        se = analytic_se(inf, design.cluster_codes, design.n_clusters)
        crit = z
    settings = {
        "control_group": control,
        "base_period": base_period,
        "anticipation": anticipation,
        "est_method": est_method,
        "covariates": list(panel.covariates),
        "weights": panel.weights,
        "cluster": panel.cluster,
        "bootstrap": int(bootstrap),
        "bootstrap_weights": bootstrap_weights if bootstrap else None,
        "seed": seed,
        "alpha": alpha,
        "panel": "balanced" if design.balanced else "unbalanced (repeated cross-section)",
    }
    return ATTgtResult(
        group=group,
        time=time_,
        att=att,
        se=se,
        crit_val=float(crit),
        alpha=alpha,
        inf_func=inf,
        periods=design.periods.astype(float),
        unit_ids=design.unit_ids,
        unit_cohort=design.unit_cohort,
        unit_weight=design.unit_weight,
        cluster_codes=design.cluster_codes,
        n_clusters=design.n_clusters,
        n_obs=design.n_obs,
        n_boot=int(bootstrap),
        cband=cband,
        settings=settings,
        boot_draws=boot,
        notes=design.notes + tuple(skipped),
        _draws=draws,
    )


@dataclass
class CSFit:
    """Headline Callaway-Sant'Anna fit: ATT(g,t) plus simple, dynamic and group aggregations."""

    att_gt: ATTgtResult
    simple: AggregateResult
    dynamic: AggregateResult
    group: AggregateResult

    @property
    def overall(self):
        return self.simple.overall

    def tidy(self) -> pd.DataFrame:
        parts = [self.simple.tidy().assign(aggregation="simple")]
        parts += [
            agg.tidy().iloc[1:].assign(aggregation=agg.type) for agg in (self.dynamic, self.group)
        ]
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> str:
        return "\n\n".join(
            [
                self.att_gt.summary(),
                self.simple.summary(),
                self.dynamic.summary(),
                self.group.summary(),
            ]
        )

    def to_dict(self) -> dict:
        es = self.dynamic.table
        return {
            "method": "cs",
            "overall": self.overall.to_dict(),
            "att_gt": clean_records(
                self.att_gt.table()[
                    ["group", "time", "estimate", "se", "ci_low", "ci_high"]
                ].to_dict("records")
            ),
            "event_study": clean_records(
                es[["event_time", "estimate", "se", "ci_low", "ci_high"]].to_dict("records")
            ),
            "group": clean_records(
                self.group.table[["group", "estimate", "se", "ci_low", "ci_high"]].to_dict(
                    "records"
                )
            ),
            "n_units": self.att_gt.n_units,
            "n_obs": self.att_gt.n_obs,
            "settings": self.att_gt.settings,
            "aggregations": {
                "simple": self.simple.to_dict(),
                "dynamic": self.dynamic.to_dict(),
                "group": self.group.to_dict(),
            },
        }


def fit_cs(panel: PanelData, *, min_e=-math.inf, max_e=math.inf, balance_e=None, **kwargs) -> CSFit:
    """`att_gt` then the simple, dynamic and group aggregations (kwargs as `att_gt`)."""
    res = att_gt(panel, **kwargs)
    return CSFit(
        att_gt=res,
        simple=res.aggregate("simple"),
        dynamic=res.aggregate("dynamic", min_e=min_e, max_e=max_e, balance_e=balance_e),
        group=res.aggregate("group"),
    )

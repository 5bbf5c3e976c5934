"""Dose-response (secondary): effect by engagement intensity, attendance per 1,000 residents.

Treated districts are binned by their mean meeting attendance per 1,000 residents after
roll-out (equal-count bins); each bin is compared with the never-treated districts using the
headline estimator of the outcome (Poisson for crime, Callaway-Sant'Anna for surveys).

Stronger assumption: comparing bins is causal only under *strong* parallel trends (Callaway,
Goodman-Bacon & Sant'Anna 2024): districts that reached different attendance must have had
the same effect at any given dose. Attendance is chosen by residents, not assigned, so
differences between bins may reflect which districts engage, not what engagement does.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from estimators.panel import EstimationInputError, prepare_panel
from estimators.poisson import fit_poisson
from evaluation import diagnostics as dg
from evaluation.outcomes import OutcomeSpec
from evaluation.settings import EvaluationSettings

ASSUMPTION = (
    "strong parallel trends: districts with different attendance would have had the "
    "same effect at the same attendance (attendance is self-selected, not assigned)"
)


def district_dose(dm: pd.DataFrame) -> pd.Series:
    """Mean attendees per 1,000 residents per month after roll-out, per treated district."""
    post = (dm["cohort_period"] > 0) & (dm["period"] >= dm["cohort_period"])
    return dm.loc[post].groupby("district_id")["attendees_per_1000"].mean().sort_index()


def dose_bins(dose: pd.Series, n_bins: int) -> pd.Series:
    n_bins = max(1, min(n_bins, len(dose)))
    ranks = dose.rank(method="first")
    return np.ceil(ranks * n_bins / len(dose)).astype(int)


def dose_response(
    dm: pd.DataFrame, dq: pd.DataFrame | None, spec: OutcomeSpec, s: EvaluationSettings
) -> dict:
    dose = district_dose(dm)
    if dose.empty:
        return {"assumption": ASSUMPTION, "bins": [], "note": "no treated district"}
    bins = dose_bins(dose, s.dose_bins)
    never = set(dm.loc[dm["cohort_period"].fillna(0) == 0, "district_id"].unique())
    rows = []
    for b in sorted(bins.unique()):
        members = set(bins.index[bins == b])
        keep = members | never
        row = {
            "bin": int(b),
            "n_districts": len(members),
            "dose_low": float(dose[list(members)].min()),
            "dose_high": float(dose[list(members)].max()),
            "dose_mean": float(dose[list(members)].mean()),
        }
        try:
            est = (
                _crime_bin(dm[dm["district_id"].isin(keep)], spec, s)
                if spec.kind == "crime"
                else _survey_bin(dq[dq["district_id"].isin(keep)], spec, s)
            )
            row.update(
                {
                    "estimate": dg._num(est.estimate),
                    "ci_low": dg._num(est.ci_low),
                    "ci_high": dg._num(est.ci_high),
                }
            )
        except (EstimationInputError, ValueError) as exc:
            row.update({"estimate": None, "ci_low": None, "ci_high": None, "note": str(exc)})
        rows.append(row)
    return {
        "assumption": ASSUMPTION,
        "dose": "attendees per 1,000 residents per month after roll-out",
        "comparison": "never-treated districts",
        "scale": spec.scale,
        "bins": rows,
    }


def _crime_bin(dm: pd.DataFrame, spec: OutcomeSpec, s: EvaluationSettings):
    from evaluation.crime import count_panel, crime_frame

    f, _ = crime_frame(dm, spec)
    panel = count_panel(f, spec, require_never_treated=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_poisson(
            panel, exposure="population", anticipation=s.anticipation, alpha=s.alpha
        ).overall


def _survey_bin(dq: pd.DataFrame, spec: OutcomeSpec, s: EvaluationSettings):
    from evaluation.survey import survey_frame

    f = survey_frame(dq, spec)
    panel = prepare_panel(
        f,
        unit="district_id",
        time="period",
        outcome="mean",
        cohort="cohort_period",
        require_never_treated=True,
    )
    res = dg.fit_cs(
        panel, EvaluationSettings(**{**s.to_dict(), "control_group": "never"}), bootstrap=False
    )
    return res.aggregate("simple").overall

"""MDE by simulation on the city's own panel (`model.power_simulations` > 0).

The closed-form `mde` is (z_{1-alpha/2} + z_{0.8}) x headline SE: it trusts the SE and a
normal sampling distribution, both shaky with 10-30 districts. The simulated MDE
(`estimators.power.fit_power`) asks the panel itself: keep the city's roll-out design (cohort
dates and sizes), re-draw which districts get each date, inject an effect into the treated
post-roll-out cells, re-estimate, and find the smallest effect detected (p < alpha) in 80% of
the draws (bisection, common random numbers, seeded by `model.seed`). Placebo draws (no
effect) give the test's actual false-positive rate on this panel.

The panel is the observed one with the program's estimated effect taken out (crime: each
treated count divided by its Poisson cell effect 1 + tau(g, t) and rounded; surveys: the CS
ATT(g, t) subtracted), so districts that really were treated do not carry their real effect
into placebo draws, while every district keeps its own noise, seasonality and level.

The estimator is the headline's, so `mde_simulated` and `mde` describe the same test:
crime re-fits the Poisson model (about 10-20 ms per fit on 25 districts x 120 months), with
proportional effects injected into counts; surveys re-fit the CS overall ATT (the
randomization-inference statistic, `inference.CSOverall`) with additive effects in points.
The CS statistic on the monthly rate would describe another, here far noisier, estimator: its
post-period comparisons all use the single month before roll-out.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from estimators.callaway_santanna import att_gt
from estimators.panel import EstimationInputError, prepare_panel
from estimators.poisson import fit_poisson
from estimators.power import fit_power
from evaluation.inference import CSOverall
from evaluation.settings import EvaluationSettings

TARGET_POWER = 0.8


def residualized(
    f: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    cohort: str,
    weights: str | None,
    settings: EvaluationSettings,
) -> pd.DataFrame:
    """`f` with each affected cell's CS ATT(g, t) subtracted (an estimate of no program)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = att_gt(
            f,
            unit=unit,
            time=time,
            outcome=outcome,
            cohort=cohort,
            weights=weights,
            control_group=settings.control_group,
            base_period="universal",
            anticipation=settings.anticipation,
            est_method="reg",
        )
    affected = res.time >= res.group - settings.anticipation
    att = pd.Series(
        np.nan_to_num(res.att[affected]),
        index=pd.MultiIndex.from_arrays([res.group[affected], res.time[affected]]),
    )
    key = pd.MultiIndex.from_arrays([f[cohort].to_numpy(), f[time].to_numpy()])
    out = f.copy()
    out[outcome] = f[outcome].to_numpy(float) - att.reindex(key).fillna(0.0).to_numpy()
    return out


def residualized_counts(f: pd.DataFrame, count: str, pois) -> pd.DataFrame:
    """`f` with each treated count divided by its Poisson cell effect 1 + tau(g, t), rounded
    to whole incidents (cells whose fitted effect is -100% are left as they are)."""
    effects = {(r["group"], r["time"]): r["estimate"] for r in pois.att_gt if r["estimate"] > -1}
    key = zip(f["cohort_period"], f["period"], strict=True)
    factor = np.array([1 + effects.get(k, 0.0) for k in key])
    return f.assign(**{count: np.round(f[count].to_numpy(float) / factor)})


class _PoissonEstimator:
    """fit_power's estimator for crime: the headline Poisson fit with population exposure."""

    def __init__(self, count: str, population: pd.Series, settings: EvaluationSettings):
        self.count, self.population, self.settings = count, population, settings

    def __call__(self, frame: pd.DataFrame):
        key = pd.MultiIndex.from_arrays([frame["district_id"], frame["period"]])
        frame = frame.assign(population=self.population.reindex(key).to_numpy())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                panel = prepare_panel(
                    frame,
                    unit="district_id",
                    time="period",
                    outcome=self.count,
                    cohort="cohort",
                    covariates=["population"],
                )
                return fit_poisson(
                    panel,
                    exposure="population",
                    anticipation=self.settings.anticipation,
                    alpha=self.settings.alpha,
                ).overall
            except (EstimationInputError, RuntimeError):
                return (math.nan, math.nan)  # never a rejection


class _CSEstimator:
    """fit_power's estimator for surveys: the RI statistic with its analytic SE and p-value."""

    def __init__(self, settings: EvaluationSettings):
        self.stat = CSOverall(settings.control_group, settings.anticipation)

    def __call__(self, frame: pd.DataFrame):
        try:
            panel = prepare_panel(
                frame, unit="district_id", time="period", outcome="mean", cohort="cohort"
            )
        except EstimationInputError:
            return (math.nan, math.nan)  # never a rejection
        est = self.stat.overall(panel)
        return (math.nan, math.nan) if est is None else est


def crime_simulated_mde(
    f: pd.DataFrame, count: str, pois, settings: EvaluationSettings
) -> tuple[dict, dict, list[str]]:
    """Simulated MDE of the crime headline: Poisson on counts, proportional effects.

    `f` is `crime.crime_frame`'s frame, `pois` the headline fit whose cell effects are taken
    out. Effects are injected as `estimators.power` does for counts (binomial thinning for a
    reduction), so cells stay counts.
    """
    base = residualized_counts(f, count, pois)
    population = base.set_index(["district_id", "period"])["population"]
    return _simulate(
        base,
        outcome=count,
        estimator=_PoissonEstimator(count, population, settings),
        kind="multiplicative",
        direction=-1,  # programs aim to reduce crime
        settings=settings,
        method="Poisson extended TWFE on counts (the headline estimator, t(G-1) test), "
        "effect a proportional change of treated post-roll-out counts (binomial thinning)",
    )


def survey_simulated_mde(f: pd.DataFrame, settings: EvaluationSettings):
    """Simulated MDE of a survey headline: CS on the district-quarter means, in points."""
    base = residualized(
        f,
        unit="district_id",
        time="period",
        outcome="mean",
        cohort="cohort_period",
        weights=None,
        settings=settings,
    )
    return _simulate(
        base,
        outcome="mean",
        estimator=_CSEstimator(settings),
        kind="additive",
        direction=1,
        settings=settings,
        method="Callaway-Sant'Anna overall ATT (the randomization-inference statistic, "
        "analytic SE, normal test), effect added to treated post-roll-out cells",
    )


def _simulate(base, *, outcome, estimator, kind, direction, settings, method):
    """(results.json fields, details, notes): fit_power on `base` with the city's design."""
    n_sims = settings.power_simulations
    first = base["period"].min()
    c = base["cohort_period"]
    base = base.loc[(c == 0) | (c - settings.anticipation > first)]  # always-treated: no use
    fields = {"mde_simulated": None, "mde_simulations": n_sims, "mde_false_positive_rate": None}
    details = {
        "mde_simulated_method": "simulation on the observed panel with the estimated effect "
        "removed; the roll-out's dates and cohort sizes re-drawn over districts; "
        f"{method}; {TARGET_POWER:.0%} power at alpha {settings.alpha} by bisection"
    }
    try:
        res = fit_power(
            base.reset_index(drop=True),
            unit="district_id",
            time="period",
            outcome=outcome,
            estimator=estimator,
            cohorts=base.groupby("district_id")["cohort_period"].first().to_dict(),
            kind=kind,
            direction=direction,
            alpha=settings.alpha,
            power=TARGET_POWER,
            n_sims=n_sims,
            min_pre_periods=1 + settings.anticipation,
            seed=settings.seed,
        )
    except (EstimationInputError, ValueError) as exc:
        return fields, details, [f"simulated MDE not computed: {exc}"]
    if math.isfinite(res.mde):
        fields["mde_simulated"] = _finite(abs(res.mde))
    fields["mde_false_positive_rate"] = _finite(res.false_positive_rate)
    details["mde_simulated_placebo_sd"] = _finite(res.placebo_sd)
    details["mde_simulated_placebo_mean_se"] = _finite(res.placebo_mean_se)
    return fields, details, list(res.notes)


def _finite(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def with_simulated_mde(out: dict, power: tuple[dict, dict, list[str]] | None) -> dict:
    """An outcome entry with the simulated MDE merged in (unchanged when it was not run)."""
    if power is None:
        return out
    fields, details, notes = power
    out.update(fields)
    out["details"].update(details)
    out["notes"] = [*out["notes"], *notes]
    return out

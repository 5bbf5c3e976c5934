"""Latent crime model: expected incidents per district, month and offense, with and without
the program, in closed form from the recorded parameters (no hidden latent noise), so the truth
is a deterministic function of what `truth.json` records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.design import Design
from simulator.params import CRIME_CLASSES, OFFENSES, ramp

MEAN_MONTH_DAYS = 365.25 / 12
SEASON = {  # log-amplitude and peak month (0 = January) of the seasonal cycle
    "violent": (0.16, 6),
    "property": (0.10, 7),
    "other": (0.05, 4),
}
CITY_SLOPE = {"violent": 0.01, "property": -0.025, "other": -0.04}  # log change per year
DISTRICT_LEVEL_SD = (0.30, 0.12)  # shared across classes, class-specific
DISTRICT_TREND_SD = (0.025, 0.01)  # per year, shared across classes, class-specific
COMMON_SHOCK_SD, COMMON_SHOCK_AR = 0.03, 0.8


@dataclass(frozen=True)
class CrimeModel:
    offenses: tuple[str, ...]
    offense_class: np.ndarray  # (offense,) index into CRIME_CLASSES
    expected_without: np.ndarray  # (district, month, offense)
    expected_with: np.ndarray  # (district, month, offense); equals without where untreated
    event_time: np.ndarray  # (district, month) months since roll-out
    parameters: dict  # JSON-safe record of every number above was built from

    @property
    def treated(self) -> np.ndarray:
        return self.event_time >= 0

    def by_class(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """(without, with) expected counts summed over the offenses of one class or 'total'."""
        if which == "total":
            keep = np.ones(len(self.offenses), dtype=bool)
        else:
            keep = self.offense_class == CRIME_CLASSES.index(which)
        return (
            self.expected_without[:, :, keep].sum(axis=2),
            self.expected_with[:, :, keep].sum(axis=2),
        )


def build_crime_model(design: Design, rng: np.random.Generator) -> CrimeModel:
    p = design.params
    cal = design.calendar
    n_d, n_t, n_k = design.n_districts, cal.n_months, len(CRIME_CLASSES)
    rate_scale = p.incidents_per_1000 / sum(rate for _, rate, _ in OFFENSES)
    rates = np.array([rate for _, rate, _ in OFFENSES]) * rate_scale
    offense_class = np.array([CRIME_CLASSES.index(k) for _, _, k in OFFENSES])

    shared = rng.normal(0, DISTRICT_LEVEL_SD[0], (n_d, 1))
    level = design.balance_ratio(shared + rng.normal(0, DISTRICT_LEVEL_SD[1], (n_d, n_k)))
    level -= level.mean(axis=0)
    shared_trend = rng.normal(0, DISTRICT_TREND_SD[0], (n_d, 1))
    trend = shared_trend + rng.normal(0, DISTRICT_TREND_SD[1], (n_d, n_k))
    for k in range(n_k):
        rate = np.exp(level[:, k])
        basis = np.column_stack([np.ones(n_d), rate, rate * design.population])
        trend[:, k] = design.remove_group_trend(trend[:, k], basis)

    centre = (n_t - 1) / 2
    years = (np.arange(n_t) - centre) / 12
    shocks = np.zeros(n_t)
    innovations = rng.normal(0, COMMON_SHOCK_SD * np.sqrt(1 - COMMON_SHOCK_AR**2), n_t)
    shocks[0] = rng.normal(0, COMMON_SHOCK_SD)
    for t in range(1, n_t):
        shocks[t] = COMMON_SHOCK_AR * shocks[t - 1] + innovations[t]
    common = np.array([CITY_SLOPE[k] * years + shocks for k in CRIME_CLASSES])  # (class, t)
    season = np.array(
        [
            SEASON[k][0] * np.cos(2 * np.pi * (cal.month_of_year - SEASON[k][1]) / 12)
            for k in CRIME_CLASSES
        ]
    )

    log_class = (
        level[:, None, :]
        + trend[:, None, :] * years[None, :, None]
        + (season + common).T[None, :, :]
    )  # (district, month, class)
    exposure = design.population[:, None] / 1000 * (cal.days / MEAN_MONTH_DAYS)[None, :]
    without = exposure[:, :, None] * rates[None, None, :] * np.exp(log_class[:, :, offense_class])

    event_time = design.event_months()
    full = np.array([p.crime_effect[k] for k in CRIME_CLASSES]) * p.effect_scale
    share = ramp(event_time, p.ramp_months) * design.effect_multiplier()[:, None]
    reduction = share[:, :, None] * full[offense_class][None, None, :]
    with_program = without * (1.0 - reduction)

    parameters = {
        "formula": (
            "expected_without[d,t,o] = population[d]/1000 * rate[o] * days[t]/(365.25/12) * "
            "exp(level[d,k] + trend[d,k]*(t-centre)/12 + amplitude[k]*cos(2*pi*(moy[t]-peak[k])"
            "/12) + common[k][t]); expected_with = expected_without * (1 - effect[k] * "
            "effect_scale * cohort_multiplier[g] * (1 - exp(-(e+1)/ramp_months))) for e >= 0"
        ),
        "offense_rate_per_1000": {
            name: float(r) for (name, _, _), r in zip(OFFENSES, rates, strict=True)
        },
        "offense_class": {name: k for name, _, k in OFFENSES},
        "district_level": _by_district(design, level),
        "district_trend_per_year": _by_district(design, trend),
        "trend_centre_month_index": centre,
        "season": {
            k: {"amplitude": SEASON[k][0], "peak_month_of_year0": SEASON[k][1]}
            for k in CRIME_CLASSES
        },
        "common": {k: common[i].tolist() for i, k in enumerate(CRIME_CLASSES)},
        "effect": {k: p.crime_effect[k] for k in CRIME_CLASSES},
        "ramp_months": p.ramp_months,
    }
    return CrimeModel(
        offenses=tuple(name for name, _, _ in OFFENSES),
        offense_class=offense_class,
        expected_without=without,
        expected_with=with_program,
        event_time=event_time,
        parameters=parameters,
    )


def _by_district(design: Design, values: np.ndarray) -> dict:
    return {
        d: {k: float(values[i, j]) for j, k in enumerate(CRIME_CLASSES)}
        for i, d in enumerate(design.district_ids)
    }


def draw_counts(model: CrimeModel, rng: np.random.Generator) -> np.ndarray:
    """Observed counts: Poisson around the expected count the district actually experienced."""
    observed = np.where(model.treated[:, :, None], model.expected_with, model.expected_without)
    return rng.poisson(observed)

"""Latent survey model and the response-level writer.

Each answer comes from an ordered probit: latent = district-quarter mean + stratum shift
+ respondent effect u (shared across items) + item noise, cut at four thresholds. Because
u + noise is normal with sd `sigma`, the expected Likert answer is exact in closed form,
E[Y] = 1 + sum_j Phi((mean - cut_j) / sigma), so the truth is the effect on the expected answer,
not the latent shift. Older residents answer more often and trust more; the program helps the
young most, so the unweighted mean misses the population effect and the weights correct it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from simulator import groups as resident_groups
from simulator.design import Design
from simulator.params import STRATA, SURVEY_ITEMS, ramp

CUTPOINTS = np.array([-1.6, -0.7, 0.2, 1.1])
RESPONDENT_SD = 0.6  # sd of the respondent effect shared by the trust items
SAFETY_SHARE_OF_RESPONDENT = 0.5  # correlation of feel_safe's respondent effect with trust's
ITEM_INTERCEPT = np.array([0.35, 0.15, 0.45])
STRATUM_SHIFT = np.array([[-0.30, -0.30, 0.10], [0.0, 0.0, 0.0], [0.30, 0.30, -0.15]])
STRATUM_EFFECT = np.array([1.4, 1.0, 0.6])  # program effect multiplier by stratum
RESPONSE_RATE = np.array([0.06, 0.11, 0.20])
TRUST_SLOPE = -0.01  # common latent drift per year, trust items
COMMON_SD = (0.05, 0.04)  # quarterly AR(1) shock sd: trust items, feel_safe


@dataclass(frozen=True)
class SurveyModel:
    latent_without: np.ndarray  # (district, quarter, item, stratum)
    latent_with: np.ndarray
    event_time: np.ndarray  # (district, quarter) quarters since roll-out
    strata_share: np.ndarray  # (district, stratum)
    expected_respondents: np.ndarray  # (district, quarter, stratum)
    parameters: dict

    @property
    def sigma(self) -> float:
        return float(np.sqrt(1 + RESPONDENT_SD**2))

    def expected_by_stratum(self, with_program: bool, tenure: int | None = None) -> np.ndarray:
        """(district, quarter, item, stratum) expected answer on 1-5: averaged over the
        years-in-neighborhood classes by their shares, or of one class (`tenure`), whose
        latent level and share of the program's shift differ (`simulator.groups`)."""
        g = resident_groups
        shift = self.latent_with - self.latent_without
        classes = range(len(g.TENURE)) if tenure is None else (tenure,)
        out = 0.0
        for k in classes:
            latent = self.latent_without + g.TENURE_LEVEL[k]
            if with_program:
                latent = latent + shift * g.TENURE_EFFECT[k]
            value = 1.0 + ndtr((latent[..., None] - CUTPOINTS) / self.sigma).sum(axis=-1)
            out = out + (g.TENURE_SHARE[k] if tenure is None else 1.0) * value
        return out

    def population_mean(self, by_stratum: np.ndarray) -> np.ndarray:
        """Average strata by their population shares: (district, quarter, item)."""
        return np.einsum("dqjs,ds->dqj", by_stratum, self.strata_share)

    def expected_answer(self, with_program: bool) -> np.ndarray:
        """(district, quarter, item) population mean of the expected answer on 1-5."""
        return self.population_mean(self.expected_by_stratum(with_program))

    def effect(self) -> np.ndarray:
        """(district, quarter, item) effect on the population mean answer (exactly 0 if none)."""
        return self.population_mean(
            self.expected_by_stratum(True) - self.expected_by_stratum(False)
        )


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float = 0.7) -> np.ndarray:
    out = np.zeros(n)
    out[0] = rng.normal(0, sd)
    steps = rng.normal(0, sd * np.sqrt(1 - phi**2), n)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + steps[i]
    return out


def build_survey_model(
    design: Design, crime_level: np.ndarray, rng: np.random.Generator
) -> SurveyModel:
    """`crime_level`: each district's log violent-crime level; safer districts feel safer."""
    p = design.params
    cal = design.calendar
    n_d, n_q = design.n_districts, len(cal.quarters)
    trust = rng.normal(0, 0.30, n_d)
    level = np.column_stack(
        [
            trust + rng.normal(0, 0.08, n_d),
            trust + rng.normal(0, 0.08, n_d),
            -0.5 * crime_level + rng.normal(0, 0.15, n_d),
        ]
    )
    level = design.balance(level)
    basis = np.column_stack([np.ones(n_d), np.sqrt(design.population)])
    trust_trend = design.remove_group_trend(rng.normal(0, 0.03, n_d), basis)
    safety_trend = design.remove_group_trend(rng.normal(0, 0.03, n_d), basis)
    trend = np.column_stack([trust_trend, trust_trend, safety_trend])
    centre = (n_q - 1) / 2
    years = (np.arange(n_q) - centre) / 4
    trust_common = TRUST_SLOPE * years + _ar1(rng, n_q, COMMON_SD[0])
    common = np.column_stack([trust_common, trust_common, _ar1(rng, n_q, COMMON_SD[1])])

    base = (
        ITEM_INTERCEPT[None, None, :]
        + level[:, None, :]
        + trend[:, None, :] * years[None, :, None]
        + common[None, :, :]
    )  # (d, q, item)
    without = base[..., None] + STRATUM_SHIFT.T[None, None, :, :]
    event_time = design.event_quarters()
    full = np.array([p.survey_effect[item] for item in SURVEY_ITEMS]) * p.effect_scale
    share = ramp(event_time, p.ramp_quarters) * design.effect_multiplier()[:, None]
    shift = share[:, :, None, None] * full[None, None, :, None] * STRATUM_EFFECT
    with_program = without + shift

    months_in_quarter = np.bincount(cal.month_quarter, minlength=n_q) / 3
    size = np.sqrt(design.population / design.population.mean())
    propensity = design.strata_share * RESPONSE_RATE  # (d, s)
    norm = float((size * propensity.sum(axis=1)).mean())
    expected_n = (
        p.survey_responses_per_cell
        / norm
        * size[:, None, None]
        * months_in_quarter[None, :, None]
        * propensity[:, None, :]
    )

    parameters = {
        "formula": (
            "latent[d,q,item,s] = intercept[item] + level[d,item] + trend[d,item]*(q-centre)/4 "
            "+ common[item][q] + stratum_shift[s][item] + effect[item]*effect_scale*"
            "cohort_multiplier[g]*stratum_effect[s]*(1-exp(-(e+1)/ramp_quarters)) for e >= 0; "
            "answer = 1 + #(latent + u + noise > cut), u+noise ~ N(0, 1 + respondent_sd^2)"
        ),
        "cutpoints": CUTPOINTS.tolist(),
        "respondent_sd": RESPONDENT_SD,
        "item_intercept": dict(zip(SURVEY_ITEMS, ITEM_INTERCEPT.tolist(), strict=True)),
        "stratum_shift": {
            s: dict(zip(SURVEY_ITEMS, STRATUM_SHIFT[i].tolist(), strict=True))
            for i, s in enumerate(STRATA)
        },
        "stratum_effect": dict(zip(STRATA, STRATUM_EFFECT.tolist(), strict=True)),
        "response_rate": dict(zip(STRATA, RESPONSE_RATE.tolist(), strict=True)),
        "strata_share": {
            d: dict(zip(STRATA, design.strata_share[i].tolist(), strict=True))
            for i, d in enumerate(design.district_ids)
        },
        "district_level": {
            d: dict(zip(SURVEY_ITEMS, level[i].tolist(), strict=True))
            for i, d in enumerate(design.district_ids)
        },
        "district_trend_per_year": {
            d: dict(zip(SURVEY_ITEMS, trend[i].tolist(), strict=True))
            for i, d in enumerate(design.district_ids)
        },
        "trend_centre_quarter_index": centre,
        "common": {item: common[:, j].tolist() for j, item in enumerate(SURVEY_ITEMS)},
        "effect": dict(p.survey_effect),
        "ramp_quarters": p.ramp_quarters,
        "resident_groups": resident_groups.parameters(),
    }
    return SurveyModel(
        without, with_program, event_time, design.strata_share, expected_n, parameters
    )


def survey_responses(
    model: SurveyModel,
    design: Design,
    rng: np.random.Generator,
    groups_rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """One row per respondent with post-stratification weights (mean 1 per district-quarter)
    and the group columns `age_group` and `years_in_neighborhood` (`simulator.groups`; the
    tenure classes come from `groups_rng`, so `rng`'s draws are unchanged)."""
    cal = design.calendar
    counts = rng.poisson(model.expected_respondents)
    shape = counts.shape
    cell = np.repeat(np.arange(counts.size), counts.reshape(-1))
    d, q, s = np.unravel_index(cell, shape)
    n = len(cell)

    g = resident_groups
    tenure = g.draw_tenure(groups_rng or np.random.default_rng(0), n)
    treated = model.event_time[d, q] >= 0
    without = model.latent_without[d, q, :, s] + g.TENURE_LEVEL[tenure][:, None]
    shift = (model.latent_with[d, q, :, s] - model.latent_without[d, q, :, s]) * g.TENURE_EFFECT[
        tenure
    ][:, None]
    latent = np.where(treated[:, None], without + shift, without)
    u = rng.normal(0, RESPONDENT_SD, n)
    rho = SAFETY_SHARE_OF_RESPONDENT
    u_safe = rho * u + np.sqrt(1 - rho**2) * rng.normal(0, RESPONDENT_SD, n)
    noise = rng.normal(0, 1, (n, len(SURVEY_ITEMS)))
    draws = latent + np.column_stack([u, u, u_safe]) + noise
    answers = 1 + (draws[:, :, None] > CUTPOINTS).sum(axis=2)

    # Post-stratification: weight = population share / sample share of the stratum in the
    # district-quarter, over the strata that answered there.
    present = counts > 0
    pop_share = design.strata_share[:, None, :] * present
    pop_share = pop_share / np.where(
        pop_share.sum(axis=2, keepdims=True) > 0, pop_share.sum(axis=2, keepdims=True), 1
    )
    cell_n = counts.sum(axis=2, keepdims=True)
    sample_share = counts / np.maximum(cell_n, 1)
    weight_cell = np.divide(pop_share, sample_share, out=np.zeros(shape), where=counts > 0)
    weight = weight_cell[d, q, s]

    first_day, n_days = _quarter_days(cal)
    date = first_day[q] + np.floor(rng.random(n) * n_days[q]).astype(np.int64)
    order = np.lexsort((d, date))
    frame = pd.DataFrame(
        {
            "response_id": np.arange(1, n + 1, dtype=np.int64),
            "district_id": np.asarray(design.district_ids, dtype=object)[d[order]],
            "response_date": date[order].astype("datetime64[D]").astype(str),
        }
    )
    for j, item in enumerate(SURVEY_ITEMS):
        frame[item] = answers[order, j].astype(np.int64)
    frame["weight"] = weight[order]
    frame["age_group"] = np.asarray(STRATA, dtype=object)[s[order]]
    frame["years_in_neighborhood"] = np.asarray(g.TENURE, dtype=object)[tenure[order]]
    return frame


def _quarter_days(cal) -> tuple[np.ndarray, np.ndarray]:
    """First in-window day (days since epoch) and number of in-window days of each quarter."""
    month_days = cal.months.astype("datetime64[D]").astype(np.int64)
    first = np.full(len(cal.quarters), np.iinfo(np.int64).max)
    np.minimum.at(first, cal.month_quarter, month_days)
    n_days = np.bincount(cal.month_quarter, weights=cal.days).astype(np.int64)
    return first, n_days

"""Small cities with few districts, for coverage and verdict studies (no files, no warehouse).

The city simulator (`simulator.city`) writes a whole delivery; this module draws only the two
analysis panels the evaluation layer reads, in its column layout, so a study can evaluate
thousands of cities:

- `crime`: district x month, columns `district_id, period, population, cohort_period,
  reported, crimes_total, rate_total` (rate per 1,000 residents), like `marts.district_month`.
- `survey`: district x quarter, columns `index_name, district_id, period, mean, se,
  n_responses, sum_weights, cohort_period`, like `marts.district_quarter_survey`.

What makes these cities hard, all switchable per `Design`:
- few districts, roll-out cohorts of one to five districts (`cohort_sizes`);
- district sizes that differ (lognormal population, `size_sd`);
- counts that vary more than Poisson: a persistent district factor, AR(1) in logs
  (`overdispersion_sd`, `rho`), mean one;
- survey district-quarter swings beyond sampling error (AR(1), `survey_shock_sd`);
- a pre-existing linear trend in the program districts only, before and after roll-out
  (`crime_trend` proportional per month, `survey_trend` points per quarter): no effect of the
  program, but a naive comparison sees one.

Truth: crime is the ratio of sums over treated district-months of the expected counts with and
without the program (as `truth.json` defines the headline), so a trend is not part of it;
the survey effect is a constant shift in points.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Design:
    name: str
    cohort_sizes: tuple[int, ...]  # districts in each roll-out cohort, in roll-out order
    n_never: int  # districts that never get the program
    n_months: int = 96
    first_rollout: int = 49  # month (1-based) the first cohort starts
    spacing: int = 6  # months between cohorts
    size_sd: float = 0.5  # sd of log population
    mean_population: float = 60_000.0
    base_rate: float = 5.0  # incidents per 1,000 residents per month
    overdispersion_sd: float = 0.2  # sd of the district AR(1) log factor (0: pure Poisson)
    rho: float = 0.7  # its month-to-month autocorrelation
    crime_effect: float = 0.0  # proportional effect at roll-out (e.g. -0.06)
    crime_effect_growth: float = 0.0  # added per month since roll-out (proportional)
    crime_trend: float = 0.0  # program districts' own trend, proportional per month
    survey_effect: float = 0.0  # points
    survey_trend: float = 0.0  # program districts' own trend, points per quarter
    survey_shock_sd: float = 0.08  # district-quarter swings beyond sampling error (points)
    survey_rho: float = 0.5
    respondents: float = 50.0  # mean answers per district-quarter
    answer_sd: float = 0.9  # sd of one answer around its district-quarter mean

    @property
    def n_districts(self) -> int:
        return sum(self.cohort_sizes) + self.n_never

    @property
    def n_treated(self) -> int:
        return sum(self.cohort_sizes)

    def with_(self, **changes) -> Design:
        return replace(self, **changes)


@dataclass(frozen=True)
class FewDistrictCity:
    crime: pd.DataFrame
    survey: pd.DataFrame
    crime_truth: float
    survey_truth: float
    design: Design


def rollout_months(d: Design) -> np.ndarray:
    """Roll-out month per district (0 = never), cohorts in order, never-treated last."""
    starts = [
        np.full(size, d.first_rollout + k * d.spacing) for k, size in enumerate(d.cohort_sizes)
    ]
    out = np.concatenate([*starts, np.zeros(d.n_never, int)]).astype(int)
    if out.max() > d.n_months:
        raise ValueError(f"design {d.name}: a cohort starts after the last month")
    return out


def _ar1(rng, n_units: int, n_t: int, sd: float, rho: float) -> np.ndarray:
    out = np.empty((n_units, n_t))
    out[:, 0] = rng.normal(0, sd, n_units)
    innov = sd * np.sqrt(1 - rho**2)
    for k in range(1, n_t):
        out[:, k] = rho * out[:, k - 1] + rng.normal(0, innov, n_units)
    return out


def draw_city(d: Design, seed: int) -> FewDistrictCity:
    rng = np.random.default_rng(seed)
    n, t_m = d.n_districts, d.n_months
    start = rollout_months(d)
    # District order is shuffled so that district ids carry no information about cohorts.
    perm = rng.permutation(n)
    start = start[perm]
    program = start > 0
    pop = d.mean_population * np.exp(rng.normal(0, d.size_sd, n) - d.size_sd**2 / 2)
    pop_t = pop[:, None] * np.exp(np.linspace(0, 0.03, t_m))[None, :]  # slow growth
    months = np.arange(1, t_m + 1)
    season = 0.1 * np.sin(2 * np.pi * (months - 3) / 12)
    common = np.cumsum(rng.normal(-0.001, 0.02, t_m)) + season
    district_level = rng.normal(0, 0.3, n)
    factor = _ar1(rng, n, t_m, d.overdispersion_sd, d.rho) - d.overdispersion_sd**2 / 2
    centre = d.first_rollout
    trend = np.where(program[:, None], d.crime_trend * (months[None, :] - centre), 0.0)
    mu0 = (
        pop_t
        / 1000.0
        * d.base_rate
        * np.exp(district_level[:, None] + common[None, :])
        * np.exp(factor + trend)
    )
    treated = program[:, None] & (months[None, :] >= start[:, None])
    since = np.where(treated, months[None, :] - start[:, None], 0)
    prop = np.where(treated, d.crime_effect + d.crime_effect_growth * since, 0.0)
    mu1 = mu0 * (1.0 + prop)
    y = rng.poisson(mu1)
    crime_truth = float((mu0 * prop)[treated].sum() / mu0[treated].sum()) if treated.any() else 0.0
    ids = np.array([f"D{k + 1:02d}" for k in range(n)])
    crime = pd.DataFrame(
        {
            "district_id": np.repeat(ids, t_m),
            "period": np.tile(months, n),
            "population": pop_t.ravel(),
            "cohort_period": np.repeat(start, t_m),
            "reported": True,
            "crimes_total": y.ravel().astype(float),
        }
    )
    crime["rate_total"] = 1000.0 * crime["crimes_total"] / crime["population"]

    t_q = t_m // 3
    quarters = np.arange(1, t_q + 1)
    start_q = np.where(program, (start - 1) // 3 + 1, 0)
    q_common = np.cumsum(rng.normal(0, 0.03, t_q))
    q_level = rng.normal(0, 0.25, n)
    shock = _ar1(rng, n, t_q, d.survey_shock_sd, d.survey_rho)
    q_trend = np.where(program[:, None], d.survey_trend * (quarters[None, :] - start_q.max()), 0)
    q_treated = program[:, None] & (quarters[None, :] >= start_q[:, None])
    true_mean = 3.2 + q_level[:, None] + q_common[None, :] + shock + q_trend
    true_mean = true_mean + np.where(q_treated, d.survey_effect, 0.0)
    size_share = np.sqrt(pop / pop.mean())
    n_resp = np.maximum(rng.poisson(d.respondents * size_share[:, None], (n, t_q)), 2)
    sample_mean = true_mean + rng.normal(0, 1, (n, t_q)) * d.answer_sd / np.sqrt(n_resp)
    sample_sd = d.answer_sd * np.sqrt(rng.chisquare(n_resp - 1) / (n_resp - 1))
    survey = pd.DataFrame(
        {
            "index_name": "trust_index",
            "district_id": np.repeat(ids, t_q),
            "period": np.tile(quarters, n),
            "mean": sample_mean.ravel(),
            "se": (sample_sd / np.sqrt(n_resp)).ravel(),
            "n_responses": n_resp.ravel(),
            "sum_weights": n_resp.ravel().astype(float),
            "cohort_period": np.repeat(start_q, t_q),
        }
    )
    return FewDistrictCity(crime, survey, crime_truth, float(d.survey_effect), d)


# The battery the few-district issue asks for: 10, 16 and 25 districts; cohorts of one to five
# districts including single-district cohorts; overdispersion sd 0.15-0.3; unequal sizes.
BATTERY: tuple[Design, ...] = (
    Design("g10_c112", (1, 1, 2), 6, overdispersion_sd=0.2),
    Design("g12_c222", (2, 2, 2), 6, overdispersion_sd=0.2),
    Design("g16_c123", (1, 2, 3), 10, overdispersion_sd=0.3),
    Design("g22_c1123", (1, 1, 2, 3), 15, overdispersion_sd=0.2),
    Design("g25_c2345", (2, 3, 4, 5), 11, overdispersion_sd=0.15),
    Design("g25_c2345_poisson", (2, 3, 4, 5), 11, overdispersion_sd=0.0),
)


def design(name: str) -> Design:
    for d in BATTERY:
        if d.name == name:
            return d
    raise KeyError(f"no design named {name!r}; known: {', '.join(d.name for d in BATTERY)}")


def many_districts(n_districts: int, n_months: int = 72, **changes) -> Design:
    """A city with many districts (beat scale), for the grouped cluster jackknife's coverage
    (`bench.coverage_jackknife_groups`): half the districts never get the program, the other
    half roll out in five cohorts six months apart, of one, two and then the rest split
    1:2:3. Why these: the one- and two-district cohorts are the hard case for any jackknife
    (their cells rest on one or two districts), and the large unequal cohorts are what a
    beat-level city looks like. Roll-out starts half-way through the panel, so the last
    cohort still has a year of post months at 72. Name `g{n}_many`; `changes` go to Design.
    """
    if n_districts < 12:
        raise ValueError("many_districts needs at least 12 districts (5 cohorts and never)")
    treated = n_districts // 2
    rest = treated - 3
    small = rest // 6
    mid = (2 * rest) // 6
    cohorts = (1, 2, small, mid, rest - small - mid)
    first = n_months // 2 + 1
    return Design(
        f"g{n_districts}_many",
        cohorts,
        n_districts - treated,
        n_months=n_months,
        first_rollout=first,
        **changes,
    )

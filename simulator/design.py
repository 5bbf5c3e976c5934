"""Calendar, districts and roll-out design: the parts shared by every outcome model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.params import STRATA, CityParams

DISTRICT_NAMES = (
    "Central", "Riverside", "Northgate", "Lakeview", "Southport", "Westfield", "Eastbrook",
    "Harbor", "Oak Park", "Millbrook", "Fairview", "Highland", "Brighton", "Cedar Hills",
    "Kingsway", "Maplewood", "Stonebridge", "Greenfield", "Ironworks", "Union Square",
    "Pinecrest", "Bayside", "Elmhurst", "Rosedale", "Canal Street", "Old Town", "Ridgeview",
    "Sunnyside", "Foxborough", "Prairie", "Linden", "Ashford",
)  # fmt: skip

NEVER = -1  # cohort code of never-treated districts
# Dirichlet concentration of residents' shares in the survey strata (18-34, 35-64, 65+).
STRATA_CONCENTRATION = np.array([14.0, 18.0, 8.0])


def parse_month(text: str) -> np.datetime64:
    """'YYYY-MM' -> numpy month; ValueError with the expected format otherwise."""
    try:
        value = np.datetime64(str(text), "M")
    except ValueError as err:
        raise ValueError(f"start month {text!r} is not in YYYY-MM form") from err
    if len(str(text)) != 7:
        raise ValueError(f"start month {text!r} is not in YYYY-MM form")
    return value


@dataclass(frozen=True)
class Calendar:
    """Months of the study window and the calendar quarters they fall in."""

    months: np.ndarray  # datetime64[M], one per study month

    @property
    def n_months(self) -> int:
        return len(self.months)

    @property
    def days(self) -> np.ndarray:
        starts = self.months.astype("datetime64[D]")
        return ((self.months + 1).astype("datetime64[D]") - starts).astype(np.int64)

    @property
    def month_of_year(self) -> np.ndarray:
        return (self.months.astype(np.int64) % 12).astype(np.int64)  # 0 = January

    @property
    def quarter_abs(self) -> np.ndarray:
        """Absolute quarter number (year * 4 + quarter - 1) of each month."""
        return self.months.astype(np.int64) // 3

    @property
    def quarters(self) -> np.ndarray:
        return np.unique(self.quarter_abs)

    @property
    def month_quarter(self) -> np.ndarray:
        """Index into `quarters` for every month."""
        return self.quarter_abs - self.quarters[0]

    def quarter_start(self, q_abs: np.ndarray) -> np.ndarray:
        return (np.asarray(q_abs) * 3).astype("datetime64[M]")


@dataclass(frozen=True)
class Design:
    params: CityParams
    calendar: Calendar
    district_ids: tuple[str, ...]
    district_names: tuple[str, ...]
    population: np.ndarray  # int, per district
    cohort_starts: np.ndarray  # month index of each cohort's first treated month, ascending
    cohort_of: np.ndarray  # cohort index per district, NEVER for comparison districts
    cohort_multiplier: np.ndarray  # effect multiplier per cohort
    strata_share: np.ndarray  # (district, stratum) population shares

    @property
    def n_districts(self) -> int:
        return len(self.district_ids)

    @property
    def start_month(self) -> np.ndarray:
        """First treated month index per district; NEVER (-1) if never treated."""
        out = np.full(self.n_districts, NEVER)
        treated = self.cohort_of != NEVER
        out[treated] = self.cohort_starts[self.cohort_of[treated]]
        return out

    def event_months(self) -> np.ndarray:
        """(district, month) months since roll-out; very negative for never-treated."""
        t = np.arange(self.calendar.n_months)
        start = np.where(self.start_month == NEVER, 10**6, self.start_month)
        return t[None, :] - start[:, None]

    def event_quarters(self) -> np.ndarray:
        """(district, quarter) quarters since the roll-out quarter (starts are quarter-aligned)."""
        cal = self.calendar
        q = np.arange(len(cal.quarters))
        start = np.full(self.n_districts, 10**6)
        treated = self.start_month != NEVER
        start[treated] = cal.month_quarter[self.start_month[treated]]
        return q[None, :] - start[:, None]

    def effect_multiplier(self) -> np.ndarray:
        """Per district: its cohort's effect multiplier (0 for never-treated)."""
        out = np.zeros(self.n_districts)
        treated = self.cohort_of != NEVER
        out[treated] = self.cohort_multiplier[self.cohort_of[treated]]
        return out

    def balance(self, values: np.ndarray) -> np.ndarray:
        """Shift district values so every cohort (and the never-treated) has the same mean.

        Roll-out order is as-if random with respect to district levels and trends, enforced
        exactly, so parallel trends hold by construction and estimators can be judged on bias.
        """
        values = np.asarray(values, dtype=float)
        out = values.copy()
        overall = values.mean(axis=0)
        for group in np.unique(self.cohort_of):
            members = self.cohort_of == group
            out[members] = values[members] - values[members].mean(axis=0) + overall
        return out

    def balance_ratio(self, log_values: np.ndarray) -> np.ndarray:
        """Shift log levels so every cohort has the same arithmetic mean of exp(level).

        Then parallel trends also hold for unweighted means of rates under the multiplicative
        seasonality and city-wide shocks (on the log and count-sum scales levels never matter).
        """
        out = np.asarray(log_values, dtype=float).copy()
        overall = np.exp(out).mean(axis=0)
        for group in np.unique(self.cohort_of):
            members = self.cohort_of == group
            out[members] += np.log(overall / np.exp(out[members]).mean(axis=0))
        return out

    def remove_group_trend(self, values: np.ndarray, basis: np.ndarray) -> np.ndarray:
        """Within each cohort, make `values` orthogonal to every column of `basis`.

        With basis (1, rate, population x rate), district trends average to zero in each cohort
        whether districts are weighted equally, by rate or by expected count, so parallel trends
        hold on the log, rate and count scales alike (to first order). A cohort with no more
        districts than basis columns gets no district-specific trend.
        """
        out = np.asarray(values, dtype=float).copy()
        for group in np.unique(self.cohort_of):
            members = self.cohort_of == group
            b = basis[members]
            coef, *_ = np.linalg.lstsq(b, out[members], rcond=None)
            out[members] -= b @ coef
        return out


def cohort_start_months(calendar: Calendar, n_cohorts: int, align: int = 3) -> np.ndarray:
    """First treated months spread over 30%-75% of the window, on quarter starts (align=3)
    or January 1 (align=12), with at least one whole period before and after each."""
    n = calendar.n_months
    aligned = np.flatnonzero(calendar.month_of_year % align == 0)
    aligned = aligned[(aligned >= align) & (aligned <= n - align)]
    targets = np.linspace(0.30, 0.75, n_cohorts) * n
    picks = []
    for target in targets:
        free = [m for m in aligned if m not in picks and (not picks or m > picks[-1])]
        if not free:
            break
        picks.append(min(free, key=lambda m: (abs(m - target), m)))
    if len(picks) < n_cohorts:
        where = "quarter" if align == 3 else ("January" if align == 12 else f"{align}-month")
        raise ValueError(
            f"a window of {n} months has room for only {len(picks)} {where}-aligned roll-out "
            f"dates, {n_cohorts} needed"
        )
    return np.array(picks, dtype=np.int64)


def build_design(
    params: CityParams, rng: np.random.Generator, rollout_alignment_months: int = 3
) -> Design:
    if params.months < 12:
        raise ValueError(f"--months must be at least 12, got {params.months}")
    if params.n_districts < 4:
        raise ValueError(f"--districts must be at least 4, got {params.n_districts}")
    start = parse_month(params.start)
    calendar = Calendar(months=start + np.arange(params.months))
    k = params.n_districts
    n_never = max(2, int(round(params.never_treated_share * k)))
    n_treated = k - n_never
    n_cohorts = max(1, min(params.n_cohorts, n_treated))
    starts = cohort_start_months(calendar, n_cohorts, rollout_alignment_months)

    order = rng.permutation(k)
    cohort_of = np.full(k, NEVER)
    sizes = np.full(n_cohorts, n_treated // n_cohorts)
    sizes[: n_treated % n_cohorts] += 1
    cohort_of[order[n_never:]] = np.repeat(np.arange(n_cohorts), sizes)

    population = np.clip(rng.lognormal(np.log(60_000), 0.5, k), 20_000, 150_000)
    population = np.round(population).astype(np.int64)
    width = max(3, len(str(k)))
    ids = tuple(str(i + 1).zfill(width) for i in range(k))
    names = tuple(
        DISTRICT_NAMES[i] if i < len(DISTRICT_NAMES) else f"District {i + 1}" for i in range(k)
    )
    hi, lo = params.cohort_multiplier_range
    multipliers = np.linspace(hi, lo, n_cohorts) if n_cohorts > 1 else np.array([hi])
    shares = rng.dirichlet(STRATA_CONCENTRATION, size=k)
    assert shares.shape[1] == len(STRATA)
    return Design(
        params=params,
        calendar=calendar,
        district_ids=ids,
        district_names=names,
        population=population,
        cohort_starts=starts,
        cohort_of=cohort_of,
        cohort_multiplier=multipliers,
        strata_share=shares,
    )

"""Independent re-implementation of the demo city's expected values, from truth.json alone.

Written separately from `simulator/` (pandas periods instead of numpy month arithmetic, the
Likert expectation as sum_k k * P(Y = k) instead of 1 + sum_j P(Y > cut_j)), so a test that
compares the two catches a mistake in either.
"""

from __future__ import annotations

import math

import pandas as pd


def study_months(truth: dict) -> pd.PeriodIndex:
    window = truth["study_window"]
    return pd.period_range(window["start"], window["end"], freq="M")


def expected_crime(truth: dict) -> pd.DataFrame:
    """One row per district, month and offense: mu0 (without), mu1 (with), event time e."""
    crime = truth["parameters"]["crime"]
    p = truth["parameters"]["city"]
    months = study_months(truth)
    centre = crime["trend_centre_month_index"]
    rows = []
    for district, population in truth["parameters"]["population"].items():
        cohort = truth["cohorts"][district]
        start = months.get_loc(pd.Period(cohort, "M")) if cohort else None
        multiplier = truth["parameters"]["cohort_multiplier"][cohort] if cohort else 0.0
        for t, month in enumerate(months):
            e = t - start if start is not None else -999
            for offense, rate in crime["offense_rate_per_1000"].items():
                k = crime["offense_class"][offense]
                season = crime["season"][k]
                log_mu = (
                    crime["district_level"][district][k]
                    + crime["district_trend_per_year"][district][k] * (t - centre) / 12
                    + season["amplitude"]
                    * math.cos(
                        2 * math.pi * ((month.month - 1) - season["peak_month_of_year0"]) / 12
                    )
                    + crime["common"][k][t]
                )
                mu0 = (
                    population
                    / 1000
                    * rate
                    * month.days_in_month
                    / (365.25 / 12)
                    * math.exp(log_mu)
                )
                cut = 0.0
                if e >= 0:
                    cut = (
                        crime["effect"][k]
                        * p["effect_scale"]
                        * multiplier
                        * (1 - math.exp(-(e + 1) / crime["ramp_months"]))
                    )
                rows.append((district, str(month), offense, k, e, mu0, mu0 * (1 - cut)))
    return pd.DataFrame(
        rows, columns=["district_id", "month", "offense", "crime_class", "e", "mu0", "mu1"]
    )


def crime_truth_from(expected: pd.DataFrame, crime_class: str | None) -> tuple[float, dict]:
    """(overall, by event time) proportional effect for one class or all offenses (None)."""
    rows = expected[expected.e >= 0]
    if crime_class is not None:
        rows = rows[rows.crime_class == crime_class]
    overall = (rows.mu1 - rows.mu0).sum() / rows.mu0.sum()
    grouped = rows.groupby("e")[["mu0", "mu1"]].sum()
    by_e = ((grouped.mu1 - grouped.mu0) / grouped.mu0).to_dict()
    return float(overall), {int(k): float(v) for k, v in by_e.items()}


def _phi(x: float) -> float:
    if math.isinf(x):
        return 1.0 if x > 0 else 0.0
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def likert_mean(latent: float, cuts: list[float], sigma: float) -> float:
    """E[Y] = sum_k k * P(Y = k) for the ordered probit with thresholds `cuts`."""
    bounds = [-math.inf, *cuts, math.inf]
    # P(lo < latent + noise <= hi) = Phi((hi - latent)/sigma) - Phi((lo - latent)/sigma)
    probs = [
        _phi((bounds[k + 1] - latent) / sigma) - _phi((bounds[k] - latent) / sigma)
        for k in range(5)
    ]
    return float(sum((k + 1) * pk for k, pk in enumerate(probs)))


def expected_survey(truth: dict) -> pd.DataFrame:
    """One row per district, quarter and item: population means without (m0) and with (m1)."""
    s = truth["parameters"]["survey"]
    p = truth["parameters"]["city"]
    months = study_months(truth)
    quarters = pd.period_range(months[0].asfreq("Q"), months[-1].asfreq("Q"), freq="Q")
    sigma = math.sqrt(1 + s["respondent_sd"] ** 2)
    centre = s["trend_centre_quarter_index"]
    no_groups = {"all": {"share": 1.0, "latent_level": 0.0, "effect_multiplier": 1.0}}
    tenures = s.get("resident_groups", {}).get("years_in_neighborhood", no_groups)
    rows = []
    for district in truth["parameters"]["population"]:
        cohort = truth["cohorts"][district]
        start_q = quarters.get_loc(pd.Period(cohort, "M").asfreq("Q")) if cohort else None
        multiplier = truth["parameters"]["cohort_multiplier"][cohort] if cohort else 0.0
        shares = s["strata_share"][district]
        for qi, quarter in enumerate(quarters):
            e = qi - start_q if start_q is not None else -999
            for item in s["item_intercept"]:
                base = (
                    s["item_intercept"][item]
                    + s["district_level"][district][item]
                    + s["district_trend_per_year"][district][item] * (qi - centre) / 4
                    + s["common"][item][qi]
                )
                m0 = m1 = 0.0
                for stratum, share in shares.items():
                    latent = base + s["stratum_shift"][stratum][item]
                    shift = 0.0
                    if e >= 0:
                        shift = (
                            s["effect"][item]
                            * p["effect_scale"]
                            * multiplier
                            * s["stratum_effect"][stratum]
                            * (1 - math.exp(-(e + 1) / s["ramp_quarters"]))
                        )
                    # issue 15: years-in-neighborhood classes (level, share of the shift)
                    for tenure in tenures.values():
                        w = share * tenure["share"]
                        level = latent + tenure["latent_level"]
                        m0 += w * likert_mean(level, s["cutpoints"], sigma)
                        m1 += w * likert_mean(
                            level + shift * tenure["effect_multiplier"], s["cutpoints"], sigma
                        )
                rows.append((district, str(quarter), item, e, m0, m1))
    return pd.DataFrame(rows, columns=["district_id", "quarter", "item", "e", "m0", "m1"])


def index_frame(expected: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """District-quarter index (mean of its items) without and with the program."""
    rows = expected[expected["item"].isin(items)]
    return rows.groupby(["district_id", "quarter", "e"], as_index=False)[["m0", "m1"]].mean()


# --- Other grains: pandas periods, written apart from simulator/truth.py. --------------------

PANDAS_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}


def period_text(period: pd.Period, grain: str) -> str:
    """The contract's period labels: YYYY-MM, YYYY-Qn, YYYY."""
    if grain == "quarter":
        return f"{period.year}-Q{period.quarter}"
    return str(period.year) if grain == "year" else str(period)


def _event_periods(months: pd.Series, cohorts: pd.Series, grain: str) -> pd.Series:
    """Periods between each month's period and the period of the district's cohort month."""
    freq = PANDAS_FREQ[grain]

    def ordinal(month) -> float:
        if not isinstance(month, str):  # never treated
            return float("nan")
        return pd.Period(month, "M").asfreq(freq).ordinal

    own = months.map({m: ordinal(m) for m in months.unique()})
    start = cohorts.map({c: ordinal(c) for c in cohorts.unique()})
    return (own - start).fillna(-999).astype(int)


def crime_truth_at_grain(
    truth: dict, expected: pd.DataFrame, crime_class: str | None, grain: str
) -> tuple[float, dict]:
    """(overall, by event period) sum(mu1 - mu0) / sum(mu0) over district-periods treated at
    `grain` (the period holding the first treated month is the first treated period)."""
    rows = expected if crime_class is None else expected[expected.crime_class == crime_class]
    rows = rows.assign(
        e_period=_event_periods(rows.month, rows.district_id.map(truth["cohorts"]), grain)
    )
    rows = rows[rows.e_period >= 0]
    overall = (rows.mu1 - rows.mu0).sum() / rows.mu0.sum()
    grouped = rows.groupby("e_period")[["mu0", "mu1"]].sum()
    by_e = (grouped.mu1 - grouped.mu0) / grouped.mu0
    return float(overall), {int(k): float(v) for k, v in by_e.items()}


def index_effect_at_grain(
    truth: dict, index_cells: pd.DataFrame, grain: str, points: float = 1.0
) -> tuple[float, dict]:
    """(overall, by event period) equal-weight mean over treated district-periods of the
    index effect. A month carries its quarter's effect; a year averages its quarters
    weighted by in-window months (expected respondents are proportional to them)."""
    months = study_months(truth)
    frame = pd.DataFrame({"month": [str(m) for m in months]})
    frame["quarter"] = [str(m.asfreq("Q")) for m in months]
    cells = index_cells.merge(frame, on="quarter")  # one row per district-month
    cells["effect"] = (cells.m1 - cells.m0) * points
    cells["e_period"] = _event_periods(cells.month, cells.district_id.map(truth["cohorts"]), grain)
    if grain == "month":
        per_period = cells
    else:
        cells["period"] = cells.month.map(lambda m: pd.Period(m, "M").asfreq(PANDAS_FREQ[grain]))
        per_period = cells.groupby(["district_id", "period", "e_period"], as_index=False).effect
        per_period = per_period.mean()  # months weight their quarter: in-window months
    treated = per_period[per_period.e_period >= 0]
    by_e = treated.groupby("e_period").effect.mean()
    return float(treated.effect.mean()), {int(k): float(v) for k, v in by_e.items()}

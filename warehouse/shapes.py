"""Panels for every input shape: records or published aggregates (crime counts, survey scores), per district or per unit (beats), at a monthly, quarterly or yearly grain.

`warehouse.panels` hands over to this module when a city is not "monthly incidents per
district" (see `needs_shapes`). The output tables keep the names and columns of the default
panels, so the evaluation reads them unchanged, with rows at the analysis grain:

- `marts.district_month`: one row per place (district, or unit when `analysis_unit: unit`) and
  period of the grain; `month` is the period's first day, `period` counts periods from 1,
  `cohort_period` is the period holding the first treated month (a roll-out inside a period
  makes that whole period treated), `attendees_per_1000` is per month (so the roll-out
  threshold keeps its meaning), `reported` is false when a sub-period has no row at all
  (incidents: a month without incidents; counts: a published period without any row).
  Extra columns `grain` and `analysis_unit` say how to read the rows.
- `marts.district_quarter_survey`: one row per district, survey period and index; `quarter` is
  the period's first day. Responses are pooled per quarter (per year at a yearly grain) as in
  the default panel; scores are used as delivered (mean = score, `n_responses` =
  `n_respondents`, `se` = `<index>_se`, or estimated when `survey.score_se: unknown` or the
  column is absent, see `estimate_unknown_se`). Column `se_source` says which.

Beats: `units.csv` maps `unit_id` to `district_id`; an input may carry either. Surveys stay
per district, also in a unit analysis (their cohorts are the district's earliest unit start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np

from engagement_eval.config import CityConfig
from engagement_eval.errors import UserError
from engagement_eval.grain import (
    MIN_PRE_PERIODS,
    MONTHS_PER_PERIOD,
    add_months,
    coarser,
    first_whole_period,
    infer_grain,
    period_start_sql,
    trunc_sql,
    truncate,
)
from warehouse.sql import (
    SURVEY_CELL_SUMS,
    clean_source,
    ident,
    survey_se_sql,
    table_columns,
    table_exists,
    transaction,
)


@dataclass(frozen=True)
class Shape:
    crime: str | None  # incidents | counts | None (no crime data)
    survey: str | None  # responses | scores | None
    units: bool  # units.csv crosswalk delivered
    grain: str  # analysis grain of the crime panel
    counts_grain: str | None  # grain of the delivered counts' periods
    survey_grain: str  # grain of the survey panel
    analysis_unit: str  # district | unit
    grain_source: str  # "config" | "inferred from crime_counts" | ...


def _staged(con, name: str) -> bool:
    return table_exists(con, "staging", name)


def _period_grain(con, name: str) -> str:
    labels = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT trim(period) FROM staging.{ident(name)} WHERE period IS NOT NULL"
        ).fetchall()
    ]
    return infer_grain(labels, name)


def detect_shape(con: duckdb.DuckDBPyConnection, config: CityConfig) -> Shape:
    crime = "counts" if _staged(con, "crime_counts") else None
    crime = crime or ("incidents" if _staged(con, "crime_incidents") else None)
    survey = "scores" if _staged(con, "survey_scores") else None
    survey = survey or ("responses" if _staged(con, "survey_responses") else None)
    counts_grain = _period_grain(con, "crime_counts") if crime == "counts" else None
    scores_grain = _period_grain(con, "survey_scores") if survey == "scores" else None
    if config.grain:
        grain, source = config.grain, "config"
    elif counts_grain:
        grain, source = counts_grain, "inferred from the periods of crime_counts"
    elif scores_grain:
        grain, source = scores_grain, "inferred from the periods of survey_scores"
    else:
        grain, source = "month", "default"
    if counts_grain and coarser(counts_grain, grain) != grain:
        raise UserError(
            f"crime_counts are per {counts_grain} but the analysis grain is {grain}",
            f"set grain: {counts_grain} (or coarser) in the city config",
        )
    if survey == "scores":
        survey_grain = coarser(scores_grain, grain) if config.grain else scores_grain
    else:
        survey_grain = coarser("quarter", grain)
    return Shape(
        crime,
        survey,
        _staged(con, "units"),
        grain,
        counts_grain,
        survey_grain,
        config.analysis_unit,
        source,
    )


def needs_shapes(con: duckdb.DuckDBPyConnection, config: CityConfig) -> bool:
    """True unless the city is the default shape (monthly incidents and responses per
    district), which the default panel builder handles."""
    if config.grain not in (None, "month") or config.analysis_unit != "district":
        return True
    if any(_staged(con, n) for n in ("crime_counts", "survey_scores", "units")):
        return True
    return not _staged(con, "crime_incidents")


def _source(con, name: str) -> str:
    return clean_source(con, name)  # the gate's quarantine applies here too


def _place_sql(con, name: str, shape: Shape, district_level: bool = False) -> str:
    """SQL for the analysis place of a staged row: its district (directly or through the
    crosswalk) or, in a unit analysis, its unit."""
    cols = set(table_columns(con, "staging", name))
    if shape.analysis_unit == "unit" and not district_level:
        if "unit_id" not in cols:
            raise UserError(
                f"analysis_unit is unit but {name} has no unit_id column",
                f"deliver {name} per unit (unit_id), or set analysis_unit: district",
            )
        return "s.unit_id"
    direct = "s.district_id" if "district_id" in cols else "NULL"
    if shape.units and "unit_id" in cols:
        return f"coalesce({direct}, x.district_id)"
    return direct


def _crosswalk_join(con, name: str, shape: Shape) -> str:
    if shape.units and "unit_id" in table_columns(con, "staging", name):
        return f"LEFT JOIN {_source(con, 'units')} x ON x.unit_id = s.unit_id"
    return ""


def _window(con, config: CityConfig, shape: Shape, last_key: str | None) -> tuple[date, date]:
    """(first, last) period start: whole periods of the grain inside the study window, the
    open end being the last whole period with crime data (or survey data without crime)."""
    size = MONTHS_PER_PERIOD[shape.grain]
    first = first_whole_period(config.window_start, shape.grain)
    if config.window_end is not None:
        last_month = config.window_end
    else:
        last_month = _last_data_month(con, shape, config, last_key)
    last = truncate(last_month, shape.grain)
    if add_months(last, size - 1) > last_month:  # a period only partly observed
        last = add_months(last, -size)
    if last < first:
        raise UserError(
            f"the study window holds no whole {shape.grain}",
            "widen study_window in the city config, or set a finer grain:",
        )
    return first, last


def _last_data_month(con, shape: Shape, config: CityConfig, last_key: str | None) -> date:
    if shape.crime == "incidents":  # the last month with incidents inside the run's months
        sql = (
            "SELECT CAST(max(date_trunc('month', occurred_at)) AS DATE)"
            " FROM staging.crime_incidents WHERE occurred_at >= $start"
        )
        limit = date(int(last_key[:4]), int(last_key[5:7]), 1) if last_key else None
        params: dict = {"start": config.window_start}
        if limit:
            sql += " AND date_trunc('month', occurred_at) <= $limit"
            params["limit"] = limit
        (month,) = con.execute(sql, params).fetchone()
        return month or limit or config.window_start
    name = "crime_counts" if shape.crime == "counts" else "survey_scores"
    grain = shape.counts_grain if shape.crime == "counts" else None
    if shape.crime is None and shape.survey == "responses":
        (month,) = con.execute(
            "SELECT CAST(max(date_trunc('month', response_date)) AS DATE)"
            " FROM staging.survey_responses"
        ).fetchone()
        return month or config.window_start
    grain = grain or _period_grain(con, name)
    (start,) = con.execute(
        f"SELECT max({period_start_sql('period', grain)}) FROM staging.{ident(name)}"
    ).fetchone()
    if start is None:
        return config.window_start
    return add_months(start, MONTHS_PER_PERIOD[grain] - 1)


def _crime_cells_sql(con, shape: Shape) -> tuple[str, str]:
    """(SQL of place, month-or-period start, category, n, sub-period key; number of
    sub-periods per analysis period) from incidents or counts."""
    if shape.crime == "incidents":
        src = "crime_incidents"
        time = trunc_sql("s.occurred_at", "month")
        n = "1"
        sub_size = 1
    else:
        src = "crime_counts"
        time = period_start_sql("s.period", shape.counts_grain)
        n = "s.count"
        sub_size = MONTHS_PER_PERIOD[shape.counts_grain]
    sql = (
        f"SELECT {_place_sql(con, src, shape)} AS place, {time} AS sub,"
        f" s.offense_category AS category, CAST({n} AS BIGINT) AS n"
        f" FROM {_source(con, src)} s {_crosswalk_join(con, src, shape)}"
    )
    return sql, str(MONTHS_PER_PERIOD[shape.grain] // sub_size)


def _population_sql(con, shape: Shape) -> str:
    if shape.analysis_unit == "unit":
        if not shape.units or "population" not in table_columns(con, "staging", "units"):
            raise UserError(
                "analysis_unit is unit but units.csv has no population column",
                "add each unit's population to units.csv, or set analysis_unit: district",
            )
        return (
            f"SELECT u.unit_id AS place, p.month, CAST(u.population AS BIGINT) AS population"
            f" FROM {_source(con, 'units')} u CROSS JOIN periods p WHERE u.unit_id IS NOT NULL"
        )
    year = "d.year" if "year" in table_columns(con, "staging", "districts") else "NULL"
    return (
        f"SELECT d.district_id AS place, p.month, d.population"
        f" FROM {_source(con, 'districts')} d CROSS JOIN periods p"
        " WHERE d.district_id IS NOT NULL"
        f" QUALIFY row_number() OVER (PARTITION BY d.district_id, p.month ORDER BY"
        f" abs(coalesce({year}, year(p.month)) - year(p.month)), {year} DESC) = 1"
    )


def _programs_sql(con, shape: Shape, district_level: bool = False) -> str | None:
    if not _staged(con, "programs"):
        return None
    place = _place_sql(con, "programs", shape, district_level)
    return (
        f"SELECT {place} AS place, arg_min(s.program, s.start_date) AS program,"
        " CAST(date_trunc('month', min(s.start_date)) AS DATE) AS start_month"
        f" FROM {_source(con, 'programs')} s {_crosswalk_join(con, 'programs', shape)}"
        " WHERE s.start_date IS NOT NULL GROUP BY ALL"
    )


def _meetings_sql(con, shape: Shape) -> str:
    if not _staged(con, "meetings"):
        return (
            "SELECT NULL::VARCHAR AS place, NULL::DATE AS month, 0 AS meetings, 0 AS attendees"
            " WHERE FALSE"
        )
    return (
        f"SELECT {_place_sql(con, 'meetings', shape)} AS place,"
        f" {trunc_sql('s.meeting_date', shape.grain)} AS month, count(*) AS meetings,"
        f" CAST(sum(s.attendees) AS BIGINT) AS attendees"
        f" FROM {_source(con, 'meetings')} s {_crosswalk_join(con, 'meetings', shape)}"
        " GROUP BY ALL"
    )


def build_analysis_panel(
    con: duckdb.DuckDBPyConnection, config: CityConfig, last_key: str | None
) -> int:
    """marts.district_month at the analysis grain and unit (see module docstring)."""
    shape = detect_shape(con, config)
    first, last = _window(con, config, shape, last_key)
    size = MONTHS_PER_PERIOD[shape.grain]
    if shape.crime is not None:
        cells, subs = _crime_cells_sql(con, shape)
    else:
        cells, subs = (
            "SELECT NULL::VARCHAR AS place, NULL::DATE AS sub, NULL::VARCHAR AS category,"
            " 0::BIGINT AS n WHERE FALSE",
            "1",
        )
    programs = _programs_sql(con, shape)
    if programs is None:  # roll-out inferred from attendance per 1,000 per month
        programs = (
            "SELECT place, 'inferred from attendance' AS program, min(month) AS start_month"
            " FROM base WHERE attendees_per_1000 >= $threshold GROUP BY place"
        )
    grain = shape.grain
    params = {
        "start": first,
        "end": last,
        "end_excl": add_months(last, size),
        "size": size,
        "threshold": config.attendance_threshold_per_1000,
        "grain": grain,
        "unit": shape.analysis_unit,
        "reported_default": shape.crime is not None,
    }
    sql = f"""
        CREATE OR REPLACE TABLE marts.district_month AS
        WITH periods AS (
            SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE),
                   INTERVAL ({size}) MONTH)) AS DATE) AS month
        ), pop AS ({_population_sql(con, shape)}
        ), cells AS ({cells}
        ), crimes AS (
            SELECT place, {trunc_sql("sub", grain)} AS month,
                   CAST(sum(n) AS BIGINT) AS crimes_total,
                   CAST(coalesce(sum(n) FILTER (WHERE category = 'violent'), 0) AS BIGINT)
                       AS crimes_violent,
                   CAST(coalesce(sum(n) FILTER (WHERE category = 'property'), 0) AS BIGINT)
                       AS crimes_property,
                   CAST(coalesce(sum(n) FILTER (WHERE category = 'other'), 0) AS BIGINT)
                       AS crimes_other,
                   count(DISTINCT sub) AS subs_reported
            FROM cells WHERE sub >= $start AND sub < $end_excl AND place IS NOT NULL
            GROUP BY ALL
        ), meets AS ({_meetings_sql(con, shape)}
        ), base AS (
            SELECT p.place, p.month,
                   CAST(datediff('month', CAST($start AS DATE), p.month) // $size + 1
                        AS INTEGER) AS period,
                   p.population,
                   coalesce(c.crimes_total, 0) AS crimes_total,
                   coalesce(c.crimes_violent, 0) AS crimes_violent,
                   coalesce(c.crimes_property, 0) AS crimes_property,
                   coalesce(c.crimes_other, 0) AS crimes_other,
                   coalesce(mt.meetings, 0) AS meetings,
                   coalesce(mt.attendees, 0) AS attendees,
                   1000.0 * coalesce(mt.attendees, 0) / nullif(p.population, 0) / $size
                       AS attendees_per_1000,
                   $reported_default AND coalesce(c.subs_reported, 0) >= {subs} AS reported
            FROM pop p
            LEFT JOIN crimes c USING (place, month)
            LEFT JOIN meets mt USING (place, month)
        ), programs AS ({programs})
        SELECT b.place AS district_id, b.month, b.period, b.population,
               b.crimes_total, b.crimes_violent, b.crimes_property, b.crimes_other,
               1000.0 * b.crimes_total / nullif(b.population, 0) AS rate_total,
               1000.0 * b.crimes_violent / nullif(b.population, 0) AS rate_violent,
               1000.0 * b.crimes_property / nullif(b.population, 0) AS rate_property,
               b.meetings, b.attendees, b.attendees_per_1000,
               pr.program, pr.start_month,
               CAST(CASE WHEN pr.start_month IS NULL
                         OR {trunc_sql("pr.start_month", grain)} > CAST($end AS DATE) THEN 0
                    WHEN pr.start_month < CAST($start AS DATE) THEN 1
                    ELSE datediff('month', CAST($start AS DATE),
                                  {trunc_sql("pr.start_month", grain)}) // $size + 1
                    END AS INTEGER) AS cohort_period,
               CAST(coalesce(b.month >= {trunc_sql("pr.start_month", grain)}, FALSE) AS INTEGER)
                   AS treated,
               b.reported, $grain AS grain, $unit AS analysis_unit
        FROM base b LEFT JOIN programs pr USING (place)
        ORDER BY b.place, b.month
    """
    with transaction(con):
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        con.execute(sql, used)
        rows = con.execute("SELECT count(*) FROM marts.district_month").fetchone()[0]
    check_pre_periods(con, shape.grain)
    return int(rows)


def check_pre_periods(con: duckdb.DuckDBPyConnection, grain: str) -> None:
    """At a coarse grain the earliest cohort needs MIN_PRE_PERIODS whole periods before its
    roll-out (the reference period and two leads for the pre-trend test); otherwise stop."""
    if grain == "month":
        return
    (earliest,) = con.execute(
        "SELECT min(cohort_period) FROM marts.district_month WHERE cohort_period > 1"
    ).fetchone()
    if earliest is not None and earliest - 1 < MIN_PRE_PERIODS:
        raise UserError(
            f"at a {grain}ly grain the earliest roll-out has only {earliest - 1} whole "
            f"{grain}(s) of data before it; the pre-trend test needs at least {MIN_PRE_PERIODS}",
            "deliver earlier data and move study_window.start back, or use a finer grain "
            "(grain: quarter or month) if the data allow it",
        )


def build_survey_panel(con: duckdb.DuckDBPyConnection, config: CityConfig) -> int:
    """marts.district_quarter_survey at the survey grain (see module docstring)."""
    shape = detect_shape(con, config)
    con.execute("DROP TABLE IF EXISTS marts.district_quarter_survey")
    if shape.survey is None or not table_exists(con, "marts", "district_month"):
        return 0
    sg = shape.survey_grain
    size = MONTHS_PER_PERIOD[sg]
    (lo, hi) = con.execute("SELECT min(month), max(month) FROM marts.district_month").fetchone()
    last_month = add_months(hi, MONTHS_PER_PERIOD[shape.grain] - 1)
    q0 = truncate(lo, sg)
    if q0 < lo:
        q0 = add_months(q0, size)
    q1 = truncate(last_month, sg)
    if add_months(q1, size - 1) > last_month:
        q1 = add_months(q1, -size)
    cells = (
        _score_cells(con, config, shape)
        if shape.survey == "scores"
        else _response_cells(con, config, sg)
    )
    programs = _programs_sql(con, shape, district_level=True)
    if programs is None:  # inferred roll-out: a district's earliest place start
        programs = (
            "SELECT "
            + ("x.district_id" if shape.analysis_unit == "unit" else "m.district_id")
            + " AS place, min(m.start_month) AS start_month FROM marts.district_month m"
            + (
                f" JOIN {_source(con, 'units')} x ON x.unit_id = m.district_id"
                if shape.analysis_unit == "unit"
                else ""
            )
            + " GROUP BY ALL"
        )
    sql = f"""
        CREATE OR REPLACE TABLE marts.district_quarter_survey AS
        WITH periods AS (
            SELECT CAST(unnest(generate_series(CAST($q0 AS DATE), CAST($q1 AS DATE),
                   INTERVAL ({size}) MONTH)) AS DATE) AS quarter
        ), cells AS ({cells}
        ), districts AS (
            SELECT district_id FROM {_source(con, "districts")} WHERE district_id IS NOT NULL
            GROUP BY ALL
        ), programs AS ({programs}
        ), indices AS (SELECT DISTINCT index_name FROM cells)
        SELECT d.district_id, q.quarter,
               CAST(datediff('month', CAST($q0 AS DATE), q.quarter) // {size} + 1 AS INTEGER)
                   AS period,
               i.index_name, c.mean, c.se,
               coalesce(c.n, 0) AS n_responses, coalesce(c.sw, 0) AS sum_weights,
               CAST(CASE WHEN pr.start_month IS NULL
                         OR {trunc_sql("pr.start_month", sg)} > CAST($q1 AS DATE) THEN 0
                    WHEN pr.start_month < CAST($q0 AS DATE) THEN 1
                    ELSE datediff('month', CAST($q0 AS DATE),
                                  {trunc_sql("pr.start_month", sg)}) // {size} + 1
                    END AS INTEGER) AS cohort_period,
               CAST(coalesce(q.quarter >= {trunc_sql("pr.start_month", sg)}, FALSE) AS INTEGER)
                   AS treated,
               c.se_source, $grain AS grain
        FROM districts d CROSS JOIN periods q CROSS JOIN indices i
        LEFT JOIN cells c ON c.district_id = d.district_id AND c.quarter = q.quarter
             AND c.index_name = i.index_name
        LEFT JOIN programs pr ON pr.place = d.district_id
        ORDER BY d.district_id, i.index_name, q.quarter
    """
    params = {"q0": q0, "q1": q1, "grain": sg, "lo": config.survey.scale[0]}
    params["hi"] = config.survey.scale[1]
    with transaction(con):
        con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
        rows = con.execute("SELECT count(*) FROM marts.district_quarter_survey").fetchone()[0]
    if shape.survey == "scores":
        estimate_unknown_se(con)
    return int(rows)


def _response_cells(con, config: CityConfig, grain: str) -> str:
    """Weighted index means and linearised SEs per district and survey period (as the
    default quarterly panel; docs/data_contract.md)."""
    per_index = []
    for name, items in config.survey.indices.items():
        values = ", ".join(f"CAST({ident(item)} AS DOUBLE)" for item in items)
        literal = "'" + name.replace("'", "''") + "'"  # a validated plain name
        per_index.append(
            f"SELECT district_id, quarter, w, {literal} AS index_name,"
            f" list_avg(list_filter([{values}], lambda x: x BETWEEN $lo AND $hi)) AS y FROM resp"
        )
    size = MONTHS_PER_PERIOD[grain]
    return f"""
        WITH resp AS (
            SELECT s.*, {trunc_sql("s.response_date", grain)} AS quarter,
                   coalesce(CAST(s.weight AS DOUBLE), 1.0) AS w
            FROM {_source(con, "survey_responses")} s
            WHERE s.response_date >= $q0
              AND s.response_date < CAST($q1 AS DATE) + INTERVAL ({size}) MONTH
        ), long AS ({" UNION ALL ".join(per_index)}
        ), agg AS (
            SELECT district_id, quarter, index_name, {SURVEY_CELL_SUMS}
            FROM long WHERE y IS NOT NULL AND w > 0 GROUP BY ALL
        )
        SELECT district_id, quarter, index_name, n, sw, mean, {survey_se_sql()} AS se,
               'responses' AS se_source
        FROM agg
    """


def _score_cells(con, config: CityConfig, shape: Shape) -> str:
    """Scores as delivered: one cell per district, period and index."""
    cols = set(table_columns(con, "staging", "survey_scores"))
    grain = _period_grain(con, "survey_scores")
    start = period_start_sql("s.period", grain)
    # issue 15: rows with a group value are that group's score (warehouse/groups.py); the
    # headline reads the rows for everyone (all group columns empty)
    everyone = "".join(
        f" AND nullif(trim(s.{ident(g)}), '') IS NULL" for g in config.survey.groups if g in cols
    )
    parts = []
    for name in config.survey.indices:
        if name not in cols:
            continue
        se_col = f"{name}_se"
        use_se = config.survey.score_se == "column" and se_col in cols
        se = f"s.{ident(se_col)}" if use_se else "CAST(NULL AS DOUBLE)"
        literal = "'" + name.replace("'", "''") + "'"
        parts.append(
            f"SELECT s.district_id, {trunc_sql(start, shape.survey_grain)} AS quarter,"
            f" {literal} AS index_name, s.n_respondents AS n, s.{ident(name)} AS y, {se} AS se0"
            f" FROM {_source(con, 'survey_scores')} s"
            f" WHERE s.{ident(name)} BETWEEN $lo AND $hi AND s.n_respondents >= 1{everyone}"
        )
    if not parts:
        raise UserError(
            f"survey_scores has none of the index columns {list(config.survey.indices)}",
            "name the score columns after survey.indices in the city config",
        )
    # Scores finer than the survey grain are pooled, weighted by respondents.
    return f"""
        SELECT district_id, quarter, index_name, CAST(sum(n) AS BIGINT) AS n,
               sum(n) AS sw, sum(n * y) / sum(n) AS mean,
               sqrt(sum(n * n * se0 * se0)) / sum(n) AS se,
               CASE WHEN count(se0) = count(*) THEN 'column' ELSE 'unknown' END AS se_source
        FROM ({" UNION ALL ".join(parts)}) GROUP BY ALL
    """


def estimate_unknown_se(con: duckdb.DuckDBPyConnection) -> None:
    """SEs for scores delivered without them: s / sqrt(n_respondents) per cell.

    The within-cell SD s is estimated from the scores themselves: after removing district
    and period means, a cell's squared residual has expectation a + s^2 / n (between-cell
    variation plus sampling noise), so the slope of the squared residuals on 1 / n estimates
    s^2. With it the sampling error is propagated as for responses and cells are weighted by
    their respondent counts; when the slope is not positive (respondent counts too similar
    to tell) the SEs stay unknown and only the district-clustered interval is used.
    """
    df = con.execute(
        "SELECT district_id, quarter, index_name, mean, n_responses"
        " FROM marts.district_quarter_survey WHERE se_source = 'unknown' AND mean IS NOT NULL"
    ).df()
    if df.empty:
        return
    rows = []
    for name, g in df.groupby("index_name"):
        r = (
            g["mean"]
            - g.groupby("district_id")["mean"].transform("mean")
            - g.groupby("quarter")["mean"].transform("mean")
            + g["mean"].mean()
        )
        x = 1.0 / g["n_responses"].to_numpy(float)
        y = r.to_numpy() ** 2
        if len(g) < 10 or np.ptp(x) <= 0:
            continue
        slope = np.polyfit(x, y, 1)[0]
        if slope > 0:
            rows.append((name, float(np.sqrt(slope))))
    if not rows:
        return
    con.execute(
        "UPDATE marts.district_quarter_survey m SET se = e.sd / sqrt(m.n_responses),"
        " se_source = 'estimated' FROM (SELECT unnest($names) AS index_name,"
        " unnest($sds) AS sd) e WHERE m.index_name = e.index_name"
        " AND m.se_source = 'unknown' AND m.n_responses > 0",
        {"names": [r[0] for r in rows], "sds": [r[1] for r in rows]},
    )


def describe_shape(con: duckdb.DuckDBPyConnection, config: CityConfig) -> dict:
    """What the run used, for messages and results.json."""
    shape = detect_shape(con, config)
    return {
        "grain": shape.grain,
        "grain_source": shape.grain_source,
        "survey_grain": shape.survey_grain,
        "analysis_unit": shape.analysis_unit,
        "crime_input": shape.crime,
        "survey_input": shape.survey,
        "units_crosswalk": shape.units,
        "meetings": _staged(con, "meetings"),
    }


def shape_notes(shape: dict) -> list[str]:
    """Sentences for results.json and the report: grain, unit and analyses not possible."""
    notes = [
        f"Time grain: {shape['grain']} ({shape['grain_source']}); crime event times count "
        f"{shape['grain']}s since roll-out, survey event times {shape['survey_grain']}s. "
        f"Analysis unit: {shape['analysis_unit']}."
    ]
    if shape["crime_input"] is None:
        notes.append(
            "Crime effects not possible: no crime data delivered (crime_incidents or crime_counts)."
        )
    if shape["survey_input"] is None:
        notes.append(
            "Trust and safety effects not possible: no survey data delivered "
            "(survey_responses or survey_scores)."
        )
    if not shape.get("meetings", True):
        notes.append("Dose-response by meeting attendance not possible: no meetings delivered.")
    return notes

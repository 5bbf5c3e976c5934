"""`engagement-eval simulate`: write the demo city (contract files + truth.json).

Besides the default shape (incident records, survey responses, districts), the city can be
written as published counts, vendor survey scores, at a quarterly or yearly grain, and per beat
with a units.csv crosswalk; truth.json then states every effect at the matching grain and
scale (docs/simulator.md).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from engagement_eval.errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("--out", required=True, help="folder to write the city into")
    parser.add_argument("--seed", type=int, default=12, help="random seed (default 12)")
    parser.add_argument("--districts", type=int, default=25, help="number of districts")
    parser.add_argument("--start", default="2016-01", help="first month, YYYY-MM")
    parser.add_argument("--months", type=int, default=120, help="number of months")
    effect = parser.add_mutually_exclusive_group()
    effect.add_argument(
        "--effect-scale",
        type=float,
        default=1.0,
        help="multiply every true program effect (default 1)",
    )
    effect.add_argument(
        "--no-effect",
        action="store_true",
        help="a city where the program does nothing (effect scale 0)",
    )
    parser.add_argument(
        "--incidents-per-1000",
        type=float,
        default=None,
        help="mean monthly incidents per 1,000 residents (default 7.2)",
    )
    parser.add_argument(
        "--survey-responses",
        type=float,
        default=None,
        help="mean survey responses per district-quarter (default 60); shrink it to get "
        "survey scores from fewer respondents",
    )
    shapes = parser.add_argument_group("input shapes (aggregates, beats, grain)")
    shapes.add_argument(
        "--crime-shape",
        choices=("incidents", "counts"),
        default="incidents",
        help="crime_incidents.parquet (records) or crime_counts.csv (district, period, "
        "offense_category, count; zeros included) from the same Poisson draws",
    )
    shapes.add_argument(
        "--survey-shape",
        choices=("responses", "scores"),
        default="responses",
        help="survey_responses.csv or survey_scores.csv (weighted mean index per "
        "district-period on --score-scale, n_respondents, standard errors)",
    )
    shapes.add_argument(
        "--grain",
        choices=("month", "quarter", "year"),
        default="month",
        help="period of counts and scores (YYYY-MM, YYYY-Qn, YYYY) and of truth.json's event "
        "times; quarter/year need a window of whole quarters/years; year puts roll-outs on "
        "January 1",
    )
    shapes.add_argument(
        "--score-scale",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=(0.0, 100.0),
        help="scale of survey scores, a linear map of the 1-5 answers (default 0 100)",
    )
    shapes.add_argument(
        "--no-score-se",
        action="store_true",
        help="leave the standard-error columns out of survey_scores.csv",
    )
    shapes.add_argument(
        "--beats",
        action="store_true",
        help="split districts into beats (4-15 each): units.csv (unit_id, district_id, "
        "population); incidents/counts, meetings and programs carry unit_id instead of "
        "district_id",
    )


def main(args) -> int:
    from simulator.params import CityParams

    params = CityParams(
        seed=args.seed,
        n_districts=args.districts,
        start=args.start,
        months=args.months,
        effect_scale=0.0 if args.no_effect else args.effect_scale,
    )
    if args.incidents_per_1000 is not None:
        params = replace(params, incidents_per_1000=args.incidents_per_1000)
    if args.survey_responses is not None:
        params = replace(params, survey_responses_per_cell=args.survey_responses)
    if params.incidents_per_1000 <= 0 or params.survey_responses_per_cell <= 0:
        raise UserError(
            "incident and survey volumes must be positive",
            "pass a positive --incidents-per-1000 / --survey-responses",
        )

    from simulator.city import write_city
    from simulator.shapes import OutputShape

    try:
        shape = OutputShape(
            crime=args.crime_shape,
            survey=args.survey_shape,
            grain=args.grain,
            score_scale=tuple(args.score_scale),
            score_se=not args.no_score_se,
            beats=args.beats,
        )
    except ValueError as err:
        raise UserError(str(err), "see `engagement-eval simulate --help`") from err

    started = time.perf_counter()
    try:
        out = write_city(params, Path(args.out), shape)
    except ValueError as err:
        raise UserError(
            f"cannot simulate this city: {err}",
            "see `engagement-eval simulate --help` for the options",
        ) from err
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    print(f"Demo city written to {out} in {time.perf_counter() - started:.1f} s")
    print(
        f"  districts: {len(truth['cohorts'])} ({len(truth['never_treated'])} never treated), "
        f"cohorts: {', '.join(truth['cohort_start_months'])}"
    )
    if not shape.is_default:
        files = sorted(p.name for p in out.iterdir())
        print(f"  files: {', '.join(files)}")
    for name, outcome in truth["outcomes"].items():
        print(
            f"  true overall effect {name}: {outcome['overall']:+.4f} ({outcome['scale']}; "
            f"event time in {outcome['event_time_unit']}s)"
        )
    return 0

"""`engagement-eval simulate`: write the demo city (contract files + truth.json)."""

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
        help="mean survey responses per district-quarter (default 60)",
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

    started = time.perf_counter()
    try:
        out = write_city(params, Path(args.out))
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
    for name, outcome in truth["outcomes"].items():
        print(f"  true overall effect {name}: {outcome['overall']:+.4f} ({outcome['scale']})")
    return 0

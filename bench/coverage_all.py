"""`make bench-coverage`: the few-district coverage tables and the verdict confusion matrix.

Runs the three studies side by side on the same battery (`simulator.few_district.BATTERY`) and
writes their tables between markers in docs/evaluation.md, their JSON in bench/results/:

- crime headline coverage per design and interval method (`bench.coverage_crime`);
- survey headline coverage per design and method (`bench.coverage_survey`);
- verdict rates per kind of city (`bench.verdict_study`).

    python -m bench.coverage_all                       # defaults below (about 2-3 h on 2 cores)
    python -m bench.coverage_all --crime-reps 200 --survey-reps 200 --verdict-reps 40
    python -m bench.coverage_all --docs-only           # rewrite the docs from saved JSON

Coverage of a 95% interval from R replications has Monte Carlo SE sqrt(.95 * .05 / R): 0.007 at
1,000, 0.015 at 200; the tables print it beside every rate.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from bench import coverage_crime, coverage_survey, verdict_study
from simulator.few_district import BATTERY

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "evaluation.md"
CRIME_JSON = RESULTS / "coverage_crime.json"
SURVEY_JSON = RESULTS / "coverage_survey.json"
VERDICT_JSON = RESULTS / "verdict_study.json"
VERDICT_DESIGNS = ("g10_c112", "g16_c123", "g25_c2345")


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"docs/evaluation.md lacks the <!-- {name}:start/end --> markers")
    return pattern.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)


def crime_rows() -> list[dict]:
    data = json.loads(CRIME_JSON.read_text())
    return data["results"] if isinstance(data, dict) else data


def survey_rows() -> list[dict]:
    data = json.loads(SURVEY_JSON.read_text())
    if isinstance(data, dict) and "runs" in data:
        return [r for run in data["runs"] for r in run["results"]]
    return data["results"] if isinstance(data, dict) else data


def write_docs() -> None:
    text = DOC.read_text()
    parts = []
    if CRIME_JSON.exists():
        parts.append(
            "### Crime headline (Poisson, proportional effect; `bench/coverage_crime.py`)\n\n"
            + coverage_crime.table(crime_rows())
        )
    if SURVEY_JSON.exists():
        parts.append(
            "### Survey headline (points; `bench/coverage_survey.py`)\n\n"
            + coverage_survey.markdown(survey_rows())
        )
    text = replace_block(text, "coverage", "\n\n".join(parts) or "(no results yet)")
    if VERDICT_JSON.exists():
        text = replace_block(
            text, "verdict-study", verdict_study.markdown(json.loads(VERDICT_JSON.read_text()))
        )
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--crime-reps", type=int, default=1000)
    ap.add_argument("--survey-reps", type=int, default=500)
    ap.add_argument("--verdict-reps", type=int, default=100)
    ap.add_argument("--docs-only", action="store_true")
    a = ap.parse_args(argv)
    if not a.docs_only:
        RESULTS.mkdir(parents=True, exist_ok=True)
        log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
        crime = []
        for d in BATTERY:
            log(f"crime coverage: {d.name} ({a.crime_reps} cities)")
            crime.append(coverage_crime.run_design(d, a.crime_reps, 0, coverage_crime.METHODS))
        CRIME_JSON.write_text(json.dumps({"results": crime}, indent=1))
        survey = []
        for d in BATTERY:
            log(f"survey coverage: {d.name} ({a.survey_reps} cities)")
            survey.append(coverage_survey.run_design(d, a.survey_reps, 1))
        SURVEY_JSON.write_text(json.dumps({"results": survey}, indent=1))
        rows = []
        for name in VERDICT_DESIGNS:
            for kind in ("crime", "survey"):
                log(f"verdict study: {name} {kind} ({a.verdict_reps} cities per scenario)")
                rows.append(
                    verdict_study.run_design(verdict_study.design(name), kind, a.verdict_reps)
                )
        VERDICT_JSON.write_text(json.dumps(rows, indent=1))
    write_docs()
    print(f"tables written to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

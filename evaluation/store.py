"""The rows of the `results.*` tables for one results document (pure pandas, no DuckDB).

`warehouse.results_store.write_results` writes them in one transaction per run:

- `results.estimates`: headline and secondary estimates and dose-response bins per outcome;
- `results.event_studies`: event-study coefficients with their (uniform) band;
- `results.diagnostics`: one row per diagnostic value (numeric in `value`, text in `text`);
- `results.run_metadata`: run id, time, code version, config, input file hashes, timings and
  the results.json text itself.

Rows are keyed by `run_id`, so history is kept; a failed write leaves no partial run.
"""

from __future__ import annotations

import json

import pandas as pd

from engagement_eval.results import Section
from evaluation.results_json import clean, dumps

DIAGNOSTIC_KEYS = (
    "pre_trend_p",
    "pre_trend_power",
    "twfe_estimate",
    "mde",
    "honestdid_breakdown",
    "ri_p",
    "wild_bootstrap_p",
    "baseline_mean",
)
# written only when present (the simulated MDE runs with model.power_simulations > 0)
OPTIONAL_DIAGNOSTIC_KEYS = ("mde_simulated", "mde_simulations", "mde_false_positive_rate")


def frames(results: dict | Section, run_id: str) -> dict[str, pd.DataFrame]:
    """The four tables' rows for one results document (`ResultsDocument.with_timings` adds the
    run's timings, which DuckDB keeps but results.json does not)."""
    if isinstance(results, Section):
        results = results.to_dict()
    est, es, diag = [], [], []
    for name, o in sorted((results.get("outcomes") or {}).items()):
        if "reason" in o:
            diag.append({"outcome": name, "name": "reason", "value": None, "text": o["reason"]})
            continue
        est.append(
            {
                "outcome": name,
                "role": "headline",
                "estimator": o.get("estimator"),
                "scale": o.get("scale"),
                **{k: o.get(k) for k in ("estimate", "se", "ci_low", "ci_high", "p_value")},
            }
        )
        for s in o.get("secondary") or []:
            est.append(
                {
                    "outcome": name,
                    "role": "secondary",
                    "estimator": s.get("estimator"),
                    "scale": s.get("scale"),
                    "estimate": s.get("estimate"),
                    "ci_low": s.get("ci_low"),
                    "ci_high": s.get("ci_high"),
                }
            )
        dose = o.get("dose_response") or {}
        for b in dose.get("bins") or []:
            est.append(
                {
                    "outcome": name,
                    "role": f"dose bin {b['bin']}",
                    "estimator": f"dose {b['dose_low']:.3g}-{b['dose_high']:.3g} per 1,000",
                    "scale": o.get("scale"),
                    "estimate": b.get("estimate"),
                    "ci_low": b.get("ci_low"),
                    "ci_high": b.get("ci_high"),
                }
            )
        for p in o.get("event_study") or []:
            es.append(
                {
                    "outcome": name,
                    **{k: p.get(k) for k in ("event_time", "estimate", "se", "ci_low", "ci_high")},
                }
            )
        for key in (*DIAGNOSTIC_KEYS, *(k for k in OPTIONAL_DIAGNOSTIC_KEYS if k in o)):
            diag.append({"outcome": name, "name": key, "value": o.get(key), "text": None})
        for key, value in sorted((o.get("details") or {}).items()):
            num = isinstance(value, int | float) and not isinstance(value, bool)
            diag.append(
                {
                    "outcome": name,
                    "name": key,
                    "value": value if num else None,
                    "text": None if num else json.dumps(clean(value), sort_keys=True),
                }
            )
        for c in o.get("twfe_bacon") or []:
            diag.append(
                {
                    "outcome": name,
                    "name": f"bacon: {c['type']}",
                    "value": c.get("estimate"),
                    "text": f"weight {c.get('weight')}",
                }
            )
    run = results.get("run") or {}
    meta = [
        {
            "generated_at": results.get("generated_at"),
            "code_version": run.get("code_version"),
            "config": json.dumps(clean(run.get("config") or {}), sort_keys=True),
            "inputs": json.dumps(clean(results.get("inputs") or []), sort_keys=True),
            "timings": json.dumps(clean(run.get("timings") or {}), sort_keys=True),
            "results_json": dumps(
                {k: v for k, v in results.items() if k != "run"}
                | {"run": {k: v for k, v in run.items() if k != "timings"}}
            ),
        }
    ]
    out = {"estimates": est, "event_studies": es, "diagnostics": diag, "run_metadata": meta}
    return {k: pd.DataFrame(v).assign(run_id=run_id) for k, v in out.items()}

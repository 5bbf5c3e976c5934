"""The monthly cycle: what changed since the previous run, and why (issue 14).

Every run appends one history row per outcome (`warehouse.results_store.write_history`): when,
data through which month, a hash of the config and of the inputs, the headline estimate,
interval and verdict level, and a fingerprint of every district-period cell the outcome was
estimated from. The next run into the same output compares itself with the latest earlier row
and adds two keys to results.json:

- `previous_run = {"generated_at", "data_through": "YYYY-MM", "outcomes": {name: {"estimate",
  "ci_low", "ci_high", "verdict_level"}}}`
- `changes = {name: {"estimate_change", "reasons": [codes], "revised_rows", "new_periods"}}`

Reason codes (`REASONS`) say why an estimate could have moved. They are causes we can *see* in
the data and settings, not an attribution of how much each one moved the number. Pure pandas:
no DuckDB, no Dagster; the model asset reads and writes the rows.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from evaluation.outcomes import spec

REASONS = {
    "new_periods": "later months of data arrived",
    "revised_data": "data for months already analysed changed (revised_rows says how many "
    "district-periods)",
    "removed_periods": "the data now end earlier than last time",
    "config_changed": "the city configuration changed (the study window's end excepted)",
    "code_changed": "the evaluation code changed",
    "verdict_changed": "the strength of the evidence changed level",
    "newly_estimated": "the outcome had no estimate in the previous run",
}
HEADLINE_KEYS = ("estimate", "ci_low", "ci_high")


def _digest(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def config_hash(config: dict | None) -> str:
    """Hash of the config as used, without `study_window.end`: moving the end month forward is
    the monthly cycle itself (reported as `new_periods`), not a change of settings."""
    cfg = dict(config or {})
    window = cfg.get("study_window")
    if isinstance(window, dict):
        cfg["study_window"] = {k: v for k, v in window.items() if k != "end"}
    return _digest(cfg)


def inputs_hash(inputs: list[dict] | None) -> str:
    return _digest(sorted((str(i.get("file")), str(i.get("sha256"))) for i in inputs or []))


# Floats are compared on a grid of this step: a database's parallel sums differ in the last
# bits from run to run (the demo showed 60 survey cells "revised" at row-group boundaries), and
# that is not a revision of the data. Two grids half a step apart, each hashed: noise far below
# the step can cross a boundary of one grid, never of both (a mean that is exactly a round
# decimal sits on grid A's boundary and mid-cell on grid B), so a cell counts as revised only
# when both hashes differ. A real revision moves a value by far more than the step.
FLOAT_STEP = 1e-7


def _grid(v, offset: float):
    return round(v / FLOAT_STEP + offset) if isinstance(v, float) else v


def _cell_hashes(frame: pd.DataFrame, period: str, columns: list[str]) -> dict[str, str]:
    """{"district|YYYY-MM": "<hash on grid A>:<hash on grid B>"}; NaN and None hash alike."""
    if frame is None or frame.empty:
        return {}
    f = frame[["district_id", period, *columns]].copy()
    keys = f["district_id"].astype(str) + "|" + pd.to_datetime(f[period]).dt.strftime("%Y-%m")
    vals = f[columns].astype(object).where(f[columns].notna(), None)

    def digest(row, offset):
        return hashlib.sha256(repr([_grid(v, offset) for v in row]).encode()).hexdigest()[:10]

    return {
        k: f"{digest(r, 0.0)}:{digest(r, 0.5)}"
        for k, r in zip(keys, vals.to_numpy().tolist(), strict=True)
    }


def _same_cell(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return any(x == y for x, y in zip(a.split(":"), b.split(":"), strict=False))


def fingerprints(dm: pd.DataFrame, dq: pd.DataFrame | None, outcomes) -> dict[str, dict]:
    """Per outcome, a hash of each district-period cell it was estimated from.

    Crime: the incident count and population of the district-month; surveys: the weighted
    mean and number of responses of the district-quarter. Comparing these with the previous
    run's counts the revised cells of months already analysed, per outcome.
    """
    out = {}
    for name in outcomes:
        sp = spec(name)
        if sp.kind == "crime":
            cols = [c for c in (sp.count, "population") if c in dm]
            out[name] = _cell_hashes(dm, "month", cols) if sp.count in dm else {}
        elif dq is not None and not dq.empty:
            f = dq.loc[dq["index_name"] == sp.index_name]
            out[name] = _cell_hashes(f, "quarter", ["mean", "n_responses"])
        else:
            out[name] = {}
    return out


def history_rows(results: dict, run_id: str, cells: dict[str, dict]) -> pd.DataFrame:
    """This run's rows for `results.history` (one per outcome)."""
    run = results.get("run") or {}
    through = (results.get("study_window") or {}).get("end")
    rows = []
    for name, o in sorted((results.get("outcomes") or {}).items()):
        rows.append(
            {
                "run_id": run_id,
                "city": results.get("city"),
                "generated_at": results.get("generated_at"),
                "data_through": through,
                "config_hash": config_hash(run.get("config")),
                "inputs_hash": inputs_hash(results.get("inputs")),
                "input_hashes": json.dumps(results.get("inputs") or [], sort_keys=True),
                "code_version": run.get("code_version"),
                "outcome": name,
                **{k: _num(o.get(k)) for k in HEADLINE_KEYS},
                "verdict_level": (o.get("verdict") or {}).get("level"),
                "cells": json.dumps(cells.get(name) or {}, sort_keys=True),
            }
        )
    return pd.DataFrame(rows)


def _num(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def _months_between(a: str | None, b: str | None) -> int:
    """Months from a to b ("YYYY-MM"); 0 when either is missing."""
    if not a or not b:
        return 0
    ya, ma = (int(x) for x in str(a)[:7].split("-"))
    yb, mb = (int(x) for x in str(b)[:7].split("-"))
    return (yb - ya) * 12 + (mb - ma)


def revised_cells(previous: dict[str, str], current: dict[str, str], through: str | None) -> int:
    """District-periods up to the previous run's last month whose values changed, appeared or
    disappeared."""

    def old(key: str) -> bool:
        return through is None or key.split("|", 1)[1] <= str(through)[:7]

    keys = {k for k in previous if old(k)} | {k for k in current if old(k)}
    return sum(not _same_cell(previous.get(k), current.get(k)) for k in keys)


def compare(results: dict, previous: pd.DataFrame, cells: dict[str, dict]) -> dict:
    """`previous_run` and `changes` for results.json, from the previous run's history rows
    (one per outcome, as `history_rows` wrote them). Empty dict when there is none."""
    if previous is None or previous.empty:
        return {}
    first = previous.iloc[0]
    before_through = first["data_through"]
    through = (results.get("study_window") or {}).get("end")
    run = results.get("run") or {}
    shift = _months_between(before_through, through)
    common = []
    if shift > 0:
        common.append("new_periods")
    elif shift < 0:
        common.append("removed_periods")
    if first["config_hash"] != config_hash(run.get("config")):
        common.append("config_changed")
    if first.get("code_version") and first["code_version"] != run.get("code_version"):
        common.append("code_changed")
    prev_outcomes, changes = {}, {}
    by_name = {str(r["outcome"]): r for _, r in previous.iterrows()}
    for name, r in sorted(by_name.items()):
        prev_outcomes[name] = {k: _num(r[k]) for k in HEADLINE_KEYS} | {
            "verdict_level": r["verdict_level"]
        }
    for name, o in sorted((results.get("outcomes") or {}).items()):
        if name not in by_name:
            continue
        r = by_name[name]
        before = json.loads(r["cells"] or "{}")
        revised = revised_cells(before, cells.get(name) or {}, before_through)
        reasons = list(common)
        if revised:
            reasons.append("revised_data")
        est, old_est = _num(o.get("estimate")), _num(r["estimate"])
        if est is not None and old_est is None:
            reasons.append("newly_estimated")
        level = (o.get("verdict") or {}).get("level")
        if level != r["verdict_level"]:
            reasons.append("verdict_changed")
        changes[name] = {
            "estimate_change": None if est is None or old_est is None else est - old_est,
            "reasons": reasons,
            "revised_rows": revised,
            "new_periods": max(shift, 0),
        }
    return {
        "previous_run": {
            "generated_at": first["generated_at"],
            "data_through": None if before_through is None else str(before_through)[:7],
            "outcomes": prev_outcomes,
        },
        "changes": changes,
    }

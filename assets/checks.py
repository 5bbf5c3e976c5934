"""Dagster asset checks from the suites: one check per rule, on the input's staging asset.

Each input gets one `multi_asset_check` (the suite runs once, GX is not re-entered per rule).
Blocking rules become blocking checks; they fail with ERROR severity only when the gate stops
the input (structural problem, or too many bad rows), so downstream assets do not run on
failing data, while rows quarantined under the threshold show as a WARN failure. `dagster-ge`
is not used: it does not support GX 1.x.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import dagster as dg

from assets.metadata import contract_type, mask_example, mask_text
from engagement_eval.config import CityConfig
from engagement_eval.contract import INPUTS
from quality import frames, gate
from quality.declared import declared_rules
from quality.rules import BLOCKING, Rule
from quality.settings import gate_settings


def _default_key(input_name: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", input_name])


def _expectation_text(rule: Rule) -> str:
    kwargs = {
        k: (f"<{len(v)} values>" if isinstance(v, list) and len(v) > 10 else v)
        for k, v in rule.kwargs.items()
    }
    return f"{rule.expectation}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"


def _result(
    rule: Rule, rep: gate.InputReport, key: dg.AssetKey, config: CityConfig | None = None
) -> dg.AssetCheckResult:
    """One rule's check result; values typed into the data are masked (assets/metadata.py)."""
    found = {r.rule.name: r for r in rep.results}
    meta: dict = {
        "expectation": dg.MetadataValue.text(_expectation_text(rule)),
        "severity": rule.severity,
        "input_status": rep.status,
        "fix": dg.MetadataValue.text(rule.fix),
    }
    if rep.stop is not None:
        meta["gate_message"] = dg.MetadataValue.text(masked_message(rep, config))
    result = found.get(rule.name)
    if result is None:  # column not delivered, or the input stopped before this rule ran
        stopped = rep.stop is not None
        passed = not (stopped and rule.severity == BLOCKING)
        meta["note"] = "input stopped before this rule ran" if stopped else "column not delivered"
        return dg.AssetCheckResult(
            asset_key=key,
            check_name=rule.name,
            passed=passed,
            metadata=meta,
            severity=dg.AssetCheckSeverity.ERROR if not passed else dg.AssetCheckSeverity.WARN,
        )
    column_type = contract_type(rep.input_name, rule.column, config)
    meta |= {
        "unexpected_count": dg.MetadataValue.int(result.unexpected_count),
        "element_count": dg.MetadataValue.int(result.element_count),
        "examples": dg.MetadataValue.json(
            {
                "examples": [
                    mask_example(json.loads(json.dumps(e)), column_type) for e in result.examples
                ],
                "note": "values masked; the full values are in quality.quarantine (DuckDB)",
            }
        ),
    }
    if result.error:
        meta["error"] = dg.MetadataValue.text(result.error)
    stops = rep.status == gate.FAILED and rule.severity == BLOCKING
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=rule.name,
        passed=result.success or rule.severity == "info",
        severity=dg.AssetCheckSeverity.ERROR if stops else dg.AssetCheckSeverity.WARN,
        metadata=meta,
        description=rule.description,
    )


def masked_message(rep: gate.InputReport, config: CityConfig | None) -> str:
    """The gate's stop message with the example values it quotes masked (the UI shows it)."""
    message = rep.stop.message if rep.stop is not None else ""
    for r in rep.results:
        column_type = contract_type(rep.input_name, r.rule.column, config)
        message = mask_text(message, r.examples, column_type)
    return message


def build_quality_checks(
    config: CityConfig,
    asset_key_for: Callable[[str], dg.AssetKey] = _default_key,
    *,
    city_key: str = "city",
    warehouse_key: str = "warehouse",
    pool: str | None = "duckdb",
) -> list[dg.AssetChecksDefinition]:
    """One multi-asset check per contract input.

    `city_key` must name a resource with `load() -> CityConfig`, `warehouse_key` one with
    `connect()` yielding a DuckDB connection (see assets/resources.py).
    """
    out = []
    for input_name in INPUTS:
        out.append(_input_check(input_name, config, asset_key_for, city_key, warehouse_key, pool))
    return out


def _input_check(input_name, config, asset_key_for, city_key, warehouse_key, pool):
    key = asset_key_for(input_name)
    rules = declared_rules(input_name, config)
    extra_deps = [] if input_name == "districts" else [asset_key_for("districts")]
    if "unit_id" in INPUTS[input_name].optional:  # checked against units.csv
        extra_deps.append(asset_key_for("units"))
    if input_name == "meeting_feedback":  # issue 15: forms are checked against the meetings
        extra_deps.append(asset_key_for("meetings"))
    specs = [
        dg.AssetCheckSpec(
            rule.name,
            asset=key,
            description=rule.description,
            blocking=rule.severity == BLOCKING,
            additional_deps=extra_deps,
            metadata={"severity": rule.severity, "level": rule.level},
        )
        for rule in rules
    ]

    @dg.multi_asset_check(
        name=f"quality_{input_name}",
        specs=specs,
        description=f"Great Expectations suite for {input_name} (quality gate)",
        required_resource_keys={city_key, warehouse_key},
        pool=pool,
    )
    def _check(context):  # unannotated: string annotations confuse Dagster
        city_config = getattr(context.resources, city_key).load()
        settings = gate_settings(city_config)
        run_id = context.run.run_id
        with getattr(context.resources, warehouse_key).connect() as con:
            from quality import store

            store.ensure_tables(con)
            districts_frame = frames.build_frame(con, "districts", city_config)
            ids = frames.district_ids(con, districts_frame)
            units = gate.unit_crosswalk(con, city_config)  # for the unit_id rules
            rep, frame = gate.check_input(
                con, input_name, city_config, settings, run_id, ids, units
            )
            gate.record(con, run_id, rep)  # the quality/quarantine asset sets the rows aside
            for f in (frame, districts_frame):
                if f is not None:
                    frames.drop_frame(con, f)
        if rep.stop is not None:
            context.log.error(masked_message(rep, city_config))
        for rule in rules:
            yield _result(rule, rep, key, city_config)

    return _check

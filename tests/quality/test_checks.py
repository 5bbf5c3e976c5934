"""The suites as Dagster asset checks: specs, blocking flags, metadata, and real gating."""

from __future__ import annotations

import dagster as dg

from assets.checks import build_quality_checks
from assets.ingest import build_ingest_assets
from assets.resources import CityResource, WarehouseResource
from engagement_eval.config import load_config
from pipelines.partitions import monthly_partitions
from quality.declared import declared_rules
from tests.quality.conftest import read_input, write_input


def _defs(city, tmp_path):
    config = load_config(None, city)
    assets = [
        a
        for a in build_ingest_assets(monthly_partitions(config))
        if a.key.path[-1] in ("districts", "programs")
    ]
    checks = [
        c
        for c in build_quality_checks(config)
        if next(iter(c.check_keys)).asset_key.path[-1] in ("districts", "programs")
    ]

    @dg.asset(deps=[dg.AssetKey(["staging", "districts"])])
    def downstream() -> int:
        return 1

    resources = {
        "city": CityResource(data_dir=str(city)),
        "warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb")),
    }
    return config, assets + [downstream], checks, resources


def test_specs_mirror_rule_severity(city):
    config = load_config(None, city)
    checks = {next(iter(c.check_keys)).asset_key.path[-1]: c for c in build_quality_checks(config)}
    assert set(checks) == {
        "districts",
        "programs",
        "crime_incidents",
        "crime_counts",  # the aggregate shapes and the units crosswalk
        "survey_scores",
        "units",
        "survey_responses",
        "meetings",
        "meeting_feedback",  # issue 15
    }
    feedback = {s.name: s for s in checks["meeting_feedback"].check_specs}
    assert feedback["meeting_known"].blocking and feedback["felt_heard_in_scale"].blocking
    assert feedback["submitted_after_meeting"].blocking
    assert not feedback["felt_heard_not_null"].blocking
    specs = {s.name: s for s in checks["survey_responses"].check_specs}
    rules = {r.name: r for r in declared_rules("survey_responses", config)}
    assert set(specs) == set(rules)
    assert specs["trust_police_in_scale"].blocking and not specs["police_fair_not_null"].blocking
    assert specs["weight_positive"].blocking
    gap = {s.name: s for s in checks["crime_incidents"].check_specs}["district_month_reported"]
    assert not gap.blocking


def test_blocking_failure_stops_downstream(city, tmp_path):
    frame = read_input(city, "districts")
    frame.loc[0, "population"] = "0"
    write_input(city, "districts", frame)
    _, assets, checks, resources = _defs(city, tmp_path)
    result = dg.materialize([*assets, *checks], resources=resources, raise_on_error=False)
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = evals["population_positive"]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.metadata["unexpected_count"].value == 1
    assert "ExpectColumnValuesToBeBetween" in failed.metadata["expectation"].value
    materialized = {
        k.path[-1] for k in (e.asset_key for e in result.get_asset_materialization_events())
    }
    assert "downstream" not in materialized


def test_clean_city_runs_downstream(city, tmp_path):
    _, assets, checks, resources = _defs(city, tmp_path)
    result = dg.materialize([*assets, *checks], resources=resources, raise_on_error=False)
    evals = result.get_asset_check_evaluations()
    assert evals and all(e.passed for e in evals)
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "downstream" in materialized


def test_city_without_programs_file_passes_the_programs_checks(city, tmp_path):
    """programs.csv is optional; its check must pass (not crash) when it is absent."""
    (city / "programs.csv").unlink()
    _, assets, checks, resources = _defs(city, tmp_path)
    result = dg.materialize([*assets, *checks], resources=resources, raise_on_error=False)
    assert result.success
    evals = [e for e in result.get_asset_check_evaluations() if e.asset_key.path[-1] == "programs"]
    assert evals and all(e.passed for e in evals)
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "downstream" in materialized

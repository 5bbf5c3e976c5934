"""Model assets (group `models`): estimate every configured outcome from the `marts` panels.

Thin: reads the panels and metadata from DuckDB, calls `evaluation.run.evaluate`, writes
`results.*` (one transaction) and `OUT/results.json`, and shows the headline table and the
event-study charts in the asset metadata. Settings come from the city config's `model:`
section; `ModelRunConfig` fields set in the launchpad override them for a single run.
"""

import dataclasses
import time

import dagster as dg
import pandas as pd

from assets.resources import DUCKDB_POOL, CityResource, WarehouseResource
from evaluation import history, summary
from evaluation.feedback import meeting_feedback
from evaluation.groups import add_group_results
from evaluation.run import evaluate
from evaluation.settings import settings_from_config
from evaluation.store import frames
from evaluation.versions import code_version, package_versions
from warehouse.feedback_panels import feedback_gaps, read_feedback
from warehouse.groups import read_group_panel
from warehouse.reads import district_names, input_files, quality_section, read_panels
from warehouse.results_store import previous_history, write_results
from warehouse.shapes import describe_shape, shape_notes

GROUP = "models"
RESULTS_KEY = dg.AssetKey(["results", "evaluation"])


class ModelRunConfig(dg.PermissiveConfig):
    """Per-run overrides of any `model:` key of the city config (e.g. `seed: 5`): the keys,
    their types and ranges are the config schema's (`CityConfig.with_overrides` checks them,
    so a typo stops the run naming the key, as in city.yaml)."""


@dg.asset(
    key=RESULTS_KEY,
    deps=[
        dg.AssetKey(["marts", "district_month"]),
        dg.AssetKey(["marts", "district_quarter_survey"]),
        dg.AssetKey(["marts", "meeting_feedback"]),  # issue 15
    ],
    group_name=GROUP,
    description="Programme effects on crime (Poisson, proportional) and trust/safety "
    "(Callaway-Sant'Anna, points) with event studies, pre-trend tests, TWFE/Bacon, HonestDiD, "
    "randomization inference and MDE; writes results.* tables and OUT/results.json.",
    pool=DUCKDB_POOL,
    kinds={"duckdb", "python"},
)
def evaluation_results(
    context: dg.AssetExecutionContext,
    config: ModelRunConfig,
    city: CityResource,
    warehouse: WarehouseResource,
):
    from evaluation.results_json import generated_at, write_results_json

    overrides = {k: v for k, v in config.model_dump().items() if v is not None}
    cfg = city.load().with_overrides({"model": overrides} if overrides else None)
    settings = settings_from_config(cfg)
    clock = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        dm, dq = read_panels(con)
        dqg = read_group_panel(con)  # issue 15: survey panel by resident group
        inputs, quality, names = input_files(con), quality_section(con), district_names(con)
        shape = describe_shape(con, cfg)  # issue 9: grain and unit of the panels
        previous = previous_history(con, cfg.city, context.run.run_id)  # issue 14
        feedback, feedback_gaps_found = read_feedback(con), feedback_gaps(con)  # issue 15
    settings = dataclasses.replace(
        settings,
        grain=shape["grain"],
        survey_grain=shape["survey_grain"],
        analysis_unit=shape["analysis_unit"],
        notes=(*settings.notes, *shape_notes(shape)),
    )
    read_seconds = time.perf_counter() - clock
    results = evaluate(
        dm,
        dq,
        settings,
        city=cfg.city,
        config=cfg.raw,
        generated_at=generated_at(None, warehouse.source_date_epoch),
        inputs=inputs,
        quality=quality,
        names=names,
        threshold=cfg.attendance_threshold_per_1000,
        code_version=code_version(),
        versions=package_versions(),
    )
    results["meeting_feedback"] = meeting_feedback(  # issue 15
        feedback,
        dq,
        results["outcomes"],
        alpha=settings.alpha,
        min_cell_size=settings.min_cell_size,
        seed=settings.seed,
        gaps=feedback_gaps_found,
    )
    clock = time.perf_counter()
    add_group_results(results, dqg, settings)  # issue 15: by_group / group_gaps
    timings = {"read_panels": read_seconds, **results.pop("_timings")}
    timings["resident_groups"] = time.perf_counter() - clock
    results["shape"] = shape  # issue 9
    # issue 13: the window, grain and time zone this run used, and where they came from
    last = dm["month"].max() if "month" in dm and len(dm) else None
    results["data_window"] = cfg.window_record(None if last is None else pd.Timestamp(last).date())
    results["grain"], results["timezone"] = shape["grain"], cfg.timezone
    if not shape["meetings"]:  # the panel's zeros are "not delivered", not "no meetings held"
        results["meetings"] = []
    cells = history.fingerprints(dm, dq, results["outcomes"])
    results.update(history.compare(results, previous, cells))  # previous_run, changes
    path = write_results_json(results, warehouse.results_folder() / "results.json")
    results["run"]["timings"] = timings
    rows = frames(results, context.run.run_id)
    rows["history"] = history.history_rows(results, context.run.run_id, cells)
    with warehouse.connect() as con:
        counts = write_results(con, rows)
    by_outcome = {}  # issue 17: where the model step's time goes (RI, HonestDiD, power...)
    for name, o in results["outcomes"].items():
        by_outcome[name] = {k: round(v, 2) for k, v in o.pop("_timings", {}).items()}
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in by_outcome[name].items())
        context.log.info(f"{name}: {stages}")
    charts = "\n\n".join(
        summary.event_study_png(n, o)
        for n, o in sorted(results["outcomes"].items())
        if "reason" not in o
    )
    return dg.MaterializeResult(
        metadata={
            "headline": dg.MetadataValue.md(summary.headline_markdown(results)),
            "event_studies": dg.MetadataValue.md(charts or "no event study"),
            "results_json": dg.MetadataValue.path(str(path)),
            "rollout_source": dg.MetadataValue.text(results["rollout_source"]),
            "rows_written": dg.MetadataValue.json(counts),
            "seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in timings.items()}),
            "seconds_by_outcome": dg.MetadataValue.json(by_outcome),
            **headline_metadata(results),
        }
    )


def headline_metadata(results: dict) -> dict:
    """Each outcome's headline as numeric metadata (`<outcome>/estimate`, `/ci_low`, `/ci_high`),
    so the Dagster UI plots the estimates over runs (issue 14)."""
    out = {}
    for name, o in sorted(results["outcomes"].items()):
        for key in ("estimate", "ci_low", "ci_high"):
            value = o.get(key)
            if isinstance(value, int | float) and value == value:
                out[f"{name}/{key}"] = dg.MetadataValue.float(float(value))
    return out


def build_model_assets() -> list[dg.AssetsDefinition]:
    return [evaluation_results]

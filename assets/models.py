"""Model assets (group `models`): estimate every configured outcome from the `marts` panels.

Thin: reads the panels and metadata from DuckDB, calls `evaluation.run.evaluate`, writes
`results.*` (one transaction) and `OUT/results.json`, and shows the headline table and the
event-study charts in the asset metadata. Settings come from the city config's `model:`
section; `ModelRunConfig` fields set in the launchpad override them for a single run.
"""

import dataclasses
import os
import time
from pathlib import Path

import dagster as dg

from assets.resources import DUCKDB_POOL, CityResource, WarehouseResource
from evaluation import history, summary
from evaluation.feedback import meeting_feedback
from evaluation.run import evaluate
from evaluation.settings import settings_from_config
from evaluation.store import frames
from evaluation.versions import code_version, package_versions
from warehouse.feedback_panels import feedback_gaps, read_feedback
from warehouse.reads import district_names, input_files, quality_section, read_panels
from warehouse.results_store import previous_history, write_results
from warehouse.shapes import describe_shape, shape_notes

GROUP = "models"
RESULTS_KEY = dg.AssetKey(["results", "evaluation"])


class ModelRunConfig(dg.Config):
    """Optional per-run overrides of the city config's `model:` keys (None = keep)."""

    outcomes: list[str] | None = None
    control_group: str | None = None
    anticipation: int | None = None
    bootstrap_draws: int | None = None
    alpha: float | None = None
    seed: int | None = None
    event_window: list[int] | None = None
    ri_permutations: int | None = None
    power_simulations: int | None = None


def results_dir(warehouse_path: str) -> Path:
    """OUT: ENGAGEMENT_EVAL_OUT when set, else the folder of the DuckDB file."""
    out = os.environ.get("ENGAGEMENT_EVAL_OUT")
    return Path(out) if out else Path(warehouse_path).parent


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
    from evaluation.results_json import write_results_json

    cfg = city.load()
    overrides = {k: v for k, v in config.model_dump().items() if v is not None}
    settings = settings_from_config(cfg, overrides)
    clock = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        dm, dq = read_panels(con)
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
    timings = {"read_panels": read_seconds, **results.pop("_timings")}
    results["shape"] = shape  # issue 9
    if not shape["meetings"]:  # the panel's zeros are "not delivered", not "no meetings held"
        results["meetings"] = []
    cells = history.fingerprints(dm, dq, results["outcomes"])
    results.update(history.compare(results, previous, cells))  # previous_run, changes
    path = write_results_json(results, results_dir(warehouse.path) / "results.json")
    results["run"]["timings"] = timings
    rows = frames(results, context.run.run_id)
    rows["history"] = history.history_rows(results, context.run.run_id, cells)
    with warehouse.connect() as con:
        counts = write_results(con, rows)
    for name, o in results["outcomes"].items():
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in o.pop("_timings", {}).items())
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

"""Model assets (group `models`): estimate every configured outcome from the `marts` panels.

Thin: reads the panels and metadata from DuckDB, calls `evaluation.run.build_document` (which
decides every section of the results document), writes `results.*` (one transaction) and
`OUT/results.json`, and shows the headline table and the event-study charts in the asset
metadata. Settings come from the city config's `model:`
section; `ModelRunConfig` fields set in the launchpad override them for a single run.
"""

import time

import dagster as dg

from assets.resources import DUCKDB_POOL, CityResource, WarehouseResource
from engagement_eval.results import ABSENT, ResultsDocument
from evaluation import history, summary
from evaluation.results_json import generated_at, write_results_json
from evaluation.run import build_document
from evaluation.settings import settings_from_config
from evaluation.store import frames
from evaluation.versions import code_version, package_versions
from warehouse.model_inputs import read_model_inputs
from warehouse.results_store import previous_history, write_results

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
        dg.AssetKey(["marts", "meeting_feedback"]),
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
    overrides = {k: v for k, v in config.model_dump().items() if v is not None}
    cfg = city.load().with_overrides({"model": overrides} if overrides else None)
    settings = settings_from_config(cfg)
    clock = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        read = read_model_inputs(con, cfg)
        previous = previous_history(con, cfg.city, context.run.run_id)
    read_seconds = time.perf_counter() - clock
    built = build_document(
        settings=settings,
        **read,
        previous=previous,
        city_config=cfg,
        city=cfg.city,
        config=cfg.raw,
        generated_at=generated_at(None, warehouse.source_date_epoch),
        threshold=cfg.attendance_threshold_per_1000,
        code_version=code_version(),
        versions=package_versions(),
    )
    doc = built.document
    timings = {"read_panels": read_seconds, **built.timings}
    path = write_results_json(doc, warehouse.results_folder() / "results.json")
    rows = frames(doc.with_timings(timings), context.run.run_id)
    rows["history"] = history.history_rows(doc.to_dict(), context.run.run_id, built.cells)
    with warehouse.connect() as con:
        counts = write_results(con, rows)
    by_outcome = {}  # where the model step's time goes (RI, HonestDiD, power, ...)
    for name, o in doc.outcomes.items():
        by_outcome[name] = {k: round(v, 2) for k, v in o.private.get("_timings", {}).items()}
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in by_outcome[name].items())
        context.log.info(f"{name}: {stages}")
    results = doc.to_dict()
    charts = "\n\n".join(
        summary.event_study_png(n, o)
        for n, o in sorted(results["outcomes"].items())
        if "reason" not in o
    )
    return dg.MaterializeResult(
        metadata={
            "headline": headline_table(doc),
            "event_studies": dg.MetadataValue.md(charts or "no event study"),
            "results_json": dg.MetadataValue.path(str(path)),
            "rollout_source": dg.MetadataValue.text(results["rollout_source"]),
            "rows_written": dg.MetadataValue.json(counts),
            "seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in timings.items()}),
            "seconds_by_outcome": dg.MetadataValue.json(by_outcome),
            **headline_metadata(results),
        }
    )


_HEADLINE = dg.TableSchema(
    columns=[
        dg.TableColumn("outcome", "string"),
        dg.TableColumn("verdict", "string", description="strong | some | none | unavailable"),
        dg.TableColumn("concerns", "string", description="codes in docs/evaluation.md"),
        dg.TableColumn("scale", "string", description="proportional (0.05 = +5%) or points"),
        dg.TableColumn("estimate", "float"),
        dg.TableColumn("ci_low", "float"),
        dg.TableColumn("ci_high", "float"),
        dg.TableColumn("p_value", "float"),
        dg.TableColumn("ri_p", "float", description="randomization inference"),
        dg.TableColumn("pre_trend_p", "float"),
        dg.TableColumn("twfe_estimate", "float"),
        dg.TableColumn("mde", "float", description="smallest detectable effect, 80% power"),
        dg.TableColumn("honestdid_breakdown", "float", description="largest Mbar that holds"),
        dg.TableColumn("reason", "string", description="why there is no estimate"),
    ]
)


def headline_table(doc: ResultsDocument) -> dg.MetadataValue:
    """One row per outcome: the verdict evaluation decided and the numbers behind it."""
    records = []
    for name, o in sorted(doc.outcomes.items()):
        verdict = o.verdict if o.verdict is not ABSENT else None
        row = {"outcome": name, "verdict": verdict.level if verdict else None}
        row["concerns"] = ", ".join(verdict.concerns or []) if verdict else None
        for column in _HEADLINE.columns[3:]:
            value = o.get(column.name)
            row[column.name] = value if isinstance(value, str | int | float) else None
        records.append(dg.TableRecord(row))
    return dg.MetadataValue.table(records=records, schema=_HEADLINE)


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

"""The DuckDB warehouse: delivered files -> raw -> staging -> marts panels -> results tables.

No Dagster and no statistics here; it imports only the core (`engagement_eval`). The Dagster
assets (`assets/`), the quality gate (`quality/`) and the command line (`pipelines/`) call it.
Modules: `sql` (identifiers, casts, table helpers), `connection` (open/lock policy), `ingest`
(raw and staging, and the one ingest runner outside Dagster), `panels` and `shapes` (the
analysis panels), `reads` (what the evaluation needs, as DataFrames), `results_store`
(`results.*` tables). See docs/architecture.md.
"""

"""Evaluation layer: the council's questions answered from the analysis panels.

Pure Python (pandas + `estimators`), no Dagster and no DuckDB: `evaluate(panels, settings)`
returns the results document (results.json); `store.frames` maps it to the rows that
`warehouse.results_store.write_results` keeps in DuckDB. The Dagster assets in
`assets/models.py` and `assets/report.py` only read the panels and call this package.
"""

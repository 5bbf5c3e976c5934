"""Evaluation layer: the council's questions answered from the analysis panels.

Pure Python (pandas + `estimators`), no Dagster: `evaluate(panels, settings)` returns the
results document (results.json); `store.write_results` keeps it in DuckDB. The Dagster assets in
`assets/models.py` and `assets/report.py` only read the panels and call this package.
"""

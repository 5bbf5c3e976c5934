"""Difference-in-differences estimators: a pure library (no Dagster), usable from a notebook.

Layers, as in pyfixest/statsmodels: a spec (`estimators.panel.PanelData`), a fit function per
method, inference helpers, and a results dataclass with `tidy()`, `summary()` and `to_dict()`.
"""

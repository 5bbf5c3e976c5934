"""Sizes and fast settings shared by the evaluation tests.

A module of its own (not conftest.py): several test folders have a conftest.py, and
`from conftest import ...` picks whichever was imported last when pytest is given several
folders at once."""

from __future__ import annotations

from evaluation.settings import EvaluationSettings

SMALL = dict(n_districts=14, months=48, incidents_per_1000=3.0, survey_responses_per_cell=30)
FAST = EvaluationSettings(bootstrap_draws=199, ri_permutations=99, survey_sampling_draws=40)

"""Sizes and the truth reader shared by the simulator tests.

A module of its own (not conftest.py): several test folders have a conftest.py, and
`from conftest import ...` picks whichever was imported last when pytest is given several
folders at once."""

from __future__ import annotations

import json

SMALL = {"seed": 11, "n_districts": 10, "start": "2018-04", "months": 48, "incidents_per_1000": 3.0}


def load_truth(folder) -> dict:
    return json.loads((folder / "truth.json").read_text(encoding="utf-8"))

"""Everything the model step reads from the warehouse, in one place.

Why: the `results.evaluation` asset and `bench/model_step.py` (the model step alone, for
profiling at scale) must evaluate exactly the same inputs; one reader keeps them from
drifting apart. The result is `evaluation.run.build_document`'s keyword arguments for the
warehouse's part (panels, shape, feedback, groups, input files, quality, names); the caller
adds the settings, the city config and what only it knows (the previous run, stamps).
"""

from __future__ import annotations

import duckdb

from engagement_eval.config import CityConfig
from warehouse.feedback_panels import feedback_gaps, read_feedback
from warehouse.groups import read_group_panel
from warehouse.reads import district_names, input_files, quality_section, read_panels
from warehouse.shapes import describe_shape, shape_notes


def read_model_inputs(con: duckdb.DuckDBPyConnection, config: CityConfig) -> dict:
    dm, dq = read_panels(con)
    shape = describe_shape(con, config)
    return {
        "dm": dm,
        "dq": dq,
        "group_panel": read_group_panel(con),
        "shape": shape,
        "shape_notes": shape_notes(shape),
        "feedback": read_feedback(con),
        "feedback_gaps": feedback_gaps(con),
        "inputs": input_files(con),
        "quality": quality_section(con),
        "names": district_names(con),
    }

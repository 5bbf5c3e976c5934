"""Score-shape writer: survey vendors' district-period scores instead of single responses.

Each score is the weighted mean of the index over the responses the response writer draws for
the same seed, with the linearised (with-replacement) standard error of that ratio mean that
the pipeline computes from responses (`docs/data_contract.md`), both mapped linearly from the
1-5 answer scale onto the score scale. Cells without respondents get no row; a cell with one
respondent has an empty standard error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.params import INDICES
from simulator.shapes import OutputShape, date_period_numbers, period_labels


def weighted_cell_stats(
    codes: np.ndarray, values: np.ndarray, weights: np.ndarray, n_cells: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: (n, weighted mean, linearised SE: sqrt(n/(n-1) sum w^2 (y-ybar)^2) / sum w)."""
    n = np.bincount(codes, minlength=n_cells)
    sum_w = np.bincount(codes, weights=weights, minlength=n_cells)
    mean = np.bincount(codes, weights=weights * values, minlength=n_cells) / sum_w
    resid = weights**2 * (values - mean[codes]) ** 2
    spread = np.bincount(codes, weights=resid, minlength=n_cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(n > 1, np.sqrt(n / (n - 1) * spread) / sum_w, np.nan)
    return n, mean, se


def scores_table(responses: pd.DataFrame, shape: OutputShape) -> pd.DataFrame:
    """Responses (district_id, response_date, items, weight) -> one row per district-period."""
    period = date_period_numbers(responses["response_date"].to_numpy(dtype=str), shape.grain)
    district = responses["district_id"].to_numpy(dtype=str)
    keys = pd.MultiIndex.from_arrays([district, period])
    codes, cells = pd.factorize(keys, sort=True)
    weights = responses["weight"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "district_id": cells.get_level_values(0).astype(object),
            "period": period_labels(cells.get_level_values(1).to_numpy(), shape.grain),
        }
    )
    errors = {}
    for index, items in INDICES.items():
        values = responses[list(items)].to_numpy(dtype=float).mean(axis=1)
        n, mean, se = weighted_cell_stats(codes, values, weights, len(cells))
        frame[index] = shape.rescale(mean)
        errors[f"{index}_se"] = se * shape.score_points_per_likert_point
    frame["n_respondents"] = n.astype(np.int64)
    if shape.score_se:
        for column, se in errors.items():
            frame[column] = se
    return frame

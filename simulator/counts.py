"""Count-shape writer: published crime counts (Return A style) instead of incident records.

The counts are the very Poisson draws the incident writer expands, summed over the months of
each period, so a pipeline fed the counts of a seed must give the estimates it gives from that
seed's incidents. Every (place, period, offense) row is written, zeros included: in this shape
a missing row means a reporting gap, not zero crimes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.shapes import period_labels, period_numbers


def counts_table(
    counts: np.ndarray,
    ids: tuple[str, ...],
    months: np.ndarray,
    offenses: tuple[str, ...],
    grain: str,
    id_column: str = "district_id",
) -> pd.DataFrame:
    """(place, month, offense) counts -> rows (id_column, period, offense_category, count),
    sorted by place, period and offense name."""
    numbers = period_numbers(months, grain)
    starts = np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]])
    by_period = counts if grain == "month" else np.add.reduceat(counts, starts, axis=1)
    order = np.argsort(np.asarray(offenses))
    by_period = by_period[:, :, order]
    n_place, n_period, n_offense = by_period.shape
    labels = np.asarray(period_labels(numbers[starts], grain), dtype=object)
    return pd.DataFrame(
        {
            id_column: np.repeat(np.asarray(ids, dtype=object), n_period * n_offense),
            "period": np.tile(np.repeat(labels, n_offense), n_place),
            "offense_category": np.tile(
                np.asarray(offenses, dtype=object)[order], n_place * n_period
            ),
            "count": by_period.reshape(-1).astype(np.int64),
        }
    )

"""Small-cell protection for survey results, applied before anything is rendered.

A survey average built on a handful of responses is both unreliable and a disclosure risk (a
few residents' answers could be singled out). Suppression happens on the data, not in the
template, so no chart, table or text alternative can leak a suppressed value.
"""

from __future__ import annotations

import copy

from reports.schema import DEFAULT_MIN_CELL_SIZE, SURVEY_OUTCOMES

_GROUPS = (("treated_mean", "treated_n"), ("comparison_mean", "comparison_n"))


def counts_responses(outcome: str, points: list[dict]) -> bool:
    """Survey outcomes, or any trend that reports response counts, are subject to suppression."""
    return outcome in SURVEY_OUTCOMES or any(n_key in p for p in points for _, n_key in _GROUPS)


def suppress_small_cells(
    trends: dict[str, list[dict]] | None, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> tuple[dict[str, list[dict]], int]:
    """Copy of `trends` with survey means blanked where fewer than `min_cell_size` responses.

    A missing count on a survey outcome is treated as too small: we cannot show what we cannot
    vouch for. Each blanked point gets `<group>_suppressed: True` so the report can say why it
    is missing. Returns the copy and the number of blanked values.
    """
    out: dict[str, list[dict]] = {}
    hidden = 0
    for outcome, points in (trends or {}).items():
        pts = copy.deepcopy(list(points or []))
        if counts_responses(outcome, pts):
            for p in pts:
                for mean_key, n_key in _GROUPS:
                    n = p.get(n_key)
                    too_small = not isinstance(n, int | float) or n < min_cell_size
                    if too_small and p.get(mean_key) is not None:
                        p[mean_key] = None
                        p[mean_key.replace("_mean", "_suppressed")] = True
                        hidden += 1
        out[outcome] = pts
    return out, hidden

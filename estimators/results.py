"""Shared pieces of results objects: one estimate with its inference, and tidy output."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from estimators.normal import norm_ppf, norm_sf


@dataclass(frozen=True)
class Estimate:
    """A scalar estimate with its standard error and a (1 - alpha) interval.

    `ci_low`/`ci_high` may come from a bootstrap or test inversion rather than estimate +- z*se,
    which is why they are stored, not derived.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float

    @classmethod
    def normal(cls, estimate: float, se: float, alpha: float = 0.05, crit: float | None = None):
        """Wald interval; `crit` overrides the normal quantile (e.g. a uniform-band value)."""
        z = norm_ppf(1 - alpha / 2) if crit is None else crit
        if not np.isfinite(se) or se <= 0:
            return cls(float(estimate), float(se), math.nan, math.nan, math.nan)
        p = 2 * norm_sf(abs(estimate) / se)
        return cls(
            float(estimate), float(se), float(estimate - z * se), float(estimate + z * se), float(p)
        )

    def to_dict(self) -> dict:
        return {k: _clean(v) for k, v in asdict(self).items()}


def _clean(v):
    """JSON-safe float: NaN/inf become None so results.json stays valid JSON."""
    if isinstance(v, float | np.floating):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def clean_records(records: list[dict]) -> list[dict]:
    return [{k: _clean(v) for k, v in r.items()} for r in records]

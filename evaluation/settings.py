"""Evaluation settings: the city config's `model:` section plus keys with documented defaults.

`engagement_eval.config.ModelConfig` validates the documented keys (control group, anticipation,
bootstrap draws, alpha, seed, event window, minimum cell size). The evaluation needs a few more;
they are read from the same `model:` section of the raw config (the config loader keeps unknown
keys inside `model:`) and default as in `EXTRA_DEFAULTS` (documented in docs/evaluation.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from engagement_eval.config import CityConfig
from engagement_eval.errors import UserError
from evaluation.outcomes import ALL_OUTCOMES

EXTRA_DEFAULTS = {
    "outcomes": list(ALL_OUTCOMES),
    "ri_permutations": 999,  # randomization inference draws (few-district p-value)
    "power_simulations": 0,  # > 0: MDE also by simulation on the city's own panel
    "survey_sampling_draws": 200,  # draws propagating the survey cells' standard errors
    "dose_bins": 3,  # attendance-per-1,000 bins of the dose-response analysis
    "honestdid_grid": [0.0, 0.5, 1.0, 1.5, 2.0],  # relative-magnitude bounds Mbar
    "honestdid_pre": 3,  # half-year pre-period bins given to HonestDiD (besides the reference)
    "honestdid_post": 0,  # half-year post bins averaged by the target; 0 = all in event_window
    # confirmatory outcome; None = the first crime outcome with an estimate, else the first
    # survey one (evaluation.permutations.primary_outcome); must be one of `outcomes`
    "primary_outcome": None,
}


@dataclass(frozen=True)
class EvaluationSettings:
    """Everything that changes numbers in results.json (so it is recorded with them)."""

    outcomes: tuple[str, ...] = tuple(ALL_OUTCOMES)
    control_group: str = "notyet"
    anticipation: int = 0
    bootstrap_draws: int = 999
    alpha: float = 0.05
    seed: int = 20240101
    event_window: tuple[int, int] = (-12, 24)  # months; quarters use ceil(months / 3)
    min_cell_size: int = 10
    ri_permutations: int = 999
    power_simulations: int = 0
    survey_sampling_draws: int = 200
    dose_bins: int = 3
    honestdid_grid: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0)
    honestdid_pre: int = 3
    honestdid_post: int = 0
    # grain of the analysis panel and of the survey panel, and the analysis unit
    # (set from the panels' shape by assets/models.py; warehouse/shapes.describe_shape)
    grain: str = "month"
    survey_grain: str = "quarter"
    analysis_unit: str = "district"
    primary_outcome: str | None = None  # model.primary_outcome (None: see EXTRA_DEFAULTS)
    rollout_randomized: bool = False  # rollout.randomized: RI is an exact test only if True
    notes: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("notes")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def window(self, units: str) -> tuple[int, int]:
        """Event window in periods of the panel (months as configured; quarters and years
        rounded out; years keep at least three pre-roll-out periods, see engagement_eval.grain)."""
        from engagement_eval.grain import window_in_periods

        return window_in_periods(self.event_window, units)


def _int(raw: dict, key: str, lo: int) -> int:
    value = raw.get(key, EXTRA_DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise UserError(
            f"model.{key} = {value!r} is not valid", f"set model.{key} to an integer >= {lo}"
        )
    return int(value)


def settings_from_config(config: CityConfig, overrides: dict | None = None) -> EvaluationSettings:
    """Settings from a city config; `overrides` (e.g. from the Dagster launchpad) win."""
    m = config.model
    raw = dict((config.raw or {}).get("model") or {})
    raw.update(overrides or {})
    outcomes = raw.get("outcomes", EXTRA_DEFAULTS["outcomes"])
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    unknown = [o for o in outcomes if o not in ALL_OUTCOMES]
    if unknown or not outcomes:
        raise UserError(
            f"model.outcomes {outcomes!r} lists unknown outcomes {unknown}",
            f"use some of: {', '.join(ALL_OUTCOMES)}",
        )
    primary = raw.get("primary_outcome", EXTRA_DEFAULTS["primary_outcome"])
    evaluated = tuple(dict.fromkeys(outcomes))
    if primary is not None and primary not in evaluated:
        raise UserError(
            f"model.primary_outcome {primary!r} is not one of the evaluated outcomes "
            f"(model.outcomes: {', '.join(evaluated)})",
            f"set model.primary_outcome to one of: {', '.join(evaluated)}, or leave it out "
            "(then the first crime outcome with data is primary)",
        )
    grid = raw.get("honestdid_grid", EXTRA_DEFAULTS["honestdid_grid"])
    if (
        not isinstance(grid, list | tuple)
        or not grid
        or any(
            isinstance(g, bool) or not isinstance(g, int | float) or not g >= 0 or g == float("inf")
            for g in grid
        )
    ):
        raise UserError(
            f"model.honestdid_grid {grid!r} is not valid",
            "give a list of numbers >= 0, e.g. [0, 0.5, 1, 1.5, 2]",
        )
    base = {
        k: raw.get(k, getattr(m, k))
        for k in (
            "control_group",
            "anticipation",
            "bootstrap_draws",
            "alpha",
            "seed",
            "min_cell_size",
        )
    }
    return EvaluationSettings(
        outcomes=evaluated,
        control_group=str(base["control_group"]),
        anticipation=int(base["anticipation"]),
        bootstrap_draws=int(base["bootstrap_draws"]),
        alpha=float(base["alpha"]),
        seed=int(base["seed"]),
        event_window=tuple(int(e) for e in raw.get("event_window", m.event_window)),
        min_cell_size=int(base["min_cell_size"]),
        ri_permutations=_int(raw, "ri_permutations", 0),
        power_simulations=_int(raw, "power_simulations", 0),
        survey_sampling_draws=_int(raw, "survey_sampling_draws", 0),
        dose_bins=_int(raw, "dose_bins", 2),
        honestdid_grid=tuple(sorted(float(g) for g in grid)),
        honestdid_pre=_int(raw, "honestdid_pre", 1),
        honestdid_post=_int(raw, "honestdid_post", 0),
        primary_outcome=primary,
        rollout_randomized=bool(getattr(config, "rollout_randomized", False)),
    )

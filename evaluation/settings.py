"""Evaluation settings: the typed city config's `model:` section, plus the panels' shape.

Every key, its default and its range are declared once, in the config schema
(`engagement_eval.config.ModelConfig`); this module only turns that section into the frozen
record of everything that changes numbers in results.json, and checks what only the
evaluation layer knows (which outcome names exist).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from engagement_eval.config import CityConfig
from engagement_eval.errors import UserError
from evaluation.outcomes import ALL_OUTCOMES


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
    jackknife_groups: int = 50  # model.jackknife_groups (estimators.few_clusters)
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
    primary_outcome: str | None = None  # model.primary_outcome (None: evaluation.permutations)
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


def settings_from_config(config: CityConfig, overrides: dict | None = None) -> EvaluationSettings:
    """Settings from a city config; `overrides` are `model:` keys for one run (e.g. from the
    Dagster launchpad), validated by the schema like the file's own (`with_overrides`)."""
    if overrides:
        config = config.with_overrides({"model": dict(overrides)})
    m = config.model
    evaluated = m.outcomes if m.outcomes is not None else tuple(ALL_OUTCOMES)
    unknown = [o for o in evaluated if o not in ALL_OUTCOMES]
    if unknown:
        raise UserError(
            f"model.outcomes {list(evaluated)!r} lists unknown outcomes {unknown}",
            f"use some of: {', '.join(ALL_OUTCOMES)}",
        )
    if m.primary_outcome is not None and m.primary_outcome not in evaluated:
        raise UserError(
            f"model.primary_outcome {m.primary_outcome!r} is not one of the evaluated outcomes "
            f"(model.outcomes: {', '.join(evaluated)})",
            f"set model.primary_outcome to one of: {', '.join(evaluated)}, or leave it out "
            "(then the first crime outcome with data is primary)",
        )
    return EvaluationSettings(
        outcomes=evaluated,
        control_group=m.control_group,
        anticipation=m.anticipation,
        bootstrap_draws=m.bootstrap_draws,
        alpha=m.alpha,
        seed=m.seed,
        event_window=m.event_window,
        min_cell_size=m.min_cell_size,
        ri_permutations=m.ri_permutations,
        jackknife_groups=m.jackknife_groups,
        power_simulations=m.power_simulations,
        survey_sampling_draws=m.survey_sampling_draws,
        dose_bins=m.dose_bins,
        honestdid_grid=m.honestdid_grid,
        honestdid_pre=m.honestdid_pre,
        honestdid_post=m.honestdid_post,
        primary_outcome=m.primary_outcome,
        rollout_randomized=config.rollout.randomized,
    )

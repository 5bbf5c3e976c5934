"""Resident groups of the demo city (issue 15, section 2): two group columns with known,
unequal program effects, written into survey_responses and stated in truth.json.

- `age_group`: the survey strata (`params.STRATA`); the program's latent shift is scaled by
  `survey.STRATUM_EFFECT` (the young gain most, the old least).
- `years_in_neighborhood`: drawn per respondent, independent of age and district, from its own
  random stream (so no earlier stream changes). Newcomers (`0-4`) trust less (latent level
  `TENURE_LEVEL`) and take the whole program effect, scaled up by 1 / share so that the
  population's average latent shift is the same as without groups; long-term residents (`5+`)
  gain nothing. So one group gains much and one none, and the trust gap narrows.

Truth per group value: the effect on the group's population mean answer (strata weighted by
the district's population shares), averaged over the treated district-quarters exactly as
the headline's truth (`truth.survey_truth`). A group's weighted cell mean estimates that
mean because the post-stratification weights give each stratum its population share within
the group too (tenure is independent of the stratum).
"""

from __future__ import annotations

import numpy as np

from simulator.params import INDICES, STRATA, SURVEY_ITEMS

GROUP_COLUMNS = ("age_group", "years_in_neighborhood")
TENURE = ("0-4", "5+")
TENURE_SHARE = np.array([0.4, 0.6])
TENURE_LEVEL = np.array([-0.35, 0.0])  # latent level shift (probit scale)
TENURE_EFFECT = np.array([1.0 / 0.4, 0.0])  # multiplier of the program's latent shift


TRUTH_DEFINITION = (
    "Per group column, index and value: the program's effect on the group's population mean "
    "answer (points on the 1-5 scale), averaged over the treated district-quarters like the "
    "index's overall truth"
)


def draw_tenure(rng: np.random.Generator, n: int) -> np.ndarray:
    """Tenure class index per respondent."""
    return rng.choice(len(TENURE), size=n, p=TENURE_SHARE)


def parameters() -> dict:
    return {
        "columns": list(GROUP_COLUMNS),
        "age_group": "the survey stratum; program effect multiplier stratum_effect",
        "years_in_neighborhood": {
            v: {"share": float(s), "latent_level": float(lv), "effect_multiplier": float(m)}
            for v, s, lv, m in zip(TENURE, TENURE_SHARE, TENURE_LEVEL, TENURE_EFFECT, strict=True)
        },
    }


def group_truth(model, event_time: np.ndarray) -> dict:
    """{column: {index: {value: effect in points}}} averaged over treated district-quarters.

    `model` is a `simulator.survey.SurveyModel` (its `expected_by_stratum(with, tenure)`)."""
    treated = event_time >= 0
    out: dict = {c: {} for c in GROUP_COLUMNS}
    by_stratum = model.expected_by_stratum(True) - model.expected_by_stratum(False)
    by_tenure = [
        model.population_mean(
            model.expected_by_stratum(True, tenure=k) - model.expected_by_stratum(False, tenure=k)
        )
        for k in range(len(TENURE))
    ]
    for index, items in INDICES.items():
        cols = [SURVEY_ITEMS.index(i) for i in items]
        out["age_group"][index] = {
            s: float(by_stratum[:, :, cols, j].mean(axis=2)[treated].mean())
            for j, s in enumerate(STRATA)
        }
        out["years_in_neighborhood"][index] = {
            v: float(by_tenure[k][:, :, cols].mean(axis=2)[treated].mean())
            for k, v in enumerate(TENURE)
        }
    return out

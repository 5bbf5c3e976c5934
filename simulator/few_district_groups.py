"""Few-district cities with resident groups, for the coverage of group effects and of their
difference (issue 15, section 2; bench/coverage_groups.py, tests/evaluation/test_groups.py).

Draws the group panel directly, in the layout of `marts.district_quarter_survey_groups`
(`index_name, group_column, group_value, district_id, period, mean, se, n_responses,
sum_weights, cohort_period`), on the roll-out of a `simulator.few_district.Design`.

Every group in a district-quarter shares the district's level, the city's common path and the
district-quarter AR(1) shock (`Design.survey_shock_sd`): that shared shock makes two groups'
effects correlated, which is what the joint jackknife of their difference must get right.
Each group adds its own level, its own AR(1) shock (`group_shock_sd`) and sampling noise from
its share of the respondents. Truth: each group's effect is a constant shift in points
(`effects`), so the difference of two groups' effects is the difference of the shifts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.few_district import Design, _ar1, rollout_months

# Two groups with unequal effects: the group that trusts less gains much, the other none.
DEFAULT_GROUPS: dict[str, dict[str, float]] = {
    "newcomer": {"level": -0.45, "effect": 0.30, "share": 0.4},
    "long_term": {"level": 0.0, "effect": 0.0, "share": 0.6},
}


def draw_group_panel(
    d: Design,
    seed: int,
    groups: dict[str, dict[str, float]] | None = None,
    group_shock_sd: float = 0.05,
    column: str = "tenure",
) -> pd.DataFrame:
    groups = groups or DEFAULT_GROUPS
    rng = np.random.default_rng(seed)
    n = d.n_districts
    t_q = d.n_months // 3
    start = rollout_months(d)[rng.permutation(n)]
    program = start > 0
    start_q = np.where(program, (start - 1) // 3 + 1, 0)
    quarters = np.arange(1, t_q + 1)
    q_treated = program[:, None] & (quarters[None, :] >= start_q[:, None])
    pop = np.exp(rng.normal(0, d.size_sd, n))
    size_share = np.sqrt(pop / pop.mean())
    shared = (
        3.2
        + rng.normal(0, 0.25, n)[:, None]
        + np.cumsum(rng.normal(0, 0.03, t_q))[None, :]
        + _ar1(rng, n, t_q, d.survey_shock_sd, d.survey_rho)
    )
    ids = np.array([f"D{k + 1:02d}" for k in range(n)])
    parts = []
    for value, g in groups.items():
        own = _ar1(rng, n, t_q, group_shock_sd, d.survey_rho) if group_shock_sd > 0 else 0.0
        mean = shared + g["level"] + own + np.where(q_treated, g["effect"], 0.0)
        n_resp = np.maximum(
            rng.poisson(d.respondents * g["share"] * size_share[:, None], (n, t_q)), 2
        )
        sample = mean + rng.normal(0, 1, (n, t_q)) * d.answer_sd / np.sqrt(n_resp)
        sd = d.answer_sd * np.sqrt(rng.chisquare(n_resp - 1) / (n_resp - 1))
        parts.append(
            pd.DataFrame(
                {
                    "index_name": "trust_index",
                    "group_column": column,
                    "group_value": value,
                    "district_id": np.repeat(ids, t_q),
                    "period": np.tile(quarters, n),
                    "mean": sample.ravel(),
                    "se": (sd / np.sqrt(n_resp)).ravel(),
                    "n_responses": n_resp.ravel(),
                    "sum_weights": n_resp.ravel().astype(float),
                    "cohort_period": np.repeat(start_q, t_q),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def group_truth(groups: dict[str, dict[str, float]] | None = None) -> dict[str, float]:
    return {v: float(g["effect"]) for v, g in (groups or DEFAULT_GROUPS).items()}

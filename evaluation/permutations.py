"""The central randomization step: one set of reshuffled roll-outs for every outcome.

Why one set: the family-wise adjusted p-values across outcomes (Romano-Wolf step-down max-|t|,
`estimators.randomization.step_down_max_t`) need every outcome's statistic under the SAME
reassignment, so the dependence between outcomes (the three crime counts share districts and
shocks) is kept; that is what makes them less conservative than Bonferroni or Holm.

What is permuted: the district -> roll-out date map. A draw gives district d the roll-out of
district order[d]; each panel then reads that date in its own periods (crime: the month
panel's cohort; surveys: the quarter holding that month, learned from the districts' own
pairs of crime and survey cohorts). So the crime and the survey panel of one draw describe
the same reshuffled roll-out.

When the survey panel is on other places than the crime panel (a beat-level analysis:
crime per beat, surveys per district), no common map exists. Then crime and survey outcomes
are reshuffled separately, Romano-Wolf is applied within each of the two families and the
result is multiplied by 2 (Bonferroni across the two), which still controls the family-wise
error; `multiple_outcomes.method` says so.

Primary outcome: `model.primary_outcome`, or by default the first crime outcome (in
`model.outcomes` order) that has an estimate, else the first survey outcome that has one.
It is reported as primary; every evaluated outcome gets its adjusted p.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pandas as pd

from estimators.panel import PanelData, prepare_panel
from estimators.randomization import permutation_orders, step_down_max_t
from evaluation.crime import crime_frame, rate_panel
from evaluation.inference import (
    STATISTIC,
    ReassignedCS,
    StudentizedCS,
    permutations_for,
    ri_entry,
)
from evaluation.outcomes import spec
from evaluation.ri_batch_rc import build_batch
from evaluation.settings import EvaluationSettings
from evaluation.survey import survey_frame

METHOD = "Romano-Wolf"
SEPARATE = (
    "Romano-Wolf within crime and within survey outcomes, Bonferroni across the two "
    "(they are measured on different places, so no common reshuffling exists)"
)
STATISTIC_ON = {
    "crime": STATISTIC + ", on the population-weighted rate per 1,000 residents",
    "survey": STATISTIC + ", on district-quarter survey means",
}


@dataclasses.dataclass
class Family:
    """Outcomes reshuffled together: their places, each place's roll-out key, and per outcome
    its panel, the row -> place index and the key -> panel cohort map."""

    places: np.ndarray
    keys: np.ndarray  # roll-out key per place (the crime panel's cohort, 0 = never)
    members: dict[str, tuple[PanelData, np.ndarray, dict]] = dataclasses.field(default_factory=dict)


def _estimated(outcomes: dict, name: str) -> bool:
    return outcomes.get(name) is not None and "reason" not in outcomes[name]


def primary_outcome(settings: EvaluationSettings, outcomes: dict) -> str | None:
    """The configured primary outcome, else the documented default (module docstring)."""
    if settings.primary_outcome is not None:
        return settings.primary_outcome
    estimated = [n for n in settings.outcomes if _estimated(outcomes, n)]
    for kind in ("crime", "survey"):
        for name in estimated:
            if spec(name).kind == kind:
                return name
    return None


def outcome_panel(name: str, dm: pd.DataFrame, dq: pd.DataFrame | None) -> PanelData:
    """The panel the RI statistic of one outcome is computed on (as its headline's data)."""
    sp = spec(name)
    if sp.kind == "crime":
        f, _ = crime_frame(dm, sp)
        return rate_panel(f, "period", sp.rate, weighted=True)
    f = survey_frame(dq, sp)
    return prepare_panel(
        f, unit="district_id", time="period", outcome="mean", cohort="cohort_period"
    )


def _place_cohorts(frame: pd.DataFrame) -> pd.Series:
    """Cohort per place (district_id), 0 = never, from a panel frame with `cohort_period`."""
    return frame.groupby("district_id")["cohort_period"].first().fillna(0).astype(int).sort_index()


def _key_map(own: pd.Series, keys: pd.Series) -> dict | None:
    """{roll-out key: cohort in `own`'s periods}, learned from the places both have; None when
    `own` has places `keys` lacks, a key maps to two cohorts, or a key has no place in `own`."""
    if not own.index.isin(keys.index).all():
        return None
    pairs = pd.DataFrame({"key": keys.loc[own.index].to_numpy(), "cohort": own.to_numpy()})
    mapping = pairs.drop_duplicates()
    if mapping["key"].duplicated().any() or not set(keys.unique()) <= set(mapping["key"]):
        return None
    return dict(zip(mapping["key"], mapping["cohort"], strict=True))


def families(
    panels: dict[str, PanelData], dm: pd.DataFrame, dq: pd.DataFrame | None = None
) -> list[Family]:
    """One family when the survey panel's places and roll-out read off the crime panel's
    (learned from whole panels, so a district without survey answers still maps), else one
    per kind (crime, survey), each keyed by its own places' cohorts."""
    reference = {"crime": _place_cohorts(dm)}
    if dq is not None and not dq.empty:
        reference["survey"] = _place_cohorts(dq)
    kinds = [k for k in ("crime", "survey") if any(spec(n).kind == k for n in panels)]
    keys = reference["crime"]
    maps = {k: _key_map(reference.get(k, keys), keys) for k in kinds}
    if all(m is not None for m in maps.values()) and all(
        pd.Index(p.frame[p.unit].unique()).isin(keys.index).all() for p in panels.values()
    ):
        joint = Family(keys.index.to_numpy(), keys.to_numpy())
        for name, panel in panels.items():
            rows = keys.index.get_indexer(panel.frame[panel.unit])
            joint.members[name] = (panel, rows, maps[spec(name).kind])
        return [joint]
    out = []
    for kind in kinds:
        names = [n for n in panels if spec(n).kind == kind]
        own = reference.get(kind)
        units = pd.concat([_place_cohorts(panels[n].frame) for n in names])
        if own is None or not units.index.isin(own.index).all():
            own = units[~units.index.duplicated()].sort_index()
        fam = Family(own.index.to_numpy(), own.to_numpy())
        for n in names:
            p = panels[n]
            fam.members[n] = (p, own.index.get_indexer(p.frame[p.unit]), {k: k for k in set(own)})
        out.append(fam)
    return out


def _draws(fam: Family, name: str, orders: np.ndarray, stat: StudentizedCS) -> np.ndarray:
    """The outcome's statistic under each reassignment (row b of `orders`)."""
    panel, rows, mapping = fam.members[name]
    cohort_of_place = np.array([mapping[k] for k in fam.keys])
    fast = ReassignedCS.build(stat, panel)
    unit_place = None if fast is None else pd.Index(fam.places).get_indexer(fast.unit_ids)
    out = np.empty(len(orders))
    frame = panel.frame.copy()
    # all draws at once where the array path covers them exactly (evaluation/ri_batch.py);
    # the rest one by one as before
    batch = (
        None if fast is None else build_batch(fast.design, stat.control_group, stat.anticipation)
    )
    pending = np.ones(len(orders), bool)
    if batch is not None:
        values, pending = batch(cohort_of_place[orders][:, unit_place])
        out[~pending] = values[~pending]
    for b in np.flatnonzero(pending):
        cohorts = cohort_of_place[orders[b]]
        value = None if fast is None else fast(cohorts[unit_place])
        if value is None:  # refit the whole panel (a sample rule may apply to this draw)
            frame[panel.cohort] = cohorts[rows]
            value = stat(dataclasses.replace(panel, frame=frame))
        out[b] = value
    return out


def randomization_step(
    dm: pd.DataFrame,
    dq: pd.DataFrame | None,
    settings: EvaluationSettings,
    outcomes: dict,
) -> dict:
    """Adds `ri`, `ri_p` and `adjusted_p` to every estimated outcome in `outcomes` (in place)
    and returns results.json `multiple_outcomes`."""
    names = [n for n in settings.outcomes if _estimated(outcomes, n)]
    primary = primary_outcome(settings, outcomes)
    stat = StudentizedCS(settings.control_group, settings.anticipation)
    exact = settings.rollout_randomized
    section = {"primary": primary, "method": METHOD, "adjusted_p": {}, "permutations": 0}
    if settings.ri_permutations <= 0 or not names:
        for n in names:
            outcomes[n]["ri"] = ri_entry(
                math.nan,
                [],
                statistic=STATISTIC_ON[spec(n).kind],
                exact=exact,
                reason="switched off (model.ri_permutations is 0)"
                if settings.ri_permutations <= 0
                else None,
            )
            outcomes[n].update(ri_p=None, adjusted_p=None)
        section["reason"] = (
            "switched off (model.ri_permutations is 0)"
            if settings.ri_permutations <= 0
            else "no outcome has an estimate"
        )
        return section

    panels, failed = {}, {}
    for n in names:
        try:
            panels[n] = outcome_panel(n, dm, dq)
        except Exception as exc:  # noqa: BLE001 - that outcome's RI is withheld, others run
            failed[n] = f"its panel could not be built ({exc})"
    fams = families(panels, dm, dq) if panels else []
    observed, all_draws, adjusted, used = {}, {}, {}, []
    for k, fam in enumerate(fams):
        n_draws = permutations_for(settings.ri_permutations, len(fam.places))
        orders = permutation_orders(n_draws, len(fam.places), [settings.seed, k])
        for n in fam.members:
            clock = time.perf_counter()
            observed[n] = stat(fam.members[n][0])
            all_draws[n] = _draws(fam, n, orders, stat)
            # the RI cost per outcome (issue 17), beside the outcome's other `_timings`
            outcomes[n].setdefault("_timings", {})["randomization_inference"] = (
                time.perf_counter() - clock
            )
        for n in fam.members:
            outcomes[n]["ri"] = ri_entry(
                observed[n], all_draws[n], statistic=STATISTIC_ON[spec(n).kind], exact=exact
            )
        family = [n for n in fam.members if outcomes[n]["ri"]["p"] is not None]
        if family:
            p_adj, b_used = step_down_max_t(
                np.array([observed[n] for n in family]),
                np.column_stack([all_draws[n] for n in family]),
            )
            factor = len(fams)  # Bonferroni across families (1 when one family)
            adjusted.update(
                {n: min(1.0, factor * float(p)) for n, p in zip(family, p_adj, strict=True)}
            )
            used.append(int(b_used.min()))
    for n, reason in failed.items():
        outcomes[n]["ri"] = ri_entry(
            math.nan, [], statistic=STATISTIC_ON[spec(n).kind], exact=exact, reason=reason
        )
    for n in names:
        outcomes[n]["ri_p"] = outcomes[n]["ri"]["p"]
        outcomes[n]["adjusted_p"] = adjusted.get(n)
    section.update(
        method=METHOD if len(fams) <= 1 else SEPARATE,
        adjusted_p={n: adjusted[n] for n in names if n in adjusted},
        permutations=min(used) if used else 0,
        statistic=STATISTIC,
        outcomes=[n for n in names if n in adjusted],
    )
    return section

"""Beats: units below districts, for cities that record incidents, meetings and programs per
beat and analyse per district (or per beat).

A beat's expected crime of class k is a fixed share of its district's (population share times a
beat crime factor), so splitting each district x month x offense Poisson count multinomially
across the beats gives beat counts that sum back to exactly the district counts of the same
seed, and beat-level expected counts are the district-level ones times the share. Programs are
per district: every beat of a treated district starts on the district's date, so a district
analysis of beat data and of district data see the same roll-out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.design import Design
from simulator.params import CRIME_CLASSES

PEOPLE_PER_BEAT = 10_000  # Chicago: about 2.7 M residents in 274 beats
BEATS_RANGE = (4, 15)
EVEN_SHARE = 0.5  # beat population share = EVEN_SHARE / n + (1 - EVEN_SHARE) * Dirichlet
DIRICHLET_CONCENTRATION = 4.0
CRIME_FACTOR_SD = (0.35, 0.15)  # log beat crime factor: shared across classes, per class


@dataclass(frozen=True)
class Beats:
    unit_ids: tuple[str, ...]  # "<district_id>-<nn>", ordered by district then beat
    district_of: np.ndarray  # (unit,) district index
    population: np.ndarray  # (unit,) residents; sums to the district's population
    crime_share: np.ndarray  # (unit, class) share of the district's expected crime
    first_unit: np.ndarray  # (district,) index of the district's first unit
    n_units: np.ndarray  # (district,) number of beats

    @property
    def max_units(self) -> int:
        return int(self.n_units.max())

    def slot_units(self) -> np.ndarray:
        """(district, slot) unit index, -1 for padding. Real beats take the LAST slots so a
        multinomial's last category (which takes the leftover mass) is always a real beat."""
        n_max = self.max_units
        pad = n_max - self.n_units
        slots = np.arange(n_max)[None, :]
        units = self.first_unit[:, None] + slots - pad[:, None]
        return np.where(slots >= pad[:, None], units, -1)

    def slot_probabilities(self, offense_class: np.ndarray) -> np.ndarray:
        """(district, offense, slot) probability that an offense falls in each beat slot."""
        slot_unit = self.slot_units()
        share = np.where(
            slot_unit[:, :, None] >= 0, self.crime_share[np.maximum(slot_unit, 0)], 0.0
        )  # (district, slot, class)
        return share[:, :, offense_class].transpose(0, 2, 1)

    def table(self, design: Design) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "unit_id": list(self.unit_ids),
                "district_id": np.asarray(design.district_ids, dtype=object)[self.district_of],
                "population": self.population,
            }
        )

    def parameters(self, design: Design) -> dict:
        return {
            "people_per_beat": PEOPLE_PER_BEAT,
            "beats_range": list(BEATS_RANGE),
            "units": {
                u: {
                    "district_id": design.district_ids[self.district_of[i]],
                    "population": int(self.population[i]),
                    "crime_share": dict(
                        zip(CRIME_CLASSES, self.crime_share[i].tolist(), strict=True)
                    ),
                }
                for i, u in enumerate(self.unit_ids)
            },
        }


def build_beats(design: Design, rng: np.random.Generator) -> Beats:
    n_units = np.clip(np.round(design.population / PEOPLE_PER_BEAT), *BEATS_RANGE).astype(int)
    first = np.concatenate([[0], np.cumsum(n_units)[:-1]])
    district_of = np.repeat(np.arange(design.n_districts), n_units)
    population = np.zeros(len(district_of), dtype=np.int64)
    for d, n in enumerate(n_units):  # one draw per district (dozens), not per record
        shares = EVEN_SHARE / n + (1 - EVEN_SHARE) * rng.dirichlet(
            np.full(n, DIRICHLET_CONCENTRATION)
        )
        population[first[d] : first[d] + n] = rng.multinomial(design.population[d], shares)
    log_factor = rng.normal(0, CRIME_FACTOR_SD[0], (len(district_of), 1)) + rng.normal(
        0, CRIME_FACTOR_SD[1], (len(district_of), len(CRIME_CLASSES))
    )
    weight = population[:, None] * np.exp(log_factor)
    district_total = np.zeros((design.n_districts, len(CRIME_CLASSES)))
    np.add.at(district_total, district_of, weight)
    width = max(2, len(str(int(n_units.max()))))
    ids = tuple(
        f"{design.district_ids[d]}-{str(i - first[d] + 1).zfill(width)}"
        for i, d in enumerate(district_of)
    )
    return Beats(
        unit_ids=ids,
        district_of=district_of,
        population=population,
        crime_share=weight / district_total[district_of],
        first_unit=first,
        n_units=n_units,
    )


def split_counts(
    counts: np.ndarray, beats: Beats, offense_class: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(district, month, offense) counts -> (district, month, offense, slot) beat counts."""
    probs = beats.slot_probabilities(offense_class)  # (district, offense, slot)
    return rng.multinomial(counts, probs[:, None, :, :])


def unit_counts(slot_counts: np.ndarray, beats: Beats) -> np.ndarray:
    """(district, month, offense, slot) -> (unit, month, offense), units in their order."""
    slot_unit = beats.slot_units()
    d, j = np.nonzero(slot_unit >= 0)
    order = np.argsort(slot_unit[d, j])
    return slot_counts[d[order], :, :, j[order]]


def incident_units(slot_counts: np.ndarray, beats: Beats) -> np.ndarray:
    """Unit index of every incident in the order `incident_table` expands cells (cell by
    cell, and within a cell beat by beat; times within a cell are i.i.d., so this is a
    random assignment)."""
    unit_of_slot = np.broadcast_to(beats.slot_units()[:, None, None, :], slot_counts.shape)
    return np.repeat(unit_of_slot.reshape(-1), slot_counts.reshape(-1))


def meeting_units(district_index: np.ndarray, beats: Beats, rng: np.random.Generator) -> np.ndarray:
    """A beat for each meeting, in proportion to beat population within its district."""
    slot_unit = beats.slot_units()
    pop = np.where(slot_unit >= 0, beats.population[np.maximum(slot_unit, 0)], 0)
    cumulative = np.cumsum(pop, axis=1) / pop.sum(axis=1, keepdims=True)
    draw = rng.random(len(district_index))
    slot = (draw[:, None] >= cumulative[district_index]).sum(axis=1)
    slot = np.minimum(slot, beats.max_units - 1)
    return slot_unit[district_index, slot]


def unit_crime_truth(
    beats: Beats,
    expected_without: np.ndarray,
    expected_with: np.ndarray,
    treated: np.ndarray,
    offense_class: np.ndarray,
    which: str,
) -> dict[str, float]:
    """Per beat: sum over its treated months of (with - without) / sum of without.

    A beat's expected count is crime_share[beat, class] times its district's, so these ratios
    aggregate (as ratio of sums) to the district and city truth exactly.
    """
    keep = (
        np.ones(len(offense_class), dtype=bool)
        if which == "total"
        else offense_class == CRIME_CLASSES.index(which)
    )
    mask = treated[:, :, None]
    diff = np.where(mask, expected_with - expected_without, 0.0).sum(axis=1)  # (d, o)
    base = np.where(mask, expected_without, 0.0).sum(axis=1)
    share = beats.crime_share[:, offense_class] * keep  # (unit, offense)
    d = beats.district_of
    unit_diff = (share * diff[d]).sum(axis=1)
    unit_base = (share * base[d]).sum(axis=1)
    return {
        u: float(unit_diff[i] / unit_base[i])
        for i, u in enumerate(beats.unit_ids)
        if unit_base[i] > 0
    }

"""The report's input: results.json (issue 5) plus the sections the report needs.

Typed as TypedDicts rather than dataclasses because the input *is* a JSON document: the model
assets write it, the report reads it, and keeping it a plain dict means no conversion layer that
could drift. Every key is optional (`total=False`); a missing key renders as a plain sentence
saying what is missing, never as an error. `docs/report.md` is the prose version of this file.
"""

from __future__ import annotations

from typing import Literal, TypedDict

Scale = Literal["proportional", "points"]
CheckStatus = Literal["passed", "warned", "failed"]


class InputFile(TypedDict, total=False):
    file: str
    sha256: str
    rows: int


class EventTimePoint(TypedDict, total=False):
    event_time: int  # periods since roll-out; 0 = first treated period
    estimate: float | None
    ci_low: float | None  # uniform (simultaneous) band when the producer has one
    ci_high: float | None


class BaconComponent(TypedDict, total=False):
    type: str  # e.g. "treated vs never treated", "later vs earlier treated"
    weight: float  # share of the TWFE estimate, weights sum to 1
    estimate: float  # same scale as `twfe_estimate`


class HonestDidRow(TypedDict, total=False):
    m: float  # relative-magnitude bound Mbar
    ci_low: float | None
    ci_high: float | None


class SecondaryEstimate(TypedDict, total=False):
    """An estimate shown beside the headline one (e.g. rate-based Callaway & Sant'Anna)."""

    estimator: str
    scale: str  # free text unit, e.g. "incidents per 1,000 residents per month"
    estimate: float | None
    ci_low: float | None
    ci_high: float | None


class Verdict(TypedDict, total=False):
    """Decided by `evaluation.verdict` (codes documented in docs/evaluation.md)."""

    level: Literal["strong", "some", "none", "unavailable"]
    direction: Literal["decrease", "increase"] | None
    concerns: list[str]  # pre_trend, pre_test_weak, not_checked, sensitivity, few_districts, ...
    text: str  # one plain sentence


class Inference(TypedDict, total=False):
    method: str  # how the interval was computed (few-district method)
    df: int | None  # t degrees of freedom
    valid: bool  # False: no valid interval exists for this roll-out (verdict "unavailable")
    reason: str | None


class RandomizationCheck(TypedDict, total=False):
    """`outcomes.<name>.ri`: randomization inference over reshuffled roll-out dates."""

    p: float | None  # None when withheld (see `reason`)
    statistic: str  # what was recomputed for each reshuffle, in words
    permutations: int  # reshuffles that could be analysed (the p-value's denominator - 1)
    dropped: int  # reshuffles that could not be analysed, left out
    exact: bool  # True only when config rollout.randomized is true (a randomized roll-out)
    interpretation: str  # one plain sentence for the report
    reason: str  # why p is None


class MultipleOutcomes(TypedDict, total=False):
    """`multiple_outcomes`: several outcomes tested at once."""

    primary: str | None  # model.primary_outcome, or the first crime outcome with an estimate
    method: str  # "Romano-Wolf" (step-down, from the same reshuffles for all outcomes)
    adjusted_p: dict[str, float]  # family-wise adjusted p per evaluated outcome
    permutations: int  # reshuffles every outcome's statistic could be computed on
    statistic: str
    outcomes: list[str]  # the family
    reason: str  # when no adjustment was made


class OutcomeResult(TypedDict, total=False):
    # --- issue 5 core ---
    scale: Scale  # proportional: 0.05 = 5% more; points: on the survey scale
    estimator: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    pre_trend_p: float | None
    twfe_estimate: float | None
    mde: float | None  # same scale as estimate; 80% power, two-sided alpha
    mde_simulated: float | None  # model.power_simulations > 0: MDE by placebo roll-outs
    mde_simulations: int | None
    mde_false_positive_rate: float | None  # placebo roll-outs rejected at alpha
    honestdid_breakdown: float | None  # largest Mbar at which the robust CI still excludes 0
    event_study: list[EventTimePoint]
    # --- added for the report ---
    baseline_mean: float | None  # mean outcome per unit-period, treated units, before roll-out
    pre_trend_power: float | None  # power of the pre-trend test against a violation = MDE bias
    wild_bootstrap_p: float | None
    ri_p: float | None  # = ri.p (kept for compatibility)
    ri: RandomizationCheck
    adjusted_p: float | None  # family-wise adjusted across outcomes (multiple_outcomes)
    twfe_bacon: list[BaconComponent]
    honestdid: list[HonestDidRow]
    honestdid_target: str | None  # what the sensitivity analysis is about, in words
    honestdid_window: dict | None  # first and last month of the target, bin length
    units: Literal["month", "quarter", "year"]  # the grain (issue 9)
    n_units: int
    n_treated: int
    unit_label: str  # "district"
    secondary: list[SecondaryEstimate]
    reason: str  # when the outcome could not be estimated: why, in plain words
    # --- few-district honesty ---
    verdict: Verdict
    inference: Inference
    cohort_sizes: dict[str, int]  # treated roll-out cohort (first treated period) -> districts
    pre_trend_checks: dict | None  # evaluation.pretrend_checks (linear test, power, Delta-SD)
    effect_count_per_unit_period: dict  # estimate, ci_low, ci_high: sum(mu1 - mu0) per cell


class TrendPoint(TypedDict, total=False):
    period: str  # "YYYY-MM" (first month of the quarter for quarterly data)
    treated_mean: float | None
    comparison_mean: float | None
    treated_n: int  # survey responses behind treated_mean (surveys only)
    comparison_n: int


class RolloutRow(TypedDict, total=False):
    district: str  # district id
    name: str
    start: str | None  # "YYYY-MM" or "YYYY-MM-DD"; None = never started (comparison)


class MeetingMonth(TypedDict, total=False):
    month: str  # "YYYY-MM"
    meetings: int
    attendees: int


class QualitySource(TypedDict, total=False):
    source: str
    rows_in: int
    rows_quarantined: int
    quarantined_by_rule: dict[str, int]


class QualityCheck(TypedDict, total=False):
    source: str
    check: str
    status: CheckStatus
    detail: str


class ReportingGap(TypedDict, total=False):
    district: str
    month: str


class Quality(TypedDict, total=False):
    sources: list[QualitySource]
    checks: list[QualityCheck]
    reporting_gaps: list[ReportingGap]


class RunInfo(TypedDict, total=False):
    versions: dict[str, str]
    config: dict
    code_version: str
    timings: dict[str, float]  # stage -> seconds


class PreviousOutcome(TypedDict, total=False):
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    verdict_level: str | None


class PreviousRun(TypedDict, total=False):
    """The latest earlier run into the same output (evaluation/history.py, issue 14)."""

    generated_at: str
    data_through: str  # "YYYY-MM"
    outcomes: dict[str, PreviousOutcome]


class Change(TypedDict, total=False):
    estimate_change: float | None  # on the outcome's scale
    reasons: list[str]  # codes: evaluation.history.REASONS
    revised_rows: int  # district-periods already analysed that changed
    new_periods: int  # months added


class FeedbackItem(TypedDict, total=False):
    """issue 15: `mean` = sum / n of every rating that passed the gate."""

    mean: float | None
    n: int
    by_period: list[dict]  # {event_time, mean, n, districts, ci_low, ci_high[, suppressed]}
    by_cohort: dict[str, list[dict]]


class MeetingFeedback(TypedDict, total=False):
    """issue 15 (evaluation/feedback.py); only `reason` when no feedback was delivered."""

    items: dict[str, FeedbackItem]
    themes: dict  # {shares, n_forms_with_topic, shift: {theme: {before, after, change, ...}}}
    association_with_trust: dict  # {label, slope, ci_low, ci_high, p_permutation, ...}
    concerns_vs_crime: list[dict]
    reporting_gaps: list[dict]  # {district, quarter, meetings}
    descriptive: str
    reason: str


class Results(TypedDict, total=False):
    city: str
    generated_at: str  # ISO 8601
    study_window: dict[str, str]  # {"start": "YYYY-MM", "end": "YYYY-MM"}
    inputs: list[InputFile]
    outcomes: dict[str, OutcomeResult]
    multiple_outcomes: MultipleOutcomes
    trends: dict[str, list[TrendPoint]]
    rollout: list[RolloutRow]
    rollout_source: str  # "programs.csv" or "attendance threshold"
    meetings: list[MeetingMonth]
    quality: Quality
    run: RunInfo
    notes: list[str]
    previous_run: PreviousRun
    changes: dict[str, Change]
    meeting_feedback: MeetingFeedback  # issue 15


CRIME_OUTCOMES = ("crime_total", "crime_violent", "crime_property")
SURVEY_OUTCOMES = ("trust_index", "safety_index")
DEFAULT_MIN_CELL_SIZE = 10

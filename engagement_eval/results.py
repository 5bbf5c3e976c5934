"""The results document (results.json): one typed owner of its shape.

Evaluation builds it (`evaluation.run.build_document`), the warehouse stores it
(`evaluation.store.frames`), the report and the Dagster UI read it. The classes below *are* the
schema: `ResultsDocument.from_dict(json.load(f))` reads a results.json, `to_dict()` gives back
the same keys, and `json_schema()` exports them for the docs.

Why frozen dataclasses with an "absent" default rather than `None`: results.json distinguishes
a key that is missing (an outcome that could not be estimated has no `estimate` at all) from a
key whose value is null (an estimate that came out non-finite). `ABSENT` keeps that difference,
so `to_dict()` reproduces the document byte for byte. Keys a class does not name are kept in
`extra` (written back verbatim, reported by `problems()`), so a producer that adds a key never
crashes a run, and the test on the demo city fails until the key is named here. Keys starting
with `_` (run-time hand-offs such as tracebacks) stay in `private`, are not compared and are
never written.

Adding a section (e.g. `meeting_feedback`): add one field to the class that holds it (a plain
`dict | list` field via `opt()`, or a new `Section` subclass via `opt(section=...)`), set it
in `evaluation.run.build_document`, describe it in docs/evaluation.md. Nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

__all__ = [
    "ABSENT",
    "BaconComponent",
    "EventTimePoint",
    "Inference",
    "InputFile",
    "MultipleOutcomes",
    "OutcomeResult",
    "ResultsDocument",
    "Verdict",
]

SCALES = ("proportional", "points")
VERDICT_LEVELS = ("strong", "some", "none", "unavailable")
CHECK_STATUSES = ("passed", "warned", "failed")
# The standard outcomes, in report order; others a config adds are placed by their scale
CRIME_OUTCOMES = ("crime_total", "crime_violent", "crime_property")
SURVEY_OUTCOMES = ("trust_index", "safety_index")


class _Absent:
    """The value of a key that is not in the document (distinct from null)."""

    _instance: ClassVar[_Absent | None] = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return (_Absent, ())


ABSENT: Any = _Absent()


def opt(section: type[Section] | None = None, many: str | None = None, doc: str = "") -> Any:
    """A document key that may be absent. `section`: its value is that Section (`many`:
    "list" for a list of them, "dict" for a mapping name -> section); `doc`: what it holds."""
    return field(default=ABSENT, metadata={"section": section, "many": many, "doc": doc})


@dataclass(frozen=True, kw_only=True)
class Section:
    """Base of every part of the document: typed keys, `extra` for unnamed ones."""

    extra: dict = field(default_factory=dict)
    private: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name not in ("extra", "private"))

    def get(self, key: str, default=None):
        """dict-style read (absent -> default), for code that walks the document generically."""
        value = getattr(self, key, ABSENT) if key in self.keys() else self.extra.get(key, ABSENT)
        return default if value is ABSENT else value

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            if f.name in ("extra", "private"):
                continue
            value = getattr(self, f.name)
            if value is ABSENT:
                continue
            out[f.name] = _dump(value)
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Section:
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls) if f.name not in ("extra", "private")}
        kwargs: dict = {"extra": {}, "private": {}}
        for key, value in data.items():
            key = str(key)
            if key.startswith("_"):
                kwargs["private"][key] = value
            elif key in known:
                kwargs[key] = _load(known[key], value)
            else:
                kwargs["extra"][key] = value
        return cls(**kwargs)

    def problems(self, where: str = "") -> list[str]:
        """Departures from the schema: unnamed keys, here and in every nested section."""
        out = [f"{where}{k}: key not in the schema ({type(self).__name__})" for k in self.extra]
        for f in fields(self):
            value = getattr(self, f.name)
            for key, item in _children(value):
                out += item.problems(f"{where}{f.name}{key}.")
        return out


def _children(value):
    if isinstance(value, Section):
        yield "", value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, Section):
                yield f"[{i}]", v
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, Section):
                yield f".{k}", v


def _dump(value):
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _load(f, value):
    section, many = f.metadata.get("section"), f.metadata.get("many")
    if section is None or value is None:
        return value
    if many == "list" and isinstance(value, list):
        return [section.from_dict(v) if isinstance(v, dict) else v for v in value]
    if many == "dict" and isinstance(value, dict):
        return {
            str(k): section.from_dict(v) if isinstance(v, dict) else v for k, v in value.items()
        }
    return section.from_dict(value) if isinstance(value, dict) else value


# --- per outcome -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EventTimePoint(Section):
    event_time: int = opt(doc="periods since roll-out; 0 = first treated period")
    estimate: float | None = opt()
    se: float | None = opt()
    ci_low: float | None = opt(doc="uniform (simultaneous) band when the estimator has one")
    ci_high: float | None = opt()

    def problems(self, where: str = "") -> list[str]:
        needed = ("event_time", "estimate", "ci_low", "ci_high")
        lacking = [k for k in needed if getattr(self, k) is ABSENT]
        return super().problems(where) + [f"{where[:-1]} lacks {k!r}" for k in lacking]


@dataclass(frozen=True, kw_only=True)
class BaconComponent(Section):
    type: str = opt(doc='e.g. "treated vs never treated", "later vs earlier treated"')
    weight: float = opt(doc="share of the TWFE estimate; weights sum to 1")
    estimate: float = opt(doc="same scale as twfe_estimate")


@dataclass(frozen=True, kw_only=True)
class HonestDidRow(Section):
    m: float = opt(doc="relative-magnitude bound Mbar")
    ci_low: float | None = opt()
    ci_high: float | None = opt()


@dataclass(frozen=True, kw_only=True)
class SecondaryEstimate(Section):
    estimator: str = opt()
    scale: str = opt(doc="free-text unit")
    estimate: float | None = opt()
    ci_low: float | None = opt()
    ci_high: float | None = opt()


@dataclass(frozen=True, kw_only=True)
class Verdict(Section):
    """Decided by `evaluation.verdict` (codes in docs/evaluation.md)."""

    level: str = opt(doc=" | ".join(VERDICT_LEVELS))
    direction: str | None = opt(doc="decrease | increase | null")
    concerns: list[str] = opt(doc="pre_trend, pre_test_weak, not_checked, sensitivity, ...")
    text: str = opt(doc="one plain sentence")


@dataclass(frozen=True, kw_only=True)
class Inference(Section):
    method: str = opt(doc="how the interval was computed (few-district method)")
    df: int | None = opt(doc="t degrees of freedom")
    valid: bool = opt(doc="False: no valid interval exists for this roll-out")
    reason: str | None = opt()


@dataclass(frozen=True, kw_only=True)
class RandomizationCheck(Section):
    p: float | None = opt(doc="null when withheld (see reason)")
    statistic: str = opt()
    permutations: int = opt()
    dropped: int = opt()
    exact: bool = opt(doc="True only for a randomized roll-out (rollout.randomized)")
    interpretation: str = opt()
    reason: str = opt()


@dataclass(frozen=True, kw_only=True)
class OutcomeResult(Section):
    scale: str = opt(doc="proportional: 0.05 = 5% more; points: on the survey scale")
    reason: str = opt(doc="why the outcome could not be estimated (then most keys are absent)")
    verdict: Verdict = opt(Verdict)
    estimator: str = opt()
    estimate: float | None = opt()
    se: float | None = opt()
    ci_low: float | None = opt()
    ci_high: float | None = opt()
    p_value: float | None = opt()
    inference: Inference = opt(Inference)
    event_study: list[EventTimePoint] = opt(EventTimePoint, "list")
    pre_trend_p: float | None = opt()
    pre_trend_power: float | None = opt()
    pre_trend_checks: dict | None = opt(doc="evaluation.pretrend_checks")
    twfe_estimate: float | None = opt()
    twfe_bacon: list[BaconComponent] = opt(BaconComponent, "list")
    mde: float | None = opt(doc="same scale as estimate; 80% power, two-sided alpha")
    mde_simulated: float | None = opt()
    mde_simulations: int | None = opt()
    mde_false_positive_rate: float | None = opt()
    honestdid_breakdown: float | None = opt()
    honestdid: list[HonestDidRow] = opt(HonestDidRow, "list")
    honestdid_target: str | None = opt()
    honestdid_window: dict | None = opt()
    baseline_mean: float | None = opt()
    wild_bootstrap_p: float | None = opt()
    ri_p: float | None = opt(doc="= ri.p")
    ri: RandomizationCheck = opt(RandomizationCheck)
    adjusted_p: float | None = opt()
    units: str = opt(doc="the grain: month | quarter | year")
    n_units: int = opt()
    n_treated: int = opt()
    unit_label: str = opt()
    cohort_sizes: dict[str, int] = opt()
    effect_count_per_unit_period: dict = opt()
    secondary: list[SecondaryEstimate] = opt(SecondaryEstimate, "list")
    dose_response: dict | None = opt()
    details: dict = opt(doc="method notes and secondary numbers (twfe_forbidden_weight, ...)")
    notes: list[str] = opt()
    by_group: dict = opt(doc="survey outcomes: group column -> value -> effect (evaluation.groups)")
    group_gaps: dict = opt(doc="group column -> gap between groups, or {reason}")

    def problems(self, where: str = "") -> list[str]:
        out = super().problems(where)
        if self.scale not in SCALES:
            out.append(f"{where}scale is {self.scale!r}, not one of {SCALES}")
        if self.reason is ABSENT:
            out += [
                f"{where[:-1]} lacks {k!r}"
                for k in REQUIRED_OUTCOME_KEYS
                if self.get(k, ABSENT) is ABSENT
            ]
        return out


REQUIRED_OUTCOME_KEYS = (
    "scale",
    "estimator",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "pre_trend_p",
    "twfe_estimate",
    "mde",
    "honestdid_breakdown",
    "event_study",
)


# --- document-wide sections --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InputFile(Section):
    input: str = opt()
    file: str = opt()
    sha256: str = opt()
    rows: int = opt()


@dataclass(frozen=True, kw_only=True)
class MultipleOutcomes(Section):
    primary: str | None = opt()
    method: str | None = opt(doc="Romano-Wolf")
    adjusted_p: dict[str, float] = opt()
    permutations: int = opt()
    statistic: str = opt()
    outcomes: list[str] = opt()
    reason: str = opt()


@dataclass(frozen=True, kw_only=True)
class QualitySource(Section):
    source: str = opt()
    rows_in: int = opt()
    rows_quarantined: int = opt()
    quarantined_by_rule: dict[str, int] = opt()


@dataclass(frozen=True, kw_only=True)
class QualityCheck(Section):
    source: str = opt()
    check: str = opt()
    status: str = opt(doc=" | ".join(CHECK_STATUSES))
    detail: str = opt()


@dataclass(frozen=True, kw_only=True)
class Quality(Section):
    sources: list[QualitySource] = opt(QualitySource, "list")
    checks: list[QualityCheck] = opt(QualityCheck, "list")
    reporting_gaps: list[dict] = opt(doc="district, month")


@dataclass(frozen=True, kw_only=True)
class RunInfo(Section):
    config: dict = opt(doc="the city config as read")
    settings: dict = opt(doc="evaluation settings used (after overrides and the panel's shape)")
    code_version: str | None = opt()
    versions: dict[str, str] = opt()
    timings: dict[str, float] = opt(doc="stage -> seconds; kept in DuckDB, not in results.json")


@dataclass(frozen=True, kw_only=True)
class PreviousOutcome(Section):
    estimate: float | None = opt()
    ci_low: float | None = opt()
    ci_high: float | None = opt()
    verdict_level: str | None = opt()


@dataclass(frozen=True, kw_only=True)
class PreviousRun(Section):
    """The latest earlier run into the same output (`evaluation.history`)."""

    generated_at: str = opt()
    data_through: str | None = opt(doc="YYYY-MM")
    outcomes: dict[str, PreviousOutcome] = opt(PreviousOutcome, "dict")


@dataclass(frozen=True, kw_only=True)
class Change(Section):
    """What changed for one outcome since the previous run."""

    estimate_change: float | None = opt(doc="on the outcome's scale")
    reasons: list[str] = opt(doc="codes: evaluation.history.REASONS")
    revised_rows: int = opt(doc="district-periods already analysed that changed")
    new_periods: int = opt(doc="months added")


@dataclass(frozen=True, kw_only=True)
class MeetingFeedback(Section):
    """`evaluation.feedback.meeting_feedback`; only `reason` when no feedback was delivered."""

    items: dict = opt(doc="item -> {mean, n, by_period, by_cohort}")
    themes: dict = opt(doc="{shares, n_forms_with_topic, shift}")
    association_with_trust: dict = opt(doc="{label, slope, ci_low, ci_high, p_permutation, ...}")
    concerns_vs_crime: list[dict] = opt()
    reporting_gaps: list[dict] = opt(doc="{district, quarter, meetings}")
    descriptive: str = opt()
    reason: str = opt()


@dataclass(frozen=True, kw_only=True)
class ResultsDocument(Section):
    city: str = opt()
    generated_at: str = opt(doc="ISO 8601; SOURCE_DATE_EPOCH when set")
    study_window: dict[str, str] = opt(doc='{"start": "YYYY-MM", "end": "YYYY-MM"}')
    inputs: list[InputFile] = opt(InputFile, "list")
    outcomes: dict[str, OutcomeResult] = opt(OutcomeResult, "dict")
    multiple_outcomes: MultipleOutcomes = opt(MultipleOutcomes)
    trends: dict[str, list[dict]] = opt(doc="outcome -> [{period, treated_mean, ...}]")
    rollout: list[dict] = opt(doc="[{district, name, start}]")
    rollout_source: str = opt(doc='"programs.csv" or how roll-out dates were derived')
    meetings: list[dict] = opt(doc="[{month, meetings, attendees}]; [] when not delivered")
    shape: dict = opt(doc="grain, analysis unit and input shapes of the panels")
    data_window: dict = opt(doc="{start, end, source, end_source}: the window the run used")
    grain: str = opt(doc="month | quarter | year (= shape.grain)")
    timezone: str = opt(doc="the city's time zone the months were cut in")
    quality: Quality = opt(Quality)
    run: RunInfo = opt(RunInfo)
    notes: list[str] = opt()
    previous_run: PreviousRun = opt(PreviousRun)
    changes: dict[str, Change] = opt(Change, "dict")
    meeting_feedback: MeetingFeedback = opt(MeetingFeedback)

    TOP_LEVEL_REQUIRED: ClassVar[tuple[str, ...]] = (
        "city",
        "generated_at",
        "inputs",
        "outcomes",
        "quality",
    )

    def problems(self, where: str = "") -> list[str]:
        missing = [
            f"missing top-level key {k!r}"
            for k in self.TOP_LEVEL_REQUIRED
            if self.get(k, ABSENT) is ABSENT
        ]
        return missing + super().problems(where)

    def with_timings(self, timings: dict[str, float]) -> ResultsDocument:
        """The document with `run.timings` set (what DuckDB keeps beside results.json)."""
        run = self.run if isinstance(self.run, RunInfo) else RunInfo()
        return replace(self, run=replace(run, timings=dict(timings)))


def json_schema(cls: type[Section] = ResultsDocument) -> dict:
    """A JSON Schema (draft 2020-12) of the document, for docs/evaluation.md and editors."""
    props = {}
    for f in fields(cls):
        if f.name in ("extra", "private"):
            continue
        section, many, doc = (f.metadata.get(k) for k in ("section", "many", "doc"))
        if section is None:
            prop: dict = {}
        elif many == "list":
            prop = {"type": "array", "items": json_schema(section)}
        elif many == "dict":
            prop = {"type": "object", "additionalProperties": json_schema(section)}
        else:
            prop = json_schema(section)
        if doc:
            prop["description"] = doc
        props[f.name] = prop
    out: dict = {"type": "object", "properties": props}
    if (
        cls.__doc__
        and cls.__doc__ != Section.__doc__
        and not cls.__doc__.startswith(cls.__name__ + "(")
    ):
        out["description"] = cls.__doc__.strip()
    if cls is ResultsDocument:
        out = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "results.json",
            **out,
        }
    return out

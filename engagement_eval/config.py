"""City configuration: defaults, then an optional preset, then the city's own YAML keys.

A city rarely exports data in our contract's shape, so the config says how its columns, date
formats and offense labels map onto the contract instead of asking anyone to edit the export.
Every key is optional. The schema is the dataclasses below: each key is declared once, as a
field with its type, default, check and one line of documentation (`config_schema.key`), and
`docs/configuration.md`'s key table is generated from them. Bad values and unknown keys at any
depth raise `UserError` naming the dotted key and the fix, because a typo here otherwise
surfaces as a confusing SQL error much later (or, nested, is silently ignored).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from engagement_eval.config_schema import (
    Invalid,
    boolean,
    build,
    deep_merge,
    defaults,
    identifiers,
    integer,
    internal,
    key,
    mapping,
    markdown_table,
    names_or_name,
    number,
    numbers,
    one_of,
    scale_range,
    section,
    str_mapping,
    text,
    unknown_key,
    yaml_fields,
)
from engagement_eval.errors import UserError
from engagement_eval.feedback import FeedbackConfig
from engagement_eval.grain import GRAINS

CONFIG_FILE_NAME = "city.yaml"
CATEGORIES = ("violent", "property", "other")
CONTROL_GROUPS = ("notyet", "never")
ANALYSIS_UNITS = ("district", "unit")
SCORE_SE = ("column", "unknown")
# A city config is a few hundred bytes; anything near this is not one.
MAX_CONFIG_BYTES = 1_000_000
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _month(v: Any) -> date:
    """A study month: YYYY-MM (or a date, which YAML makes of YYYY-MM-DD) -> its first day."""
    text = v.strftime("%Y-%m") if isinstance(v, date) else str(v)
    m = _MONTH.match(text)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise Invalid("a month written YYYY-MM, e.g. 2016-01 (or leave it out)")
    return date(int(m.group(1)), int(m.group(2)), 1)


def _timezone(v: Any) -> str:
    try:
        ZoneInfo(str(v))
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("an IANA time zone name such as America/Chicago") from None
    return str(v)


def _category(v: Any) -> str:
    if str(v).lower() not in CATEGORIES:
        raise Invalid(f"one of: {', '.join(CATEGORIES)} for every label")
    return str(v).lower()


def _event_window(v: Any) -> tuple[int, int]:
    ok = isinstance(v, list | tuple) and len(v) == 2
    ok = ok and all(isinstance(e, int) and not isinstance(e, bool) for e in v)
    if not ok or v[0] > 0 or v[1] < 0:
        raise Invalid("[lead <= 0, lag >= 0] in months, e.g. [-12, 24]")
    return (int(v[0]), int(v[1]))


_index_members = identifiers()
_group_names = identifiers(non_empty=False)
# survey_responses' own contract columns: a group column may not take their names
_SURVEY_CONTRACT_COLUMNS = ("response_id", "district_id", "unit_id", "response_date", "weight")


def _groups(v: Any) -> tuple[str, ...]:
    """Respondent-group column names: they become quoted SQL columns and results.json keys."""
    mapping_hint = "; map a city column by columns: {survey_responses: {age_group: Age}}"
    try:
        names = _group_names(v)
    except Invalid as exc:
        raise Invalid(f"{exc}{mapping_hint}") from None
    if len(names) != len(v):
        raise Invalid(f"distinct names, each listed once, e.g. [age_group, tenure]{mapping_hint}")
    clash = [n for n in names if n in _SURVEY_CONTRACT_COLUMNS]
    if clash:
        raise Invalid(
            f"names other than the contract's survey columns ({', '.join(clash)})" + mapping_hint
        )
    return names


def _indices(v: Any) -> dict[str, tuple[str, ...]]:
    """Index name -> its items; the names become columns and check names, so are identifiers."""
    if not isinstance(v, dict):
        raise Invalid(
            "a mapping of index name -> list of items, e.g. {trust_index: [trust_police]}"
        )
    names = identifiers(non_empty=False)([str(k) if isinstance(k, str) else k for k in v])
    return {name: _index_members(v[name]) for name in names}


_COLUMN_MAP = mapping(
    str_mapping("a mapping of contract column -> the city's column name"),
    "a mapping of input -> {contract column: city column}, e.g. {crime_incidents: {occurred_at: Date}}",
)
_FORMAT_MAP = mapping(
    str_mapping("a mapping of date column -> strptime format"),
    "a mapping of input -> {date column: format}, e.g. {crime_incidents: {occurred_at: '%m/%d/%Y'}}",
)


# The schema. Each key is declared once, here: type, default, check, one line of docs
# (docs/configuration.md's key table is generated from these; engagement_eval.config_schema).
# To add a key: add one `key(...)` line to its section (or a `section(...)` for a new one).


@dataclass(frozen=True)
class StudyWindow:
    start: date | None = key(
        None,
        _month,
        "first study month, YYYY-MM (also the first Dagster partition); unset: the first "
        "month holding crime or survey data (warehouse.data_window)",
    )
    end: date | None = key(
        None,
        _month,
        "last study month, YYYY-MM; unset: the last closed month for partitions and the last "
        "month with data for panels",
    )


@dataclass(frozen=True)
class SurveyConfig:
    items: tuple[str, ...] = key(
        ["trust_police", "police_fair", "feel_safe"],
        identifiers(),
        "item columns; names of letters, digits and underscores, starting with a letter "
        "(they become column and check names)",
    )
    indices: dict[str, tuple[str, ...]] = key(
        {"trust_index": ["trust_police", "police_fair"], "safety_index": ["feel_safe"]},
        _indices,
        "index = mean of its items; index names follow the item-name rule (`trust index` is "
        "refused with the fix `trust_index`)",
    )
    scale: tuple[float, float] = key(
        [1, 5],
        scale_range(),
        "[low, high]; values outside are treated as missing in the panel",
    )
    score_se: str = key(
        "column",
        one_of(*SCORE_SE),
        "survey_scores: SEs from `<index>_se` columns, or `unknown` (estimated from respondent "
        "counts)",
    )
    groups: tuple[str, ...] = key(
        [],
        _groups,
        "survey_responses (or survey_scores) columns that hold a respondent's group (e.g. "
        "`[age_group, years_in_neighborhood]`); distinct identifiers, not survey items or "
        "contract columns; a city column with another name is mapped by "
        '`columns.survey_responses.<group>`; turns on "Who changed" (docs/evaluation.md)',
    )


@dataclass(frozen=True)
class QualityConfig:
    max_bad_row_share: float = key(
        0.01, number(0, 1), "quality gate threshold: share of bad rows an input may have"
    )
    attendees_ceiling: int = key(5000, integer(1), "plausibility ceiling for meeting attendance")
    gap_min_typical: int = key(
        20,
        integer(1),
        "reporting-gap rule: a district needs this typical monthly count before a month "
        "without incidents counts as a gap",
    )
    chunk_rows: int = key(1_000_000, integer(1), "rows the gate reads per chunk (memory vs. speed)")


@dataclass(frozen=True)
class ModelConfig:
    control_group: str = key(
        "notyet", one_of(*CONTROL_GROUPS), "`notyet` or `never` (the comparison districts)"
    )
    anticipation: int = key(0, integer(0), "months before roll-out already affected")
    bootstrap_draws: int = key(999, integer(0), "multiplier-bootstrap draws")
    alpha: float = key(0.05, number(1e-6, 0.5), "significance level (1 - confidence)")
    seed: int = key(20240101, integer(0), "random seed of every draw")
    event_window: tuple[int, int] = key(
        [-12, 24], _event_window, "event-study window [lead, lag] in months"
    )
    min_cell_size: int = key(10, integer(1), "smallest published cell (also used by UI previews)")
    outcomes: tuple[str, ...] | None = key(
        None,
        names_or_name("a list of outcome names, e.g. [crime_total, trust_index]"),
        "outcomes to estimate; unset: all of evaluation.outcomes",
    )
    ri_permutations: int = key(999, integer(0), "randomization-inference draws")
    jackknife_groups: int = key(
        50,
        integer(2),
        "the jackknife leaves out one district at a time up to this many districts; with more, "
        "this many groups of districts in turn (docs/evaluation.md, 'Many districts')",
    )
    power_simulations: int = key(0, integer(0), "> 0: MDE also by simulation on the city's panel")
    survey_sampling_draws: int = key(
        200, integer(0), "draws propagating the survey cells' standard errors"
    )
    dose_bins: int = key(3, integer(2), "attendance-per-1,000 bins of the dose-response analysis")
    honestdid_grid: tuple[float, ...] = key(
        [0.0, 0.5, 1.0, 1.5, 2.0],
        numbers(0, "a list of numbers >= 0, e.g. [0, 0.5, 1, 1.5, 2]"),
        "HonestDiD relative-magnitude bounds Mbar",
    )
    honestdid_pre: int = key(3, integer(1), "half-year pre-period bins given to HonestDiD")
    honestdid_post: int = key(
        0, integer(0), "half-year post bins averaged by the target; 0 = all in event_window"
    )
    primary_outcome: str | None = key(
        None,
        text("an outcome name listed in model.outcomes"),
        "the confirmatory outcome named in results.json (`multiple_outcomes.primary`) and the "
        "report; must be one of `model.outcomes`; unset: the first crime outcome with an "
        "estimate, else the first survey outcome. Name it before seeing results",
    )


@dataclass(frozen=True)
class RolloutConfig:
    attendance_threshold_per_1000: float = key(
        2.0,
        number(0),
        "without `programs.csv`: first month at or above this attendance per 1,000 residents "
        "counts as the start",
    )
    # true only when the roll-out order was decided by lot; then randomization inference is
    # an exact test, otherwise a placebo check (docs/configuration.md)
    randomized: bool = key(
        False,
        boolean(
            "true only if the order in which districts started was decided by lot "
            "(a randomized roll-out); otherwise false, the default"
        ),
        "`true` only when the order in which districts started was decided by lot; then "
        "randomization inference is an exact test of no effect, otherwise a placebo check",
    )


@dataclass(frozen=True)
class CityConfig:
    """The resolved configuration of one city (immutable so assets cannot drift apart).

    The YAML keys are the fields below (sections nested); `source` and `raw` are bookkeeping.
    """

    city: str = key(
        "Unnamed city",
        text('the city\'s name in quotes, e.g. "Springfield"'),
        "shown in outputs; any text (file names use a safe stem of it)",
    )
    timezone: str = key("UTC", _timezone, "IANA name; partitions and the monthly schedule use it")
    study_window: StudyWindow = section(StudyWindow, "months studied")
    columns: dict[str, dict[str, str]] = key(
        {},
        _COLUMN_MAP,
        "`columns.<input>.<contract column>`: the city's own column name (default: the "
        "contract names)",
    )
    date_formats: dict[str, dict[str, str]] = key(
        {},
        _FORMAT_MAP,
        "`date_formats.<input>.<date column>`: DuckDB `strptime` format, e.g. "
        '`"%m/%d/%Y %I:%M:%S %p"`; ISO text is still accepted',
    )
    offense_map: dict[str, str] = key(
        {},
        mapping(_category, "a mapping of offense label -> violent | property | other"),
        "`offense_map.<label>`: `violent`, `property` or `other`; labels match after "
        "trimming, case-insensitively",
    )
    grain: str | None = key(
        None,
        one_of(*GRAINS),
        "`month`, `quarter` or `year`; unset: from the `period` labels of crime_counts (else "
        "survey_scores, else month); the run prints the grain used",
    )
    analysis_unit: str = key(
        "district",
        one_of(*ANALYSIS_UNITS),
        "`unit`: analyse per unit of `units.csv` (needs unit populations)",
    )
    survey: SurveyConfig = section(SurveyConfig, "survey items, indices and scale")
    quality: QualityConfig = section(QualityConfig, "quality gate thresholds")
    model: ModelConfig = section(ModelConfig, "estimation settings")
    rollout: RolloutConfig = section(RolloutConfig, "what counts as roll-out")
    feedback: FeedbackConfig = section(FeedbackConfig, "meeting feedback forms (issue 15)")
    source: str = internal("defaults")  # where the config came from, for messages and metadata
    # the merged YAML mapping (defaults, preset, file) the config was built from
    raw: dict[str, Any] = internal(factory=dict)
    # "data" when study_window.start is unset: filled from the data by `with_data_window`
    window_source: str = internal("config")

    @property
    def window_start(self) -> date | None:
        """First day of the first study month; None until filled from the data."""
        return self.study_window.start

    @property
    def window_end(self) -> date | None:
        """First day of the last study month; None = the last closed month with data."""
        return self.study_window.end

    @property
    def attendance_threshold_per_1000(self) -> float:
        return self.rollout.attendance_threshold_per_1000

    @property
    def rollout_randomized(self) -> bool:
        return self.rollout.randomized

    def column_map(self, input_name: str) -> dict[str, str]:
        return dict(self.columns.get(input_name, {}))

    def date_format(self, input_name: str, column: str) -> str | None:
        return self.date_formats.get(input_name, {}).get(column)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> CityConfig:
        """A new config with `overrides` deep-merged over this one's keys, validated the same
        way (e.g. the Dagster launchpad's `model:` keys for one run)."""
        if not overrides:
            return self
        out = config_from_dict(
            deep_merge(self.raw, dict(overrides)), f"{self.source} (with run overrides)"
        )
        if self.window_source == "data" and "start" not in (overrides.get("study_window") or {}):
            out = out.with_data_window(self.window_start)
        return out

    def with_data_window(self, first_month: date | None) -> CityConfig:
        """This config with an unset study_window.start filled from the data (the first month
        holding crime or survey data, found by warehouse.data_window); a set one is kept."""
        if self.window_source == "config":
            return self
        window = dataclasses.replace(self.study_window, start=first_month)
        return dataclasses.replace(self, study_window=window, window_source="data")

    def window_record(self, last_data_month: date | None = None) -> dict[str, Any]:
        """The window as results.json states it (`data_window`): first and last month, and
        where each came from ("config", or "data": the first / last month with data)."""
        start, end = self.study_window.start, self.study_window.end
        last = end or last_data_month
        return {
            "start": None if start is None else f"{start:%Y-%m}",
            "end": None if last is None else f"{last:%Y-%m}",
            "source": self.window_source,
            "end_source": "config" if end is not None else "data",
        }


# Every key's default, nested like city.yaml (generated from the schema above).
DEFAULTS: dict[str, Any] = defaults(CityConfig)


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UserError(
            f"config file {path} does not exist",
            "pass an existing YAML file with --config, or omit --config to use "
            f"{CONFIG_FILE_NAME} in the data folder",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            f"cannot read config file {path}: {exc}", "check permissions and that it is UTF-8 text"
        ) from exc
    if len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise UserError(
            f"config file {path} is larger than {MAX_CONFIG_BYTES:,} bytes",
            "a city config is a short YAML file; check that the right file was given",
        )
    try:
        _refuse_aliases(text, path)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(
            f"config file {path} is not valid YAML: {exc}",
            "fix the YAML syntax at the position shown",
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(
            f"config file {path} must be a mapping of keys, got {type(data).__name__}",
            "see docs/configuration.md for the keys",
        )
    return data


def _refuse_aliases(text: str, path: Path) -> None:
    """YAML anchors and aliases are refused: nested aliases expand exponentially (a few
    hundred bytes can stand for gigabytes, the "billion laughs"), and a city config never
    needs them."""
    for event in yaml.parse(text):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            line = event.start_mark.line + 1
            raise UserError(
                f"config file {path} uses a YAML anchor or alias (line {line})",
                "write the values out in full; anchors (&name) and aliases (*name) are not "
                "accepted in a city config",
            )


def load_preset(name: str) -> dict:
    """Return a preset's raw keys (presets ship inside the package as YAML)."""
    if not re.fullmatch(r"[a-z0-9_]+", str(name)):
        raise UserError(
            f"preset name {name!r} is not valid",
            "use a preset shipped in engagement_eval/presets, e.g. 'chicago'",
        )
    try:
        text = (
            resources.files("engagement_eval.presets").joinpath(f"{name}.yaml").read_text("utf-8")
        )
    except FileNotFoundError as exc:
        available = sorted(
            p.name[:-5]
            for p in resources.files("engagement_eval.presets").iterdir()
            if p.name.endswith(".yaml")
        )
        raise UserError(f"unknown preset {name!r}", f"use one of: {', '.join(available)}") from exc
    return yaml.safe_load(text) or {}


def load_config(path: str | Path | None, data_dir: str | Path | None = None) -> CityConfig:
    """Defaults, then `preset:`, then the file's own keys.

    Without `path`, `<data_dir>/city.yaml` is used when it exists; otherwise the defaults.
    """
    source = "defaults"
    user: dict = {}
    if path is not None:
        user = _read_yaml(Path(path))
        source = str(path)
    elif data_dir is not None and (Path(data_dir) / CONFIG_FILE_NAME).is_file():
        user = _read_yaml(Path(data_dir) / CONFIG_FILE_NAME)
        source = str(Path(data_dir) / CONFIG_FILE_NAME)
    return config_from_dict(user, source=source)


def config_from_dict(user: dict, source: str = "dict") -> CityConfig:
    """Defaults, then the user's `preset:`, then the user's keys; every key checked."""
    if not isinstance(user, dict):
        raise UserError(
            f"the config in {source} must be a mapping of keys, got {type(user).__name__}",
            "see docs/configuration.md for the keys",
        )
    top_level = [f.name for f in yaml_fields(CityConfig)] + ["preset"]
    for name in user:
        if name not in top_level:
            raise unknown_key(str(name), top_level, source)
    merged: dict = {}
    preset = user.get("preset")
    if preset:
        merged = deep_merge(merged, load_preset(preset))
    merged = deep_merge(merged, {k: v for k, v in user.items() if k != "preset"})
    config = build(CityConfig, merged, source, raw=deep_merge(DEFAULTS, merged), source=source)
    if config.study_window.start is None:  # filled from the data by warehouse.data_window
        config = dataclasses.replace(config, window_source="data")
    _cross_check(config, source)
    return config


def _cross_check(config: CityConfig, source: str) -> None:
    """Rules between keys (each key's own rule is in the schema)."""
    from engagement_eval.contract import INPUTS  # contract imports nothing from here

    start, end = config.study_window.start, config.study_window.end
    if start is not None and end is not None and end < start:
        raise UserError(
            f"study_window.end {end:%Y-%m} is before study_window.start {start:%Y-%m} in {source}",
            "swap them or fix the typo",
        )
    survey = config.survey
    items_as_groups = [g for g in survey.groups if g in survey.items]
    if items_as_groups:
        raise UserError(
            f"survey.groups {list(items_as_groups)} in {source} are survey items",
            "a group column holds a respondent's group (e.g. age_group), not an answer; "
            "remove the item from survey.groups (a city column named like an item is mapped "
            "by columns: {survey_responses: {age_group: Age}})",
        )
    for name, members in survey.indices.items():
        missing = [m for m in members if m not in survey.items]
        if not members or missing:
            raise UserError(
                f"survey.indices.{name} uses {missing or 'no items'} not in survey.items in {source}",
                "list only items named in survey.items",
            )
    for key_name, table in (("columns", config.columns), ("date_formats", config.date_formats)):
        for input_name, cols in table.items():
            if input_name not in INPUTS:
                raise UserError(
                    f"{key_name}.{input_name} in {source} is not a contract input",
                    f"use one of: {', '.join(INPUTS)}",
                )
            known = INPUTS[input_name].all_columns(
                survey.items,
                tuple(survey.indices),
                feedback_items=config.feedback.items,
                survey_groups=survey.groups,
            )
            for col in cols:
                if col not in known:
                    raise UserError(
                        f"{key_name}.{input_name}.{col} in {source} is not a contract column of {input_name}",
                        f"use one of: {', '.join(known)}",
                    )
    for input_name, cols in config.date_formats.items():
        for col, fmt in cols.items():
            if col not in INPUTS[input_name].date_columns or "%" not in fmt:
                raise UserError(
                    f"date_formats.{input_name}.{col} = {fmt!r} in {source} is not a date format for a date column",
                    "give a strptime format such as '%m/%d/%Y %I:%M:%S %p' for a date column",
                )
    model = config.model
    primary, outcomes = model.primary_outcome, model.outcomes
    if primary is not None and outcomes is not None and primary not in outcomes:
        raise UserError(
            f"model.primary_outcome {model.primary_outcome!r} is not one of the evaluated "
            f"outcomes (model.outcomes: {', '.join(model.outcomes)}) in {source}",
            f"set model.primary_outcome to one of: {', '.join(model.outcomes)}, or leave it "
            "out (then the first crime outcome with data is primary)",
        )


if __name__ == "__main__":  # `python -m engagement_eval.config`: docs/configuration.md's key table
    print(markdown_table(CityConfig), end="")

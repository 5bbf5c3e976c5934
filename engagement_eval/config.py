"""City configuration: defaults, then an optional preset, then the city's own YAML keys.

A city rarely exports data in our contract's shape, so the config says how its columns, date
formats and offense labels map onto the contract instead of asking anyone to edit the export.
Every key is optional; `docs/configuration.md` documents each default. Bad values raise
`UserError` naming the key and the fix, because a typo here otherwise surfaces as a confusing
SQL error much later.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from engagement_eval.errors import UserError
from engagement_eval.feedback import FEEDBACK_DEFAULTS, FeedbackConfig, feedback_config
from engagement_eval.grain import GRAINS

CONFIG_FILE_NAME = "city.yaml"
CATEGORIES = ("violent", "property", "other")
CONTROL_GROUPS = ("notyet", "never")
ANALYSIS_UNITS = ("district", "unit")
SCORE_SE = ("column", "unknown")

DEFAULTS: dict[str, Any] = {
    "city": "Unnamed city",
    "timezone": "UTC",
    "study_window": {"start": "2016-01", "end": None},
    "columns": {},
    "date_formats": {},
    "offense_map": {},
    "grain": None,  # month | quarter | year; None = inferred from counts/scores periods
    "analysis_unit": "district",  # district | unit (per units.csv crosswalk)
    "survey": {
        "items": ["trust_police", "police_fair", "feel_safe"],
        "indices": {
            "trust_index": ["trust_police", "police_fair"],
            "safety_index": ["feel_safe"],
        },
        "scale": [1, 5],
        "score_se": "column",  # survey_scores: SEs from <index>_se columns, or unknown
    },
    "quality": {"max_bad_row_share": 0.01, "attendees_ceiling": 5000},
    "model": {
        "control_group": "notyet",
        "anticipation": 0,
        "bootstrap_draws": 999,
        "alpha": 0.05,
        "seed": 20240101,
        "event_window": [-12, 24],
        "min_cell_size": 10,
    },
    # randomized: true only when the roll-out order was decided by lot; then randomization
    # inference is an exact test, otherwise a placebo check (docs/configuration.md)
    "rollout": {"attendance_threshold_per_1000": 2.0, "randomized": False},
    "feedback": FEEDBACK_DEFAULTS,  # issue 15: meeting feedback forms (engagement_eval/feedback.py)
}

# Keys of `model:` that the evaluation layer reads with its own defaults
# (evaluation.settings.EXTRA_DEFAULTS; a test keeps the two lists equal). Listed here so a
# typo in any nested key stops the run like a top-level one (the core imports nothing of ours).
MODEL_EXTRA_KEYS = (
    "outcomes",
    "ri_permutations",
    "power_simulations",
    "survey_sampling_draws",
    "dose_bins",
    "honestdid_grid",
    "honestdid_pre",
    "honestdid_post",
    "primary_outcome",
)
# Keys of `quality:` read by the quality gate with its own defaults (quality.settings).
QUALITY_EXTRA_KEYS = ("gap_min_typical", "chunk_rows")
SECTION_EXTRA_KEYS = {"model": MODEL_EXTRA_KEYS, "quality": QUALITY_EXTRA_KEYS}
# Sections whose keys are fixed (the others map names chosen by the city: columns, ...).
CHECKED_SECTIONS = ("study_window", "survey", "quality", "model", "rollout")
# A city config is a few hundred bytes; anything near this is not one.
MAX_CONFIG_BYTES = 1_000_000

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class SurveyConfig:
    items: tuple[str, ...]
    indices: dict[str, tuple[str, ...]]
    scale: tuple[float, float]
    score_se: str = "column"


@dataclass(frozen=True)
class QualityConfig:
    max_bad_row_share: float
    attendees_ceiling: int


@dataclass(frozen=True)
class ModelConfig:
    control_group: str
    anticipation: int
    bootstrap_draws: int
    alpha: float
    seed: int
    event_window: tuple[int, int]
    min_cell_size: int


@dataclass(frozen=True)
class CityConfig:
    """The resolved configuration of one city (immutable so assets cannot drift apart)."""

    city: str
    timezone: str
    window_start: date  # first day of the first study month
    window_end: date | None  # first day of the last study month; None = last month with data
    columns: dict[str, dict[str, str]]  # input -> contract column -> city column
    date_formats: dict[str, dict[str, str]]  # input -> contract column -> strptime format
    offense_map: dict[str, str]  # city label -> violent | property | other
    survey: SurveyConfig
    quality: QualityConfig
    model: ModelConfig
    attendance_threshold_per_1000: float
    grain: str | None = None  # None: inferred from the periods of counts or scores
    analysis_unit: str = "district"
    rollout_randomized: bool = False  # rollout.randomized: order of roll-out decided by lot
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)  # issue 15
    source: str = "defaults"  # where the config came from, for messages and metadata
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def column_map(self, input_name: str) -> dict[str, str]:
        return dict(self.columns.get(input_name, {}))

    def date_format(self, input_name: str, column: str) -> str | None:
        return self.date_formats.get(input_name, {}).get(column)


def _deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


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
    merged = copy.deepcopy(DEFAULTS)
    preset = user.get("preset")
    if preset:
        merged = _deep_merge(merged, load_preset(preset))
    merged = _deep_merge(merged, {k: v for k, v in user.items() if k != "preset"})
    unknown = sorted(set(merged) - set(DEFAULTS))
    if unknown:
        raise UserError(
            f"unknown config key(s) {unknown} in {source}",
            f"remove them or use one of: {', '.join(DEFAULTS)}",
        )
    for section in CHECKED_SECTIONS:
        value = merged[section]
        if value is None and section == "study_window":
            continue
        if not isinstance(value, dict):
            raise UserError(
                f"{section} in {source} must be a mapping of keys, got {type(value).__name__}",
                f"see docs/configuration.md for the keys of {section}",
            )
        allowed = set(DEFAULTS[section]) | set(SECTION_EXTRA_KEYS.get(section, ()))
        nested = sorted(str(k) for k in set(value) - allowed)
        if nested:
            raise UserError(
                f"unknown key(s) {', '.join(f'{section}.{k}' for k in nested)} in {source}",
                f"check the spelling; {section} takes: {', '.join(sorted(allowed))}",
            )
    city = merged["city"]
    if not isinstance(city, str) or not city.strip():
        raise UserError(
            f"city = {city!r} in {source} is not a name",
            'set city to the city\'s name in quotes, e.g. city: "Springfield"',
        )
    return _validate(merged, source)


def _month(value: Any, key: str, source: str) -> date:
    text = value.strftime("%Y-%m") if isinstance(value, date) else str(value)
    m = _MONTH.match(text)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise UserError(
            f"{key} = {value!r} in {source} is not a month",
            f"write it as YYYY-MM, e.g. {key}: 2016-01",
        )
    return date(int(m.group(1)), int(m.group(2)), 1)


def _number(
    value: Any,
    key: str,
    source: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and not math.isfinite(value):  # .nan or .inf would silently turn a check off
        ok = False
    if ok and integer and not float(value).is_integer():
        ok = False
    if ok and lo is not None and value < lo:
        ok = False
    if ok and hi is not None and value > hi:
        ok = False
    if not ok:
        bounds = (
            f" between {lo} and {hi}"
            if lo is not None and hi is not None
            else (f" >= {lo}" if lo is not None else "")
        )
        kind = "an integer" if integer else "a number"
        raise UserError(
            f"{key} = {value!r} in {source} is not valid", f"set {key} to {kind}{bounds}"
        )
    return int(value) if integer else float(value)


def _str_mapping(value: Any, key: str, source: str) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise UserError(
            f"{key} in {source} must map each input to a mapping",
            f"e.g. {key}: {{crime_incidents: {{occurred_at: ...}}}}",
        )
    return {str(k): {str(c): str(n) for c, n in v.items()} for k, v in value.items()}


def _feedback_items(section: Any) -> tuple[str, ...]:
    """feedback.items for the column check (the section itself is checked afterwards)."""
    items = section.get("items") if isinstance(section, dict) else None
    return tuple(str(i) for i in items) if isinstance(items, list | tuple) else ()


def _validate(cfg: dict, source: str) -> CityConfig:
    from engagement_eval.contract import INPUTS  # contract imports nothing from here

    try:
        ZoneInfo(str(cfg["timezone"]))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(
            f"timezone {cfg['timezone']!r} in {source} is not a known time zone",
            "use an IANA name such as America/Chicago",
        ) from exc
    window = cfg["study_window"] or {}
    start = _month(window.get("start"), "study_window.start", source)
    end = (
        None
        if window.get("end") in (None, "")
        else _month(window["end"], "study_window.end", source)
    )
    if end is not None and end < start:
        raise UserError(
            f"study_window.end {end:%Y-%m} is before study_window.start {start:%Y-%m} in {source}",
            "swap them or fix the typo",
        )

    columns = _str_mapping(cfg["columns"] or {}, "columns", source)
    formats = _str_mapping(cfg["date_formats"] or {}, "date_formats", source)
    for key, mapping in (("columns", columns), ("date_formats", formats)):
        for input_name, cols in mapping.items():
            if input_name not in INPUTS:
                raise UserError(
                    f"{key}.{input_name} in {source} is not a contract input",
                    f"use one of: {', '.join(INPUTS)}",
                )
            known = INPUTS[input_name].all_columns(
                cfg["survey"]["items"],
                tuple(cfg["survey"].get("indices") or {}),
                feedback_items=_feedback_items(cfg.get("feedback")),
            )
            for col in cols:
                if col not in known:
                    raise UserError(
                        f"{key}.{input_name}.{col} in {source} is not a contract column of {input_name}",
                        f"use one of: {', '.join(known)}",
                    )
    for input_name, cols in formats.items():
        for col, fmt in cols.items():
            if col not in INPUTS[input_name].date_columns or "%" not in fmt:
                raise UserError(
                    f"date_formats.{input_name}.{col} = {fmt!r} in {source} is not a date format for a date column",
                    "give a strptime format such as '%m/%d/%Y %I:%M:%S %p' for a date column",
                )

    offense_map = {}
    for label, category in (cfg["offense_map"] or {}).items():
        if str(category).lower() not in CATEGORIES:
            raise UserError(
                f"offense_map[{label!r}] = {category!r} in {source} is not a category",
                f"map every label to one of: {', '.join(CATEGORIES)}",
            )
        offense_map[str(label)] = str(category).lower()

    survey = cfg["survey"]
    items = tuple(str(i) for i in survey.get("items") or ())
    if not items or any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", i) for i in items):
        raise UserError(
            f"survey.items {list(items)} in {source} must be a non-empty list of plain names",
            "use letters, digits and underscores, e.g. [trust_police, feel_safe]",
        )
    indices = {str(k): tuple(str(i) for i in v) for k, v in (survey.get("indices") or {}).items()}
    for name, members in indices.items():
        missing = [m for m in members if m not in items]
        if not members or missing:
            raise UserError(
                f"survey.indices.{name} uses {missing or 'no items'} not in survey.items in {source}",
                "list only items named in survey.items",
            )
    scale = survey.get("scale") or []
    if (
        len(scale) != 2
        or not all(
            isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s)
            for s in scale
        )
        or scale[0] >= scale[1]
    ):
        raise UserError(
            f"survey.scale {scale!r} in {source} must be [low, high] with low < high",
            "e.g. survey.scale: [1, 5]",
        )

    grain = cfg.get("grain")
    if grain is not None and grain not in GRAINS:
        raise UserError(
            f"grain {grain!r} in {source} is not valid",
            f"use one of: {', '.join(GRAINS)} (or leave it out to infer it from the periods)",
        )
    analysis_unit = cfg.get("analysis_unit") or "district"
    if analysis_unit not in ANALYSIS_UNITS:
        raise UserError(
            f"analysis_unit {analysis_unit!r} in {source} is not valid",
            f"use one of: {', '.join(ANALYSIS_UNITS)}",
        )
    score_se = survey.get("score_se") or "column"
    if score_se not in SCORE_SE:
        raise UserError(
            f"survey.score_se {score_se!r} in {source} is not valid",
            f"use one of: {', '.join(SCORE_SE)}",
        )

    rollout = cfg["rollout"] if isinstance(cfg["rollout"], dict) else {}
    unknown_rollout = sorted(set(rollout) - set(DEFAULTS["rollout"]))
    if not isinstance(cfg["rollout"], dict) or unknown_rollout:
        raise UserError(
            f"rollout in {source} has unknown key(s) {unknown_rollout}"
            if unknown_rollout
            else f"rollout in {source} must be a mapping of keys",
            f"use only: {', '.join(DEFAULTS['rollout'])}",
        )
    randomized = rollout["randomized"]
    if not isinstance(randomized, bool):
        raise UserError(
            f"rollout.randomized = {randomized!r} in {source} is not true or false",
            "set rollout.randomized: true only if the order in which districts started was "
            "decided by lot (a randomized roll-out); otherwise false, the default",
        )
    q, m = cfg["quality"], cfg["model"]
    if m["control_group"] not in CONTROL_GROUPS:
        raise UserError(
            f"model.control_group {m['control_group']!r} in {source} is not valid",
            f"use one of: {', '.join(CONTROL_GROUPS)}",
        )
    ew = m["event_window"]
    if (
        not isinstance(ew, list | tuple)
        or len(ew) != 2
        or not all(isinstance(e, int) for e in ew)
        or ew[0] > 0
        or ew[1] < 0
    ):
        raise UserError(
            f"model.event_window {ew!r} in {source} must be [lead <= 0, lag >= 0]",
            "e.g. model.event_window: [-12, 24]",
        )
    return CityConfig(
        city=str(cfg["city"]),
        timezone=str(cfg["timezone"]),
        window_start=start,
        window_end=end,
        columns=columns,
        date_formats=formats,
        offense_map=offense_map,
        survey=SurveyConfig(
            items=items,
            indices=indices,
            scale=(float(scale[0]), float(scale[1])),
            score_se=score_se,
        ),
        quality=QualityConfig(
            max_bad_row_share=_number(
                q["max_bad_row_share"], "quality.max_bad_row_share", source, lo=0, hi=1
            ),
            attendees_ceiling=_number(
                q["attendees_ceiling"], "quality.attendees_ceiling", source, lo=1, integer=True
            ),
        ),
        model=ModelConfig(
            control_group=m["control_group"],
            anticipation=_number(
                m["anticipation"], "model.anticipation", source, lo=0, integer=True
            ),
            bootstrap_draws=_number(
                m["bootstrap_draws"], "model.bootstrap_draws", source, lo=0, integer=True
            ),
            alpha=_number(m["alpha"], "model.alpha", source, lo=1e-6, hi=0.5),
            seed=_number(m["seed"], "model.seed", source, lo=0, integer=True),
            event_window=(int(ew[0]), int(ew[1])),
            min_cell_size=_number(
                m["min_cell_size"], "model.min_cell_size", source, lo=1, integer=True
            ),
        ),
        attendance_threshold_per_1000=_number(
            cfg["rollout"]["attendance_threshold_per_1000"],
            "rollout.attendance_threshold_per_1000",
            source,
            lo=0,
        ),
        rollout_randomized=randomized,
        feedback=feedback_config(cfg["feedback"], source),
        grain=grain,
        analysis_unit=analysis_unit,
        source=source,
        raw=cfg,
    )

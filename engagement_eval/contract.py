"""The input data contract: which files a city delivers, their columns, types and keys.

This module is the single whitelist of contract column names and types. SQL elsewhere only
uses identifiers that come from here (or a delivered header checked against it), so a city's
file can never inject SQL. `docs/data_contract.md` is the human-readable version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engagement_eval.errors import UserError

if TYPE_CHECKING:
    from engagement_eval.config import CityConfig

TYPES = ("text", "int", "float", "date", "timestamp")
FORMATS = ("csv", "parquet", "csv.gz")  # gzip CSV: warehouse/files.py
SURVEY_ITEMS = "<survey items>"  # placeholder expanded from config.survey.items
SURVEY_INDICES = "<survey indices>"  # expanded from the names in config.survey.indices
SURVEY_INDEX_SE = "<survey index SEs>"  # expanded to <index>_se per index
FEEDBACK_ITEMS = "<feedback items>"  # issue 15: expanded from config.feedback.items
SURVEY_GROUPS = "<survey groups>"  # expanded from config.survey.groups (issue 15: equity)
# Where a row is: a district, or a unit (beat) that units.csv maps to its district.
PLACE_COLUMNS = ("district_id", "unit_id")
# Alternative shapes of one kind of data: a city delivers at most one of each group.
ALTERNATIVES = {
    "crime": ("crime_incidents", "crime_counts"),
    "survey": ("survey_responses", "survey_scores"),
}


@dataclass(frozen=True)
class InputSpec:
    """One delivered input. `partition_column` names the date that assigns a row to a month."""

    name: str
    required: dict[str, str]
    optional: dict[str, str] = field(default_factory=dict)
    key: tuple[str, ...] = ()
    partition_column: str | None = None
    file_required: bool = True
    description: str = ""

    def columns(
        self,
        survey_items: tuple[str, ...] | list[str] = (),
        survey_indices=(),
        feedback_items=(),
        *,
        survey_groups=(),
    ) -> dict[str, str]:
        """Contract column -> type, required first, with survey items / indices / groups
        expanded."""
        out: dict[str, str] = {}
        for col, typ in {**self.required, **self.optional}.items():
            expanded = _expand(col, survey_items, survey_indices, feedback_items, survey_groups)
            out.update({c: typ for c in expanded})
        return out

    def required_columns(
        self, survey_items: tuple[str, ...] | list[str] = (), survey_indices=(), feedback_items=()
    ) -> list[str]:
        cols = []
        for col in self.required:
            cols.extend(_expand(col, survey_items, survey_indices, feedback_items))
        return cols

    def all_columns(
        self,
        survey_items: tuple[str, ...] | list[str] = (),
        survey_indices=(),
        feedback_items=(),
        *,
        survey_groups=(),
    ) -> list[str]:
        return list(
            self.columns(survey_items, survey_indices, feedback_items, survey_groups=survey_groups)
        )

    def key_columns(self, survey_groups=()) -> list[str]:
        """The key with the survey group columns expanded (survey_scores: one row per
        district, period and group value)."""
        return [c for k in self.key for c in _expand(k, (), (), (), survey_groups)]

    @property
    def place_columns(self) -> tuple[str, ...]:
        """district_id / unit_id when the input may carry either (one of them is required)."""
        return tuple(c for c in PLACE_COLUMNS if c in self.optional)

    @property
    def date_columns(self) -> list[str]:
        return [
            c for c, t in {**self.required, **self.optional}.items() if t in ("date", "timestamp")
        ]

    @property
    def partitioned(self) -> bool:
        return self.partition_column is not None

    def file_patterns(self) -> list[str]:
        """`<name>.csv|parquet`, plus `<name>_*.csv|parquet` for deliveries split by period."""
        return [f"{self.name}.{ext}" for ext in FORMATS] + [
            f"{self.name}_*.{ext}" for ext in FORMATS
        ]


def _expand(
    col: str, survey_items, survey_indices, feedback_items=(), survey_groups=()
) -> list[str]:
    if col == FEEDBACK_ITEMS:
        return list(feedback_items)
    if col == SURVEY_ITEMS:
        return list(survey_items)
    if col == SURVEY_INDICES:
        return list(survey_indices)
    if col == SURVEY_INDEX_SE:
        return [f"{i}_se" for i in survey_indices]
    if col == SURVEY_GROUPS:
        return list(survey_groups)
    return [col]


INPUTS: dict[str, InputSpec] = {
    spec.name: spec
    for spec in (
        InputSpec(
            "districts",
            required={"district_id": "text", "population": "int"},
            optional={"district_name": "text", "year": "int"},
            key=("district_id", "year"),
            description="Police districts (or beats) with their resident population.",
        ),
        InputSpec(
            "programs",
            required={"program": "text", "start_date": "date"},
            optional={"district_id": "text", "unit_id": "text", "end_date": "date"},
            key=("district_id", "unit_id", "program"),
            file_required=False,
            description="Program roll-out dates; districts absent here are comparisons.",
        ),
        InputSpec(
            "crime_incidents",
            required={
                "incident_id": "text",
                "occurred_at": "timestamp",
                "offense_category": "text",
            },
            optional={"district_id": "text", "unit_id": "text", "updated_at": "timestamp"},
            key=("incident_id",),
            partition_column="occurred_at",
            file_required=False,  # one of crime_incidents / crime_counts (see ALTERNATIVES)
            description="One row per recorded incident.",
        ),
        InputSpec(
            "survey_responses",
            required={
                "response_id": "text",
                "district_id": "text",
                "response_date": "date",
                SURVEY_ITEMS: "float",
            },
            optional={"weight": "float", SURVEY_GROUPS: "text"},
            key=("response_id",),
            file_required=False,  # surveys are optional; scores may replace responses
            description="Resident survey answers on a Likert scale, optionally weighted.",
        ),
        InputSpec(
            "meetings",
            required={
                "meeting_id": "text",
                "meeting_date": "date",
                "meeting_type": "text",
                "attendees": "int",
            },
            optional={"district_id": "text", "unit_id": "text"},
            key=("meeting_id",),
            partition_column="meeting_date",
            file_required=False,  # optional: without it there is no dose-response
            description="Community meetings held by the police, with attendance.",
        ),
        InputSpec(
            "crime_counts",
            required={"period": "text", "offense_category": "text", "count": "float"},
            optional={"district_id": "text", "unit_id": "text"},
            key=("district_id", "unit_id", "period", "offense_category"),
            file_required=False,
            description="Published crime counts per district (or unit), period and offense "
            "(in place of incidents); a missing row is a reporting gap, not a zero.",
        ),
        InputSpec(
            "survey_scores",
            required={
                "district_id": "text",
                "period": "text",
                SURVEY_INDICES: "float",
                "n_respondents": "float",
            },
            optional={
                SURVEY_INDEX_SE: "float",
                "scale_min": "float",
                "scale_max": "float",
                SURVEY_GROUPS: "text",  # issue 15: a row per group value (empty = everyone)
            },
            key=("district_id", "period", SURVEY_GROUPS),
            file_required=False,
            description="Survey scores per district and period with their number of "
            "respondents (in place of responses), on their own scale.",
        ),
        InputSpec(
            "units",
            required={"unit_id": "text", "district_id": "text"},
            optional={"population": "int"},
            key=("unit_id",),
            file_required=False,
            description="Crosswalk of units (beats) to districts, with unit populations.",
        ),
        InputSpec(  # issue 15: a free-text comment column stays in raw (not a contract column)
            "meeting_feedback",
            required={
                "feedback_id": "text",
                "meeting_id": "text",
                "submitted_date": "date",
                FEEDBACK_ITEMS: "float",
            },
            optional={"topic": "text"},
            key=("feedback_id",),
            file_required=False,
            description="Residents' feedback forms on police meetings: ratings on "
            "feedback.scale and an optional topic (comments stay in raw, never published).",
        ),
    )
}

MEETING_TYPES = ("beat_meeting", "town_hall", "community_event", "other")


def find_files(data_dir: str | Path, spec: InputSpec) -> list[Path]:
    """The delivered files of one input, sorted by name (so later deliveries sort last)."""
    root = Path(data_dir)
    found: set[Path] = set()
    for pattern in spec.file_patterns():
        found.update(p for p in root.glob(pattern) if p.is_file())
    files = sorted(found, key=lambda p: p.name)
    check_alternatives(root, spec)
    if not files and spec.file_required:
        raise UserError(
            f"no {spec.name} file in {root}",
            f"deliver {spec.name}.csv or {spec.name}.parquet (see docs/data_contract.md), "
            "or point --data at the right folder",
            file=str(root / f"{spec.name}.csv"),
        )
    return files


def _delivered(root: Path, name: str) -> bool:
    return any(p.is_file() for pattern in INPUTS[name].file_patterns() for p in root.glob(pattern))


def check_alternatives(data_dir: str | Path, spec: InputSpec) -> None:
    """Crime data as incidents or as counts, surveys as responses or as scores: never both
    shapes of one kind (they would be counted twice), and crime or survey data at least."""
    root = Path(data_dir)
    group = next((g for g, names in ALTERNATIVES.items() if spec.name in names), None)
    if group is None:
        return
    delivered = {g: [n for n in names if _delivered(root, n)] for g, names in ALTERNATIVES.items()}
    if len(delivered[group]) > 1:
        a, b = delivered[group]
        raise UserError(
            f"both {a} and {b} are in {root}: {group} data must come in one shape",
            f"keep either the {a} file(s) or the {b} file(s) in the data folder, not both",
            file=str(root),
        )
    if not any(delivered.values()):
        raise UserError(
            f"no crime or survey data in {root}",
            "deliver crime_incidents or crime_counts, and/or survey_responses or "
            "survey_scores (see docs/data_contract.md)",
            file=str(root),
        )


def check_data_dir(data_dir: str | Path) -> Path:
    root = Path(data_dir)
    if not root.exists():
        raise UserError(
            f"data folder {root} does not exist",
            "pass the city folder with --data DIR (or set ENGAGEMENT_EVAL_DATA)",
        )
    if not root.is_dir():
        raise UserError(
            f"{root} is a file, not a folder",
            "pass the folder that holds the city's files with --data DIR",
        )
    return root


def resolve_columns(
    spec: InputSpec, header: list[str], config: CityConfig, file: str | Path
) -> dict[str, str]:
    """Map each contract column to the delivered column that holds it.

    Uses `columns.<input>` from the config, then the contract name itself, then a unique
    case-insensitive match. Missing required columns raise a `UserError` naming the mapping fix.
    """
    mapping = config.column_map(spec.name)
    lower = {}
    for name in header:
        lower.setdefault(name.lower(), []).append(name)
    resolved: dict[str, str] = {}
    indices = tuple(config.survey.indices)
    fb = config.feedback.items
    required = set(spec.required_columns(config.survey.items, indices, fb))
    for col in spec.columns(config.survey.items, indices, fb, survey_groups=config.survey.groups):
        wanted = mapping.get(col, col)
        if wanted in header:
            resolved[col] = wanted
        elif len(lower.get(wanted.lower(), [])) == 1:
            resolved[col] = lower[wanted.lower()][0]
        elif col in required:
            hint = (
                f"the config maps it to '{wanted}'"
                if col in mapping
                else "no config mapping for it"
            )
            raise UserError(
                f"required column '{col}' of {spec.name} is missing ({hint}); "
                f"columns found: {', '.join(header) or 'none'}",
                f"rename the column in the file, or map it in the city config: "
                f"columns: {{{spec.name}: {{{col}: <your column name>}}}}",
                file=str(file),
                column=wanted,
            )
    if spec.place_columns and not any(c in resolved for c in spec.place_columns):
        raise UserError(
            f"{spec.name} has neither district_id nor unit_id; columns found: "
            f"{', '.join(header) or 'none'}",
            "deliver a district_id column (or unit_id together with units.csv), or map it: "
            f"columns: {{{spec.name}: {{district_id: <your column name>}}}}",
            file=str(file),
            column="district_id",
        )
    return resolved

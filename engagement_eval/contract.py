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
FORMATS = ("csv", "parquet")
SURVEY_ITEMS = "<survey items>"  # placeholder expanded from config.survey.items


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

    def columns(self, survey_items: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
        """Contract column -> type, required first, with survey items expanded."""
        out: dict[str, str] = {}
        for col, typ in {**self.required, **self.optional}.items():
            if col == SURVEY_ITEMS:
                out.update({item: "float" for item in survey_items})
            else:
                out[col] = typ
        return out

    def required_columns(self, survey_items: tuple[str, ...] | list[str] = ()) -> list[str]:
        cols = []
        for col in self.required:
            cols.extend(survey_items if col == SURVEY_ITEMS else [col])
        return cols

    def all_columns(self, survey_items: tuple[str, ...] | list[str] = ()) -> list[str]:
        return list(self.columns(survey_items))

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
            required={"district_id": "text", "program": "text", "start_date": "date"},
            optional={"end_date": "date"},
            key=("district_id", "program"),
            file_required=False,
            description="Program roll-out dates; districts absent here are comparisons.",
        ),
        InputSpec(
            "crime_incidents",
            required={
                "incident_id": "text",
                "occurred_at": "timestamp",
                "district_id": "text",
                "offense_category": "text",
            },
            optional={"updated_at": "timestamp"},
            key=("incident_id",),
            partition_column="occurred_at",
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
            optional={"weight": "float"},
            key=("response_id",),
            description="Resident survey answers on a Likert scale, optionally weighted.",
        ),
        InputSpec(
            "meetings",
            required={
                "meeting_id": "text",
                "district_id": "text",
                "meeting_date": "date",
                "meeting_type": "text",
                "attendees": "int",
            },
            key=("meeting_id",),
            partition_column="meeting_date",
            description="Community meetings held by the police, with attendance.",
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
    if not files and spec.file_required:
        raise UserError(
            f"no {spec.name} file in {root}",
            f"deliver {spec.name}.csv or {spec.name}.parquet (see docs/data_contract.md), "
            "or point --data at the right folder",
            file=str(root / f"{spec.name}.csv"),
        )
    return files


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
    required = set(spec.required_columns(config.survey.items))
    for col in spec.columns(config.survey.items):
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
    return resolved

"""Rule builders shared by the per-input suites.

Rules look at the *gate frame* built by `quality.frames`: for each contract column `c` the
frame holds `c` (typed; text columns trimmed, empty -> NULL), and for non-text columns also
`c__raw` (the delivered text) and `c__unparseable` (the delivered text when it could not be
parsed, else NULL). `_key` is the row's key text (NULL on later exact copies) and
`_copy_number` counts exact copies of a row. Parsing and ranges are therefore separate rules,
so a bad date is reported as "cannot be parsed" rather than as "outside the window".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engagement_eval.contract import INPUTS, InputSpec
from quality.rules import BLOCKING, INFO, ROW, TABLE, WARNING, Rule
from quality.settings import GateSettings

DATE_TYPES = ("date", "timestamp")


@dataclass(frozen=True)
class SuiteContext:
    """What a suite needs to know about this delivery to state its rules."""

    input_name: str
    settings: GateSettings
    columns: dict[str, str]  # contract column -> contract type, only those delivered
    survey_items: tuple[str, ...] = ()
    district_ids: tuple[str, ...] = ()
    date_formats: dict[str, str] = field(default_factory=dict)
    # units.csv: its unit ids and "<unit> in district <district>" pairs. Without a
    # crosswalk (units_delivered False) a unit_id can place a row only if nothing else does.
    unit_ids: tuple[str, ...] = ()
    unit_districts: tuple[str, ...] = ()
    units_delivered: bool = True  # True when rules are only declared (all inputs assumed)
    feedback_scale: tuple[float, float] = (1.0, 5.0)  # issue 15: config.feedback.scale

    @property
    def spec(self) -> InputSpec:
        return INPUTS[self.input_name]

    def has(self, column: str) -> bool:
        return column in self.columns


def fmt_date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def structure_rules(ctx: SuiteContext) -> list[Rule]:
    """Non-empty table and every delivered contract column present (table level, blocking)."""
    rules = [
        Rule(
            name="has_rows",
            expectation="ExpectTableRowCountToBeBetween",
            kwargs={"min_value": 1},
            column=None,
            severity=BLOCKING,
            level=TABLE,
            description=f"{ctx.input_name} has at least one data row",
            fix=f"deliver a {ctx.input_name} file with a header and data rows",
        )
    ]
    for col in ctx.columns:
        rules.append(
            Rule(
                name=f"{col}_present",
                expectation="ExpectColumnToExist",
                kwargs={"column": col},
                column=col,
                severity=BLOCKING,
                level=TABLE,
                description=f"column {col} is delivered",
                fix=f"add the column or map it: columns: {{{ctx.input_name}: {{{col}: <name>}}}}",
            )
        )
    return rules


def not_null(ctx: SuiteContext, col: str, severity: str = BLOCKING, why: str = "") -> Rule:
    frame_col = col if ctx.columns.get(col, "text") == "text" else f"{col}__raw"
    return Rule(
        name=f"{col}_not_null",
        expectation="ExpectColumnValuesToNotBeNull",
        kwargs={"column": frame_col},
        column=col,
        severity=severity,
        level=ROW,
        description=f"{col} is filled in" + (f" ({why})" if why else ""),
        fix=f"fill in {col} in the source system export, or remove those rows",
        value_column=frame_col,
    )


def parseable(ctx: SuiteContext, col: str, severity: str = BLOCKING) -> Rule:
    typ = ctx.columns[col]
    if typ in DATE_TYPES:
        fmt = ctx.date_formats.get(col)
        expected = f"a date in format {fmt}" if fmt else "an ISO date (YYYY-MM-DD[ HH:MM:SS])"
        fix = (
            f"fix the values, or set the format: date_formats: {{{ctx.input_name}: "
            f"{{{col}: '<strptime format>'}}}}"
        )
    else:
        expected = {"int": "a whole number", "float": "a number"}.get(typ, typ)
        fix = f"fix the values so that {col} holds {expected} (no units, no thousands separators)"
    return Rule(
        name=f"{col}_parseable",
        expectation="ExpectColumnValuesToBeNull",
        kwargs={"column": f"{col}__unparseable"},
        column=col,
        severity=severity,
        level=ROW,
        description=f"{col} is {expected}",
        fix=fix,
        value_column=f"{col}__raw",
    )


def key_rules(ctx: SuiteContext) -> list[Rule]:
    """Exact copies are a harmless double delivery (staging keeps one); two different rows with
    the same key are a conflict nobody can resolve automatically, so both are set aside."""
    key = [c for c in ctx.spec.key if c in ctx.columns]
    if not key:
        return []
    label = " + ".join(key)
    return [
        Rule(
            name="no_exact_duplicates",
            expectation="ExpectColumnValuesToBeInSet",
            kwargs={"column": "_copy_number", "value_set": [1]},
            column=key[0],
            severity=WARNING,
            level=ROW,
            description="no row is delivered twice (later exact copies are dropped by staging)",
            fix="remove the duplicated file or rows from the delivery folder",
            value_column=key[0],
        ),
        Rule(
            name="key_unique",
            expectation="ExpectColumnValuesToBeUnique",
            kwargs={"column": "_key"},
            column=key[0],
            severity=BLOCKING,
            level=ROW,
            description=f"{label} is unique (different rows never share it)",
            fix=f"give each row its own {label}, or keep only the correct version of each",
            value_column="_key",
        ),
    ]


def known_district(ctx: SuiteContext) -> Rule:
    return Rule(
        name="district_known",
        expectation="ExpectColumnValuesToBeInSet",
        kwargs={"column": "district_id", "value_set": list(ctx.district_ids)},
        column="district_id",
        severity=BLOCKING,
        level=ROW,
        description="district_id exists in districts",
        fix="add the district to districts.csv, or correct the id (ids are compared as text: "
        "leading zeros matter)",
        value_column="district_id",
    )


def date_rules(ctx: SuiteContext, col: str) -> list[Rule]:
    """Missing and unparseable dates and future dates block; dates outside the study window
    are normal in a full export and are only counted (the panels keep the window)."""
    s = ctx.settings
    rules = [not_null(ctx, col), parseable(ctx, col)]
    rules.append(
        Rule(
            name=f"{col}_not_future",
            expectation="ExpectColumnValuesToBeBetween",
            kwargs={"column": col, "max_value": s.now},
            column=col,
            severity=BLOCKING,
            level=ROW,
            description=f"{col} is not in the future (after {fmt_date(s.now)})",
            fix=f"correct the {col} values (typing errors such as 2205 for 2025 are common)",
            value_column=f"{col}__raw",
        )
    )
    window = {"min_value": s.window_start}
    if s.window_end is not None:
        window["max_value"] = s.window_end
    end = "" if s.window_end is None else f" to {fmt_date(s.window_end)}"
    rules.append(
        Rule(
            name=f"{col}_in_window",
            expectation="ExpectColumnValuesToBeBetween",
            kwargs={"column": col, **window},
            column=col,
            severity=INFO,
            level=ROW,
            description=f"{col} falls in the study window ({fmt_date(s.window_start)}{end}); "
            "rows outside are left out of the analysis",
            fix="widen study_window in the city config if those rows should count",
            value_column=f"{col}__raw",
        )
    )
    return rules


def number_rules(
    ctx: SuiteContext,
    col: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    strict_min: bool = False,
    severity: str = BLOCKING,
    name: str | None = None,
    description: str,
    fix: str,
) -> Rule:
    kwargs: dict = {"column": col}
    if min_value is not None:
        kwargs["min_value"] = min_value
        kwargs["strict_min"] = strict_min
    if max_value is not None:
        kwargs["max_value"] = max_value
    return Rule(
        name=name or f"{col}_in_range",
        expectation="ExpectColumnValuesToBeBetween",
        kwargs=kwargs,
        column=col,
        severity=severity,
        level=ROW,
        description=description,
        fix=fix,
        value_column=f"{col}__raw",
    )


def known_unit(ctx: SuiteContext) -> Rule:
    return Rule(
        name="unit_known",
        expectation="ExpectColumnValuesToBeInSet",
        kwargs={"column": "unit_id", "value_set": list(ctx.unit_ids)},
        column="unit_id",
        severity=BLOCKING,
        level=ROW,
        description="unit_id exists in units.csv (otherwise the row belongs to no district)",
        fix="add the unit to units.csv with its district_id, or correct the id (ids are "
        "compared as text: leading zeros matter)",
        value_column="unit_id",
    )


def unit_in_its_district(ctx: SuiteContext) -> Rule:
    """Rows giving both ids must agree with the crosswalk; the frame column holds
    `<unit_id> in district <district_id>` for rows of a known unit with both ids filled."""
    return Rule(
        name="unit_district_match",
        expectation="ExpectColumnValuesToBeInSet",
        kwargs={"column": UNIT_DISTRICT, "value_set": list(ctx.unit_districts)},
        column="district_id",
        severity=BLOCKING,
        level=ROW,
        description="district_id is the district units.csv gives for the row's unit_id",
        fix="correct district_id or unit_id in these rows, or the unit's district in units.csv",
        value_column=UNIT_DISTRICT,
    )


UNIT_DISTRICT = "_unit_district"  # gate frame column, see quality.frames.mark_unit_districts


def place_rules(ctx: SuiteContext) -> list[Rule]:
    """Where a row is: a known district, or a unit that units.csv maps to one.

    Inputs per beat carry unit_id instead of district_id; the panels map units to districts
    through the crosswalk, so a unit missing there would drop out of the panel unnoticed:
    `unit_known` blocks it. Rows with both ids must agree with the crosswalk. A unit_id next
    to a district_id without a units.csv is only informational and is not checked.
    """
    if ctx.has("district_id") or not ctx.has("unit_id"):
        rules = [not_null(ctx, "district_id"), known_district(ctx)]
    else:
        rules = [not_null(ctx, "unit_id", why="units.csv maps it to its district")]
    if ctx.has("unit_id") and (ctx.units_delivered or not ctx.has("district_id")):
        rules.append(known_unit(ctx))
    if ctx.has("unit_id") and ctx.has("district_id") and ctx.units_delivered:
        rules.append(unit_in_its_district(ctx))
    return rules


def offense_rules(ctx: SuiteContext) -> list[Rule]:
    """Offense labels, shared by incidents and counts: a missing or unmapped label only warns,
    because such rows still count in the total (never in violent, property or other)."""
    from engagement_eval.config import CATEGORIES

    return [
        not_null(
            ctx,
            "offense_category",
            severity=WARNING,
            why="rows without one count in the total only",
        ),
        Rule(
            name="offense_category_mapped",
            expectation="ExpectColumnValuesToBeInSet",
            kwargs={"column": "offense_category__mapped", "value_set": list(CATEGORIES)},
            column="offense_category",
            severity=WARNING,
            level=ROW,
            description="offense_category is violent, property or other, or mapped to one by "
            "offense_map (unmapped labels count in the total only)",
            fix="add the label to offense_map in the city config: offense_map: {<label>: violent}",
            value_column="offense_category",
        ),
    ]

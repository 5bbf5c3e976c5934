"""What the Dagster UI shows of the data: typed table previews and masked values.

Every UI user sees asset and check metadata, while only the evaluator should see what residents
or clerks typed. Two rules follow:

- Previews are `MetadataValue.table` with a `TableSchema` whose column types and descriptions
  come from the input contract (`engagement_eval.contract`), so the UI shows typed, sortable
  columns instead of a markdown string; text cells go through `mask_value` like any example.
- Values shown as examples of a broken rule are truncated and masked (`mask_value`): free text
  typed into a contract column (a name and phone number in a score, an address in a district
  id) cannot be read there, while the pattern stays visible ("Xxxx Xxxxx 999-9999" says "text
  where a number belongs"). The full value stays in `quality.quarantine`, which the evaluator
  reads in DuckDB.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

import dagster as dg

from engagement_eval.contract import INPUTS

MAX_SHOWN_CHARS = 24
# values shown unmasked, by the contract type of their column: what a fix needs to read
# (an out-of-range score, an unparseable date, an unmapped category) and cannot hold a name,
# a phone number or an address
_SAFE = {
    "int": re.compile(r"[+-]?\d{1,6}"),
    "float": re.compile(r"[+-]?\d{1,6}([.,]\d{1,4})?([eE][+-]?\d{1,3})?|[+-]?(nan|inf)", re.I),
    "date": re.compile(r"[\d/.:T -]{1,32}"),
    "timestamp": re.compile(r"[\d/.:T +-]{1,40}(Z|[AP]M)?", re.I),
    "text": re.compile(r"[\w.:/-]{1,24}"),
}
_LONG_DIGITS = re.compile(r"\d{5,}")
# gate examples: "<repr of the value> (<file> row <n>)"
_EXAMPLE = re.compile(r"(?P<value>'.*'|\".*\"|None) \((?P<where>[^()]* row \d+)\)", re.S)
# DuckDB result types -> Dagster TableColumn types (anything else is shown as "string")
_DUCKDB_TYPES = {
    "BIGINT": "int",
    "INTEGER": "int",
    "HUGEINT": "int",
    "SMALLINT": "int",
    "DOUBLE": "float",
    "FLOAT": "float",
    "DECIMAL": "float",
    "DATE": "date",
    "TIMESTAMP": "datetime",
    "BOOLEAN": "bool",
    "VARCHAR": "string",
}
_CONTRACT_TYPES = {"text": "string", "int": "int", "float": "float", "date": "date"}
_CONTRACT_TYPES["timestamp"] = "datetime"


def shape_mask(text: str) -> str:
    """Letters -> x/X, digits -> 9, other characters kept: the pattern without the content."""
    return "".join(
        ("X" if c.isupper() else "x") if c.isalpha() else "9" if c.isdigit() else c for c in text
    )


def mask_value(value, column_type: str | None = "text"):
    """A value as the UI may show it. Numbers, booleans and None pass; a string passes when it
    has the shape its contract type allows (`_SAFE`, no run of 5+ digits in text), otherwise
    it is shape-masked. Anything longer than `MAX_SHOWN_CHARS` is cut, with its length."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    safe = _SAFE.get(column_type or "text", _SAFE["text"])
    readable = safe.fullmatch(text.strip()) is not None and not (
        column_type in (None, "text") and _LONG_DIGITS.search(text)
    )
    shown = text if readable else shape_mask(text)
    if len(shown) > MAX_SHOWN_CHARS:
        shown = f"{shown[:MAX_SHOWN_CHARS]}… ({len(text)} characters)"
    return shown


def mask_example(example, column_type: str | None = "text"):
    """A gate example ("'value' (file row n)", or a bare value) with its value masked."""
    if isinstance(example, str) and (m := _EXAMPLE.fullmatch(example)):
        raw = m["value"]
        inner = None if raw == "None" else raw[1:-1]
        return f"{mask_value(inner, column_type)!r} ({m['where']})"
    return mask_value(example, column_type)


def mask_text(message: str, examples: Iterable, column_type: str | None = "text") -> str:
    """`message` with each of `examples` (as the gate printed them) replaced by its mask."""
    for example in examples:
        if isinstance(example, str) and example:
            message = message.replace(example, str(mask_example(example, column_type)))
    return message


def contract_type(input_name: str, column: str | None, config=None) -> str | None:
    """The contract type of `input_name.column` (survey items and indices expanded)."""
    spec = INPUTS.get(input_name)
    if spec is None or column is None:
        return None
    return _contract_columns(spec, config).get(column)


def _contract_columns(spec, config) -> dict[str, str]:
    """Contract column -> type, with the config's survey items, indices and feedback items."""
    if config is None:
        return spec.columns()
    survey = config.survey
    return spec.columns(
        tuple(survey.items),
        tuple(survey.indices),
        config.feedback.items,
        survey_groups=survey.groups,
    )


def table_preview(
    con, sql: str, input_name: str | None = None, config=None, params=None
) -> dg.MetadataValue:
    """A small query result as `MetadataValue.table`; columns that are contract columns of
    `input_name` take the contract's type and a description saying so."""
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    duck_types = [str(d[1]).split("(")[0].upper() for d in cur.description]
    rows = cur.fetchall()
    spec = INPUTS.get(input_name) if input_name else None
    contract = _contract_columns(spec, config) if spec else {}
    columns = []
    for name, duck in zip(names, duck_types, strict=True):
        if name in contract:
            kind = _CONTRACT_TYPES.get(contract[name], "string")
            text = f"contract column of {input_name} ({contract[name]})"
        else:
            kind, text = _DUCKDB_TYPES.get(duck, "string"), "summary over the rows"
        columns.append(dg.TableColumn(name=name, type=kind, description=text))
    records = [
        dg.TableRecord(
            {n: _cell(v, contract.get(n, "text")) for n, v in zip(names, row, strict=True)}
        )
        for row in rows
    ]
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=columns))


def _cell(value, column_type: str):
    """TableRecord values must be str, int, float, bool or None; text is masked."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return mask_value(value, column_type)
    if hasattr(value, "isoformat"):  # dates and timestamps: not free text
        return value.isoformat()
    return mask_value(str(value), column_type)

"""The gate frame: the rows staging will see, as delivered, with parse results beside them.

The gate reads `raw` (text exactly as delivered) rather than `staging`, because staging has
already parsed and deduplicated: a date that failed to parse is NULL there and a conflicting
duplicate has been dropped. Parsing uses the same SQL as staging (`warehouse.sql.cast_sql`) so
both agree on what "parseable" means. Only the current version of each delivered file is
checked (raw keeps older versions of re-delivered files), mirroring staging.

The frame is a TEMP table. It never goes to Great Expectations whole: `quality.reduce` cuts it
down to what decides each rule (distinct values, rows sharing a key) first.

It is built in three statements so that no row is parsed twice: every row once, as if it were
the only one of its key (copy 1, key kept); then the 64-bit hashes of keys (or, without a key
column, of whole rows) held by more than one row, a small table kept with the frame; then exact
copies and superseded versions are numbered among only the rows those hashes point to, and
only rows that change are updated. The same small table lets the key's uniqueness rule look at
those rows alone (`Frame.duplicates_within`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import pandas as pd

from engagement_eval.config import CATEGORIES, CityConfig
from engagement_eval.contract import INPUTS, resolve_columns
from engagement_eval.errors import UserError
from warehouse.ingest import current_versions_sql, staged_files_filter, staged_from_no_file
from warehouse.sql import (
    TZ_PARAM,
    cast_sql,
    ident,
    repeated_hashes_sql,
    table,
    table_columns,
    table_exists,
    trimmed_text,
)

LINEAGE = ("_source_file", "_source_sha256", "_row_number", "_loaded_at", "_partition_key")


@dataclass(frozen=True)
class Frame:
    input_name: str
    table: str  # quoted temp table name
    columns: dict[str, str]  # contract column -> type, delivered ones only
    delivered: dict[str, str]  # contract column -> delivered column name
    source_files: tuple[str, ...]
    rows: int
    # temp table of the hashes (`_h`) of key texts that more than one row holds; None when the
    # input has no key column delivered (then `_key` is NULL on every row)
    repeated_keys: str | None = None

    def duplicates_within(self, column: str) -> str | None:
        """A predicate on frame rows outside of which `column` cannot repeat, or None.

        `_key` is the key text, or NULL; two rows sharing a `_key` share its hash, which is
        then in `repeated_keys`. So rows whose `_key` hash is not there are unique."""
        if column != "_key" or self.repeated_keys is None:
            return None
        return f"hash(_key) IN (SELECT _h FROM {self.repeated_keys})"

    def head(self, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        """The frame's columns and first row: enough for rules about the table's shape."""
        return con.execute(f"SELECT * FROM {self.table} ORDER BY _rid LIMIT 1").df()


def frame_table(input_name: str) -> str:
    return ident(f"_gate_{input_name}")


def repeated_table(input_name: str) -> str:
    """The frame's companion table of repeated key (or row) hashes, dropped with it."""
    return ident(f"_gate_{input_name}_repeated")


def _current_rows_sql(con: duckdb.DuckDBPyConnection, input_name: str) -> tuple[str, dict]:
    """Raw rows of the latest loaded version of each file (per partition) among the files
    staging was last built from, as staging reads (`warehouse.ingest.current_versions_sql`)."""
    raw = table("raw", input_name)
    if not table_exists(con, "raw", "_loads"):
        return f"SELECT * FROM {raw}", {}
    sql = f"""
        SELECT r.* FROM {raw} r JOIN ({current_versions_sql(staged_files_filter(con))}) c
          ON r._source_file = c.source_file AND r._source_sha256 = c.source_sha256
           AND r._partition_key IS NOT DISTINCT FROM c.partition_key"""
    return sql, {"input": input_name}


def _current_versions(
    con: duckdb.DuckDBPyConnection, input_name: str, current: str, params: dict
) -> list[tuple[str, str]]:
    """(file, version) pairs that current rows come from, sorted. The load log counts each
    version's rows per partition, so it answers without reading the rows (0.2 s for 6 M)."""
    if not table_exists(con, "raw", "_loads"):
        sql = f"SELECT DISTINCT _source_file, _source_sha256 FROM ({current}) ORDER BY 1, 2"
        return con.execute(sql, params).fetchall()
    versions = current_versions_sql(staged_files_filter(con))
    sql = f"""SELECT DISTINCT source_file, source_sha256 FROM ({versions})
              WHERE rows > 0 ORDER BY 1, 2"""
    return con.execute(sql, {"input": input_name}).fetchall()


def _delivered_columns(
    con: duckdb.DuckDBPyConnection, input_name: str, config: CityConfig, source: str
) -> dict[str, str]:
    header = [c for c in table_columns(con, "raw", input_name) if c not in LINEAGE]
    return resolve_columns(INPUTS[input_name], header, config, source)


def build_frame(
    con: duckdb.DuckDBPyConnection,
    input_name: str,
    config: CityConfig,
) -> Frame | None:
    """Create the gate frame for one input; None when the input was not delivered."""
    if not table_exists(con, "raw", input_name) or staged_from_no_file(con, input_name):
        return None
    spec = INPUTS[input_name]
    current, params = _current_rows_sql(con, input_name)
    versions = _current_versions(con, input_name, current, params)
    files = tuple(dict.fromkeys(f for f, _ in versions))
    params[TZ_PARAM] = config.timezone  # timestamps with offsets -> the city's local time
    delivered = _delivered_columns(con, input_name, config, ", ".join(files) or input_name)
    survey = config.survey  # items, index scores, feedback items, groups
    types = spec.columns(
        survey.items, tuple(survey.indices), config.feedback.items, survey_groups=survey.groups
    )
    columns = {c: types[c] for c in types if c in delivered}

    inner, outer = [], []
    for col, typ in columns.items():
        text = trimmed_text(f"r.{ident(delivered[col])}")
        if typ == "text":
            inner.append(f"{text} AS {ident(col)}")
            outer.append(ident(col))
            continue
        fmt = config.date_format(input_name, col)
        fmt_param = None
        if fmt:
            fmt_param = f"fmt_{len(params)}"
            params[fmt_param] = fmt
        cast_to = "timestamp" if typ in ("date", "timestamp") else typ
        inner.append(f"{text} AS {ident(col + '__raw')}")
        inner.append(f"{cast_sql(text, cast_to, fmt_param, tz=True)} AS {ident(col)}")
        outer += [
            ident(col + "__raw"),
            ident(col),
            f"CASE WHEN {ident(col)} IS NULL THEN {ident(col + '__raw')} END"
            f" AS {ident(col + '__unparseable')}",
        ]
    if "offense_category" in columns:
        params["categories"] = list(CATEGORIES)
        params["labels"] = [label.strip().upper() for label in config.offense_map]
        params["mapped"] = list(config.offense_map.values())
        oc = ident("offense_category")
        outer.append(
            f"CASE WHEN list_contains($labels, upper({oc})) "
            f"THEN ($mapped)[list_position($labels, upper({oc}))] "
            f"WHEN list_contains($categories, lower({oc})) THEN lower({oc}) "
            f"ELSE {oc} END AS offense_category__mapped"
        )

    content = [ident(c) if columns[c] == "text" else ident(c + "__raw") for c in columns]
    key_parts = [
        ident(k) if columns[k] == "text" else ident(k + "__raw")
        for k in spec.key_columns(survey.groups)
        if k in columns
    ]
    target = frame_table(input_name)
    repeated = repeated_table(input_name)
    latest = "TRUE"
    if key_parts:
        key_text = key_parts[0]
        if len(key_parts) > 1:
            key_text = f"concat_ws(' | ', {', '.join(key_parts)})"
        any_null = " OR ".join(f"{p} IS NULL" for p in key_parts[:1])
        if "updated_at" in columns:  # an updated record supersedes its earlier versions
            latest = (
                f"updated_at IS NOT DISTINCT FROM max(updated_at) OVER (PARTITION BY {key_text})"
            )
        first_key = f"CASE WHEN NOT ({any_null}) THEN {key_text} END"
        # exact copies share their key: only rows of a shared (or missing) key can be copies
        hashed, null_group = f"hash({key_text})", f"({any_null})"
    else:
        first_key = "CAST(NULL AS VARCHAR)"
        hashed, null_group = f"hash({', '.join(content)})", "FALSE"

    # _rid: (file version, row) order without sorting every row; rows are < 2**32 per file
    params["versions"] = [f"{f}\x1f{sha}" for f, sha in versions]
    rid = (
        "CAST(list_position($versions, r._source_file || chr(31) || r._source_sha256) AS BIGINT)"
        " * 4294967296 + r._row_number"
    )
    every_row = f"""
        CREATE OR REPLACE TEMP TABLE {target} AS
        WITH base AS (
            SELECT {rid} AS _rid, r._source_file, r._row_number, {", ".join(inner)}
            FROM ({current}) r
        )
        SELECT _rid, _source_file, _row_number, {", ".join(outer)},
               CAST(1 AS BIGINT) AS _copy_number, {first_key} AS _key
        FROM base
    """
    shared = f"""
        CREATE OR REPLACE TEMP TABLE {repeated} AS
        {repeated_hashes_sql(f"SELECT {hashed} AS _h FROM {target} WHERE NOT {null_group}")}
    """
    # later exact copies (by delivered text, in file-version and row order) and versions an
    # update superseded lose their key; they are few, so only they are written again
    renumber = f"""
        UPDATE {target} SET _copy_number = c._copy_number, _key = NULL
        FROM (
            SELECT _rid, row_number() OVER (PARTITION BY {", ".join(content)} ORDER BY _rid)
                       AS _copy_number, {latest} AS _latest
            FROM {target}
            WHERE {null_group} OR {hashed} IN (SELECT _h FROM {repeated})
        ) c
        WHERE {target}._rid = c._rid AND (c._copy_number > 1 OR NOT c._latest)
    """
    try:
        con.execute(every_row, params_only(every_row, params))
        con.execute(shared)
        con.execute(renumber)
    except duckdb.Error as exc:  # a date format DuckDB rejects outright, for instance
        for leftover in (target, repeated):
            con.execute(f"DROP TABLE IF EXISTS {leftover}")
        raise UserError(
            f"cannot check {input_name}: {' '.join(str(exc).split())[:300]}",
            "check date_formats and columns for this input in the city config",
            file=", ".join(files) or None,
        ) from exc
    n_rows = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
    return Frame(
        input_name,
        target,
        columns,
        delivered,
        files,
        int(n_rows),
        repeated if key_parts else None,
    )


def params_only(sql: str, params: dict) -> dict:
    """The named parameters a statement uses (DuckDB rejects unused ones)."""
    used = set(re.findall(r"\$([A-Za-z_]\w*)", sql))
    return {k: v for k, v in params.items() if k in used}


def district_ids(con: duckdb.DuckDBPyConnection, districts: Frame | None) -> tuple[str, ...]:
    """Distinct, non-empty district ids as delivered (text: leading zeros matter)."""
    if districts is None:
        return ()
    rows = con.execute(
        f"SELECT DISTINCT district_id FROM {districts.table} WHERE district_id IS NOT NULL "
        "ORDER BY 1"
    ).fetchall()
    return tuple(r[0] for r in rows)


@dataclass(frozen=True)
class Crosswalk:
    """units.csv as the other inputs' rules need it (unit ids and their districts)."""

    pairs: tuple[tuple[str, str], ...]  # (unit_id, district_id) as delivered

    @property
    def unit_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(u for u, _ in self.pairs))

    @property
    def unit_districts(self) -> tuple[str, ...]:
        """The pairs as the `_unit_district` frame column spells them."""
        return tuple(UNIT_IN_DISTRICT.format(u, d) for u, d in self.pairs if d is not None)


UNIT_IN_DISTRICT = "{} in district {}"


def crosswalk(con: duckdb.DuckDBPyConnection, units: Frame | None) -> Crosswalk | None:
    """Unit ids and unit-district pairs as delivered; None when units.csv was not delivered."""
    if units is None:
        return None
    if not {"unit_id", "district_id"} <= set(units.columns):
        return Crosswalk(())  # the units suite stops on the missing column
    rows = con.execute(
        f"SELECT DISTINCT unit_id, district_id FROM {units.table} WHERE unit_id IS NOT NULL "
        "ORDER BY 1, 2"
    ).fetchall()
    return Crosswalk(tuple((u, d) for u, d in rows))


def mark_unit_districts(
    con: duckdb.DuckDBPyConnection, frame: Frame, crosswalk: Crosswalk | None
) -> None:
    """Add `_unit_district` ("<unit_id> in district <district_id>") to a frame whose rows carry
    both ids, for rows of a unit units.csv knows: an unknown unit is `unit_known`'s failure,
    so it is not reported a second time as a mismatch."""
    if not {"unit_id", "district_id"} <= set(frame.columns):
        return
    con.execute(f"ALTER TABLE {frame.table} ADD COLUMN IF NOT EXISTS _unit_district VARCHAR")
    con.execute(
        f"UPDATE {frame.table} SET _unit_district = unit_id || ' in district ' || district_id"
        " WHERE unit_id IN (SELECT unnest($ids)) AND district_id IS NOT NULL",
        {"ids": list(crosswalk.unit_ids) if crosswalk else []},
    )


def drop_frame(con: duckdb.DuckDBPyConnection, frame: Frame) -> None:
    con.execute(f"DROP TABLE IF EXISTS {frame.table}")
    con.execute(f"DROP TABLE IF EXISTS {repeated_table(frame.input_name)}")

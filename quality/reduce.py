"""The DuckDB half of the gate: shrink the gate frame to what decides each rule, find rows back.

Great Expectations' pandas engine fingerprints every batch it is given (a hash of every row,
twice per batch) and some expectations fall back to Python loops, so handing it millions of
rows costs seconds per rule. Most rules do not need every row, only every *kind* of value:

- value rules (in set, between, regex, ...) decide each row from its value alone. GX gets the
  DISTINCT values of the column (with how many rows hold each); a value GX rejects stands for
  all its rows, so the row count is the sum of those rows.
- null rules (`...ToNotBeNull`, `...ToBeNull`) decide each row from whether the value is there.
  GX gets one real value per class (missing / present), the first one delivered, with its
  row count. High-cardinality ids and date texts therefore cost two rows instead of millions.
- uniqueness depends on the other rows. A key held by one row can never break it, so GX gets
  every row (with its `_rid`) whose key *hash* is held by more than one row (a hash collision
  only adds rows GX then finds unique), and counts the duplicated ones itself.
- anything else gets the rows themselves (column and `_rid` only).

GX still evaluates every rule and decides which values and rows fail; DuckDB only groups the
data and, for the failing values, joins back to the rows (`_rid`) for the quarantine.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from quality.rules import Rule
from warehouse.sql import ident, repeated_hashes_sql

NULLNESS = frozenset({"ExpectColumnValuesToNotBeNull", "ExpectColumnValuesToBeNull"})
VALUE_ONLY = NULLNESS | frozenset(
    {
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToNotBeInSet",
        "ExpectColumnValuesToBeBetween",
        "ExpectColumnValuesToMatchRegex",
        "ExpectColumnValuesToNotMatchRegex",
        "ExpectColumnValuesToMatchRegexList",
        "ExpectColumnValuesToMatchLikePattern",
        "ExpectColumnValuesToMatchStrftimeFormat",
        "ExpectColumnValueLengthsToBeBetween",
        "ExpectColumnValueLengthsToEqual",
    }
)
UNIQUE = "ExpectColumnValuesToBeUnique"

DISTINCT, NULL_CLASSES, DUPLICATES, ROWS = "distinct", "null classes", "duplicates", "rows"
_TABLE_NUMBERS = itertools.count()


@dataclass
class Reduction:
    """Columns of the gate frame, reduced for the rules that look at them.

    `table` holds `_vid` (0-based batch index), the columns, and `_n` (gate rows per `_vid`);
    for DUPLICATES and ROWS `_vid` is the row's `_rid` and stands for that row alone.
    NULL_CLASSES reduces several columns at once: one row per pattern of missing values, so
    every null rule of an input costs one GX batch.
    """

    frame_table: str
    columns: tuple[str, ...]
    kind: str
    rules: list[Rule]
    table: str
    size: int

    @property
    def weighted(self) -> bool:
        return self.kind in (DISTINCT, NULL_CLASSES)

    def weights(self, con: duckdb.DuckDBPyConnection) -> np.ndarray | None:
        if not self.weighted:
            return None
        return con.execute(f"SELECT _n FROM {self.table} ORDER BY _vid").fetchnumpy()["_n"]

    def batches(self, con: duckdb.DuckDBPyConnection, chunk_rows: int) -> Iterator[pd.DataFrame]:
        """GX inputs: the columns, indexed by `_vid`, at most `chunk_rows` rows each. Duplicate
        keys are cut by a hash of the key, so all rows of a key meet in one batch."""
        chunks = max(1, math.ceil(self.size / chunk_rows))
        cols = ", ".join(ident(c) for c in self.columns)
        for i in range(chunks):
            if self.kind == DUPLICATES:
                where, params = f"hash({cols}) % $k = $i", {"k": chunks, "i": i}
            else:
                where, params = "_vid // $rows = $i", {"rows": chunk_rows, "i": i}
            frame = con.execute(
                f"SELECT _vid, {cols} FROM {self.table} WHERE {where} ORDER BY _vid", params
            ).df()
            yield gx_friendly(frame.set_index("_vid", drop=True).rename_axis(None))

    def rows_for(self, con: duckdb.DuckDBPyConnection, ids: np.ndarray) -> np.ndarray:
        """`_rid`s of the gate rows that the failing batch rows stand for, in row order."""
        if not len(ids):
            return np.empty(0, dtype="int64")
        if not self.weighted:
            return np.sort(np.asarray(ids, dtype="int64"))
        if self.kind == NULL_CLASSES:
            match = " AND ".join(
                f"(f.{ident(c)} IS NULL) = r.{ident(_null_flag(i))}"
                for i, c in enumerate(self.columns)
            )
        else:
            match = f"f.{ident(self.columns[0])} IS NOT DISTINCT FROM r.{ident(self.columns[0])}"
        con.complete()  # DuckDB 2: register() refuses while a fetchone() result is open
        con.register("_gate_ids", pd.DataFrame({"_vid": np.asarray(ids, dtype="int64")}))
        try:
            rids = con.execute(
                f"""SELECT f._rid FROM {self.frame_table} f
                    JOIN (SELECT r.* FROM {self.table} r SEMI JOIN _gate_ids USING (_vid)) r
                      ON {match}
                    ORDER BY f._rid"""
            ).fetchnumpy()["_rid"]
        finally:
            con.unregister("_gate_ids")
        return np.asarray(rids, dtype="int64")

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DROP TABLE IF EXISTS {self.table}")


def _null_flag(i: int) -> str:
    return f"_is_null_{i}"


def gx_friendly(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as datetime64[ns]: GX's between-check is vectorised only for that unit (other
    units go through a Python call per value). Dates beyond pandas' ns range stay as they are."""
    for name in frame.columns:
        dtype = frame[name].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype) and str(dtype) != "datetime64[ns]":
            with contextlib.suppress(OverflowError, pd.errors.OutOfBoundsDatetime):
                frame[name] = frame[name].astype("datetime64[ns]")
    return frame


def _kind(rules: list[Rule]) -> str:
    names = {r.expectation for r in rules}
    if names <= NULLNESS:
        return NULL_CLASSES
    if names <= VALUE_ONLY:
        return DISTINCT
    return DUPLICATES if names == {UNIQUE} else ROWS


def plan(rules: list[Rule]) -> list[tuple[tuple[str, ...], str, list[Rule]]]:
    """(columns, kind, rules): columns with only null rules share one batch; the value rules
    of one column share a batch; uniqueness and other rules get their own."""
    groups: dict[tuple[str, str], list[Rule]] = {}
    for rule in rules:
        column = rule.kwargs["column"]
        family = "value" if rule.expectation in VALUE_ONLY else rule.expectation
        if family not in ("value", UNIQUE):
            family = f"rows:{rule.name}"
        groups.setdefault((column, family), []).append(rule)
    planned, null_columns, null_rules = [], [], []
    for (column, _), group in groups.items():
        kind = _kind(group)
        if kind == NULL_CLASSES:
            null_columns.append(column)
            null_rules += group
        else:
            planned.append(((column,), kind, group))
    if null_rules:
        planned.insert(0, (tuple(null_columns), NULL_CLASSES, null_rules))
    return planned


def reduce_columns(
    con: duckdb.DuckDBPyConnection,
    frame_table: str,
    columns: tuple[str, ...],
    kind: str,
    rules: list[Rule],
    within: str | None = None,
) -> Reduction:
    """Build the reduced table for one batch family (a TEMP table, dropped by the caller).

    `within` (DUPLICATES only) is a predicate outside of which the column cannot repeat
    (`Frame.duplicates_within`): the same rows come out, found among far fewer."""
    target = ident(f"_gate_reduced_{next(_TABLE_NUMBERS)}")
    col = ident(columns[0])
    if kind == DISTINCT:
        select = f"""
            SELECT CAST(row_number() OVER (ORDER BY first_rid) - 1 AS BIGINT) AS _vid,
                   {col}, _n
            FROM (SELECT {col}, count(*) AS _n, min(_rid) AS first_rid
                  FROM {frame_table} GROUP BY {col})"""
    elif kind == NULL_CLASSES:
        # per pattern of missing values: its rows, and a delivered value of each column
        # (within a pattern a column is missing in every row or in none)
        flags = [f"{ident(c)} IS NULL AS {ident(_null_flag(i))}" for i, c in enumerate(columns)]
        values = [f"arg_min({ident(c)}, _rid) AS {ident(c)}" for c in columns]
        select = f"""
            SELECT CAST(row_number() OVER (ORDER BY first_rid) - 1 AS BIGINT) AS _vid, *
            FROM (SELECT {", ".join(flags)}, {", ".join(values)},
                         count(*) AS _n, min(_rid) AS first_rid
                  FROM {frame_table} GROUP BY ALL)"""
    elif kind == DUPLICATES:
        present = f"{col} IS NOT NULL" + (f" AND {within}" if within else "")
        hashes = f"SELECT hash({col}) AS _h FROM {frame_table} WHERE {present}"
        select = f"""
            SELECT _rid AS _vid, {col} FROM {frame_table}
            WHERE hash({col}) IN ({repeated_hashes_sql(hashes)}) AND {present}"""
    else:
        select = f"SELECT _rid AS _vid, {col} FROM {frame_table}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS {select}")
    size = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
    return Reduction(frame_table, columns, kind, rules, target, int(size))

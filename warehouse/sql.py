"""Small SQL building blocks shared by the ingest and panel steps.

Values always travel as bound parameters. Identifiers come either from the contract's
whitelist or from a delivered file header; both pass through `ident()`, which quotes them so
a column called `x"; DROP TABLE` stays a column name.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import time
from pathlib import Path

import duckdb

SCHEMAS = ("raw", "staging", "quality", "marts", "results")
CATEGORY_VALUES = ("violent", "property", "other")


def ident(name: str) -> str:
    """Quote an identifier for DuckDB (double quotes, embedded quotes doubled)."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"not a usable identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def table(schema: str, name: str) -> str:
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema {schema!r}")
    return f"{ident(schema)}.{ident(name)}"


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}")


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """One step's writes as one transaction: committed together, or rolled back on any error
    (also KeyboardInterrupt), so a killed or failed step leaves the previous table content."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is still open. DuckDB already aborts a transaction whose
    COMMIT failed (e.g. disk full); a second ROLLBACK would raise and hide that cause."""
    with contextlib.suppress(duckdb.TransactionException):
        con.execute("ROLLBACK")


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


def clean_source(con: duckdb.DuckDBPyConnection, input_name: str) -> str:
    """The staging relation for a panel, minus the rows the quality gate set aside.

    `quality.quarantined_rows` holds the latest gate run's set-aside rows per input (file and
    row number, as delivered); staging keeps `_source_file` and `_row_number`, so the anti-join
    is exact. The input name is a contract whitelist name, so it is safe to inline as a literal.
    """
    base = f"staging.{ident(input_name)}"
    if not table_exists(con, "quality", "quarantined_rows"):
        return base
    literal = "'" + input_name.replace("'", "''") + "'"
    return (
        f"(SELECT s.* FROM {base} s ANTI JOIN (SELECT DISTINCT source_file AS _source_file,"
        f" row_number AS _row_number FROM quality.quarantined_rows WHERE input = {literal}) q"
        " USING (_source_file, _row_number))"
    )


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]


# ISO text ending in a UTC offset: `T20:03-06:00`, `20:03:00+09`, `20:03Z` (what tz-aware
# Parquet timestamps become as text, too).
_OFFSET_RE = r"'\d[T ]?\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$'"
TZ_PARAM = "tz"  # the bound parameter holding the city's time zone (config `timezone`)


def trimmed_text(column_sql: str) -> str:
    """`nullif(trim(x), '')`, computed the cheap way where trimming cannot change the text.

    DuckDB's `trim` removes Unicode space separators and allocates a new string for every
    value: 0.1-0.3 s per column of 6.25 M values, the gate frame's largest single cost. For
    text that is all ASCII (strlen equals the code-point length) the only separator is ' ',
    so a text that neither starts nor ends with ' ' is its own trim; those tests are byte
    comparisons. Anything else, non-ASCII text included, goes through `trim` as before.
    tests/warehouse/test_trimmed_text.py checks the equality over every code point."""
    return (
        f"CASE WHEN {column_sql} LIKE ' %' OR {column_sql} LIKE '% '"
        f" OR strlen({column_sql}) <> length({column_sql})"
        f" THEN nullif(trim({column_sql}), '') ELSE nullif({column_sql}, '') END"
    )


def repeated_hashes_sql(hashes_sql: str) -> str:
    """A query of the values `_h` that the query `hashes_sql` (one column `_h`, 64-bit hashes)
    yields more than once, each once.

    Deliveries rarely repeat a key, so almost every hash is distinct; a hash aggregate then
    builds a table of every row (0.6-0.8 s for 6.25 M keys on 2 cores) where sorting the
    hashes and comparing neighbours takes 0.4 s (and 0.9 s against 1.0 s when every key
    repeats). Two lags emit each repeated hash at its second occurrence only, so no DISTINCT
    follows. Measured in docs/benchmarks.md ("The gate ratio after the third round")."""
    return f"""
        SELECT _h FROM (
            SELECT _h, lag(_h) OVER w AS _previous, lag(_h, 2) OVER w AS _before_previous
            FROM ({hashes_sql}) WINDOW w AS (ORDER BY _h)
        ) WHERE _h = _previous AND _h IS DISTINCT FROM _before_previous"""


def parse_timestamp(column_sql: str, format_param: str | None, tz: bool = False) -> str:
    """SQL turning delivered text into a TIMESTAMP, NULL when it cannot be parsed.

    With a configured format the text must match it; ISO text (what Parquet timestamps become
    as text) is accepted as a fallback because it is unambiguous.

    With `tz` (binds `$tz`, the city's `timezone`), timestamps are the city's local clock
    time: text with a UTC offset (`2020-03-08T20:03-06:00`, `...+09:00`, `...Z`) is converted
    to it, so two offsets of one instant give one time and month boundaries follow local
    time; text without an offset is taken as local time already (docs/data_contract.md).
    """
    iso = f"try_cast({column_sql} AS TIMESTAMP)"
    if tz:
        iso = (
            f"CASE WHEN regexp_matches({column_sql}, {_OFFSET_RE}) THEN timezone(${TZ_PARAM},"
            f" try_cast({column_sql} AS TIMESTAMPTZ)) ELSE {iso} END"
        )
    if format_param is None:
        return iso
    return f"coalesce(try_strptime({column_sql}, ${format_param}), {iso})"


def cast_sql(column_sql: str, typ: str, format_param: str | None = None, tz: bool = False) -> str:
    """SQL casting delivered text to a contract type, NULL (never an error) when it fails."""
    if typ == "text":
        return column_sql
    if typ == "int":
        # A fraction is not a whole number: DuckDB's text -> BIGINT cast rounds '20000.5' to
        # 20001, so only whole values (7, 7.0, 1e3) are cast; a fraction stays NULL and the
        # gate's `<column>_parseable` rule names its file, row and column (issue 13).
        as_double = f"try_cast({column_sql} AS DOUBLE)"
        return (
            f"CASE WHEN {as_double} = round({as_double}) THEN coalesce(try_cast({column_sql}"
            f" AS BIGINT), CASE WHEN abs({as_double}) < 9e18 THEN CAST({as_double} AS BIGINT)"
            " END) END"
        )
    if typ == "float":
        return f"try_cast({column_sql} AS DOUBLE)"
    if typ == "timestamp":
        return parse_timestamp(column_sql, format_param, tz)
    if typ == "date":
        return f"CAST({parse_timestamp(column_sql, format_param, tz)} AS DATE)"
    raise ValueError(f"unknown contract type {typ!r}")


# A survey cell's weighted (ratio) mean and the sums its linearised with-replacement standard
# error needs; `survey_se_sql` is that error (docs/data_contract.md):
#   se^2 = n / (n - 1) * sum_i w_i^2 (y_i - ybar)^2 / (sum_i w_i)^2, NULL when n < 2,
# with the square expanded into the sums. Both survey panel builders use these two.
SURVEY_CELL_SUMS = (
    "count(*) AS n, sum(w) AS sw, sum(w * y) / sum(w) AS mean, sum(w * w) AS sw2,"
    " sum(w * w * y) AS sw2y, sum(w * w * y * y) AS sw2y2"
)


def survey_index_selects(indices: dict, params: dict, columns: str) -> list[str]:
    """One SELECT per survey index over the CTE `resp`: `columns`, the index name (bound as
    `$index_<i>`, added to `params`) and `y`, the mean of the response's index items that lie
    on the scale (`$lo`..`$hi`). Item names are validated plain names, quoted."""
    out = []
    for i, (name, items) in enumerate(indices.items()):
        params[f"index_{i}"] = name
        values = ", ".join(f"CAST({ident(item)} AS DOUBLE)" for item in items)
        out.append(
            f"SELECT {columns}, $index_{i} AS index_name,"
            f" list_avg(list_filter([{values}], lambda x: x BETWEEN $lo AND $hi)) AS y FROM resp"
        )
    return out


def survey_se_sql(cell: str = "") -> str:
    """SQL of the standard error from the columns of `SURVEY_CELL_SUMS` (`cell`: "c." etc.)."""
    n, sw, mean = f"{cell}n", f"{cell}sw", f"{cell}mean"
    return (
        f"CASE WHEN {n} > 1 THEN sqrt(greatest({n} / ({n} - 1.0) * ({cell}sw2y2"
        f" - 2 * {mean} * {cell}sw2y + {mean} * {mean} * {cell}sw2), 0)) / {sw} END"
    )


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes.

    One run hashes each delivered file several times (preflight, raw step, staging step); a
    10 M-row CSV takes about a second each time. The digest is remembered per (path, size,
    mtime_ns, inode), the same test the sensor uses to skip unchanged files, so a file that is
    rewritten is hashed again. A file modified in the last two seconds is never taken from
    the cache: a second write within one timestamp tick would keep size and mtime ("racy git").
    """
    stat = os.stat(path)
    if time.time_ns() - stat.st_mtime_ns < 2_000_000_000:
        return _sha256(str(path), chunk)
    return _sha256_cached(
        str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, chunk
    )


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int, inode: int, chunk: int) -> str:
    return _sha256(path, chunk)


def _sha256(path: str, chunk: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()

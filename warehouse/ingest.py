"""Raw and staging loads in DuckDB, independent of Dagster so they can be tested directly.

Raw (`raw.<input>`): every delivered column as text, exactly as delivered, plus lineage
(`_source_file`, `_source_sha256`, `_row_number`, `_loaded_at`, `_partition_key`). Each row
belongs to exactly one owner partition, so re-loading a partition replaces only its rows:
  - a parseable date inside the partition range -> that month's key;
  - a date before the first partition -> the first partition's key;
  - a date after the last partition, or a date that cannot be parsed -> NULL ("unassigned"),
    owned by any run that includes the last partition.
Nothing is dropped, so raw rows always equal delivered rows. A file version (sha256) replaces
only its own rows; older versions of a file stay in raw with their load time.

`raw._loads` logs each (file, version, partition) load. Staging reads, per file and partition,
the most recently loaded version of files still in the folder, then types, maps and
deduplicates (latest load wins).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from engagement_eval.config import CityConfig
from engagement_eval.contract import INPUTS, InputSpec, resolve_columns
from engagement_eval.errors import UserError
from engagement_eval.grain import month_keys
from warehouse.files import (
    check_duplicate_names,
    check_header,
    delivered_paths,
    duckdb_path,
    file_compression,
)
from warehouse.sql import (
    TZ_PARAM,
    cast_sql,
    ensure_schemas,
    ident,
    repeated_hashes_sql,
    sha256_file,
    table,
    table_columns,
    table_exists,
    transaction,
)

LINEAGE = ("_source_file", "_source_sha256", "_row_number", "_loaded_at", "_partition_key")
# How a load assigned owner partitions: the delivered date column and its format, and the
# window's first and last keys. A logged load is reusable only under the same rule.
LOAD_RULE_COLUMNS = ("owner_rule", "window_first", "window_last")


@dataclass(frozen=True)
class DeliveredFile:
    path: Path
    sha256: str
    fmt: str  # csv | parquet
    header: list[str]
    columns: dict[str, str]  # contract column -> delivered column
    compression: str = "none"  # gzip CSV (by its bytes, whatever the name says) or none

    @property
    def name(self) -> str:
        return self.path.name


def _reader(fmt: str, compression: str = "none") -> str:
    """SQL reading one file; `$path` is bound to `warehouse.files.duckdb_path` (no globbing)."""
    if fmt == "parquet":
        return "(SELECT COLUMNS(*)::VARCHAR FROM read_parquet($path))"
    # all_varchar keeps text exactly as delivered (leading zeros, odd dates) for the gate.
    assert compression in ("none", "gzip")  # a whitelisted literal, never delivered text
    return f"read_csv($path, all_varchar = true, header = true, compression = '{compression}')"


def _numbered_reader(file: DeliveredFile) -> str:
    """The file's rows as text plus `_rn`, the 1-based data row number in file order.

    Parquet has its own row number, read in parallel; `row_number() OVER ()` (the fallback,
    and the only way for CSV) runs in a single thread and cost about a third of the raw load.
    """
    if file.fmt == "parquet" and "file_row_number" not in file.header:
        return (
            "(SELECT COLUMNS(* EXCLUDE (file_row_number))::VARCHAR, file_row_number + 1 AS _rn"
            " FROM read_parquet($path, file_row_number = true))"
        )
    return f"(SELECT *, row_number() OVER () AS _rn FROM {_reader(file.fmt, file.compression)})"


def inspect_file(
    con: duckdb.DuckDBPyConnection, path: Path, spec: InputSpec, config: CityConfig
) -> DeliveredFile:
    fmt = "parquet" if path.suffix.lower() == ".parquet" else "csv"
    if path.stat().st_size == 0:
        raise UserError(
            f"{spec.name} file is empty",
            "deliver the file again with its header row and data",
            file=str(path),
        )
    compression = file_compression(path, fmt)
    try:
        described = con.execute(
            f"DESCRIBE SELECT * FROM {_reader(fmt, compression)}", {"path": duckdb_path(path)}
        ).fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        detail = " ".join(str(exc).split())[:300]
        fix = (
            "save the file as UTF-8 (e.g. 'iconv -f latin1 -t utf-8')"
            if "unicode" in detail.lower() or "utf" in detail.lower()
            else f"check that it is a valid {fmt.upper()} file with one header row"
        )
        raise UserError(
            f"cannot read {spec.name} file: {first} ({detail})", fix, file=str(path)
        ) from exc
    header = [row[0] for row in described]
    if fmt == "csv":
        check_duplicate_names(_delivered_header(con, compression, path), path)
    else:
        check_duplicate_names(_parquet_header(con, path), path)
    check_header(header, path)
    return DeliveredFile(
        path,
        sha256_file(path),
        fmt,
        header,
        resolve_columns(spec, header, config, path),
        compression,
    )


def _delivered_header(con, compression: str, path: Path) -> list[str]:
    """The CSV's first row exactly as written: DuckDB's header detection renames a repeated
    name (`Beat`, `beat` -> `Beat`, `beat_1`), which would hide that the file names one column
    twice. Read as data (header = false), the same sniffer splits the row the same way."""
    assert compression in ("none", "gzip")  # a whitelisted literal, never delivered text
    try:
        row = con.execute(
            "SELECT * FROM read_csv($path, all_varchar = true, header = false, "
            f"compression = '{compression}') LIMIT 1",
            {"path": duckdb_path(path)},
        ).fetchall()
    except duckdb.Error:
        return []  # the typed read above reports what is wrong with the file
    return [str(v) for v in row[0] if v is not None] if row else []


def _parquet_header(con, path: Path) -> list[str]:
    """The Parquet file's top-level column names as stored: `read_parquet` renames a repeated
    name as the CSV reader does (`District_ID` beside `district_id` -> `District_ID_1`). The
    schema lists the root, then each column with its nested fields after it; those are
    skipped by their `num_children`."""
    try:
        rows = con.execute(
            "SELECT name, num_children FROM parquet_schema($path)", {"path": duckdb_path(path)}
        ).fetchall()
    except duckdb.Error:
        return []  # the typed read above reports what is wrong with the file
    names, i = [], 1  # rows[0] is the schema's root

    def after_subtree(at: int) -> int:
        children = rows[at][1] or 0
        at += 1
        for _ in range(children):
            at = after_subtree(at)
        return at

    while i < len(rows):
        names.append(str(rows[i][0]))
        i = after_subtree(i)
    return names


def delivered_files(
    con, spec: InputSpec, config: CityConfig, data_dir: str | Path
) -> list[DeliveredFile]:
    return [inspect_file(con, p, spec, config) for p in delivered_paths(data_dir, spec)]


def _ensure_raw_table(con, spec: InputSpec, header: list[str]) -> None:
    raw = table("raw", spec.name)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {raw} (_source_file VARCHAR, _source_sha256 VARCHAR, "
        "_row_number BIGINT, _loaded_at TIMESTAMP, _partition_key VARCHAR)"
    )
    existing = set(table_columns(con, "raw", spec.name))
    for name in header:  # a later delivery may add columns; older rows get NULL there
        if name not in existing:
            con.execute(f"ALTER TABLE {raw} ADD COLUMN {ident(name)} VARCHAR")
    con.execute(
        "CREATE TABLE IF NOT EXISTS raw._loads (input VARCHAR, source_file VARCHAR, "
        "source_sha256 VARCHAR, partition_key VARCHAR, rows BIGINT, loaded_at TIMESTAMP)"
    )
    for column in LOAD_RULE_COLUMNS:  # added later; older databases gain them here
        con.execute(f"ALTER TABLE raw._loads ADD COLUMN IF NOT EXISTS {ident(column)} VARCHAR")


def owner_key_sql(file: DeliveredFile, spec: InputSpec, format_param: str | None) -> str:
    """SQL for a row's owner partition key (see module docstring); binds $first and $last."""
    delivered = ident(file.columns[spec.partition_column])
    month = f"strftime({cast_sql(delivered, 'timestamp', format_param, tz=True)}, '%Y-%m')"
    return f"CASE WHEN {month} < $first THEN $first WHEN {month} <= $last THEN {month} END"


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    """Execute with only the named parameters the statement uses (DuckDB rejects extras)."""
    used = set(re.findall(r"\$([A-Za-z_]\w*)", sql))
    return con.execute(sql, {k: v for k, v in (params or {}).items() if k in used})


@dataclass(frozen=True)
class PartitionScope:
    """Which owner partitions a run replaces: `keys`, plus NULL when it includes the last key."""

    keys: list[str]
    first: str
    last: str
    complete: bool = False  # the run covers every partition: rebuild the table in one statement

    @property
    def includes_unassigned(self) -> bool:
        return self.last in self.keys

    def where(self, column: str) -> str:
        """SQL predicate on an owner-key column; binds $keys, $key_lo, $key_hi, $unassigned.

        `IN (SELECT unnest($keys))` is a hash semi-join (`list_contains` scanned the whole
        list for every row: 13 CPU-seconds per pass over 50 M rows and 240 months), and the
        range lets DuckDB skip row groups of other months by their min/max.
        """
        return (
            f"(({column} BETWEEN $key_lo AND $key_hi AND {column} IN (SELECT unnest($keys)))"
            f" OR ($unassigned AND {column} IS NULL))"
        )

    def params(self) -> dict:
        return {
            "keys": self.keys,
            "key_lo": min(self.keys) if self.keys else None,
            "key_hi": max(self.keys) if self.keys else None,
            "unassigned": self.includes_unassigned,
        }


def load_raw(
    con: duckdb.DuckDBPyConnection,
    spec: InputSpec,
    config: CityConfig,
    files: list[DeliveredFile],
    loaded_at: datetime,
    scope: PartitionScope | None = None,
) -> list[dict]:
    """Load delivered files into raw.<input> in one transaction; returns a summary per file."""
    if spec.partitioned != (scope is not None):
        raise ValueError(
            f"{spec.name}: partition scope must be given exactly for partitioned inputs"
        )
    raw = table("raw", spec.name)
    summaries = []
    with transaction(con):
        for file in files:
            _ensure_raw_table(con, spec, file.header)
            params: dict = {"file": file.name, "sha": file.sha256, "path": duckdb_path(file.path)}
            params["loaded_at"] = loaded_at
            if scope is None:
                owned, key_sql = "TRUE", "CAST(NULL AS VARCHAR)"
            else:
                fmt = config.date_format(spec.name, spec.partition_column)
                params |= scope.params() | {"first": scope.first, "last": scope.last, "fmt": fmt}
                params[TZ_PARAM] = config.timezone
                owned = scope.where("_partition_key")
                key_sql = owner_key_sql(file, spec, "fmt" if fmt else None)
            log_keys = (
                [None]
                if scope is None
                else scope.keys + ([None] if scope.includes_unassigned else [])
            )
            rule = _owner_rule(file, spec, config) if scope is not None else ""
            by_key = _reusable_counts(con, spec, file, scope, rule, log_keys, owned, params)
            reused = by_key is not None
            if reused:  # this version's rows are all in raw already: re-stamp them only
                execute(
                    con,
                    f"UPDATE {raw} SET _loaded_at = CAST($loaded_at AS TIMESTAMP)"
                    f" WHERE _source_file = $file AND _source_sha256 = $sha AND {owned}",
                    params,
                )
            else:
                # A complete scope owns every key the owner rule can give (and NULL), so new
                # rows need no ownership test: it cost about 3 CPU-s per 6 M rows.
                fresh = "TRUE" if scope is None or scope.complete else owned
                by_key = _insert_rows(con, spec, file, params, owned, key_sql, loaded_at, fresh)
            con.execute(
                "DELETE FROM raw._loads WHERE input = $input AND source_file = $file AND source_sha256 = $sha"
                f" AND {'TRUE' if scope is None else scope.where('partition_key')}",
                {"input": spec.name, "file": file.name, "sha": file.sha256}
                | ({} if scope is None else scope.params()),
            )
            window = [scope.first, scope.last] if scope is not None else [None, None]
            con.executemany(
                "INSERT INTO raw._loads (input, source_file, source_sha256, partition_key, rows,"
                " loaded_at, owner_rule, window_first, window_last)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [spec.name, file.name, file.sha256, k, by_key.get(k, 0), loaded_at, rule]
                    + window
                    for k in log_keys
                ],
            )
            summaries.append(
                {
                    "file": file.name,
                    "sha256": file.sha256,
                    "rows": sum(by_key.values()),
                    "format": file.fmt,
                    "reused": reused,
                }
            )
    return summaries


def _insert_rows(con, spec, file, params, owned, key_sql, loaded_at, fresh=None) -> dict:
    """Replace this version's rows of the owned partitions by a fresh read of the file.

    `fresh` is the ownership test for the rows read (default: `owned`); "TRUE" when the scope
    is complete."""
    fresh = owned if fresh is None else fresh
    raw = table("raw", spec.name)
    execute(
        con,
        f"DELETE FROM {raw} WHERE _source_file = $file AND _source_sha256 = $sha AND {owned}",
        params,
    )
    cols = ", ".join(ident(h) for h in file.header)
    execute(
        con,
        f"INSERT INTO {raw} BY NAME SELECT * EXCLUDE (_owner) FROM ("
        f" SELECT {cols}, $file AS _source_file, $sha AS _source_sha256,"
        " _rn AS _row_number,"
        " CAST($loaded_at AS TIMESTAMP) AS _loaded_at,"
        f" {key_sql} AS _owner, _owner AS _partition_key"
        f" FROM {_numbered_reader(file)}) WHERE {fresh.replace('_partition_key', '_owner')}",
        params,
    )
    counts = con.execute(
        f"SELECT _partition_key, count(*) FROM {raw} WHERE _source_file = $file"
        " AND _source_sha256 = $sha AND _loaded_at = $loaded_at GROUP BY 1",
        {"file": file.name, "sha": file.sha256, "loaded_at": loaded_at},
    ).fetchall()
    return {k: n for k, n in counts}


def _owner_rule(file: DeliveredFile, spec: InputSpec, config: CityConfig) -> str:
    fmt = config.date_format(spec.name, spec.partition_column) or ""
    return f"{file.columns[spec.partition_column]}\x1f{fmt}\x1f{config.timezone}"


def _reusable_counts(con, spec, file, scope, rule, log_keys, owned, params) -> dict | None:
    """Rows per owner key when this file version needs no new read, else None.

    A monthly run must not re-read ten years of unchanged history. A version (sha256) already
    loaded for a key under the same owner rule has exactly the rows a re-read would give. A key
    it was never loaded for still needs no read when an earlier load owned no row past its
    window's last month and none unparseable (an empty unassigned entry): then the version
    has no row in any later month either. Raw must still hold the logged rows (checked), so a
    table edited by hand falls back to a re-read.
    """
    first, last = (scope.first, scope.last) if scope is not None else (None, None)
    entries = con.execute(
        "SELECT partition_key, rows, window_first, window_last FROM raw._loads"
        " WHERE input = $input AND source_file = $file AND source_sha256 = $sha"
        " AND owner_rule = $rule AND window_first IS NOT DISTINCT FROM $first",
        {"input": spec.name, "file": file.name, "sha": file.sha256, "rule": rule, "first": first},
    ).fetchall()
    logged: dict = {}
    empty_after = None  # the latest window end past which this version has no row
    for key, rows, _, window_last in entries:
        if key is not None:
            logged[key] = rows
            continue
        if window_last == last:
            logged[None] = rows
        if rows == 0 and window_last is not None:
            empty_after = max(empty_after or window_last, window_last)
    counts = {}
    for key in log_keys:
        if key in logged:
            counts[key] = logged[key]
        elif empty_after is not None and (
            key > empty_after if key is not None else last >= empty_after
        ):
            counts[key] = 0
        else:
            return None
    present = execute(
        con,
        f"SELECT count(*) FROM {table('raw', spec.name)}"
        f" WHERE _source_file = $file AND _source_sha256 = $sha AND {owned}",
        params,
    ).fetchone()[0]
    return counts if present == sum(counts.values()) else None


def _typed_select(
    spec: InputSpec, config: CityConfig, files: list[DeliveredFile]
) -> tuple[str, dict, dict[str, str]]:
    """SELECT list typing the union of delivered columns into contract columns, its parameters,
    and each plain output column's expression over raw (`r`), which the dedup uses to find
    repeated keys before typing every row.

    Different files of one input may name a column differently only through the config, so one
    delivered name per contract column is used (the first file that has it). Where a cast fails
    the delivered text is kept in `_raw_<column>` so the quality gate can report it.
    """
    params: dict = {TZ_PARAM: config.timezone}
    parts = []
    exprs: dict[str, str] = {}
    # survey_scores (published aggregates) carry one column per index (and <index>_se);
    # feedback items and resident-group columns are expanded too
    survey = config.survey
    for col, typ in spec.columns(
        survey.items, tuple(survey.indices), config.feedback.items, survey_groups=survey.groups
    ).items():
        delivered = next((f.columns[col] for f in files if col in f.columns), None)
        if delivered is None:
            parts.append(f"CAST(NULL AS {_duck_type(typ)}) AS {ident(col)}")
            continue
        src = f"r.{ident(delivered)}"
        fmt = config.date_format(spec.name, col)
        fmt_param = None
        if fmt:
            fmt_param = f"fmt_{len(params)}"
            params[fmt_param] = fmt
        typed = cast_sql(src, typ, fmt_param, tz=True)
        if col == "offense_category":
            exprs["offense_label"] = src
            parts.append(f"{src} AS offense_label")
            parts.append(
                f"coalesce(m.category, CASE WHEN lower(trim({src})) IN ('violent', 'property', 'other')"
                f" THEN lower(trim({src})) END) AS offense_category"
            )
            continue
        exprs[col] = typed
        parts.append(f"{typed} AS {ident(col)}")
        if typ != "text":
            parts.append(f"CASE WHEN {typed} IS NULL THEN {src} END AS {ident('_raw_' + col)}")
    return ", ".join(parts), params, exprs


def _duck_type(typ: str) -> str:
    return {
        "text": "VARCHAR",
        "int": "BIGINT",
        "float": "DOUBLE",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
    }[typ]


def _repeated_keys_sql(key_exprs: list[str], required_exprs: list[str]) -> tuple[str, str]:
    """(CTE, column): the CTE `repeated` holds the 64-bit hashes of keys that more than one row
    of `scoped` carries; the column, for the SELECT list of `typed`, flags the rows whose key
    hash is one of them (`_candidate`). Both are written over raw (`r`), so finding the few
    candidates costs one sort of the key hashes, not a typing of every row."""
    key_hash = f"hash({', '.join(key_exprs)})"
    complete = " AND ".join(f"({e}) IS NOT NULL" for e in required_exprs) or "TRUE"
    hashes = f"SELECT {key_hash} AS _h FROM scoped r WHERE {complete}"
    cte = f", repeated AS ({repeated_hashes_sql(hashes)})"
    return cte, f"{key_hash} IN (SELECT _h FROM repeated) AND {complete} AS _candidate"


def _dedup_sql(keys: list[str], partition_by: str, order: str) -> str:
    """Keep one row per key from the CTE `typed`, counting the others in `_duplicate_rows`.

    Sorting every row into key partitions (a window over the whole input) cost most of the
    staging time although deliveries rarely repeat a key. So one sort of a 64-bit hash of the
    key finds the candidates (`_repeated_keys_sql`, `warehouse.sql.repeated_hashes_sql`; 50 M
    hashes fit in memory where 50 M text keys spill), and only rows whose hash repeats go
    through the exact window on the key columns; all other rows pass with
    `_duplicate_rows = 0`. A hash collision only sends a few more rows through the exact
    window, never merges different keys. Rows whose required key is NULL are never merged (as
    before). Same result as `row_number() OVER (PARTITION BY key ORDER BY ...) = 1` over every
    row. `typed` stays NOT MATERIALIZED: re-reading raw costs less than holding every typed row
    in memory (0.45 GB instead of 1.1 GB for 1.6 M incidents); the filter on `_candidate`
    reaches below its typing, so the second read types only the candidates.
    """
    if not keys:  # no key column delivered: the old single-window form keeps its meaning
        return (
            f"SELECT *, count(*) OVER w - 1 AS _duplicate_rows FROM typed"
            f" WINDOW w AS (PARTITION BY {partition_by})"
            f" QUALIFY row_number() OVER (PARTITION BY {partition_by} ORDER BY {order}) = 1"
        )
    cols = ", ".join(ident(k) for k in keys)
    return f"""
        SELECT * EXCLUDE (_candidate), CAST(0 AS BIGINT) AS _duplicate_rows FROM typed
        WHERE NOT _candidate
        UNION ALL BY NAME
        SELECT * EXCLUDE (_candidate), count(*) OVER w - 1 AS _duplicate_rows FROM typed
        WHERE _candidate
        WINDOW w AS (PARTITION BY {cols})
        QUALIFY row_number() OVER (PARTITION BY {cols} ORDER BY {order}) = 1"""


STAGED_FILES = "raw._staged_files"


def record_staged_files(
    con: duckdb.DuckDBPyConnection, input_name: str, files: list[DeliveredFile]
) -> None:
    """Note which files staging is built from (the files delivered now), for the quality gate.

    Raw keeps every file it was ever given, so a file a city renamed or stopped sending still
    has current rows there; staging reads only the delivered files (`$files`), and the gate
    must check the same rows (`quality.frames`), or a renamed export is counted twice. No file
    is recorded as one row with a NULL file, so that "staged from nothing" differs from "not
    recorded" (an input staged before this record existed). Called inside `build_staging`'s
    transaction, so a killed step leaves both the old staging and the old record."""
    ensure_schemas(con)
    con.execute(f"CREATE TABLE IF NOT EXISTS {STAGED_FILES} (input VARCHAR, source_file VARCHAR)")
    con.execute(f"DELETE FROM {STAGED_FILES} WHERE input = $input", {"input": input_name})
    names = [f.name for f in files] or [None]
    con.executemany(f"INSERT INTO {STAGED_FILES} VALUES (?, ?)", [[input_name, n] for n in names])


def current_versions_sql(file_filter: str, scope_sql: str = "TRUE") -> str:
    """The load log's latest version of each (file, partition) of one input ($input), among
    the files `file_filter` keeps: what staging reads and the quality gate checks."""
    return f"""
        SELECT source_file, source_sha256, partition_key, rows FROM raw._loads
        WHERE input = $input AND {file_filter} AND {scope_sql}
        QUALIFY row_number() OVER (
            PARTITION BY source_file, partition_key ORDER BY loaded_at DESC) = 1"""


def staged_files_filter(con: duckdb.DuckDBPyConnection) -> str:
    """A `current_versions_sql` file filter for the files staging was last built from
    ($input); every file where staging has not recorded its files (`record_staged_files`)."""
    if not table_exists(con, "raw", "_staged_files"):
        return "TRUE"
    recorded = f"SELECT source_file FROM {STAGED_FILES} WHERE input = $input"
    return f"(source_file IN ({recorded}) OR NOT EXISTS ({recorded}))"


def staged_from_no_file(con: duckdb.DuckDBPyConnection, input_name: str) -> bool:
    """Staging was last built from no file of this input (every file was taken away)."""
    if not table_exists(con, "raw", "_staged_files"):
        return False
    sql = f"SELECT count(*), count(source_file) FROM {STAGED_FILES} WHERE input = $input"
    recorded, files = con.execute(sql, {"input": input_name}).fetchone()
    return recorded > 0 and files == 0


def build_staging(
    con: duckdb.DuckDBPyConnection,
    spec: InputSpec,
    config: CityConfig,
    files: list[DeliveredFile],
    scope: PartitionScope | None = None,
) -> int:
    """Rebuild staging.<input> (or only the scope's partitions) in one transaction; returns rows."""
    staging = table("staging", spec.name)
    if not files or not table_exists(con, "raw", spec.name):
        with transaction(con):
            record_staged_files(con, spec.name, files)
            con.execute(f"DROP TABLE IF EXISTS {staging}")
        return 0
    select, params, exprs = _typed_select(spec, config, files)
    params |= {"input": spec.name, "files": [f.name for f in files]}
    scope_sql = "TRUE"
    if scope is not None:
        params |= scope.params()
        scope_sql = scope.where("partition_key")
    keys = [k for k in spec.key_columns(config.survey.groups) if any(k in f.columns for f in files)]
    required_keys = [k for k in keys if k in spec.required]
    # a count row's key holds the offense as delivered, not its mapped category
    keys = ["offense_label" if k == "offense_category" else k for k in keys]
    required_keys = ["offense_label" if k == "offense_category" else k for k in required_keys]
    null_key = " OR ".join(f"{ident(k)} IS NULL" for k in required_keys) or "FALSE"
    partition_by = ", ".join(
        [ident(k) for k in keys]
        + [f"CASE WHEN {null_key} THEN _source_file || '#' || _row_number END"]
    )
    order = "_loaded_at DESC, " + (
        "updated_at DESC NULLS LAST, " if "updated_at" in spec.optional else ""
    )
    order += "_source_file DESC, _row_number DESC"
    mapping = [[label.strip().upper(), cat] for label, cat in config.offense_map.items()]
    with transaction(con):  # staging and the record of its files commit together
        record_staged_files(con, spec.name, files)
        con.execute("CREATE OR REPLACE TEMP TABLE _offense_map (label VARCHAR, category VARCHAR)")
        if mapping:
            con.executemany("INSERT INTO _offense_map VALUES (?, ?)", mapping)
        join_map = (
            f"LEFT JOIN (SELECT label, any_value(category) AS category FROM _offense_map GROUP BY label) m"
            f" ON m.label = upper(trim(r.{ident(files[0].columns['offense_category'])}))"
            if "offense_category" in spec.required
            else ""
        )
        rebuild = scope is None or scope.complete or not table_exists(con, "staging", spec.name)
        # The join with current_versions already keeps raw rows to the scope's keys; the
        # predicate on raw only lets a partial run skip row groups of other months.
        complete = scope is None or scope.complete
        raw_scope = "TRUE" if complete else scope_sql.replace("partition_key", "r._partition_key")
        target = staging if rebuild else "_staged"
        repeated, candidate = "", ""
        if keys:
            repeated, flag = _repeated_keys_sql(
                [exprs[k] for k in keys], [exprs[k] for k in required_keys]
            )
            candidate = f", {flag}"
        execute(
            con,
            f"""
            CREATE OR REPLACE {"" if rebuild else "TEMP "}TABLE {target} AS
            WITH current_versions AS (
                {current_versions_sql("list_contains($files, source_file)", scope_sql)}
            ), scoped AS NOT MATERIALIZED (
                SELECT r.* FROM {table("raw", spec.name)} r
                JOIN current_versions c ON r._source_file = c.source_file
                 AND r._source_sha256 = c.source_sha256
                 AND r._partition_key IS NOT DISTINCT FROM c.partition_key
                WHERE {raw_scope}
            ){repeated}, typed AS NOT MATERIALIZED (
                SELECT {select}, r._source_file, r._source_sha256, r._row_number, r._loaded_at,
                       r._partition_key{candidate}
                FROM scoped r
                {join_map}
            )
            {_dedup_sql(keys, partition_by, order)}
            """,
            params,
        )
        if not rebuild:
            execute(
                con, f"DELETE FROM {staging} WHERE {scope.where('_partition_key')}", scope.params()
            )
            if required_keys:  # a record that moved month: the version just staged wins
                on = " AND ".join(f"s.{ident(k)} = n.{ident(k)}" for k in required_keys)
                con.execute(
                    f"DELETE FROM {staging} s WHERE EXISTS (SELECT 1 FROM _staged n WHERE {on})"
                )
            con.execute(f"INSERT INTO {staging} BY NAME SELECT * FROM _staged")
            con.execute("DROP TABLE _staged")
        rows = con.execute(
            f"SELECT count(*) FROM {staging}"
            + ("" if scope is None else f" WHERE {scope.where('_partition_key')}"),
            {} if scope is None else scope.params(),
        ).fetchone()[0]
    return int(rows)


def ingest_city(
    con: duckdb.DuckDBPyConnection,
    data_dir: str | Path,
    config: CityConfig,
    inputs: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """Raw and staging for every delivered input (or only `inputs`, for a gate run that checks
    just those: districts are always loaded, every input is checked against their ids);
    returns raw rows per loaded input.

    The one ingest runner outside Dagster (`engagement-eval validate`, the gate's tests): it
    loads every input over all months (the whole study window plus anything later, so no
    delivered row is left unowned) and builds staging, as the Dagster ingest assets do with
    the same `delivered_files`, `load_raw` and `build_staging`. The caller runs the delivery
    pre-flight first (`quality.structural.check_delivery`).
    """
    ensure_schemas(con)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    if config.window_start is None:  # unset study_window.start: the first month with data
        from warehouse.data_window import first_month_in_files

        config = config.with_data_window(first_month_in_files(con, data_dir, config))
    start = config.window_start or date.today()
    keys = month_keys(start, config.window_end or date.today())
    rows: dict[str, int] = {}
    wanted = None if inputs is None else {"districts", *inputs}
    for spec in INPUTS.values():
        if wanted is not None and spec.name not in wanted:
            continue
        files = delivered_files(con, spec, config, data_dir)
        # every month of the window: a complete scope (one-statement rebuilds)
        scope = PartitionScope(keys, keys[0], keys[-1], complete=True) if spec.partitioned else None
        summary = load_raw(con, spec, config, files, loaded_at, scope) if files else []
        build_staging(con, spec, config, files, scope)
        rows[spec.name] = sum(s["rows"] for s in summary)
    return rows

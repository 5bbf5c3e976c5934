"""Delivery folder rules: which files of a city folder are read, and how, before any byte is.

A city folder is copied from shared drives and exported from other systems, so it may hold
things that must not be read as delivered:
  - a symbolic link (to a file or a folder) resolving outside the data folder would load
    another folder's residents under the link's name, or print a line of a system file in an
    error message: it is refused by name, and its target is never opened;
  - file names are matched literally: DuckDB expands `*`, `?` and `[...]` in `read_csv` /
    `read_parquet` paths, so a file literally named `survey_responses_*.csv` would read every
    survey file; `duckdb_path` escapes them so each path reads exactly one file;
  - compressed files: gzip CSV (`.csv.gz`, or gzip bytes saved as `.csv`, found by their magic
    bytes) is read; other compressions (bzip2, xz, zstd, zip) and compressed Parquet are
    refused by name, since silently ignoring them loses data and reading them as text gives
    a misleading encoding hint;
  - delivered column names must not collide with the bookkeeping columns that ingest and
    the quality gate add (`_source_file`, `_rn`, `_owner`, ...; DuckDB identifiers ignore
    case, so `_Source_File` collides too), and must not hold control characters (a NUL byte
    in a header cannot be named in a message, a file name or SQL safely).
"""

from __future__ import annotations

import gzip
import os
import re
import unicodedata
from pathlib import Path
from typing import BinaryIO

from engagement_eval.contract import InputSpec, find_files
from engagement_eval.errors import UserError

# Columns that ingest (raw lineage, row numbering, owner partition), staging (failed casts,
# duplicate counts) and the gate frame add next to delivered ones. Compared without case.
BOOKKEEPING = (
    "_source_file",
    "_source_sha256",
    "_row_number",
    "_loaded_at",
    "_partition_key",
    "_rn",
    "_owner",
    "_rid",
    "_key",
    "_dup_group",
    "_copy_number",
    "_latest",
    "_candidate",
    "_h",
    "_duplicate_rows",
)
BOOKKEEPING_PREFIXES = ("_raw_",)

# Leading bytes of compressed formats; gzip is read, the others are refused.
_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"PK\x03\x04": "zip",
    b"7z\xbc\xaf\x27\x1c": "7z",
}
_COMPRESSED_SUFFIXES = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".bz2": "bzip2",
    ".xz": "xz",
    ".zst": "zstd",
    ".zip": "zip",
    ".7z": "7z",
    ".tgz": "gzip",
}
# Bidirectional overrides and isolates: they reorder whatever is printed after them.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_GLOB_CHARS = re.compile(r"([*?\[])")


def sniff_compression(path: Path) -> str | None:
    """The compression a file's first bytes announce (gzip, bzip2, ...), else None."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def open_bytes(path: Path) -> BinaryIO:
    """A CSV's bytes, decompressed when they are gzip (for the UTF-8 pre-flight); other
    compressions are refused here, before they could be mistaken for a text encoding."""
    if file_compression(path, "csv") == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def duckdb_path(path: Path | str) -> str:
    """The path with DuckDB's glob characters escaped (`*` -> `[*]`), so it reads one file."""
    return _GLOB_CHARS.sub(r"[\1]", str(path))


def _belongs(name: str, spec: InputSpec) -> bool:
    """Whether a folder entry is named like one of this input's files (any extension)."""
    stem = name.split(".", 1)[0]
    return stem == spec.name or stem.startswith(spec.name + "_")


def _outside(entry: Path, root: Path) -> Path | None:
    """The resolved target when a symbolic link leaves the data folder, else None."""
    if not entry.is_symlink():
        return None
    target = entry.resolve(strict=False)
    return None if target.is_relative_to(root) else target


def check_folder(data_dir: str | Path, spec: InputSpec) -> None:
    """Refuse this input's links leading outside the folder and files it cannot read.

    Runs before anything is opened, so a refused link's target is never read.
    """
    root = Path(data_dir)
    real_root = root.resolve()
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if not _belongs(entry.name, spec):
            continue
        target = _outside(entry, real_root)
        if target is not None:
            kind = "folder" if target.is_dir() else "file"
            raise UserError(
                f"{entry.name} is a symbolic link to a {kind} outside the data folder "
                f"({target}); it was not read",
                f"copy the file into {root} (or remove the link) if it really belongs to this "
                "city's delivery",
                file=str(entry),
            )
        if entry.is_dir():
            continue
        suffixes = [s.lower() for s in entry.suffixes]
        compression = next(
            (_COMPRESSED_SUFFIXES[s] for s in suffixes if s in _COMPRESSED_SUFFIXES), None
        )
        if compression is None:
            continue
        if suffixes[-2:] == [".csv", ".gz"]:
            continue  # gzip CSV is read
        raise UserError(
            f"{entry.name} is {compression}-compressed, which is not read (only gzip CSV, "
            f"{spec.name}.csv.gz, is)",
            f"decompress it into {spec.name}.csv (or save it as gzip CSV, {spec.name}.csv.gz)",
            file=str(entry),
        )


def delivered_paths(data_dir: str | Path, spec: InputSpec) -> list[Path]:
    """This input's files in the folder, sorted by name, after the folder rules above."""
    check_folder(data_dir, spec)
    return find_files(data_dir, spec)


def file_compression(path: Path, fmt: str) -> str:
    """'gzip' or 'none' for DuckDB's reader; other compressions are refused by name."""
    found = sniff_compression(path)
    if found is None:
        return "none"
    if found == "gzip" and fmt == "csv":
        return "gzip"
    raise UserError(
        f"{path.name} holds {found}-compressed bytes although its name says "
        f"{fmt.upper()}; it was not read",
        f"decompress it (then name it {path.name}), or deliver gzip CSV named *.csv.gz",
        file=str(path),
    )


def check_header(header: list[str], path: Path) -> None:
    """Refuse delivered column names that hold control characters or clash with bookkeeping."""
    for position, name in enumerate(header, start=1):
        bad = sorted({c for c in name if unicodedata.category(c) == "Cc" or c in _BIDI})
        if bad:
            shown = name.encode("unicode_escape").decode("ascii")
            codes = ", ".join(f"U+{ord(c):04X}" for c in bad)
            raise UserError(
                f"column {position} of {path.name} has a control character ({codes}) in its "
                f"name: '{shown}'",
                "rename the column in the file to plain text (letters, digits, spaces, _)",
                file=str(path),
                column=shown,
            )
        low = name.lower()
        if low in BOOKKEEPING or low.startswith(BOOKKEEPING_PREFIXES):
            raise UserError(
                f"column '{name}' of {path.name} has the name of a column engagement-eval adds "
                f"itself (names starting with _ such as {', '.join(BOOKKEEPING[:3])}, _rn and "
                "_raw_<column> are reserved, in any case)",
                f"rename the column in the file (for example to '{name.lstrip('_')}'), or drop it",
                file=str(path),
                column=name,
            )


def check_duplicate_names(header: list[str], path: Path) -> None:
    """Refuse a file that names one column twice, in any case (`Beat` and `beat`): which of
    the two is the contract's column would be a guess, and DuckDB would silently call the
    second one `beat_1`."""
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        key = name.strip().casefold()
        if key in seen:
            first = header[seen[key] - 1]
            raise UserError(
                f"{path.name} names a column twice: column {seen[key]} '{first}' and column "
                f"{position} '{name}' (names are compared ignoring case)",
                "rename or drop one of the two columns in the file",
                file=str(path),
                column=name,
            )
        seen[key] = position


def is_under(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or inside it, both resolved (links followed)."""
    return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(folder)))

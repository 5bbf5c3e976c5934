"""Names a city chooses that end up as identifiers or file names.

Two kinds, two policies. Survey item, index and group names become column names, Dagster
check names and metric keys, so they are checked (`identifier_problem`) and a bad one stops
the config with the key, the value and the fix: mapping them silently would make the names
in the report differ from the ones the city wrote. A city's display name can be anything (a
286-character name with slashes and accents is legal), so it is never refused but turned into
a safe file-name stem (`file_stem`) wherever a file or folder is named after it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Letters, digits and underscores, starting with a letter: valid as a DuckDB column, a Dagster
# asset-check name and a Python keyword argument; no leading underscore, which is reserved for
# the bookkeeping columns (`_source_file`, `_row_number`, ...).
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_IDENTIFIER_CHARS = 60
MAX_STEM_CHARS = 60


def identifier_problem(name: object) -> str | None:
    """Why `name` cannot be used as an identifier, or None when it can."""
    if not isinstance(name, str):
        return f"{name!r} is not a text name"
    if len(name) > MAX_IDENTIFIER_CHARS:
        return f"{name[:20]!r}... is longer than {MAX_IDENTIFIER_CHARS} characters"
    if not IDENTIFIER.fullmatch(name):
        return f"{name!r} has characters other than letters, digits and underscores"
    return None


def suggest_identifier(name: object) -> str:
    """A valid identifier close to `name` ("trust index" -> "trust_index"), for the fix text."""
    ascii_ = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9]+", "_", ascii_).strip("_")
    if not text or not text[0].isalpha():
        text = "x_" + text if text else "index_1"
    return text[:MAX_IDENTIFIER_CHARS].rstrip("_")


def file_stem(name: object, max_chars: int = MAX_STEM_CHARS) -> str:
    """A safe file or folder name for a display name: "São Paulo (pilot)" -> "sao-paulo-pilot".

    ASCII lower-case letters, digits and hyphens only (no path separators, dots or control
    characters), never empty ("city"), and at most `max_chars` long: a longer name is cut and
    ends in 8 hex digits of its hash, so two long names sharing a prefix stay apart.
    """
    ascii_ = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-") or "city"
    if len(stem) <= max_chars:
        return stem
    digest = hashlib.sha256(str(name).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{stem[: max_chars - 9].rstrip('-')}-{digest}"

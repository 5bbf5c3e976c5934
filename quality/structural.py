"""Pre-flight on the delivery folder: problems that make rows unreadable, found before loading.

Missing files, empty files, files that are not UTF-8, unreadable CSV/Parquet and missing
required columns each raise one `UserError` naming the file, the column and the fix. Things
that are odd but harmless (the same file delivered twice) come back as notes.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import duckdb

from engagement_eval.config import CityConfig
from engagement_eval.contract import INPUTS, check_data_dir
from engagement_eval.errors import UserError
from warehouse.files import delivered_paths, open_bytes
from warehouse.ingest import inspect_file
from warehouse.sql import sha256_file

_BLOCK = 1 << 20


def check_utf8(path: Path) -> None:
    """Raise a UserError with line and byte position if a CSV is not valid UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, offset = 1, 0
    with open_bytes(path) as handle:  # gzip CSV is checked decompressed
        if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            raise UserError(
                "the file is UTF-16, the contract expects UTF-8",
                f"re-save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8 {path.name}",
                file=str(path),
            )
        handle.seek(0)
        while block := handle.read(_BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                line += block[: exc.start].count(b"\n")
                raise UserError(
                    f"the file is not UTF-8: byte {block[exc.start : exc.start + 1]!r} at byte "
                    f"{bad} (line {line}) cannot be decoded (it looks like Latin-1/Windows-1252)",
                    f"re-save it as UTF-8, e.g. iconv -f WINDOWS-1252 -t UTF-8 {path.name} > "
                    f"fixed.csv",
                    file=str(path),
                ) from exc
            line += block.count(b"\n")
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise UserError(
                "the file ends in the middle of a UTF-8 character (truncated?)",
                "deliver the complete file again",
                file=str(path),
            ) from exc


def check_delivery(data_dir: str | Path, config: CityConfig) -> list[str]:
    """Raise on the first structural problem; return notes on harmless oddities."""
    root = check_data_dir(data_dir)
    notes: list[str] = []
    delivered: dict[str, list[Path]] = {}
    con = duckdb.connect()
    try:
        for spec in INPUTS.values():
            files = delivered[spec.name] = delivered_paths(root, spec)
            seen: dict[str, Path] = {}
            for path in files:
                if path.suffix.lower() in (".csv", ".gz") and path.stat().st_size:
                    check_utf8(path)
                inspect_file(con, path, spec, config)  # empty, unreadable, missing columns
                digest = sha256_file(path)
                if digest in seen:
                    notes.append(
                        f"{path.name} is an identical copy of {seen[digest].name}: its rows are "
                        "loaded but staging keeps one copy of each"
                    )
                seen.setdefault(digest, path)
    finally:
        con.close()
    _feedback_needs_meetings(delivered)
    return notes


def _feedback_needs_meetings(delivered: dict[str, list[Path]]) -> None:
    """Feedback forms are placed in a district and quarter through their meeting; without any
    meetings file every form would fail `meeting_known`, so say the one thing that is wrong."""
    forms = delivered.get("meeting_feedback") or []
    if forms and not delivered.get("meetings"):
        raise UserError(
            f"{forms[0].name} was delivered but no meetings file: feedback forms are placed in a "
            "district and quarter through their meeting",
            "deliver meetings.csv (or .parquet) with the meetings the forms name, or remove "
            f"{', '.join(f.name for f in forms)} from the data folder",
            file=str(forms[0]),
        )

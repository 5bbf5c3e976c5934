"""Which folders `engagement-eval run --out` may write into, checked before anything is written.

A run replaces results.json, the DuckDB file and the report in its output folder. Pointed at
the wrong folder by a typo it would write into (and, run after run, overwrite in) `/`, the
home folder, the city's own delivery or somebody's documents. So the output folder must be
new, empty, or marked as ours: the first run writes a marker file (`MARKER`) into the folder
it creates or finds empty, and later runs find it there. An output folder from before the
marker existed is recognised by its DuckDB file (`engagement_eval.duckdb`) and marked then.
"""

from __future__ import annotations

import os
from pathlib import Path

from engagement_eval.errors import UserError

MARKER = ".engagement-eval-output"
_MARKER_TEXT = (
    "This folder holds the outputs of engagement-eval runs (results.json, the DuckDB file, the "
    "council report).\nengagement-eval run --out writes only into folders with this file (or "
    "new or empty ones).\n"
)
LEGACY_SIGN = "engagement_eval.duckdb"


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_out_dir(out_dir: str | Path, data_dir: str | Path) -> None:
    """Refuse output folders a run must never write into (see the module docstring)."""
    out = _real(Path(out_dir))
    data = _real(Path(data_dir))
    reserved = {Path("/"): "the root folder /", _real(Path.home()): "your home folder"}
    if out in reserved:
        raise UserError(
            f"--out {out_dir} is {reserved[out]}; a run would write its files there",
            "pass a folder of its own, e.g. --out out/<city>",
        )
    if data.is_relative_to(out):
        what = (
            "the data folder" if out == data else f"a folder that contains the data folder {data}"
        )
        raise UserError(
            f"--out {out_dir} is {what}; a run would write its outputs among the delivered files",
            "pass a separate output folder, e.g. --out out/<city>",
        )
    if out.is_dir() and not (out / MARKER).exists():
        entries = sorted(p.name for p in out.iterdir())
        if entries and LEGACY_SIGN not in entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise UserError(
                f"--out {out_dir} is not empty ({shown}) and was not written by engagement-eval "
                f"(no {MARKER} file in it); its files could be overwritten",
                "pass a new or empty folder, or the folder of an earlier run of this city",
            )


def mark_out_dir(out_dir: str | Path) -> None:
    """Write the marker into an output folder that passed `check_out_dir` (idempotent)."""
    marker = Path(out_dir) / MARKER
    if not marker.exists():
        marker.write_text(_MARKER_TEXT, encoding="utf-8")

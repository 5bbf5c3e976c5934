"""Render results into one self-contained HTML file, and write it where the council finds it."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

import jinja2

from engagement_eval.names import file_stem
from reports.export import write_data
from reports.files import atomic_write
from reports.names import name_html
from reports.pdf import MISSING, print_pdfs
from reports.view import build_view

REPORT_NAME = "council_report.html"
BRIEF_NAME = "council_brief.html"
LATEST = "latest"
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["name"] = name_html  # district/city names: <bdi>, shortened (reports/names.py)
    return env


def render(results: dict) -> str:
    """HTML for one results dict (results.json). Pure: no I/O besides reading templates."""
    view = build_view(results)
    return _environment().get_template("report.html.j2").render(v=view)


def render_brief(results: dict) -> str:
    """The one-page brief: summary, roll-out timeline and one result chart, same view model."""
    view = build_view(results)
    return _environment().get_template("council_brief.html.j2").render(v=view)


def city_slug(city: str) -> str:
    """ "São Paulo (pilot)" -> "sao-paulo-pilot": safe as a folder name everywhere, and short
    (a 286-character city name broke the report step; engagement_eval.names.file_stem)."""
    return file_stem(city)


def period_key(period) -> str:
    """Accepts "YYYY-MM", "YYYY-MM-DD", date or datetime; returns "YYYY-MM"."""
    if isinstance(period, datetime | date):
        return f"{period.year:04d}-{period.month:02d}"
    key = str(period)[:7]
    if not _PERIOD.match(key):
        raise ValueError(f"report period must look like YYYY-MM, got {period!r}")
    return key


def write_report(results: dict, out_root, city: str | None = None, period=None) -> Path:
    """Write `<out_root>/<city-slug>/<YYYY-MM>/council_report.html` (with the brief and the data
    files, see `write_council_pack`) and refresh `latest/`; returns the report's path."""
    return write_council_pack(results, out_root, city, period, pdf=False).report


def write_council_pack(
    results: dict, out_root, city: str | None = None, period=None, *, pdf: bool = True,
    chromium: str | None = None,
) -> CouncilPack:  # fmt: skip
    """Everything the council gets for one period, in one folder:

    council_report.html, council_brief.html, council_data.xlsx and council_data_<sheet>.csv,
    and with `pdf` council_report.pdf and council_brief.pdf printed by headless Chromium (when
    Chromium is missing, `pdf_note` says so and the rest is still written). Then `latest/`
    gets a copy of every file of the newest period's folder (by period, not by write time, so
    a backfill of an old month does not replace it). A copy rather than a symlink because it
    survives zipping, artifact upload and Windows. Every write is temp-file + rename, so a
    reader never sees a half-written file.
    """
    city = city or str(results.get("city") or "city")
    if period is None:
        end = (results.get("study_window") or {}).get("end") or results.get("generated_at")
        if not end:
            raise ValueError("write_report needs a period (YYYY-MM) when results carry none")
        period = end
    city_dir = Path(out_root) / city_slug(city)
    folder = city_dir / period_key(period)
    target = folder / REPORT_NAME
    atomic_write(target, render(results))
    atomic_write(folder / BRIEF_NAME, render_brief(results))
    files = [target, folder / BRIEF_NAME, *write_data(results, folder)]
    note = ""
    if pdf:
        jobs = [
            (folder / n, folder / n.replace(".html", ".pdf")) for n in (REPORT_NAME, BRIEF_NAME)
        ]
        try:
            printed = print_pdfs(jobs, chromium)  # both browsers at once (issue 17)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            # a broken browser must not cost the council its HTML and spreadsheet
            note = f"PDF not written: {' '.join(str(exc).split())[:300]}"
            printed = getattr(exc, "printed", [])
        files += printed or []
        note = note or ("" if printed is not None else MISSING)
    newest = max(p for p in city_dir.iterdir() if p.is_dir() and _PERIOD.match(p.name))
    _refresh_latest(newest, city_dir / LATEST)
    return CouncilPack(target, tuple(files), note)


@dataclass(frozen=True)
class CouncilPack:
    report: Path
    files: tuple[Path, ...]
    pdf_note: str  # empty when the PDFs were printed (or not asked for)


def _refresh_latest(newest: Path, latest: Path) -> None:
    for src in sorted(newest.iterdir()):
        if src.is_file() and not src.name.startswith("."):
            atomic_write(latest / src.name, src.read_bytes())

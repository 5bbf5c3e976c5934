"""Render results into one self-contained HTML file, and write it where the council finds it."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from datetime import date, datetime
from functools import cache
from pathlib import Path

import jinja2

from reports.names import name_html
from reports.view import build_view

REPORT_NAME = "council_report.html"
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


def city_slug(city: str) -> str:
    """ "São Paulo (pilot)" -> "sao-paulo-pilot": safe as a folder name everywhere."""
    ascii_ = unicodedata.normalize("NFKD", str(city)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")
    return slug or "city"


def period_key(period) -> str:
    """Accepts "YYYY-MM", "YYYY-MM-DD", date or datetime; returns "YYYY-MM"."""
    if isinstance(period, datetime | date):
        return f"{period.year:04d}-{period.month:02d}"
    key = str(period)[:7]
    if not _PERIOD.match(key):
        raise ValueError(f"report period must look like YYYY-MM, got {period!r}")
    return key


def _readable_mode() -> int:
    """0666 minus the umask: mkstemp's 0600 would hide the report from the people it is for."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, _readable_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(results: dict, out_root, city: str | None = None, period=None) -> Path:
    """Write `<out_root>/<city-slug>/<YYYY-MM>/council_report.html` and refresh `latest/`.

    `latest/` holds a *copy* of the newest period's report (by period, not by write time, so a
    backfill of an old month does not replace it). A copy rather than a symlink because it
    survives zipping, artifact upload and Windows. Both writes are temp-file + rename, so a
    reader never sees a half-written report.
    """
    city = city or str(results.get("city") or "city")
    if period is None:
        end = (results.get("study_window") or {}).get("end") or results.get("generated_at")
        if not end:
            raise ValueError("write_report needs a period (YYYY-MM) when results carry none")
        period = end
    city_dir = Path(out_root) / city_slug(city)
    target = city_dir / period_key(period) / REPORT_NAME
    _atomic_write(target, render(results))
    newest = max(p for p in city_dir.iterdir() if p.is_dir() and _PERIOD.match(p.name))
    latest = city_dir / LATEST / REPORT_NAME
    latest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=latest.parent, prefix=".latest.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(newest / REPORT_NAME, tmp)
        os.chmod(tmp, _readable_mode())
        os.replace(tmp, latest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target

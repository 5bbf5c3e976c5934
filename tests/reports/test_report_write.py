"""write_report: dated folder, atomic write, latest/ follows the newest period."""

from __future__ import annotations

import os
import stat

import pytest
from report_fixtures import demo_results

from reports import city_slug, write_council_pack, write_report


def test_writes_period_folder_and_latest(tmp_path):
    r = demo_results()
    p = write_report(r, tmp_path, "Demo City", "2025-12")
    assert p == tmp_path / "demo-city" / "2025-12" / "council_report.html"
    latest = tmp_path / "demo-city" / "latest" / "council_report.html"
    assert latest.read_text() == p.read_text()
    assert "Demo City" in p.read_text()
    assert not list(tmp_path.rglob("*.tmp"))


def test_latest_tracks_newest_period_not_last_write(tmp_path):
    r = demo_results()
    write_report(r, tmp_path, "Demo City", "2026-01")
    newest = (tmp_path / "demo-city" / "2026-01" / "council_report.html").read_text()
    older = dict(r, city="Demo City (backfill)")
    write_report(older, tmp_path, "Demo City", "2025-11")  # backfill of an older month
    latest = tmp_path / "demo-city" / "latest" / "council_report.html"
    assert latest.read_text() == newest
    write_report(older, tmp_path, "Demo City", "2026-02")
    assert "backfill" in latest.read_text()


def test_period_from_results_and_validation(tmp_path):
    r = demo_results()
    p = write_report(r, tmp_path)  # city and study_window.end from the results
    assert p.parent.name == "2025-12" and p.parent.parent.name == "demo-city"
    with pytest.raises(ValueError, match="YYYY-MM"):
        write_report(r, tmp_path, "Demo City", "Dec 2025")


def test_city_slug():
    assert city_slug("São Paulo (pilot)") == "sao-paulo-pilot"
    assert city_slug("../../etc") == "etc"
    assert city_slug("***") == "city"


def test_report_files_are_readable_by_others_under_the_usual_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_report(demo_results(), tmp_path, "Demo City", "2025-12")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    latest = tmp_path / "demo-city" / "latest" / "council_report.html"
    assert stat.S_IMODE(latest.stat().st_mode) == 0o644


def test_missing_chromium_still_writes_html_and_xlsx(tmp_path, monkeypatch):
    """No browser: one line saying so, and the HTML, brief and spreadsheet are complete."""
    import reports.pdf

    monkeypatch.setattr(reports.pdf, "find_chromium", lambda: None)
    pack = write_council_pack(demo_results(), tmp_path, "Demo City", "2025-12")
    assert "Chromium is not installed" in pack.pdf_note and "\n" not in pack.pdf_note
    names = {p.name for p in pack.files}
    assert {"council_report.html", "council_brief.html", "council_data.xlsx"} <= names
    assert not any(n.endswith(".pdf") for n in names)
    latest = {p.name for p in (tmp_path / "demo-city" / "latest").iterdir()}
    assert names <= latest


def test_a_failing_chromium_is_one_line_too(tmp_path):
    """A browser that is there but fails (here: `false`) costs the PDFs, not the rest."""
    pack = write_council_pack(
        demo_results(), tmp_path, "Demo City", "2025-12", chromium="/bin/false"
    )
    assert pack.pdf_note.startswith("PDF not written: chromium could not print")
    assert "\n" not in pack.pdf_note
    assert (pack.report.parent / "council_data.xlsx").exists()
    assert not list(pack.report.parent.glob("*.pdf")) and not list(tmp_path.rglob("*.tmp"))

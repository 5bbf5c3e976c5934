"""Open the report in headless Debian Chromium: no console errors, no network, prints to PDF.

Screenshots and the PDF land in <temp dir>/engagement-eval-report-test/ for a human to look at
(outside the checkout: tests never write reports/output/, see tests/conftest.py).
In CI (CI=true) a missing chromium is a failure, not a skip: the check must really run there.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from headless import check_page, chromium_available, pdf_page_count
from report_fixtures import demo_results, null_results, with_previous_run

from reports import render, write_council_pack

pytestmark = pytest.mark.browser

OUT = Path(tempfile.gettempdir()) / "engagement-eval-report-test"


def _require_chromium():
    if chromium_available():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is missing in CI: scripts/install_system_deps.sh must install it")
    pytest.skip("needs /usr/bin/chromium: run scripts/install_system_deps.sh (as root)")


@pytest.mark.parametrize("name, build", [("demo", demo_results), ("null", null_results)])
def test_report_in_headless_chromium(name, build, tmp_path):
    _require_chromium()
    OUT.mkdir(parents=True, exist_ok=True)
    html = OUT / f"{name}_council_report.html"
    html.write_text(render(build()), encoding="utf-8")
    result = check_page(html, tmp_path / "profile")
    (OUT / f"{name}_first_screen.png").write_bytes(result.screenshot)
    (OUT / f"{name}_council_report.pdf").write_bytes(result.pdf)
    (OUT / f"{name}_phone.png").write_bytes(result.phone_screenshot)

    assert result.console_errors == []
    assert result.requests == [html.resolve().as_uri()]  # the file itself, nothing else
    assert result.screenshot.startswith(b"\x89PNG") and len(result.screenshot) > 20_000
    assert result.pdf.startswith(b"%PDF")
    assert pdf_page_count(result.pdf) > 1
    for view, w in result.layout.items():  # no sideways scrolling: phone, 200%, print
        assert w["scroll"] <= w["inner"], f"{view}: page wider than the window {w}"
    assert set(result.layout) >= {"phone", "print"}
    (OUT / f"{name}_print.png").write_bytes(result.print_screenshot)


@pytest.mark.parametrize("name, build", [("demo", demo_results), ("null", null_results)])
def test_council_pack_pdfs_and_one_page_brief(name, build, tmp_path):
    """The pack as the council gets it: the report prints on several pages, the brief (with a
    since-last-report paragraph, the longest it gets) on exactly one; both lay out without
    sideways scrolling on a phone and in print."""
    _require_chromium()
    pack = write_council_pack(with_previous_run(build()), tmp_path, "Demo City", "2025-12")
    assert pack.pdf_note == ""
    folder = pack.report.parent
    report_pdf = (folder / "council_report.pdf").read_bytes()
    brief_pdf = (folder / "council_brief.pdf").read_bytes()
    assert pdf_page_count(report_pdf) >= 2
    assert pdf_page_count(brief_pdf) == 1
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}_council_brief.pdf").write_bytes(brief_pdf)
    result = check_page(folder / "council_brief.html", tmp_path / "profile")
    (OUT / f"{name}_brief_phone.png").write_bytes(result.phone_screenshot)
    (OUT / f"{name}_brief_print.png").write_bytes(result.print_screenshot)
    assert result.console_errors == []
    for view, w in result.layout.items():
        assert w["scroll"] <= w["inner"], f"brief, {view}: page wider than the window {w}"


def test_checker_detects_requests_and_errors(tmp_path):
    """Guard against a checker that passes everything."""
    _require_chromium()
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><p>x</p>"
        '<img alt="x" src="https://example.invalid/pixel.png">'
        '<script>console.error("boom")</script></body></html>'
    )
    result = check_page(bad, tmp_path / "profile")
    assert any("example.invalid" in u for u in result.requests)
    assert any("boom" in e for e in result.console_errors)
    assert pdf_page_count(result.pdf) == 1

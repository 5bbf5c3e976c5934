"""print_pdfs: every Chromium started before any is waited for; a failing print keeps the
others' PDFs and is reported. A shell script stands in for Chromium."""

from __future__ import annotations

import stat

import pytest

from reports.pdf import print_pdfs

# writes "%PDF" to the --print-to-pdf target unless the page's name contains "broken"; each
# process appends "start" to a shared log, waits for a sibling, then appends "end"
FAKE = """#!/bin/sh
for a in "$@"; do case "$a" in --print-to-pdf=*) out="${a#--print-to-pdf=}";; esac; url="$a"; done
echo start >> "$LOG"
i=0; while [ "$(grep -c start "$LOG")" -lt "$N" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
echo end >> "$LOG"
case "$url" in *broken*) echo "cannot print" >&2; exit 3;; esac
printf '%%PDF-1.4 fake' > "$out"
"""


@pytest.fixture
def fake_chromium(tmp_path, monkeypatch):
    script = tmp_path / "chromium"
    script.write_text(FAKE)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("LOG", str(tmp_path / "log"))
    return script


def _pages(tmp_path, *names):
    jobs = []
    for name in names:
        html = tmp_path / f"{name}.html"
        html.write_text("<p>x</p>")
        jobs.append((html, tmp_path / "out" / f"{name}.pdf"))
    return jobs


def test_all_prints_run_at_once(tmp_path, fake_chromium, monkeypatch):
    monkeypatch.setenv("N", "2")
    jobs = _pages(tmp_path, "report", "brief")
    assert print_pdfs(jobs, str(fake_chromium)) == [pdf for _, pdf in jobs]
    # both started before either ended: run one after the other, the log would alternate
    assert (tmp_path / "log").read_text().split() == ["start", "start", "end", "end"]
    assert all(pdf.read_bytes().startswith(b"%PDF") for _, pdf in jobs)
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_failing_print_keeps_the_others(tmp_path, fake_chromium, monkeypatch):
    monkeypatch.setenv("N", "2")
    jobs = _pages(tmp_path, "broken_report", "brief")
    with pytest.raises(RuntimeError, match="broken_report.html.*exit 3.*cannot print") as err:
        print_pdfs(jobs, str(fake_chromium))
    assert err.value.printed == [jobs[1][1]]
    assert not jobs[0][1].exists() and jobs[1][1].exists()
    assert not list(tmp_path.rglob("*.tmp"))

"""Print the report's HTML files to PDF with headless Chromium (the council agenda wants a PDF).

Chromium is the browser `scripts/install_system_deps.sh` installs for the browser test; the
same engine prints what the test checks, so the PDF is the HTML's print stylesheet, nothing
else. Without Chromium the caller gets `None` and says so in one line: the HTML and the
spreadsheet are still written. The PDF lands atomically (temp file in the target folder, then
rename). Chromium runs with a throw-away profile, no network, and a time limit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_SECONDS = 120
MISSING = (
    "PDF not written: headless Chromium is not installed "
    "(run scripts/install_system_deps.sh as root); the HTML and XLSX files are complete."
)


def find_chromium() -> str | None:
    """Path of a Chromium binary on the PATH or at Debian's location, else None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def print_pdf(html: Path, pdf: Path, chromium: str | None = None) -> Path | None:
    """Print `html` to `pdf`; None when no Chromium is available. Raises RuntimeError when
    Chromium is present but fails (a broken install should not pass silently)."""
    printed = print_pdfs([(html, pdf)], chromium)
    return None if printed is None else printed[0]


def print_pdfs(jobs: list[tuple[Path, Path]], chromium: str | None = None) -> list[Path] | None:
    """Print each (html, pdf) pair, all Chromium processes running at once; None when no
    Chromium is available. At once because one print is ~1.5 s of mostly waiting (browser
    start-up, layout timers) for well under 1 CPU-second, so the report and the brief together
    take little longer than one (issue 17). Each PDF lands atomically; when a print fails, the
    others are still finished and kept, then RuntimeError names the first failure (its
    `printed` attribute lists the PDFs written)."""
    binary = chromium or find_chromium()
    if binary is None:
        return None
    with ExitStack() as stack:
        started = [_start(binary, html, pdf, stack) for html, pdf in jobs]
        outcomes = [_finish(*job) for job in started]
    printed = [o for o in outcomes if isinstance(o, Path)]
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            if isinstance(outcome, RuntimeError):
                outcome.printed = printed
            raise outcome
    return printed


def _start(binary: str, html: Path, pdf: Path, stack: ExitStack):
    """One Chromium printing `html` into a temp file beside `pdf`, with a throw-away profile."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="ee-chromium-"))
    fd, tmp = tempfile.mkstemp(dir=pdf.parent, prefix=f".{pdf.name}.", suffix=".tmp")
    os.close(fd)
    stack.callback(Path(tmp).unlink, missing_ok=True)  # a no-op once renamed into place
    err = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - closed by the stack
    proc = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}",
            Path(html).resolve().as_uri(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    stack.callback(_stop, proc)
    return proc, err, html, pdf, Path(tmp), time.monotonic() + TIMEOUT_SECONDS


def _finish(proc, err, html: Path, pdf: Path, tmp: Path, deadline: float):
    """The printed PDF moved into place, or the exception saying why not."""
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0))
        data = tmp.read_bytes()
        if proc.returncode != 0 or not data.startswith(b"%PDF"):
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(
                f"chromium could not print {html.name} (exit {proc.returncode}): "
                + " | ".join(tail)
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, pdf)
        return pdf
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return exc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def page_count(pdf: bytes) -> int:
    """Page objects in a PDF such as Chromium's (uncompressed page dictionaries)."""
    import re

    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))

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
    binary = chromium or find_chromium()
    if binary is None:
        return None
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ee-chromium-") as profile:
        fd, tmp = tempfile.mkstemp(dir=pdf.parent, prefix=f".{pdf.name}.", suffix=".tmp")
        os.close(fd)
        try:
            proc = subprocess.run(
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
                capture_output=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
            data = Path(tmp).read_bytes()
            if proc.returncode != 0 or not data.startswith(b"%PDF"):
                tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(
                    f"chromium could not print {html.name} (exit {proc.returncode}): "
                    + " | ".join(tail)
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, pdf)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return pdf


def page_count(pdf: bytes) -> int:
    """Page objects in a PDF such as Chromium's (uncompressed page dictionaries)."""
    import re

    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))

"""Drive headless Debian Chromium over the DevTools protocol to check a rendered report.

The protocol (rather than parsing `--enable-logging` output) gives exact, structured events:
every network request the page makes and every console error or uncaught exception, plus the
screenshot and PDF from the same page load.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.sync.client import connect

from reports.pdf import page_count as pdf_page_count  # noqa: F401 - re-exported for the tests

CHROMIUM = "/usr/bin/chromium"
PRINT_WIDTH_PX = round((210 - 24) / 25.4 * 96)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]


@dataclass
class PageCheck:
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    pdf: bytes = b""
    phone_screenshot: bytes = b""
    print_screenshot: bytes = b""
    layout: dict[str, dict] = field(default_factory=dict)  # viewport name -> widths


class _Session:
    """Flat-mode CDP session on one page target; events are kept in order received."""

    def __init__(self, ws, session_id: str | None = None):
        self.ws, self.session_id, self.events, self._id = ws, session_id, [], 0

    def call(self, method: str, timeout: float = 60, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if self.session_id:
            msg["sessionId"] = self.session_id
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(
                json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            )

    def drain(self, seconds: float):
        """Collect late events (e.g. a lazily fetched resource) for a short while."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                break


def _devtools_url(profile: Path, proc: subprocess.Popen, timeout: float = 30) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited early with code {proc.returncode}")
        if port_file.exists():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


def _set_viewport(s: _Session, width: int, height: int, scale: float, mobile: bool):
    s.call(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=height,
        deviceScaleFactor=scale,
        mobile=mobile,
    )


def _widths(s: _Session) -> dict:
    expr = (
        "JSON.stringify({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    return json.loads(s.call("Runtime.evaluate", expression=expr)["result"]["value"])


def check_page(html_file: Path, profile: Path) -> PageCheck:
    """Load the file once, record requests and errors, then screenshot, print and resize."""
    profile.mkdir(parents=True, exist_ok=True)
    log = open(profile / "chromium.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with connect(_devtools_url(profile, proc), max_size=64 * 2**20, open_timeout=30) as ws:
            browser = _Session(ws)
            target = browser.call("Target.createTarget", url="about:blank")["targetId"]
            sid = browser.call("Target.attachToTarget", targetId=target, flatten=True)
            page = _Session(ws, sid["sessionId"])
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.call(f"{domain}.enable")
            _set_viewport(page, 1280, 900, 1, False)
            page.call("Page.navigate", url=html_file.resolve().as_uri())
            page.wait_for("Page.loadEventFired")
            page.drain(1.0)
            out = PageCheck()
            out.screenshot = base64.b64decode(
                page.call("Page.captureScreenshot", format="png")["data"]
            )
            out.pdf = base64.b64decode(
                page.call("Page.printToPDF", printBackground=True, timeout=120)["data"]
            )
            out.layout["desktop"] = _widths(page)
            _set_viewport(page, 390, 844, 2, True)  # a phone
            out.layout["phone"] = _widths(page)
            out.phone_screenshot = base64.b64decode(
                page.call("Page.captureScreenshot", format="png")["data"]
            )
            _set_viewport(page, 640, 450, 2, False)  # 1280x900 at 200% zoom
            out.layout["zoom200"] = _widths(page)
            # print media on an A4 page's printable width (210 mm - 2 x 12 mm at 96 dpi)
            _set_viewport(page, PRINT_WIDTH_PX, 1000, 1, False)
            page.call("Emulation.setEmulatedMedia", media="print")
            out.layout["print"] = _widths(page)
            out.print_screenshot = base64.b64decode(
                page.call("Page.captureScreenshot", format="png")["data"]
            )
            page.call("Emulation.setEmulatedMedia", media="")
            page.drain(0.3)
            events = browser.events + page.events
        out.requests = [
            e["params"]["request"]["url"]
            for e in events
            if e.get("method") == "Network.requestWillBeSent"
        ]
        out.console_errors = _errors(events)
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _errors(events: list[dict]) -> list[str]:
    errs = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errs.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            )
        elif m == "Runtime.exceptionThrown":
            errs.append(str(p.get("exceptionDetails", {}).get("text", "exception")))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            errs.append(str(p["entry"].get("text", "")))
    return errs


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)

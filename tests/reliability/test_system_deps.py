"""`make test` installs what its browser test needs (issue 13): the Makefile's test target runs
scripts/install_system_deps.sh, which is quiet when chromium is there, installs it through
apt-get (with sudo when not root) and fails only in CI when it cannot.

apt-get, sudo and id are replaced by small scripts on PATH, so nothing is installed here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "install_system_deps.sh"


def test_make_test_runs_the_install_script_before_pytest():
    dry = subprocess.run(
        ["make", "-n", "-W", ".venv/.synced", "test"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MAKEFLAGS": ""},
    ).stdout.splitlines()
    steps = [line for line in dry if "install_system_deps.sh" in line or "pytest" in line]
    assert len(steps) == 2 and "install_system_deps.sh" in steps[0], dry


def _fake_bin(folder: Path, *, uid: int, apt_ok: bool, chromium: Path) -> Path:
    folder.mkdir()
    log = folder / "calls.log"
    tools = {
        "id": f"echo {uid}\n",
        "sudo": f'echo "sudo $*" >> {log}\n[ "$1" = "-n" ] && shift; exec "$@"\n',
        "apt-get": (
            f'echo "apt-get $*" >> {log}\n'
            + ("" if apt_ok else 'echo "E: Unable to locate package chromium" >&2; exit 100\n')
            + (
                f'if [ "$1" = install ]; then printf "#!/bin/sh\\necho Chromium 1.0\\n" > {chromium};'
                f" chmod +x {chromium}; fi\n"
            )
        ),
    }
    for name, body in tools.items():
        path = folder / name
        path.write_text("#!/usr/bin/env bash\n" + body)
        path.chmod(0o755)
    return log


def _run(tmp_path, *, uid=0, apt_ok=True, ci="", present=False):
    chromium = tmp_path / "chromium"
    if present:
        chromium.write_text("#!/bin/sh\n")
        chromium.chmod(0o755)
    log = _fake_bin(tmp_path / "bin", uid=uid, apt_ok=apt_ok, chromium=chromium)
    env = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "CHROMIUM": str(chromium),
        "CI": ci,
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def test_quiet_and_does_nothing_when_chromium_is_there(tmp_path):
    result, calls = _run(tmp_path, present=True)
    assert result.returncode == 0 and result.stdout == result.stderr == "" and calls == []


def test_installs_as_root_without_sudo(tmp_path):
    result, calls = _run(tmp_path, uid=0)
    assert result.returncode == 0, result.stderr
    assert calls[0].startswith("apt-get update") and "install" in calls[-1]
    assert not any(c.startswith("sudo") for c in calls)
    assert "installed Chromium 1.0" in result.stdout


def test_uses_sudo_without_a_prompt_when_not_root(tmp_path):
    result, calls = _run(tmp_path, uid=1000)
    assert result.returncode == 0, result.stderr
    assert "sudo -n apt-get update -qq" in calls
    assert (tmp_path / "chromium").exists()


@pytest.mark.parametrize("ci, code", [("true", 1), ("", 0)])
def test_a_failed_install_fails_only_in_ci(tmp_path, ci, code):
    result, _ = _run(tmp_path, apt_ok=False, ci=ci)
    assert result.returncode == code
    assert "Unable to locate package chromium" in result.stderr
    assert "How to fix:" in result.stderr and "browser test skips" in result.stderr

"""Test isolation: the test session never writes the user's own Dagster instance or outputs.

`make test` runs with the Makefile's environment, which points DAGSTER_HOME at the checkout's
`.dagster_home` and ENGAGEMENT_EVAL_OUT / _REPORTS at `out/` and `reports/output/`. Test cities
run there would show up in `make ui` as the latest state of the evaluation (issue 13). So
before any test module is imported (some build Dagster definitions from the environment at
import), every environment variable of `pipelines.settings` is pointed at a temporary folder
of this session (DAGSTER_HOME with the project's dagster.yaml, so pools behave as in use).

`project_folders_untouched` (session, autouse) snapshots the project's own `.dagster_home`,
`out/` and `reports/output/` (every path with its size and mtime) before the session and fails
the session if any of them changed. A `make run` or `make ui` working in the same checkout
while the tests run would change them too; run those before or after the tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FOLDERS = (ROOT / ".dagster_home", ROOT / "out", ROOT / "reports" / "output")

_saved: dict[str, str | None] = {}
_session_dir: Path | None = None


def _isolated_environment(base: Path) -> dict[str, str | None]:
    """The environment the tests run in: temporary folders for everything a run writes."""
    from pipelines import settings

    home = base / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return {
        settings.ENV_DAGSTER_HOME: str(home),
        settings.ENV_OUT: str(base / "out"),
        settings.ENV_DUCKDB: str(base / "out" / "engagement_eval.duckdb"),
        settings.ENV_REPORTS: str(base / "reports"),
        settings.ENV_CONFIG: None,  # a user's own config must not reach the test cities
    }


def pytest_configure(config):
    """Point the environment at this session's temporary folders before collection."""
    global _session_dir
    _session_dir = Path(tempfile.mkdtemp(prefix="engagement-eval-tests-"))
    for name, value in _isolated_environment(_session_dir).items():
        _saved[name] = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pytest_unconfigure(config):
    for name, value in _saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if _session_dir is not None:
        shutil.rmtree(_session_dir, ignore_errors=True)


def folder_snapshot(folders=PROJECT_FOLDERS) -> dict[str, tuple[int, int]]:
    """{path: (size, mtime_ns)} of every file and folder under `folders` (absent ones: none)."""
    state: dict[str, tuple[int, int]] = {}
    for folder in folders:
        if not folder.exists():
            continue
        for path in [folder, *folder.rglob("*")]:
            try:
                info = path.lstat()
            except FileNotFoundError:  # removed while walking
                continue
            size = 0 if path.is_dir() else info.st_size
            state[str(path)] = (size, info.st_mtime_ns)
    return state


@pytest.fixture(scope="session", autouse=True)
def project_folders_untouched():
    """Fail the session when a test wrote the project's instance or output folders."""
    from pipelines import settings

    for name in (settings.ENV_DAGSTER_HOME, settings.ENV_OUT, settings.ENV_REPORTS):
        value = os.environ.get(name)
        assert value and not Path(value).resolve().is_relative_to(ROOT), (name, value)
    before = folder_snapshot()
    yield
    after = folder_snapshot()
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed, (
        "tests wrote into the project's own instance/output folders (tests must use their "
        f"temporary DAGSTER_HOME, --out and reports folders): {changed[:20]}"
    )

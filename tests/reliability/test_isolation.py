"""Tests never write the user's own Dagster instance, outputs or reports (issue 13): the
session's environment points at temporary folders, and the session fails if the project's
`.dagster_home`, `out/` or `reports/output/` changed (tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines import settings
from pipelines.settings import Settings
from tests.conftest import ROOT, folder_snapshot


def _outside_project(path: str | Path) -> bool:
    return not Path(path).resolve().is_relative_to(ROOT)


def test_default_settings_and_instance_point_outside_the_checkout():
    """What a test gets without passing paths: the session's temporary folders."""
    defaults = Settings.from_env(str(ROOT / "tests" / "data" / "tiny_city"))
    assert _outside_project(defaults.out_dir) and _outside_project(defaults.duckdb_path)
    for name in (settings.ENV_DAGSTER_HOME, settings.ENV_REPORTS, settings.ENV_OUT):
        assert _outside_project(os.environ[name]), name
    assert settings.ENV_CONFIG not in os.environ
    with dg.DagsterInstance.get() as instance:
        assert _outside_project(instance.root_directory)
        assert instance.get_runs_count() >= 0  # a working instance, with the project's yaml


def test_folder_snapshot_sees_new_changed_and_removed_files(tmp_path):
    home, out = tmp_path / ".dagster_home", tmp_path / "out"
    home.mkdir()
    (home / "dagster.yaml").write_text("a: 1\n")
    before = folder_snapshot((home, out))
    assert folder_snapshot((home, out)) == before
    (home / "storage").mkdir()
    (home / "storage" / "runs.db").write_bytes(b"x")
    assert folder_snapshot((home, out)) != before
    (home / "storage" / "runs.db").unlink()
    (home / "storage").rmdir()
    (home / "dagster.yaml").write_text("a: 22\n")
    assert folder_snapshot((home, out)) != before

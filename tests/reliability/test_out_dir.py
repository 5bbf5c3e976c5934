"""`--out` (issue 13): the folders a run must never write into are refused before anything is
written; folders a run creates are marked as its own; results.json is readable like the report."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from reliability_helpers import DATA

from engagement_eval.errors import UserError
from evaluation.results_json import write_results_json
from pipelines.cli import main
from pipelines.out_dir import MARKER, check_out_dir


@pytest.fixture
def city(tmp_path) -> Path:
    return Path(shutil.copytree(DATA / "tiny_city", tmp_path / "city"))


def _refuses(out, data, *expected):
    with pytest.raises(UserError) as caught:
        check_out_dir(out, data)
    for text in expected:
        assert text in str(caught.value), str(caught.value)


def test_root_and_home_folder_are_refused(city, tmp_path, monkeypatch):
    _refuses("/", city, "the root folder /")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    _refuses(home, city, "your home folder")
    _refuses(f"{home}/./", city, "your home folder")


def test_data_folder_and_folders_containing_it_are_refused(city, tmp_path):
    _refuses(city, city, "is the data folder")
    _refuses(tmp_path, city, "contains the data folder")
    link = tmp_path / "link"
    link.symlink_to(city, target_is_directory=True)
    _refuses(link, city, "is the data folder")


def test_non_empty_folder_without_the_marker_is_refused(city, tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.docx").write_text("my work")
    _refuses(mine, city, "is not empty (chapter1.docx)", MARKER)


@pytest.mark.parametrize("state", ["new", "empty", "marked", "earlier_run"])
def test_new_empty_marked_and_earlier_output_folders_are_accepted(city, tmp_path, state):
    out = tmp_path / "out"
    if state != "new":
        out.mkdir()
    if state == "marked":
        (out / MARKER).write_text("")
        (out / "results.json").write_text("{}")
    if state == "earlier_run":  # written before the marker existed
        (out / "engagement_eval.duckdb").write_bytes(b"")
    check_out_dir(out, city)


def test_run_refuses_a_foreign_folder_and_leaves_it_alone(city, tmp_path, capsys):
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["run", "--data", str(city), "--out", str(mine)]) == 2
    assert "not written by engagement-eval" in capsys.readouterr().err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert main(["run", "--data", str(city), "--out", str(city)]) == 2
    assert "is the data folder" in capsys.readouterr().err


def test_run_marks_the_output_folder_it_creates(city, tmp_path, capsys):
    """A window with no complete month stops the run just after the folder is prepared."""
    (city / "city.yaml").write_text("city: Later Town\nstudy_window: {start: 2999-01}\n")
    out = tmp_path / "new" / "out"
    assert main(["run", "--data", str(city), "--out", str(out), "--quiet"]) == 2
    assert "no complete month" in capsys.readouterr().err
    assert (out / MARKER).is_file()


def test_results_json_is_readable_like_the_report(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_results_json({"city": "X"}, tmp_path / "results.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_output_folder_named_like_a_glob_reads_its_own_panels(tmp_path):
    """`--out out[1]` is a folder name, not a pattern that also matches `out1`."""
    import pandas as pd

    from warehouse.panels import PANEL_TABLES, read_panel

    name = sorted(PANEL_TABLES)[0]
    for folder, rows in (("out[1]", 2), ("out1", 3)):
        (tmp_path / folder).mkdir()
        pd.DataFrame({"a": range(rows)}).to_parquet(tmp_path / folder / f"{name}.parquet")
    assert len(read_panel(tmp_path / "out[1]", name)) == 2

"""Delivery folder rules (issue 13): links leaving the folder, literal file names, compressed
inputs and delivered columns that clash with bookkeeping columns, refused or read by name.

Each test builds its folder from the hand-written tiny city and runs the same pre-flight and
ingest the CLI runs (`check_delivery`, `ingest_city`), so they take well under a second.
"""

from __future__ import annotations

import bz2
import gzip
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reliability_helpers import DATA, cli_env, run_cli

from engagement_eval.config import load_config
from engagement_eval.errors import UserError
from quality.structural import check_delivery
from warehouse.ingest import ingest_city

SECRET = "PLANTED-SECRET-LINE:x:0:0:root:/root:/bin/bash"


@pytest.fixture
def city(tmp_path) -> Path:
    return Path(shutil.copytree(DATA / "tiny_city", tmp_path / "city"))


def _ingest(folder: Path) -> duckdb.DuckDBPyConnection:
    config = load_config(None, folder)
    check_delivery(folder, config)
    con = duckdb.connect()
    ingest_city(con, folder, config)
    return con


def _refused(folder: Path, *expected: str) -> str:
    with pytest.raises(UserError) as caught:
        _ingest(folder)
    text = str(caught.value)
    for part in expected:
        assert part in text, text
    return text


def _rows_by_file(con, name: str) -> dict[str, int]:
    return dict(con.execute(f"SELECT _source_file, count(*) FROM raw.{name} GROUP BY 1").fetchall())


# --- symbolic links --------------------------------------------------------------------------


def test_link_to_a_file_outside_is_refused_and_its_content_never_printed(city, tmp_path):
    """`districts.csv -> /etc/passwd`: today the header line is printed in the error."""
    secret = tmp_path / "passwd"
    secret.write_text(SECRET + "\ndaemon:x:1:1::/:/bin/false\n")
    (city / "districts.csv").unlink()
    (city / "districts.csv").symlink_to(secret)
    result = run_cli(["validate", "--data", str(city)], cli_env(), timeout=120)
    printed = result.stdout + result.stderr
    assert result.returncode == 2, printed
    assert "districts.csv is a symbolic link to a file outside the data folder" in printed
    assert "PLANTED-SECRET" not in printed and "daemon:x" not in printed


def test_link_to_another_citys_survey_is_refused_by_name(city, tmp_path):
    other = Path(shutil.copytree(DATA / "tiny_city", tmp_path / "other_city"))
    (city / "survey_responses_extra.csv").symlink_to(other / "survey_responses.csv")
    _refused(city, "survey_responses_extra.csv is a symbolic link", "outside the data folder")


def test_link_to_a_folder_outside_is_refused(city, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (city / "meetings_2021.csv").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    _refused(city, "meetings_2021.csv is a symbolic link to a folder outside")


def test_link_inside_the_folder_is_read_under_its_own_name(city):
    (city / "archive").mkdir()
    shutil.move(city / "meetings.csv", city / "archive" / "meetings.csv")
    (city / "meetings.csv").symlink_to(city / "archive" / "meetings.csv")
    assert _rows_by_file(_ingest(city), "meetings") == {"meetings.csv": 4}


# --- file names matched literally ------------------------------------------------------------


def test_file_named_with_a_glob_star_loads_only_itself(city):
    lines = (city / "survey_responses.csv").read_text().splitlines()
    extra = [lines[0]] + [f"X{i}" + line[2:] for i, line in enumerate(lines[1:4])]
    (city / "survey_responses_*.csv").write_text("\n".join(extra) + "\n")
    (city / "survey_responses_b.csv").write_text("\n".join(lines[:1] + ["Y" + lines[1]]) + "\n")
    rows = _rows_by_file(_ingest(city), "survey_responses")
    assert rows == {
        "survey_responses.csv": len(lines) - 1,
        "survey_responses_*.csv": 3,
        "survey_responses_b.csv": 1,
    }


def test_file_named_with_glob_brackets_and_question_mark_loads_only_itself(city):
    text = (city / "meetings.csv").read_text()
    (city / "meetings.csv").unlink()
    (city / "meetings_[a].csv").write_text(text)
    (city / "meetings_a.csv").write_text(text.replace("M", "N"))
    (city / "meetings_?.csv").write_text(text.replace("M", "Q"))
    assert _rows_by_file(_ingest(city), "meetings") == {
        "meetings_[a].csv": 4,
        "meetings_a.csv": 4,
        "meetings_?.csv": 4,
    }


# --- compressed inputs -----------------------------------------------------------------------


def test_gzip_csv_is_read_and_recorded_under_its_name(city):
    data = (city / "meetings.csv").read_bytes()
    (city / "meetings.csv").unlink()
    (city / "meetings.csv.gz").write_bytes(gzip.compress(data))
    con = _ingest(city)
    assert _rows_by_file(con, "meetings") == {"meetings.csv.gz": 4}
    assert con.execute("SELECT sum(attendees) FROM staging.meetings").fetchone()[0] == 115


def test_gzip_bytes_saved_as_csv_are_read_not_called_latin1(city):
    path = city / "meetings.csv"
    path.write_bytes(gzip.compress(path.read_bytes()))
    con = _ingest(city)
    assert _rows_by_file(con, "meetings") == {"meetings.csv": 4}


@pytest.mark.parametrize("suffix", [".csv.bz2", ".zip", ".csv.xz", ".parquet.gz"])
def test_other_compressions_are_refused_by_name(city, suffix):
    path = city / "meetings.csv"
    (city / f"meetings{suffix}").write_bytes(bz2.compress(path.read_bytes()))
    path.unlink()
    _refused(city, f"meetings{suffix} is", "compressed", "not read")


def test_bzip2_bytes_saved_as_csv_are_refused_naming_the_compression(city):
    path = city / "meetings.csv"
    path.write_bytes(bz2.compress(path.read_bytes()))
    text = _refused(city, "meetings.csv holds bzip2-compressed bytes")
    assert "Latin-1" not in text and "UTF-8" not in text


# --- delivered columns that clash with bookkeeping columns -----------------------------------


@pytest.mark.parametrize(
    "column", ["_rn", "_owner", "_Source_File", "_ROW_NUMBER", "_raw_trust_police", "_rid"]
)
def test_bookkeeping_column_names_are_refused_naming_the_column(city, column):
    """A survey column `_rn` made the quarantine match every row (issue 13)."""
    path = city / "survey_responses.csv"
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join([f"{lines[0]},{column}"] + [f"{line},1" for line in lines[1:]]) + "\n"
    )
    _refused(city, f"column '{column}'", "survey_responses.csv", "rename the column")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\u202e"])
def test_control_characters_in_a_header_are_refused_naming_file_and_column(city, char):
    path = city / "meetings.csv"
    text = path.read_text()
    path.write_text(text.replace("attendees", f"atten{char}dees", 1))
    shown = f"atten{char}dees".encode("unicode_escape").decode()
    _refused(city, "meetings.csv", "control character", f"U+{ord(char):04X}", shown)


@pytest.mark.parametrize("second", ["Attendees", "attendees", " ATTENDEES"])
def test_a_column_named_twice_is_refused_naming_both(city, second):
    """DuckDB would rename the second one (`attendees_1`) and keep going."""
    path = city / "meetings.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[0] = lines[0].rstrip("\n") + f",{second}\n"
    lines[1:] = [line.rstrip("\n") + ",7\n" for line in lines[1:]]
    path.write_text("".join(lines))
    _refused(city, "meetings.csv names a column twice", "'attendees'", second, "rename or drop")


@pytest.mark.parametrize("second", ["District_ID", "district_id"])
def test_a_parquet_column_named_twice_is_refused_naming_both(city, second):
    """Parquet too: `read_parquet` would call the second one `District_ID_1` and keep going.
    A nested column's fields (a struct's `district_id`) are not top-level names and pass."""
    table = pa.table(
        {
            "district_id": ["01", "02"],
            "population": [5, 6],
            "extra": pa.array([{"district_id": "x"}, {"district_id": "y"}]),
        }
    )
    (city / "districts.csv").unlink()
    pq.write_table(table, city / "districts.parquet")
    assert _rows_by_file(_ingest(city), "districts") == {"districts.parquet": 2}
    clashing = table.append_column(second, pa.array(["09", "09"]))
    pq.write_table(clashing, city / "districts.parquet")
    _refused(
        city, "districts.parquet names a column twice", "'district_id'", second, "rename or drop"
    )


def test_nothing_is_read_from_a_refused_link(city, tmp_path, monkeypatch):
    """The link check runs before any file of the folder is opened."""
    target = tmp_path / "target.csv"
    target.write_text("district_id,population\n01,5\n")
    (city / "districts_extra.csv").symlink_to(target)
    opened: list[str] = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else "")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    _refused(city, "districts_extra.csv is a symbolic link")
    assert str(target) not in opened and str(city / "districts_extra.csv") not in opened

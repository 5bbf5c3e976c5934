"""The quarantine as an asset of its own, typed table previews, and masked UI metadata.

A tiny city gets free text planted in contract columns (a name and phone number in
`trust_police`, an address in `district_id`); the gate sets those rows aside through the
`quality/quarantine` asset, the panels read staging minus them, and no UI metadata shows
the planted text while `quality.quarantine` keeps it whole.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.metadata import MAX_SHOWN_CHARS, mask_example, mask_value, shape_mask
from pipelines.definitions import build_definitions
from pipelines.jobs import ALL_ASSETS_JOB
from pipelines.partitions import range_tags
from pipelines.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data"
NAME_AND_PHONE = "Jane Roe 555-0142"
ADDRESS = "123 Main Street Apt 4"
QUARANTINE = dg.AssetKey(["quality", "quarantine"])


@pytest.fixture(scope="module")
def dirty_city(tmp_path_factory) -> Path:
    city = Path(shutil.copytree(DATA / "tiny_city", tmp_path_factory.mktemp("dirty") / "city"))
    # the tiny city's programs.csv holds a row the gate stops on (its panels test needs it)
    (city / "programs.csv").write_text(
        "district_id,program,start_date\n02,beat_meetings,2020-03-15\n", encoding="utf-8"
    )
    with open(city / "city.yaml", "a", encoding="utf-8") as handle:
        handle.write("quality: {max_bad_row_share: 0.5}\n")  # tiny city: 1 row is > 1%
    with open(city / "survey_responses.csv", "a", encoding="utf-8") as handle:
        handle.write(f'R9,01,2020-02-20,"{NAME_AND_PHONE}",3,3,1.0\n')
    with open(city / "crime_incidents.csv", "a", encoding="utf-8") as handle:
        handle.write(f'Z9,2020-02-10 12:00:00,"{ADDRESS}",violent\n')
    return city


def _defs(city: Path, tmp_path: Path) -> dg.Definitions:
    return build_definitions(Settings(str(city), None, str(tmp_path), str(tmp_path / "db.duckdb")))


@pytest.fixture(scope="module")
def ran(dirty_city, tmp_path_factory):
    """Ingest, checks, quarantine and panels (no models: they are not what is tested)."""
    tmp_path = tmp_path_factory.mktemp("run")
    defs = _defs(dirty_city, tmp_path)
    graph = defs.resolve_asset_graph()
    selection = [
        k for k in graph.get_all_asset_keys() if k.path[0] in ("raw", "staging", "quality", "marts")
    ]
    job = defs.resolve_job_def(ALL_ASSETS_JOB)
    result = job.execute_in_process(
        tags=range_tags("2020-01", "2020-04"),
        instance=dg.DagsterInstance.ephemeral(),
        asset_selection=selection,
        raise_on_error=False,
    )
    return result, tmp_path / "db.duckdb"


def test_quarantine_asset_sits_between_staging_and_panels(dirty_city, tmp_path):
    graph = _defs(dirty_city, tmp_path).resolve_asset_graph()
    node = graph.get(QUARANTINE)
    assert node.group_name == "quality"
    assert dg.AssetKey(["staging", "survey_responses"]) in node.parent_keys
    for mart in ("district_month", "district_quarter_survey"):
        assert QUARANTINE in graph.get(dg.AssetKey(["marts", mart])).parent_keys
    # it runs after every input's gate: each input's check holds a blocking rule, and a blocking
    # check holds back the assets below its asset until it has run
    defs = _defs(dirty_city, tmp_path)
    checked = set()
    for check in defs.asset_checks or []:
        specs = list(check.check_specs)
        assert any(spec.blocking for spec in specs)
        checked |= {spec.asset_key for spec in specs}
    assert checked == {k for k in node.parent_keys if k.path[0] == "staging"}


def test_planted_rows_are_set_aside_by_the_asset_and_kept_whole(ran):
    result, db = ran
    assert result.success
    (mat,) = result.asset_materializations_for_node("quality__quarantine")
    table = mat.metadata["by_input"]
    assert isinstance(table, dg.TableMetadataValue)
    by_input = {r.data["input"]: r.data for r in table.records}
    assert mat.metadata["dagster/row_count"].value == sum(
        r["rows_set_aside"] for r in by_input.values()
    )
    with duckdb.connect(str(db), read_only=True) as con:
        gate_counts = dict(
            con.execute("SELECT input, rows_quarantined FROM quality.run_summary").fetchall()
        )
        planted = con.execute(
            "SELECT q.input, q.value FROM quality.quarantine q JOIN quality.quarantined_rows r"
            " USING (input, source_file, row_number) WHERE q.value IN (?, ?)",
            [NAME_AND_PHONE, ADDRESS],
        ).fetchall()
        staged, clean = (
            con.execute(f"SELECT count(*) FROM staging.{name}").fetchone()[0]
            for name in ("survey_responses", "survey_responses_clean")
        )
    # the asset sets aside exactly the rows the gate counted, the planted ones among them
    for name in ("survey_responses", "crime_incidents"):
        assert by_input[name]["rows_set_aside"] == gate_counts[name] >= 1
    assert sorted(planted) == [("crime_incidents", ADDRESS), ("survey_responses", NAME_AND_PHONE)]
    assert clean == staged - by_input["survey_responses"]["rows_set_aside"]


def test_ui_metadata_never_shows_the_planted_text(ran):
    result, _ = ran
    shown = []
    for e in result.get_asset_check_evaluations():
        shown.append(json.dumps({k: str(v.value) for k, v in e.metadata.items()}))
    for e in result.get_asset_materialization_events():
        meta = e.event_specific_data.materialization.metadata
        shown.append(json.dumps({k: str(getattr(v, "value", v)) for k, v in meta.items()}))
    text = "\n".join(shown)
    for secret in ("Jane", "Roe", "555-0142", "0142", "Main Street", "123 Main"):
        assert secret not in text, secret
    # the pattern is visible: text (and a phone-like number) where a score belongs
    assert shape_mask(NAME_AND_PHONE) in text and shape_mask(ADDRESS) in text


def test_previews_are_typed_tables_from_the_contract(ran):
    result, _ = ran
    (mat,) = result.asset_materializations_for_node("staging__districts")
    preview = mat.metadata["preview"]
    assert isinstance(preview, dg.TableMetadataValue)
    columns = {c.name: c for c in preview.schema.columns}
    assert (
        columns["population"].type == "int"
        and "contract column" in columns["population"].description
    )
    delivered = (DATA / "tiny_city" / "districts.csv").read_text().splitlines()[1:]
    assert [r.data["district_id"] for r in preview.records] == [
        line.split(",")[0] for line in delivered
    ]
    (panel,) = result.asset_materializations_for_node("marts__district_month")
    assert isinstance(panel.metadata["preview"], dg.TableMetadataValue)


@pytest.mark.parametrize(
    ("value", "column_type", "shown"),
    [
        ("7", "float", "7"),  # an out-of-range score stays readable
        ("4.5", "float", "4.5"),
        ("2023-13-45", "date", "2023-13-45"),  # an impossible date too
        ("THEFT", "text", "THEFT"),  # an unmapped category: the fix needs the word
        ("D-014", "text", "D-014"),
        (NAME_AND_PHONE, "float", "Xxxx Xxx 999-9999"),
        ("5551234567", "int", "9999999999"),  # too many digits for a count or a score
        (ADDRESS, "text", "999 Xxxx Xxxxxx Xxx 9"),
        ("jane.roe@example.org", "text", "xxxx.xxx@xxxxxxx.xxx"),
        ("5550142", "text", "9999999"),  # a run of 5+ digits in a text column
        (12, "int", 12),
        (None, "text", None),
    ],
)
def test_mask_value(value, column_type, shown):
    assert mask_value(value, column_type) == shown


def test_long_values_are_cut_and_examples_keep_where_they_came_from():
    long = "x" * 300
    out = mask_value(long, "text")
    assert out.startswith("x" * MAX_SHOWN_CHARS + "…") and "300 characters" in out
    example = f"'{NAME_AND_PHONE}' (survey_responses.csv row 9)"
    assert mask_example(example, "float") == "'Xxxx Xxx 999-9999' (survey_responses.csv row 9)"

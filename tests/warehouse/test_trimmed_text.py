"""`trimmed_text` equals `nullif(trim(x), '')` on every text, whatever its first and last
character: every Unicode code point (surrogates excluded, DuckDB text is UTF-8) at the start,
at the end, on both sides, alone, and around non-ASCII text. The gate frame trims every
delivered value this way, so a code point the shortcut mishandled would make a key, a
district id or a date read differently in the gate than the contract says."""

import duckdb
import pytest

from warehouse.sql import trimmed_text

CODE_POINTS = """
    SELECT chr(CAST(cp AS INTEGER)) AS c FROM range(1, 1114112) t(cp)
    WHERE cp NOT BETWEEN 55296 AND 57343"""


@pytest.mark.parametrize(
    "shape",
    [
        "c",
        "c || 'A1'",
        "'A1' || c",
        "c || 'A1' || c",
        "c || c",
        "' ' || c || ' '",
        "c || 'é 1'",
        "'é 1' || c",
        "c || ' x ' || c",
    ],
)
def test_equals_trim_for_every_code_point(shape):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE v AS SELECT {shape} AS s FROM ({CODE_POINTS})")
    differing = con.execute(
        f"SELECT count(*), min(s) FROM v WHERE {trimmed_text('s')}"
        " IS DISTINCT FROM nullif(trim(s), '')"
    ).fetchone()
    assert differing[0] == 0, f"first differing text: {differing[1]!r}"


def test_shortcut_only_for_ascii_text_without_edge_spaces():
    """The cheap branch is taken for ASCII text not starting or ending with ' ' (code points
    1-127 but 32 before 'A1': 126 texts) and for nothing else, so the test above covers both
    branches."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE v AS SELECT c || 'A1' AS s FROM ({CODE_POINTS})")
    cheap = con.execute(
        "SELECT count(*) FROM v WHERE NOT (s LIKE ' %' OR s LIKE '% ' OR strlen(s) <> length(s))"
    ).fetchone()[0]
    assert cheap == 126


def test_nulls_empty_and_spaces():
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT s, {trimmed_text('s')} FROM (VALUES (NULL), (''), (' '), ('  a  '), ('a'),"
        " ('\u00a0a\u3000'), ('a b')) t(s)"
    ).fetchall()
    assert [r[1] for r in rows] == [None, None, None, "a", "a", "a", "a b"]

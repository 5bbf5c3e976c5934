"""`repeated_hashes_sql` against a plain count: every value held more than once, each once.

Staging's dedup and the gate frame both narrow their exact work to the rows this query
returns, so a value it missed would let a duplicate through, and one it returned twice would
double rows in the join that follows."""

from collections import Counter

import duckdb
import numpy as np
import pandas as pd
import pytest

from warehouse.sql import repeated_hashes_sql


@pytest.mark.parametrize(
    "values",
    [
        [],
        [7],
        [7, 7],
        [3, 1, 3, 2, 3, 3, 1],  # a value four times, another twice, one once
        [2**64 - 1, 0, 2**64 - 1, 2**63],  # the ends of the UBIGINT range
    ],
)
def test_small_cases(values):
    con = duckdb.connect()
    con.execute("CREATE TABLE v (_h UBIGINT)")
    if values:
        con.executemany("INSERT INTO v VALUES (?)", [[x] for x in values])
    got = [r[0] for r in con.execute(repeated_hashes_sql("SELECT _h FROM v")).fetchall()]
    expected = {x for x, n in Counter(values).items() if n > 1}
    assert sorted(got) == sorted(expected)
    assert len(got) == len(set(got))


def test_random_multisets_against_counter():
    rng = np.random.default_rng(20261129)
    con = duckdb.connect()
    for size, spread in [(50_000, 10**12), (50_000, 30_000), (20_000, 50)]:
        values = rng.integers(0, spread, size, dtype=np.uint64)
        con.register("values_df", pd.DataFrame({"x": values}))
        con.execute("CREATE OR REPLACE TABLE v AS SELECT CAST(x AS UBIGINT) AS _h FROM values_df")
        got = [r[0] for r in con.execute(repeated_hashes_sql("SELECT _h FROM v")).fetchall()]
        expected = {int(x) for x, n in Counter(values.tolist()).items() if n > 1}
        assert len(got) == len(set(got)) == len(expected)
        assert set(got) == expected

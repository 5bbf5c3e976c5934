"""`engagement-eval estimate`: output shape, numbers equal to the library, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from estimators.callaway_santanna import att_gt
from pipelines.cli import main

MPDTA = Path(__file__).resolve().parents[1] / "data" / "mpdta.csv"
BASE = [
    "estimate",
    "--unit",
    "countyreal",
    "--time",
    "year",
    "--outcome",
    "lemp",
    "--cohort",
    "first.treat",
]


def run(tmp_path, *extra, panel=MPDTA):
    out = tmp_path / "out.json"
    code = main([*BASE, "--panel", str(panel), "--json", str(out), *extra])
    return code, (json.loads(out.read_text()) if out.exists() else None)


def test_cs_json_shape_and_numbers(tmp_path, capsys):
    code, res = run(tmp_path, "--method", "cs", "--control", "never", "--covariates", "lpop")
    assert code == 0
    assert set(res) >= {"method", "overall", "att_gt", "event_study", "group", "n_units", "n_obs"}
    assert res["method"] == "cs" and res["n_units"] == 500 and res["n_obs"] == 2500
    ref = att_gt(
        pd.read_csv(MPDTA),
        unit="countyreal",
        time="year",
        outcome="lemp",
        cohort="first.treat",
        covariates=["lpop"],
    )
    simple = ref.aggregate("simple").overall
    assert res["overall"]["estimate"] == pytest.approx(simple.estimate, abs=1e-12)
    assert res["overall"]["se"] == pytest.approx(simple.se, abs=1e-12)
    assert [r["group"] for r in res["att_gt"]] == [int(g) for g in ref.group]
    np.testing.assert_allclose([r["estimate"] for r in res["att_gt"]], ref.att, atol=1e-12)
    assert {"event_time", "estimate", "se", "ci_low", "ci_high"} <= set(res["event_study"][0])
    assert [r["group"] for r in res["group"]] == [2004, 2006, 2007]
    printed = capsys.readouterr().out
    assert "Overall ATT" in printed and "Event study" in printed and "-0.0" in printed


def test_bootstrap_seed_reproducible_and_parquet(tmp_path):
    pq = tmp_path / "mpdta.parquet"
    pd.read_csv(MPDTA).to_parquet(pq)
    args = ("--bootstrap", "199", "--seed", "7", "--cluster", "countyreal")
    _, first = run(tmp_path, *args, panel=pq)
    _, second = run(tmp_path, *args)
    assert first["event_study"] == second["event_study"]
    analytic = run(tmp_path)[1]
    assert first["overall"]["estimate"] == pytest.approx(analytic["overall"]["estimate"])
    assert first["overall"]["se"] != analytic["overall"]["se"]


def _bad_panel(tmp_path, mutate):
    df = pd.read_csv(MPDTA)
    df = mutate(df)
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "mutate,extra,message",
    [
        (lambda d: d, ("--outcome", "nope"), "not in the panel"),
        (
            lambda d: d.assign(lemp=d.lemp.astype(str).where(d.index > 3, "abc")),
            (),
            "must be numeric",
        ),
        (
            lambda d: d.assign(**{"first.treat": d["first.treat"].replace(2007, 2030)}),
            (),
            "never appear in the time range",
        ),
        (lambda d: d[d["first.treat"] == 2006], (), "no comparison units"),
        (lambda d: d[d["first.treat"] > 0], ("--control", "never"), "never-treated"),
    ],
)
def test_bad_input_gives_one_clear_message(tmp_path, capsys, mutate, extra, message):
    path = _bad_panel(tmp_path, mutate)
    code = main([*BASE, "--panel", str(path), *extra])
    err = capsys.readouterr().err
    assert code != 0
    assert message in err and "Traceback" not in err
    assert err.startswith("error:")


def test_unreadable_and_missing_files(tmp_path, capsys):
    garbage = tmp_path / "x.parquet"
    garbage.write_bytes(b"not parquet at all")
    assert main([*BASE, "--panel", str(garbage)]) != 0
    assert "could not read" in capsys.readouterr().err
    assert main([*BASE, "--panel", str(tmp_path / "missing.csv")]) != 0
    assert "does not exist" in capsys.readouterr().err


def test_unavailable_method_is_reported(tmp_path, capsys, monkeypatch):
    from pipelines.commands import estimate

    monkeypatch.setitem(estimate.METHODS, "twfe", ("estimators.not_a_module", "fit_twfe"))
    assert main([*BASE, "--panel", str(MPDTA), "--method", "twfe"]) != 0
    assert "not available" in capsys.readouterr().err


def test_estimates_run_with_one_blas_thread(tmp_path, monkeypatch):
    """Whatever OPENBLAS_NUM_THREADS says, the command's estimates use one BLAS thread, as
    the pipeline's model step does (estimators.blas); outside the call the limit is lifted."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from pipelines.commands import estimate

    seen = {}
    real = estimate.run_estimate

    def spy(args):
        seen["threads"] = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
        return real(args)

    monkeypatch.setattr(estimate, "run_estimate", spy)
    with threadpool_limits(limits=2, user_api="blas"):
        code, _ = run(tmp_path, "--method", "cs", "--control", "never")
        after = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    assert code == 0
    assert seen["threads"] == {1}
    assert after == {2}

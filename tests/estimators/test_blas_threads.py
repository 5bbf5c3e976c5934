"""`one_blas_thread`: inside the block every BLAS library of the process runs one thread
(the evaluation's many small solves are faster so; estimators/blas.py has the measurement),
after it the previous limits are back; the results document is built inside it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (loads scipy's own BLAS as well as numpy's)
from threadpoolctl import threadpool_info, threadpool_limits

from estimators.blas import one_blas_thread


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_one_thread_inside_and_the_previous_limits_after():
    with threadpool_limits(limits=2, user_api="blas"):  # as OpenBLAS starts on two cores
        assert _blas_threads() and set(_blas_threads()) == {2}
        with one_blas_thread():
            assert set(_blas_threads()) == {1}
            a = np.random.default_rng(0).standard_normal((200, 200))
            np.linalg.solve(a @ a.T + np.eye(200), np.ones(200))
        assert set(_blas_threads()) == {2}


def test_the_results_document_is_built_with_one_blas_thread(monkeypatch):
    import evaluation.run as run

    seen = []

    class Stop(Exception):
        pass

    def fake_evaluate(*args, **kwargs):  # the first thing build_document computes
        seen.append(_blas_threads())
        raise Stop

    monkeypatch.setattr(run, "evaluate", fake_evaluate)
    shape = {"grain": "month", "survey_grain": "quarter", "analysis_unit": "district"}
    with threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(Stop):
            run.build_document(None, None, run.EvaluationSettings(), shape=shape)
        assert set(_blas_threads()) == {2}  # back after the call, also when it raised
    assert seen and set(seen[0]) == {1}

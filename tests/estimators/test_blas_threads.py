"""`one_blas_thread`: inside the block every BLAS library of the process runs one thread
(the evaluation's many small solves are faster so; estimators/blas.py has the measurement),
after it the previous limits are back; the results document is built inside it."""

from __future__ import annotations

import numpy as np
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

    def fake_build(*args, **kwargs):
        seen.append(_blas_threads())
        return "built"

    monkeypatch.setattr(run, "_build_document", fake_build)
    with threadpool_limits(limits=2, user_api="blas"):
        assert run.build_document(None, None, None, shape={}) == "built"
    assert seen and set(seen[0]) == {1}

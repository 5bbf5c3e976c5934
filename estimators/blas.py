"""One BLAS thread for the evaluation's linear algebra, whatever the environment says.

Why: the evaluation solves many small and medium problems (a Poisson fit per jackknife
replicate, HonestDiD's linear programmes, the survey estimator's normal equations); OpenBLAS
then spends more time starting and spin-waiting its threads than computing. Measured on the
beat city's model step (300 districts x 240 months, 2 cores, issue 17): 80 s wall and 152
CPU-s with OpenBLAS's default of one thread per core, 44 s and 44 CPU-s with one thread. The
Makefile exports OPENBLAS_NUM_THREADS=1, but `engagement-eval run` started any other way (and
the steps of a run launched from the UI) did not get it; this sets the limit at run time, for
the duration of the block only (threadpoolctl), so it holds however the process was started.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS libraries loaded in this process use one thread inside the block."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield

"""One thread per math library, in the runner's kernels and in a reviewer's JupyterLab alike.

The study's matrices are small (thousands of rows, tens of columns): multithreaded BLAS and
OpenMP only add contention there, and the runner spreads work over processes instead.
Measured on the 2-core machine: notebook 03 of the test study took 53.7 s in a kernel with
the libraries' default threads and 19.2 s pinned to one (``bench/lab_kernel.py``).

The runner sets :data:`SINGLE_THREADED_BLAS` in the environment its kernels inherit. A kernel
started by JupyterLab does not have it, and its libraries are loaded before the first cell
runs (``%matplotlib inline`` imports numpy), so each notebook calls :func:`limit_threads`:
it limits the libraries already loaded (threadpoolctl) and sets the environment for the
processes the notebook starts.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits

#: Environment that keeps BLAS and OpenMP to one thread in a process started with it.
SINGLE_THREADED_BLAS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def limit_threads() -> None:
    """Limit this process's math libraries to one thread, now and in the processes it starts."""
    os.environ.update(SINGLE_THREADED_BLAS)
    threadpool_limits(limits=1)  # kept until the process ends (not used as a context)

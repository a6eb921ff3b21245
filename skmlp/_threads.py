"""BLAS threads chosen by the size of the work, not the size of the machine.

A BLAS library runs every matrix multiply on all the cores by default. For the
small networks of tabular data (a few dozen features, a hundred hidden units)
each multiply takes microseconds, less than handing it over to other threads
costs, and scipy's L-BFGS-B pays the same hand-off in its own small BLAS
calls. On a 2-core machine, one thread instead of two made L-BFGS on
``load_breast_cancer`` 14x faster and Adam on ``load_digits`` 1.3x faster
(quiet machine); on a busy one the threads lose many times more. Large
multiplies (MNIST) do gain from the threads, so they are left alone.

``blas_threads_for(units, batch_size)`` holds BLAS to one thread around a fit
whose largest layer multiplies fewer than :data:`SMALL_WORK` numbers per batch.
It never raises a limit and never overrides one: where a BLAS library already
runs fewer threads than the process has cores (``threadpoolctl``'s
``threadpool_limits``, ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``, a joblib
worker, which sets those variables) it does nothing. A BLAS whose own default
is below the number of cores (MKL counts physical cores only) is therefore
left alone too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

from threadpoolctl import ThreadpoolController

# Multiply-adds of the largest layer's forward matmul for one batch
# (batch_size * fan_in * fan_out) below which one BLAS thread is used.
# Measured on a 2-core machine: load_digits' default network (64-100-10,
# batch 200: 1.3M) and load_breast_cancer's with L-BFGS (569 x 30 x 100:
# 1.7M) are faster on one thread; MNIST's 784-128-10 at batch 128 (12.8M)
# gains from two on a quiet machine. benchmarks/bench_threads.py measures it.
SMALL_WORK = 4_000_000

_controller: ThreadpoolController | None = None


def _blas():
    """threadpoolctl's controller of the loaded BLAS libraries (made once)."""
    global _controller
    if _controller is None:
        # about 10 ms: it inspects every loaded shared library
        _controller = ThreadpoolController()
    return _controller.select(user_api="blas")


def _n_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def largest_layer_work(units: Sequence[int], batch_size: int) -> int:
    """Multiply-adds of the largest layer's matmul for one batch."""
    return batch_size * max(a * b for a, b in zip(units[:-1], units[1:]))


def blas_threads_for(
    units: Sequence[int], batch_size: int
) -> AbstractContextManager[object]:
    """A context manager that holds BLAS to one thread if the work is small.

    Parameters
    ----------
    units : sequence of int
        Layer sizes, input to output, e.g. ``[64, 100, 10]``.
    batch_size : int
        Rows per matrix multiply: the minibatch size, or the number of
        samples for a full-batch solver (L-BFGS).

    Returns
    -------
    context manager
        ``threadpoolctl``'s limiter (one BLAS thread) when the largest layer
        multiplies fewer than ``SMALL_WORK`` numbers per batch and no BLAS
        library already runs fewer threads than the process has cores;
        otherwise a context manager that does nothing.

    Examples
    --------
    >>> from skmlp._threads import blas_threads_for
    >>> with blas_threads_for([64, 100, 10], 200):
    ...     pass  # train here
    """
    if largest_layer_work(units, batch_size) >= SMALL_WORK:
        return nullcontext()
    blas = _blas()
    threads = [lib.num_threads for lib in blas.lib_controllers]
    # A library on fewer threads than there are cores was limited by someone
    # (or there is one core): nothing to gain, or a choice to keep.
    if not threads or min(threads) < _n_cores() or max(threads) <= 1:
        return nullcontext()
    return blas.limit(limits=1)

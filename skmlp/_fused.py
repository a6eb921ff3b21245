"""Fused update kernels (optional): one pass where NumPy takes six to twelve.

Every NumPy call in :mod:`skmlp._optimizers` is one pass over the flat
parameter vectors (535,818 numbers for 784-512-256-10): an SGD step with the
L2 term is 6 of them, an Adam step 12, and on one core they cost a third of
the matrix multiplies' time (benchmarks/bench_peers.py, issue 20). A compiled
loop reads each vector once and does all of a step's arithmetic per element.

The kernels here are those loops, compiled by numba (the ``fast`` extra:
``pip install "skmlp[fast]"``). They are **off by default**: the NumPy code of
:mod:`skmlp._optimizers` is the readable reference, and these only take its
place when the environment asks for them, ``SKMLP_KERNELS=numba``. Each
kernel does the operations of the NumPy step in the same order, in the
parameters' dtype, without fused multiply-adds (numba's default, no
``fastmath``), so the two give the same bits (tests/test_fused.py checks
it), and the L2 term ``alpha / sum(s) * W``, which the NumPy path adds into
the gradient, is added per element on the way (``decay``).

They run on one thread: the matrix multiplies already use every core
through BLAS, whose worker threads spin for a while after each multiply; a
second thread pool between them would compete with those, not help.
"""

from __future__ import annotations

import os

import numpy as np

ENV = "SKMLP_KERNELS"
CHOICES = ("numpy", "numba")

_kernels = None


def requested() -> str:
    """The kernels the environment asks for, checked (default ``"numpy"``)."""
    choice = os.environ.get(ENV, "numpy").strip().lower() or "numpy"
    if choice not in CHOICES:
        raise ValueError(
            f"{ENV}={os.environ[ENV]!r} is not one of {', '.join(CHOICES)}."
        )
    if choice == "numba":
        try:
            import numba  # noqa: F401
        except ImportError:
            raise ImportError(
                f"{ENV}=numba needs numba, which is not installed: "
                'pip install "skmlp[fast]" (or unset the variable)'
            ) from None
    return choice


def kernels():
    """The compiled kernels, compiled on first use (cached on disk by numba)."""
    global _kernels
    if _kernels is None:
        _kernels = _compile()
    return _kernels


def _compile():
    import numba

    # cache=True keeps the machine code next to this file for the next process
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @jit
    def sgd_nesterov(w, g, u, n_coef, decay, lr, mu, flush, tiny):  # pragma: no cover
        # the NumPy step (skmlp._optimizers.SGD.step), element by element;
        # u holds mu * v (see SGD's docstring)
        for i in range(w.shape[0]):
            gi = g[i]
            if i < n_coef:
                gi = gi + w[i] * decay  # grad += alpha / sum(s) * W
            si = gi * lr  # s = lr * g
            ui = (u[i] - si) * mu  # u = mu * (u - lr * g)
            w[i] = (w[i] + ui) - si  # w += mu * v - lr * g
            u[i] = ui
            if flush and abs(ui) < tiny:
                u[i] = 0  # (a store: ui itself keeps the dtype of u)

    @jit
    def sgd_classical(w, g, v, n_coef, decay, lr, mu, flush, tiny):  # pragma: no cover
        for i in range(w.shape[0]):
            gi = g[i]
            if i < n_coef:
                gi = gi + w[i] * decay
            si = gi * lr
            vi = v[i] * mu - si  # v = mu * v - lr * g
            w[i] = w[i] + vi  # w += v
            v[i] = vi
            if flush and abs(vi) < tiny:
                v[i] = 0

    @jit
    def adam(w, g, m, v, n_coef, decay, b1, b2, eps, step_size):  # pragma: no cover
        # the NumPy step (skmlp._optimizers.Adam.step), element by element
        for i in range(w.shape[0]):
            gi = g[i]
            if i < n_coef:
                gi = gi + w[i] * decay
            mi = m[i] * b1 + gi  # m = b1 m + g
            vi = v[i] * b2 + gi * gi  # v = b2 v + g^2
            m[i] = mi
            v[i] = vi
            si = np.sqrt(vi) + eps
            w[i] = w[i] - (mi / si) * step_size  # w -= step m / (sqrt(v) + eps')

    return {"sgd_nesterov": sgd_nesterov, "sgd_classical": sgd_classical, "adam": adam}


def scalar(value: float, like: np.ndarray):
    """``value`` in the dtype of ``like``: NumPy's float32 steps round there."""
    return like.dtype.type(value)

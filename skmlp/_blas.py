"""In-place vector updates through BLAS.

``y += a * x`` written in NumPy is two passes over memory and a temporary
(``a * x``, then the add); BLAS's axpy does it in one pass, in place. On the
parameter vector, updated after every batch, that is several times faster.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas

_AXPY = {np.dtype(np.float32): blas.saxpy, np.dtype(np.float64): blas.daxpy}


def axpy(a: float, x: np.ndarray, y: np.ndarray) -> None:
    """y += a * x, in place (x and y: contiguous 1-D arrays of one dtype)."""
    out = _AXPY[y.dtype](x, y, a=a)
    if out is not y:  # BLAS worked on a copy (a dtype or layout mismatch)
        raise ValueError(f"axpy could not update y in place ({x.dtype}, {y.dtype})")

"""Data handling shared by the estimators: dtype policy, splits, batches, chunks.

Nothing here knows about networks: these functions decide in which precision
a model trains, which rows validate it, and how the rows are cut into
minibatches (training) or chunks (prediction).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

from . import _array_api
from ._warnings import warn


def training_dtype(requested, X_dtype: np.dtype) -> np.dtype:
    """The dtype a model trains in, for the ``dtype`` parameter and X's dtype.

    ``"auto"`` trains in float32 when float32 holds X exactly (float32, bool,
    8- and 16-bit integers such as MNIST's pixels), float64 otherwise, the way
    scikit-learn's estimators follow their input's dtype.
    """
    if requested != "auto":
        return np.dtype(requested)
    exact_in_float32 = (
        X_dtype == np.float32
        or X_dtype.kind == "b"
        or (X_dtype.kind in "iu" and X_dtype.itemsize <= 2)
    )
    return np.dtype(np.float32 if exact_in_float32 else np.float64)


def as_training_dtype(X, dtype: np.dtype):
    """X in the training dtype, refusing values that dtype cannot hold.

    ``dtype`` is a NumPy dtype; an array API X is converted in its namespace.
    """
    if not _array_api.is_numpy(X):
        return _as_training_dtype_xp(X, dtype)
    converted = X.astype(dtype, copy=False)
    values = converted.data if sp.issparse(converted) else converted
    if values.size and X.dtype != dtype:
        if not (np.isfinite(values.max()) and np.isfinite(values.min())):
            raise ValueError(
                f"Input X contains values too large for {dtype} "
                f"(largest magnitude {np.finfo(dtype).max:.3g}): scale the data "
                "(e.g. StandardScaler) or use dtype='float64'."
            )
    return converted


def _as_training_dtype_xp(X, dtype: np.dtype):
    xp = _array_api.namespace(X)
    converted = xp.astype(X, _array_api.xp_dtype(xp, dtype), copy=False)
    if _array_api.numpy_dtype(X) != dtype and not _array_api.all_finite(converted):
        if _array_api.all_finite(X):  # finite before: the dtype cannot hold it
            raise ValueError(
                f"Input X contains values too large for {dtype} "
                f"(largest magnitude {np.finfo(dtype).max:.3g}): scale the data "
                "(e.g. StandardScaler) or use dtype='float64'."
            )
    return converted


def validation_split(
    y: np.ndarray,
    n_samples: int,
    fraction: float,
    seed: int,
    stratify: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Indices of the training and validation rows for early stopping.

    The split is drawn from ``seed``, which a model keeps for its lifetime:
    a warm-started fit on the same data validates on the same rows, so rows
    trained on in one call never become validation rows in the next.
    Returns ``(all rows, None)`` when the data is too small to hold out a
    validation set of two rows or more.
    """
    n_val = math.ceil(fraction * n_samples)
    # one validation row makes no score (R² is undefined on it, and an
    # accuracy of 0 or 1 says nothing): scikit-learn raises, skmlp falls back
    if n_val < 2 or n_samples - n_val < 1:
        return np.arange(n_samples), None
    labels = None
    if stratify and y.ndim == 1:
        _, counts = np.unique(y, return_counts=True)
        if counts.min() >= 2 and min(n_val, n_samples - n_val) >= len(counts):
            labels = y
    train_idx, val_idx = train_test_split(
        np.arange(n_samples),
        test_size=n_val,
        random_state=np.random.RandomState(seed),
        stratify=labels,
    )
    return np.sort(train_idx), np.sort(val_idx)


def batch_size_for(batch_size, n_samples: int) -> int:
    """``batch_size`` clipped to the data, as scikit-learn's MLP does."""
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warn(
            "Got `batch_size` less than 1 or larger than "
            "sample size. It is going to be clipped",
        )
    return min(batch_size, n_samples)


def minibatches(X, T, sample_weight, order, batch_size, contiguous, X_buffer):
    """Yield the ``(X, T, sample_weight)`` of each minibatch, rows in ``order``.

    With ``contiguous`` (no shuffling, every row trains) batches are plain
    slices of X: no copy. Otherwise each batch's rows are gathered into
    ``X_buffer`` (the network's input buffer) and a target buffer, both
    allocated once.
    """
    if not _array_api.is_numpy(X):
        yield from _minibatches_xp(X, T, sample_weight, order, batch_size, contiguous)
        return
    T_buffer = np.empty((batch_size, T.shape[1]), dtype=T.dtype)
    gather = not (contiguous or sp.issparse(X))  # else a view, or a sparse copy
    for start in range(0, len(order), batch_size):
        stop = min(start + batch_size, len(order))
        rows = slice(start, stop) if contiguous else order[start:stop]
        sw_b = None if sample_weight is None else sample_weight[rows]
        if not gather:
            yield X[rows], T[rows], sw_b
        else:
            # X.take is what np.take calls, without its two Python layers;
            # mode="clip" skips the bounds check's extra buffering: the
            # indices come from a permutation and are valid by construction
            n = stop - start
            X_b = X.take(rows, axis=0, out=X_buffer[:n], mode="clip")
            T_b = T.take(rows, axis=0, out=T_buffer[:n], mode="clip")
            yield X_b, T_b, sw_b


def _minibatches_xp(X, T, sample_weight, order, batch_size, contiguous):
    """:func:`minibatches` for an array API X: ``xp.take`` on X's device.

    The epoch's row order (drawn on the host by the model's RandomState)
    is moved to the device once; each batch is then gathered there.
    """
    xp, device = _array_api.namespace(X), _array_api.device(X)
    if not contiguous:
        order = _array_api.move(np.asarray(order, dtype=np.int64), xp, device)
    for start in range(0, order.shape[0], batch_size):
        stop = min(start + batch_size, order.shape[0])
        if contiguous:
            rows = slice(start, stop)
            X_b, T_b = X[rows, ...], T[rows, ...]
            sw_b = None if sample_weight is None else sample_weight[rows]
        else:
            rows = order[start:stop]
            X_b, T_b = xp.take(X, rows, axis=0), xp.take(T, rows, axis=0)
            sw_b = None if sample_weight is None else xp.take(sample_weight, rows)
        yield X_b, T_b, sw_b


def row_chunks(n_samples: int, units: list[int], itemsize: int) -> Iterator[slice]:
    """Slices of rows whose activations fit scikit-learn's ``working_memory``.

    ``sklearn.set_config(working_memory=...)`` (MiB, 1024 by default) bounds
    the activations of all layers of one chunk together.
    """
    row_bytes = sum(units) * itemsize
    chunk = get_chunk_n_rows(row_bytes, max_n_rows=n_samples)
    return gen_batches(n_samples, max(chunk, 1))

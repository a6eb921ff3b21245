"""Monte-Carlo dropout: the spread of a dropout network's predictions.

A network trained with dropout is, in training, a different thinned network
for every batch. Running the trained network again with random dropout masks
(rather than without masks, as ``predict`` does) and looking at how much its
predictions move gives a cheap estimate of how uncertain the model is about
them (Gal and Ghahramani, 2016, "Dropout as a Bayesian approximation").
:func:`dropout_std` does those passes, chunk by chunk like every prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_random_state

from . import _network
from ._data import as_training_dtype, row_chunks


def dropout_std(
    X,
    coefs: list[np.ndarray],
    intercepts: list[np.ndarray],
    activation,
    rates: list[float],
    n_passes: int,
    random_state,
    predictions: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Standard deviation of the predictions over ``n_passes`` dropout passes.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Validated input.
    coefs, intercepts : list of ndarray
        The fitted weights, all of one dtype.
    activation : Activation
        The hidden activation.
    rates : list of float
        The dropout rate of each hidden layer, as in training.
    n_passes : int >= 2
        Number of stochastic forward passes.
    random_state : int, RandomState instance or None
        Draws the masks; an int gives the same result at every call.
    predictions : callable
        ``predictions(Z)`` maps a chunk's output logits (overwriting them if
        it likes) to the point predictions, shape (n_chunk, n_outputs).

    Returns
    -------
    std : ndarray of shape (n_samples, n_outputs)
        The sample standard deviation (``ddof=1``) over the passes, in
        float64, computed with Welford's update, which loses no digits to
        cancellation when the spread is small next to the mean.
    """
    if not isinstance(n_passes, Integral) or isinstance(n_passes, bool):
        raise ValueError(f"n_passes must be an integer >= 2; got {n_passes!r}.")
    if n_passes < 2:
        raise ValueError(
            f"n_passes must be >= 2 (a standard deviation needs two passes); "
            f"got {n_passes}."
        )
    rng = check_random_state(random_state)
    dtype = coefs[0].dtype
    units = [coefs[0].shape[0]] + [len(b) for b in intercepts]
    hidden = units[1:-1]
    std = None
    for rows in row_chunks(X.shape[0], units, dtype.itemsize):
        X_chunk = as_training_dtype(X[rows], dtype)
        n = X_chunk.shape[0]
        buffers = [X_chunk] + [np.empty((n, u), dtype=dtype) for u in units[1:]]
        mean = m2 = None
        for k in range(1, n_passes + 1):
            masks = _network.draw_dropout_masks(rng, n, rates, hidden, dtype)
            Z = _network.forward(
                X_chunk, coefs, intercepts, activation, buffers, dropout_masks=masks
            )  # (n, units[-1]) logits of this thinned network
            y = np.asarray(predictions(Z), dtype=np.float64)  # (n, n_outputs)
            if mean is None:
                mean, m2 = y.copy(), np.zeros_like(y)
                continue
            change = y - mean  # Welford: running mean and sum of squares
            mean += change / k
            m2 += change * (y - mean)
        if std is None:
            std = np.empty((X.shape[0], mean.shape[1]))
        std[rows] = np.sqrt(m2 / (n_passes - 1))
    if std is None:  # no rows
        std = np.empty((0, 1))
    return std

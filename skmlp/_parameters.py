"""The flat parameter vector and the per-layer views of it.

Every weight and bias of a network lives in one flat vector (coefficients
first, then intercepts; see :func:`skmlp._network.split_parameters`), and the
public ``coefs_``/``intercepts_`` lists are views into it: an optimizer updates
all layers with a few whole-vector operations, and L-BFGS works on the vector
itself. Pickle does not keep views, and a user may replace a ``coefs_`` entry:
these functions rebuild the link.
"""

from __future__ import annotations

import numpy as np

from . import _network


def layer_units(coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> list[int]:
    """Layer sizes, input and output included, read off the weight shapes."""
    return [coefs[0].shape[0]] + [len(b) for b in intercepts]


def link(coefs, intercepts, dtype=None):
    """Pack ``coefs``/``intercepts`` into one vector; return it and views of it."""
    dtype = np.asarray(coefs[0]).dtype if dtype is None else dtype
    flat = np.concatenate(
        [np.ravel(W) for W in coefs] + [np.ravel(b) for b in intercepts]
    ).astype(dtype, copy=False)
    units = layer_units(coefs, intercepts)
    views = _network.split_parameters(flat, units)
    return flat, views[0], views[1]


def is_linked(flat, coefs, intercepts) -> bool:
    """Whether every array in ``coefs``/``intercepts`` is a view of ``flat``."""
    return flat is not None and all(a.base is flat for a in coefs + intercepts)

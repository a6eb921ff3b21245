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

from . import _array_api, _network
from ._array_api import NUMPY, namespace


def layer_units(coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> list[int]:
    """Layer sizes, input and output included, read off the weight shapes."""
    return [coefs[0].shape[0]] + [b.shape[0] for b in intercepts]


def link(coefs, intercepts, dtype=None):
    """Pack ``coefs``/``intercepts`` into one vector; return it and views of it.

    Arrays of an array API namespace (a model fitted on PyTorch, say) are
    packed in that namespace, on their device.
    """
    xp = namespace(coefs[0])
    if xp is not NUMPY:
        parts = [xp.reshape(a, (-1,)) for a in [*coefs, *intercepts]]
        flat = xp.concat(parts)
        if dtype is not None:
            flat = xp.astype(flat, dtype)
        views = _network.split_parameters(flat, layer_units(coefs, intercepts))
        return flat, views[0], views[1]
    dtype = np.asarray(coefs[0]).dtype if dtype is None else dtype
    flat = np.concatenate(
        [np.ravel(W) for W in coefs] + [np.ravel(b) for b in intercepts]
    ).astype(dtype, copy=False)
    units = layer_units(coefs, intercepts)
    views = _network.split_parameters(flat, units)
    return flat, views[0], views[1]


def is_linked(flat, coefs, intercepts) -> bool:
    """Whether every array in ``coefs``/``intercepts`` is a view of ``flat``."""
    if flat is None:
        return False
    if namespace(flat) is NUMPY:
        return all(a.base is flat for a in coefs + intercepts)
    return all(_array_api.shares_memory(a, flat) for a in coefs + intercepts)

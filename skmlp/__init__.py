"""skmlp: a NumPy multilayer perceptron, backprop by hand, scikit-learn API."""

from ._classifier import (
    DivergenceWarning,
    InconsistentVersionWarning,
    NumpyMLPClassifier,
)
from ._version import __version__
from .gradcheck import check_gradients

__all__ = [
    "DivergenceWarning",
    "InconsistentVersionWarning",
    "NumpyMLPClassifier",
    "__version__",
    "check_gradients",
]

"""skmlp: a NumPy multilayer perceptron, backprop by hand, scikit-learn API."""

from ._array_api import move_to
from ._base import TrainingInterrupted
from ._classifier import NumpyMLPClassifier
from ._regressor import NumpyMLPRegressor
from ._version import __version__
from ._warnings import DivergenceWarning, InconsistentVersionWarning
from .gradcheck import check_gradients

__all__ = [
    "DivergenceWarning",
    "InconsistentVersionWarning",
    "NumpyMLPClassifier",
    "NumpyMLPRegressor",
    "TrainingInterrupted",
    "__version__",
    "check_gradients",
    "move_to",
]

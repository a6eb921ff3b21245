"""NumpyMLPRegressor: continuous targets in, predictions out.

What is shared with the classifier is in :mod:`skmlp._base`; this module holds
what is particular to regression: the targets as columns, the loss (squared
error, or Poisson with a log link) and ``predict``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._base import BaseMLP, _has_stochastic_solver
from ._docs import fill


class _Targets:
    """Regression targets need no encoding: nothing to commit."""

    def __init__(self, estimator, dtype) -> None:
        self.estimator, self.dtype = estimator, dtype

    def commit(self) -> None:
        pass

    def encode_validation(self, y_val):
        return self.estimator._check_targets(y_val, self.dtype)

    def weigh(self, y, sample_weight):
        return sample_weight  # no class weights


@fill
class NumpyMLPRegressor(RegressorMixin, BaseMLP):
    """Multilayer perceptron regressor with hand-written backpropagation.

    A drop-in for scikit-learn's :class:`~sklearn.neural_network.MLPRegressor`
    (same parameters and fitted attributes; README lists every difference),
    built on the same base as :class:`~skmlp.NumpyMLPClassifier`.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        ``"squared_error"``: identity output, loss ``1/2 sum_k (p_k - t_k)^2``
        per sample (summed over the outputs, so that it is the loss whose
        gradient backpropagation computes; scikit-learn reports it divided by
        the number of outputs). ``"poisson"``: exponential output (log link),
        for counts and other non-negative targets, loss ``p - t log p`` plus
        the constant that makes it 0 at a perfect fit, as in scikit-learn.

    {shared parameters}

    scoring : None, "loss", str or callable, default=None
        What early stopping watches: None is R^2, ``"loss"`` the validation
        loss (``validation_scores_`` then holds minus it), or any
        scikit-learn scorer name or callable.

    Attributes
    ----------
    {shared attributes}
    history_ : dict of lists
        Per epoch: ``"loss"``, ``"val_loss"``, ``"val_r2"`` and
        ``"val_score"`` (with a validation set), ``"learning_rate"``,
        ``"time"``.
    n_outputs_ : int
        Number of outputs (targets).
    out_activation_ : str
        ``"identity"`` (squared error) or ``"exp"`` (Poisson).

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from skmlp import NumpyMLPRegressor
    >>> X, y = make_friedman1(n_samples=500, random_state=0)
    >>> reg = NumpyMLPRegressor(hidden_layer_sizes=(50,), solver="lbfgs")
    >>> reg.fit(X, y).score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }
    _y_numeric = True
    _stratify = False
    _default_score_key = "val_r2"

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        scoring=None,
        dtype="auto",
    ):
        self._shared_init(locals())

    @available_if(_has_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one pass over X, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : NumpyMLPRegressor
        """
        return self._fit(X, y, sample_weight, incremental=True)

    # ------------------------------------------------------------------
    # what BaseMLP asks of a subclass
    # ------------------------------------------------------------------

    def _check_partial_fit_classes(self, y, classes) -> None:
        pass

    def _check_targets(self, y, dtype):
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for "
                "Poisson regression."
            )
        T = np.asarray(y, dtype=dtype)
        return y, T.reshape(-1, 1) if T.ndim == 1 else T

    def _encode_targets(self, y, incremental, first_pass, classes, dtype):
        y, T = self._check_targets(y, dtype)
        return y, T, _Targets(self, dtype)

    def _weight_samples(self, y, sample_weight, dtype, targets):
        return sample_weight

    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _history_keys(self) -> list[str]:
        return ["loss", "val_loss", "val_r2", "val_score", "learning_rate", "time"]

    def _batch_score(self, P: np.ndarray, T: np.ndarray) -> float:
        return 0.0  # no per-batch training score is recorded for regression

    def _output_metrics(self, P, y, sample_weight) -> dict:
        y_pred = P.ravel() if np.ndim(y) == 1 else P
        return {"val_r2": float(r2_score(y, y_pred, sample_weight=sample_weight))}

    # ------------------------------------------------------------------
    # prediction
    # ------------------------------------------------------------------

    def predict(self, X):
        """Predict the targets of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self)
        y_pred = self._outputs(X)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

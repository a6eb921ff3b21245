"""NumpyMLPRegressor: continuous targets in, predictions out.

What is shared with the classifier is in :mod:`skmlp._base`; this module holds
what is particular to regression: the targets as columns, the choice of loss
(squared error, Poisson with a log link, absolute error, Huber, quantiles, or
your own; the losses themselves are in :mod:`skmlp._network` and
:mod:`skmlp._losses`), ``predict``, ``predict_quantiles`` and the
Monte-Carlo dropout spread of ``predict(X, return_std=True)``.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from . import _array_api
from ._activations import exp
from ._base import BaseMLP, _has_stochastic_solver
from ._docs import fill
from ._losses import (
    check_custom_loss,
    check_quantile,
    median_weights,
    noncrossing,
    regression_loss,
)
from ._mc_dropout import dropout_std

# The losses of MLPRegressor, whose outputs skmlp's canonical pairs cover
# (skmlp._network.CANONICAL_LOSSES), and whose early stopping scores R^2.
_CANONICAL = ("squared_error", "poisson")
LOSS_NAMES = frozenset({*_CANONICAL, "absolute_error", "huber", "quantile"})


class _Targets:
    """Regression targets need no encoding; the levels are committed on success."""

    def __init__(self, estimator, dtype, quantiles) -> None:
        self.estimator, self.dtype, self.quantiles = estimator, dtype, quantiles

    def commit(self) -> None:
        if self.quantiles is None:
            self.estimator.__dict__.pop("quantiles_", None)
        else:
            self.estimator.quantiles_ = self.quantiles

    def encode_validation(self, y_val):
        return self.estimator._check_targets(y_val, self.dtype, name="y_val")

    def weigh(self, y, sample_weight):
        return sample_weight  # no class weights in regression


def _predicts_quantiles(estimator) -> bool:
    """predict_quantiles is there for a quantile model (or one set up as such)."""
    if hasattr(estimator, "coefs_"):
        if not hasattr(estimator, "quantiles_"):
            raise AttributeError(
                "predict_quantiles is only available for a model fitted with "
                "loss='quantile'."
            )
    elif estimator.loss != "quantile":
        raise AttributeError(
            f"predict_quantiles is only available with loss='quantile' (this "
            f"model has loss={estimator.loss!r})."
        )
    return True


@fill
class NumpyMLPRegressor(RegressorMixin, BaseMLP):
    """Multilayer perceptron regressor with hand-written backpropagation.

    A drop-in for scikit-learn's :class:`~sklearn.neural_network.MLPRegressor`
    (same parameters and fitted attributes; README lists every difference),
    built on the same base as :class:`~skmlp.NumpyMLPClassifier`, with more
    losses: robust ones, quantiles for prediction intervals, your own.

    Parameters
    ----------
    loss : str or (callable, callable), default="squared_error"
        The loss, each with its output activation (``r = p - t``, the
        prediction minus the target; per sample, the mean over the outputs
        unless said otherwise; the derivations are in ``docs/backprop.md``):

        - ``"squared_error"``: identity output, ``r**2 / 2``. As in
          scikit-learn, ``loss_`` averages it over the outputs while the
          gradient is that of its sum over the outputs (the same training
          as ``MLPRegressor``).
        - ``"poisson"``: exponential output (log link), for counts and other
          non-negative targets, loss ``p - t log p`` plus the constant that
          makes it 0 at a perfect fit, summed over the outputs, as in
          scikit-learn.
        - ``"absolute_error"``: identity output, ``|r|``: predicts the
          conditional median, and is not pulled by outliers in y. At
          ``r = 0`` exactly, where ``|r|`` has no derivative, the
          subgradient 0 is used.
        - ``"huber"``: identity output, ``r**2 / 2`` for ``|r| <=
          huber_threshold``, ``huber_threshold * (|r| - huber_threshold /
          2)`` beyond: squared error for small residuals, absolute error for
          large ones.
        - ``"quantile"``: the pinball loss of each level in ``quantile``
          (``mean_pinball_loss``'s): identity output for one level; for
          several, non-crossing outputs (see ``quantile``).
        - ``(function, gradient)``: your own, identity output.
          ``function(y_true, y_pred)`` returns the loss of each entry (an
          array of ``y_pred``'s shape; a sample's loss is its mean over the
          outputs) and ``gradient(y_true, y_pred)`` its derivative with
          respect to ``y_pred``. Checked at fit time on a tiny array, the
          gradient against centered finite differences of the function.
          Pickles when both functions are importable (not lambdas).

    quantile : float or array-like of float, default=None
        The quantile level(s) of ``loss="quantile"`` (required then; ignored
        otherwise), each in (0, 1), several in increasing order. With several
        levels, one network predicts all of them, for each target; its
        outputs are built so that the quantiles never cross: the lowest
        level is an output, and each next one adds ``softplus`` of another
        output (a positive gap) to the one below. ``predict`` returns the
        median (see there), ``predict_quantiles`` every level. A gap that
        training drives towards 0 gets the small slope of ``softplus`` far
        left (``sigmoid(z)``), so where two levels want to cross, they can
        stay stuck together (L-BFGS then stops with the lower level too
        high); compare the fraction of training targets below each level
        with the level, and refit with another ``random_state`` if one is
        off.

    huber_threshold : float, default=1.0
        Where ``loss="huber"`` turns from quadratic to linear, in the units of
        y (``delta`` in the literature, in PyTorch and in Keras; the
        ``epsilon`` of ``SGDRegressor``, a name taken here by Adam). Scale y
        first (e.g. ``TransformedTargetRegressor`` with ``RobustScaler``), or
        choose it in y's units: residuals below it count as squared error.

    {shared parameters}

    scoring : None, "loss", str or callable, default=None
        What early stopping watches: None is R^2 for ``"squared_error"`` and
        ``"poisson"`` (as in scikit-learn) and minus the validation loss for
        every other loss (R^2 measures squared error, not what those losses
        ask for: the pinball loss is the score of a quantile, the absolute
        error that of a median); ``"loss"`` the validation loss
        (``validation_scores_`` then holds minus it), or any scikit-learn
        scorer name or callable.

    Attributes
    ----------
    {shared attributes}
    history_ : dict of lists
        Per epoch: ``"loss"``, ``"val_loss"``, ``"val_r2"`` (R^2 of
        ``predict``) and ``"val_score"`` (with a validation set),
        ``"learning_rate"``, ``"time"``.
    n_outputs_ : int
        Number of outputs (targets, columns of y); with several quantile
        levels, the output layer has ``n_outputs_ * len(quantiles_)`` units.
    out_activation_ : str
        ``"identity"``, ``"exp"`` (Poisson) or ``"noncrossing"`` (several
        quantile levels).
    quantiles_ : ndarray of shape (n_quantiles,)
        The quantile levels the model was fitted with (``loss="quantile"``
        only).

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from skmlp import NumpyMLPRegressor
    >>> X, y = make_friedman1(n_samples=500, random_state=0)
    >>> reg = NumpyMLPRegressor(hidden_layer_sizes=(50,), solver="lbfgs")
    >>> reg.fit(X, y).score(X, y) > 0.9
    True
    >>> q = NumpyMLPRegressor(
    ...     loss="quantile", quantile=[0.05, 0.5, 0.95], solver="lbfgs",
    ...     random_state=0,
    ... ).fit(X, y)
    >>> bands = q.predict_quantiles(X)  # (500, 3), in the order of the levels
    >>> bool((bands[:, 0] <= bands[:, 1]).all() and (bands[:, 1] <= bands[:, 2]).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions(set(LOSS_NAMES)), tuple],
        "quantile": [None, Interval(Real, 0, 1, closed="neither"), "array-like"],
        "huber_threshold": [Interval(Real, 0, None, closed="neither")],
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
        quantile=None,
        huber_threshold=1.0,
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
    # the loss
    # ------------------------------------------------------------------

    def _n_quantiles(self) -> int:
        """Output units per target: the number of quantile levels, else 1."""
        return len(check_quantile(self.quantile)) if self.loss == "quantile" else 1

    def _training_loss(self):
        if isinstance(self.loss, str) and self.loss in _CANONICAL:
            return self.out_activation_  # "identity" or "exp": a canonical pair
        return regression_loss(
            self.loss,
            quantile=self.quantile,
            huber_threshold=self.huber_threshold,
            n_targets=self.n_outputs_,
            dtype=self._params.dtype,
        )

    def _scores_r2(self) -> bool:
        return isinstance(self.loss, str) and self.loss in _CANONICAL

    def _validation_metrics(self, X, T, y, sample_weight, scorer=None) -> dict | None:
        metrics = super()._validation_metrics(X, T, y, sample_weight, scorer=scorer)
        if metrics is not None and self.scoring is None and not self._scores_r2():
            metrics["val_score"] = -metrics["val_loss"]  # higher is better
        return metrics

    def _score_name(self) -> str:
        if self.scoring is None and not self._scores_r2():
            return "score (minus the loss)"
        return super()._score_name()

    # ------------------------------------------------------------------
    # what BaseMLP asks of a subclass
    # ------------------------------------------------------------------

    def _check_partial_fit_classes(self, y, classes) -> None:
        pass

    def _check_targets(self, y, dtype, name: str = "y"):
        """y as numbers (float64) and T, the matrix the loss compares with.

        Strings that parse as numbers are converted (as ``Ridge`` does),
        anything else is refused; so are NaN (``None`` in an object array
        becomes NaN on conversion) and values the training dtype cannot hold.
        """
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name} must hold numbers (regression targets): {exc}"
            ) from exc
        if np.isnan(y).any():
            raise ValueError(f"Input {name} contains NaN.")
        if np.isinf(y).any():
            raise ValueError(
                f"Input {name} contains infinity or a value too large for "
                "dtype('float64')."
            )
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for "
                "Poisson regression."
            )
        with np.errstate(over="ignore"):  # refused just below
            T = y.astype(dtype)
        if not np.isfinite(T).all():
            raise ValueError(
                f"Input {name} contains values too large for {np.dtype(dtype)} "
                f"(largest magnitude {np.finfo(dtype).max:.3g}): scale y (e.g. "
                "TransformedTargetRegressor with StandardScaler) or use "
                "dtype='float64'."
            )
        T = T.reshape(-1, 1) if T.ndim == 1 else T
        n_quantiles = self._n_quantiles()
        if n_quantiles > 1:
            # each target once per level: column k * Q + j is target k, level j
            T = np.repeat(T, n_quantiles, axis=1)
        return y, T

    def _encode_targets(self, y, incremental, first_pass, classes, dtype):
        levels = check_quantile(self.quantile) if self.loss == "quantile" else None
        if not isinstance(self.loss, str):
            check_custom_loss(self.loss, dtype)
        if not first_pass:
            self._check_continuation(y)
        y, T = self._check_targets(y, dtype)
        return y, T, _Targets(self, dtype, levels)

    def _check_continuation(self, y) -> None:
        """A warm start or partial_fit keeps the network's outputs: refuse a
        loss that needs others."""
        needed, fitted = self._out_activation(), self.out_activation_
        if needed != fitted:
            raise ValueError(
                f"loss={self.loss!r} (quantile={self.quantile!r}) needs the "
                f"output activation {needed!r}, and the fitted network has "
                f"{fitted!r}; refit from scratch (warm_start=False) to change it."
            )
        n_targets = 1 if np.ndim(y) == 1 else np.shape(y)[1]
        if n_targets != self.n_outputs_:
            raise ValueError(
                f"y has {n_targets} outputs (columns) but the fitted network "
                f"predicts {self.n_outputs_}; refit from scratch "
                "(warm_start=False)."
            )

    def _initialize(self, units: list[int], dtype: np.dtype) -> None:
        super()._initialize(units, dtype)
        self.n_outputs_ = units[-1] // self._n_quantiles()  # targets, not units

    def _weight_samples(self, y, sample_weight, dtype, targets):
        return sample_weight

    def _out_activation(self) -> str:
        if self.loss == "poisson":
            return "exp"
        return "noncrossing" if self._n_quantiles() > 1 else "identity"

    def _history_keys(self) -> list[str]:
        return ["loss", "val_loss", "val_r2", "val_score", "learning_rate", "time"]

    def _batch_score(self, P: np.ndarray, T: np.ndarray) -> float:
        return 0.0  # no per-batch training score is recorded for regression

    def _output_metrics(self, P, y, sample_weight, T=None) -> dict:
        if not _array_api.is_numpy(P):
            # on the device: T holds y as columns (quantile losses are NumPy-only)
            return {"val_r2": float(r2_score(T, P, sample_weight=sample_weight))}
        y_pred = self._point(P)
        y_pred = y_pred.ravel() if np.ndim(y) == 1 else y_pred
        return {"val_r2": float(r2_score(y, y_pred, sample_weight=sample_weight))}

    # ------------------------------------------------------------------
    # prediction
    # ------------------------------------------------------------------

    def _point(self, P: np.ndarray) -> np.ndarray:
        """The point predictions (n, n_outputs_) in the outputs P (n, units[-1]).

        With several quantile levels: the median as :func:`median_weights`
        reads it off the levels; else P itself.
        """
        if self.out_activation_ != "noncrossing":
            return P
        i, j, w = median_weights(self.quantiles_)
        P = P.reshape(P.shape[0], self.n_outputs_, len(self.quantiles_))
        if w == 0:
            return P[:, :, i]
        return (1 - w) * P[:, :, i] + w * P[:, :, j]

    def _predictions(self, Z: np.ndarray) -> np.ndarray:
        """Output logits (n, units[-1]) -> point predictions (n, n_outputs_)."""
        if self.out_activation_ == "exp":
            exp(Z)
        elif self.out_activation_ == "noncrossing":
            noncrossing(Z, len(self.quantiles_))
        return self._point(Z)

    def predict(self, X, return_std=False, *, n_passes=100, random_state=0):
        """Predict the targets of X, and optionally their Monte-Carlo dropout spread.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the standard deviation of the prediction over
            ``n_passes`` forward passes with random dropout masks
            ("Monte-Carlo dropout", Gal and Ghahramani 2016): the same masks
            as in training (each hidden unit dropped with its layer's rate,
            the kept ones scaled by 1/(1-p)), drawn anew for every pass and
            every sample. Needs a model trained with ``dropout > 0``
            (ValueError otherwise).

            What it is: a measure of how much the thinned networks that
            training mixed disagree about X, larger where the data gave the
            weights little to agree on (far from the training inputs, sparse
            regions), and, under the assumptions of Gal and Ghahramani, an
            approximation of the spread of a Bayesian network's prediction
            (the model's own uncertainty, "epistemic").

            What it is not: the spread of y around the prediction. It leaves
            out the noise of the targets (an interval for y needs
            ``loss="quantile"``), it depends on the dropout rate chosen (and
            shrinks with it) rather than on the data alone, and nothing
            calibrates it: ``mean +- 2 std`` has no guaranteed coverage.
        n_passes : int, default=100
            Number of stochastic forward passes (at least 2) behind the
            standard deviation; its Monte-Carlo error shrinks as
            ``1 / sqrt(2 (n_passes - 1))`` relative to it. Each pass costs one
            ``predict``.
        random_state : int, RandomState instance or None, default=0
            Draws the masks: an int gives the same standard deviation at
            every call (for the same X, and the same
            ``sklearn.set_config(working_memory=...)``, which sets the chunks
            the rows are drawn in), None fresh ones each time. The model
            itself is not changed.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The prediction of the network without dropout masks. With
            several quantile levels, the median: the 0.5 level if fitted,
            else the linear interpolation at 0.5 between the two fitted
            levels on either side of it, else the level nearest to 0.5 (a
            single level predicts itself).
        y_std : ndarray of the shape of y
            Only with ``return_std=True``: the standard deviation (``ddof=1``)
            of the same prediction over the dropout passes.
        """
        check_is_fitted(self)
        X = self._validated(X, "predict")
        y = self._forward(X, finish=None)  # logits
        y = self._predictions(y)
        if self.n_outputs_ == 1:
            y = _array_api.ravel(y)
        if not return_std:
            return y
        if not _array_api.is_numpy(y):
            raise ValueError(
                "predict(X, return_std=True) (Monte-Carlo dropout) is NumPy-only: "
                "this model was fitted on an array API input. Move it to NumPy "
                "first (skmlp.move_to(model, numpy)) and pass NumPy X."
            )
        if getattr(self, "_dropout", None) is None:
            raise ValueError(
                "predict(X, return_std=True) estimates the spread of the "
                "prediction by Monte-Carlo dropout, so the model must be trained "
                f"with dropout > 0; this one was trained without (dropout="
                f"{self.dropout!r}). For an interval of y, see loss='quantile'."
            )
        dtype = np.asarray(self.coefs_[0]).dtype
        std = dropout_std(
            X,
            [np.asarray(W, dtype=dtype) for W in self.coefs_],
            [np.asarray(b, dtype=dtype) for b in self.intercepts_],
            self._activation_function(),
            self._dropout,
            n_passes,
            random_state,
            self._predictions,
        )
        return y, (std.ravel() if self.n_outputs_ == 1 else std)

    @available_if(_predicts_quantiles)
    def predict_quantiles(self, X):
        """Predict every quantile level of a ``loss="quantile"`` model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        quantiles : ndarray of shape (n_samples, n_quantiles) or \
(n_samples, n_outputs, n_quantiles)
            The prediction at each level of ``quantiles_``, in that order
            (the second shape for several targets). With several levels, each
            row is non-decreasing along the levels, by construction of the
            outputs; ``quantiles[:, 0]`` and ``quantiles[:, -1]`` bound the
            prediction interval of the outer levels.
        """
        check_is_fitted(self)
        X = self._validated(X, "predict_quantiles")
        Z = self._forward(X)  # (n, n_outputs_ * Q) logits
        n_quantiles = len(self.quantiles_)
        if n_quantiles > 1:
            noncrossing(Z, n_quantiles)
        Z = Z.reshape(Z.shape[0], self.n_outputs_, n_quantiles)
        return Z[:, 0, :] if self.n_outputs_ == 1 else Z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

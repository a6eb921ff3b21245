"""NumpyMLPClassifier: class labels in, probabilities out.

What is shared with the regressor (validation, training, prediction in
chunks, persistence) is in :mod:`skmlp._base`; this module holds what is
particular to classification: encoding the labels, class weights, the output
activation (softmax or logistic) and the predict methods.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit, log_softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._base import BaseMLP, _has_stochastic_solver
from ._docs import fill


class _Labels:
    """The label encoding of one fit call, applied to the model on commit."""

    def __init__(self, estimator, binarizer: LabelBinarizer, new: bool, dtype) -> None:
        self.estimator, self.binarizer, self.new = estimator, binarizer, new
        self.dtype = dtype

    def commit(self) -> None:
        if self.new:
            self.estimator._label_binarizer = self.binarizer
            self.estimator.classes_ = self.binarizer.classes_

    def encode_validation(self, y_val):
        check_classification_targets(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        unseen = np.setdiff1d(unique_labels(y_val), self.binarizer.classes_)
        if len(unseen) and self.binarizer.y_type_ != "multilabel-indicator":
            raise ValueError(
                f"y_val has labels not seen in y: {unseen}. Every validation "
                f"label must be one of {self.binarizer.classes_}."
            )
        return y_val, self.binarizer.transform(y_val).astype(self.dtype)


def _new_binarizer(y) -> LabelBinarizer:
    binarizer = LabelBinarizer().fit(y)
    if binarizer.y_type_ != "multilabel-indicator" and len(binarizer.classes_) < 2:
        raise ValueError(
            "The number of classes has to be greater than one; got "
            f"{len(binarizer.classes_)} class"
        )
    return binarizer


@fill
class NumpyMLPClassifier(ClassifierMixin, BaseMLP):
    """Multilayer perceptron classifier with hand-written backpropagation.

    A drop-in for scikit-learn's :class:`~sklearn.neural_network.MLPClassifier`:
    the parameters and fitted attributes they share have the same names and
    meanings (README lists every difference). The forward and backward passes
    are plain NumPy, written to be read (see :mod:`skmlp._network`).

    Parameters
    ----------
    {shared parameters}

    class_weight : dict, list of dict, "balanced" or None, default=None
        Weights of the classes (not in scikit-learn's MLP), as in
        :class:`~sklearn.linear_model.LogisticRegression`: each sample's
        weight is multiplied by its class's (so a dict is the same as the
        matching ``sample_weight``, and combines with a given one by
        product). ``"balanced"`` weighs classes by ``n_samples / (n_classes
        * count)``. For multilabel targets, ``"balanced"`` or a list of one
        dict per label: a sample's weight is the product of its weights over
        the labels (scikit-learn's ``compute_sample_weight`` convention).

    scoring : None, "loss", str or callable, default=None
        What early stopping watches on the validation set (not in
        scikit-learn's MLP): None is the accuracy, ``"loss"`` the validation
        loss (``validation_scores_`` then holds minus the loss: higher is
        better), or any scikit-learn scorer name or callable
        ``scorer(estimator, X, y)``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    {shared attributes}
    history_ : dict of lists
        Per-epoch record, more than scikit-learn keeps: ``"loss"``,
        ``"accuracy"`` (training accuracy on the batches as they were
        trained), ``"val_loss"``, ``"val_accuracy"`` and ``"val_score"``
        (with a validation set, else empty), ``"learning_rate"`` (NaN for
        lbfgs) and ``"time"`` (seconds since the start of the first fit call
        recorded in the history).
    out_activation_ : str
        ``"softmax"`` (multiclass) or ``"logistic"`` (binary, multilabel).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skmlp import NumpyMLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = NumpyMLPClassifier(max_iter=50, random_state=0).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.95
    True
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "class_weight": [dict, list, StrOptions({"balanced"}), None],
    }
    _y_numeric = False
    _stratify = True
    _default_score_key = "val_accuracy"

    def __init__(
        self,
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
        class_weight=None,
        dropout=0.0,
        scoring=None,
        dtype="auto",
    ):
        self._shared_init(locals())

    @available_if(_has_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one pass over X, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a label indicator matrix.
        classes : array-like of shape (n_classes,), default=None
            Every class that can appear in any call; required on the first
            call (not for multilabel targets); a later call may repeat it but
            not change it.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : NumpyMLPClassifier
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    # ------------------------------------------------------------------
    # what BaseMLP asks of a subclass
    # ------------------------------------------------------------------

    def _check_partial_fit_classes(self, y, classes) -> None:
        # raises if classes is missing on the first call, or differs later
        if type_of_target(y).startswith("multilabel") and classes is None:
            return
        _check_partial_fit_first_call(self, classes)

    def _encode_targets(self, y, incremental, first_pass, classes, dtype):
        check_classification_targets(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # DataConversionWarning, as sklearn
        if hasattr(self, "_label_binarizer") and not first_pass:
            binarizer, new = self._label_binarizer, False
            labels = unique_labels(y)
            if self.warm_start and not incremental:
                if set(labels) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {labels}"
                    )
            elif len(np.setdiff1d(labels, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {labels}."
                )
        elif incremental and classes is not None:
            binarizer, new = _new_binarizer(np.asarray(classes)), True
        else:
            binarizer, new = _new_binarizer(y), True
        T = binarizer.transform(y).astype(dtype)
        return y, T, _Labels(self, binarizer, new, dtype)

    def _weight_samples(self, y, sample_weight, dtype, labels):
        if self.class_weight is None:
            return sample_weight
        # For multilabel targets ("balanced", or one dict per label) a
        # sample's weight is the product of its weights over the labels, as
        # scikit-learn's compute_sample_weight defines for multi-output y.
        class_weights = compute_sample_weight(self.class_weight, y).astype(dtype)
        if sample_weight is None:
            return class_weights
        return sample_weight * class_weights

    def _out_activation(self) -> str:
        multiclass = self._label_binarizer.y_type_ == "multiclass"
        return "softmax" if multiclass else "logistic"

    def _history_keys(self) -> list[str]:
        return [
            "loss",
            "accuracy",
            "val_loss",
            "val_accuracy",
            "val_score",
            "learning_rate",
            "time",
        ]

    def _batch_score(self, P: np.ndarray, T: np.ndarray) -> float:
        """Number of rows of P whose prediction matches the targets T."""
        if self.out_activation_ == "softmax":
            return float((P.argmax(axis=1) == T.argmax(axis=1)).sum())
        # binary or multilabel: every output thresholded at 0.5
        return float(((P > 0.5) == (T > 0.5)).all(axis=1).sum())

    def _output_metrics(self, P, y, sample_weight) -> dict:
        y_pred = self._label_binarizer.inverse_transform(P, threshold=0.5)
        return {
            "val_accuracy": float(
                accuracy_score(y, y_pred, sample_weight=sample_weight)
            )
        }

    # ------------------------------------------------------------------
    # prediction
    # ------------------------------------------------------------------

    def predict_proba(self, X):
        """Probability of each class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``. For multilabel problems,
            the probability of each label, independently.
        """
        check_is_fitted(self)
        P = self._outputs(X)
        if self.out_activation_ == "logistic":
            # strictly inside (0, 1), even where float32 rounds expit to 1
            eps = np.finfo(P.dtype).eps
            np.clip(P, eps, 1 - eps, out=P)
        else:
            # never exactly 0, so that log(predict_proba) stays finite
            np.maximum(P, np.finfo(P.dtype).tiny, out=P)
        if self.n_outputs_ == 1:  # binary: P is the probability of classes_[1]
            return np.hstack([1 - P, P])
        return P

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed from the logits.

        Computed as log-softmax (or log-sigmoid) of the output layer's
        pre-activations, so that it stays finite where a probability rounds
        to 0, within the same bounds as :meth:`predict_proba` (no probability
        below the smallest normal float, nor, for logistic outputs, closer to
        0 or 1 than the float's epsilon).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        Z = self._outputs(X, apply_output=False)
        if self.out_activation_ == "softmax":
            # bounded below like predict_proba, so log(predict_proba) agrees
            log_p = log_softmax(Z, axis=1)
            return np.maximum(log_p, np.log(np.finfo(log_p.dtype).tiny), out=log_p)
        log_p = log_expit(Z)
        if self.n_outputs_ == 1:  # log(1 - sigmoid(z)) = log_sigmoid(-z)
            log_p = np.hstack([log_expit(-Z), log_p])
        # the same bounds as predict_proba's, so log(predict_proba) agrees
        eps = np.finfo(log_p.dtype).eps
        return np.clip(log_p, np.log(eps), np.log1p(-eps), out=log_p)

    def predict(self, X):
        """Predict class labels (or label indicators, for multilabel).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        check_is_fitted(self)
        P = self._outputs(X)
        return self._label_binarizer.inverse_transform(P, threshold=0.5)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

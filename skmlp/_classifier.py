"""NumpyMLPClassifier: class labels in, probabilities out.

What is shared with the regressor (validation, training, prediction in
chunks, persistence) is in :mod:`skmlp._base`; this module holds what is
particular to classification: encoding the labels, class weights, the output
activation (softmax or logistic) and the predict methods.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from scipy.special import log_expit, log_softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import check_is_fitted, column_or_1d

from . import _array_api
from ._base import BaseMLP, _has_stochastic_solver
from ._docs import fill


class _Labels:
    """The label encoding of one fit call, applied to the model on commit.

    It also keeps the weight of each class (``class_weight`` resolved on the
    training rows), so that a validation set is weighed like the training
    set: one criterion for early stopping, whether the validation rows are
    split off X or given as ``X_val``.
    """

    def __init__(self, estimator, binarizer: LabelBinarizer, new: bool, dtype) -> None:
        self.estimator, self.binarizer, self.new = estimator, binarizer, new
        self.dtype = dtype
        self.class_weights = None  # see _class_weights

    def commit(self) -> None:
        if self.new:
            self.estimator._label_binarizer = self.binarizer
            self.estimator.classes_ = self.binarizer.classes_

    def encode_validation(self, y_val):
        check_classification_targets(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        multilabel = self.binarizer.y_type_ == "multilabel-indicator"
        if multilabel != type_of_target(y_val).startswith("multilabel"):
            raise ValueError(
                "y_val must be of the same kind as y: y is "
                f"{'a label indicator matrix' if multilabel else 'a column of labels'}"
                f", y_val is {type_of_target(y_val)!r}."
            )
        if multilabel and y_val.shape[1] != len(self.binarizer.classes_):
            raise ValueError(
                f"y_val has {y_val.shape[1]} labels (columns) but y has "
                f"{len(self.binarizer.classes_)}."
            )
        unseen = np.setdiff1d(unique_labels(y_val), self.binarizer.classes_)
        if len(unseen) and not multilabel:
            raise ValueError(
                f"y_val has labels not seen in y: {unseen}. Every validation "
                f"label must be one of {self.binarizer.classes_}."
            )
        return y_val, self.binarizer.transform(y_val).astype(self.dtype)

    def weigh(self, y, sample_weight):
        """Each row's weight: its sample weight times its class weight."""
        if self.class_weights is None:
            return sample_weight
        w = _row_class_weights(self.class_weights, y, self.binarizer).astype(self.dtype)
        return w if sample_weight is None else sample_weight * w


def _new_binarizer(y) -> LabelBinarizer:
    # a single class is fitted, as MLPClassifier does: it predicts that class
    return LabelBinarizer().fit(y)


_POSITIONAL_HINT = (
    "The third positional argument of partial_fit is classes, as in "
    "SGDClassifier: pass sample weights as sample_weight=."
)


def _first_partial_fit_binarizer(y, classes) -> LabelBinarizer:
    """The encoding of the first ``partial_fit(X, y, classes)`` call.

    ``classes`` is the third positional argument here, as in SGDClassifier
    and scikit-learn < 1.9 (1.9's MLPClassifier puts ``sample_weight``
    third). Sample weights passed there by mistake would be taken for
    classes, so y's labels are checked against them, and repeated values
    (which no list of classes has, and weights usually do) are refused.
    """
    classes = np.asarray(classes)
    if type_of_target(y).startswith("multilabel"):
        binarizer = LabelBinarizer().fit(y)  # the labels are y's columns
        if not np.array_equal(np.sort(classes.ravel()), binarizer.classes_):
            raise ValueError(
                "For a label indicator y, classes must be its column indices "
                f"{binarizer.classes_.tolist()}; got classes={classes.tolist()}."
            )
        return binarizer
    if classes.ndim != 1 or len(np.unique(classes)) != len(classes):
        raise ValueError(
            "classes must list each class once; got repeated values (of "
            f"{len(classes)} values, {len(np.unique(classes))} distinct). "
            + _POSITIONAL_HINT
        )
    labels = unique_labels(y)
    unknown = np.setdiff1d(labels, classes)
    if len(unknown):
        raise ValueError(
            f"`y` has classes not in `classes`: {unknown}. `classes` has "
            f"{classes}. 'y' has {labels}."
        )
    return LabelBinarizer().fit(classes)


def _weighted_counts(y_column: np.ndarray, classes, sample_weight) -> np.ndarray:
    """Total sample weight of each of ``classes`` in one column of labels."""
    index = np.searchsorted(classes, y_column)
    weights = None if sample_weight is None else sample_weight.astype(np.float64)
    return np.bincount(index, weights=weights, minlength=len(classes))


def _class_weights(class_weight, y, binarizer, sample_weight) -> list[np.ndarray]:
    """``class_weight`` as one array of class weights per output column.

    A column of labels (binary, multiclass) gives one array over
    ``classes_``; a label indicator matrix one array over (0, 1) per label.
    ``"balanced"`` weighs class c by ``W / (n_classes * W_c)``, W_c the total
    sample weight of its rows (their count without sample weights), as
    scikit-learn 1.9's ``compute_class_weight`` does: so a sample of weight 2
    counts as the same sample twice. A class whose rows all weigh 0 gets 0.
    """
    multilabel = binarizer.y_type_ == "multilabel-indicator"
    columns = [y[:, k] for k in range(y.shape[1])] if multilabel else [y]
    dicts = class_weight if isinstance(class_weight, list) else [class_weight]
    if class_weight != "balanced" and len(dicts) != len(columns):
        raise ValueError(
            "For multi-output, number of elements in class_weight should match "
            f"number of outputs: got {len(dicts)} for {len(columns)} outputs."
            if multilabel
            else "class_weight must be a dict or 'balanced' for a column of "
            f"labels, got a list of {len(dicts)}."
        )
    tables = []
    for k, column in enumerate(columns):
        classes = np.array([0, 1]) if multilabel else binarizer.classes_
        if class_weight == "balanced":
            counts = _weighted_counts(column, classes, sample_weight)
            present = np.count_nonzero(_weighted_counts(column, classes, None))
            with np.errstate(divide="ignore"):
                table = np.where(counts > 0, counts.sum() / (present * counts), 0.0)
        else:
            table = compute_class_weight(dicts[k], classes=classes, y=column)
        tables.append(np.asarray(table, dtype=np.float64))
    return tables


def _row_class_weights(tables, y, binarizer) -> np.ndarray:
    """Each row's class weight; for labels, the product over the labels."""
    if binarizer.y_type_ == "multilabel-indicator":
        w = np.ones(y.shape[0])
        for k, table in enumerate(tables):
            w *= table[np.asarray(y[:, k], dtype=np.intp)]
        return w
    return tables[0][np.searchsorted(binarizer.classes_, y)]


def _check_class_weight_values(class_weight) -> None:
    """Refuse class weights that make no objective: negative, NaN, infinite."""
    dicts = class_weight if isinstance(class_weight, list) else [class_weight]
    for d in dicts:
        if not isinstance(d, dict):
            raise ValueError(
                "class_weight must be a dict, a list of dicts (one per label), "
                f"'balanced' or None; got {class_weight!r}."
            )
        for label, value in d.items():
            if not isinstance(value, Real) or not (np.isfinite(value) and value >= 0):
                raise ValueError(
                    "class_weight values must be finite and non-negative: got "
                    f"{value!r} for class {label!r}."
                )


def xp_int(xp, classes):
    """The integer dtype of ``xp`` for a label indicator matrix's values."""
    integer = classes.dtype if classes.dtype.kind in "iu" else np.dtype(np.int64)
    return getattr(xp, integer.name)


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
        product). ``"balanced"`` weighs classes by ``W / (n_classes * W_c)``,
        with ``W_c`` the total sample weight of class c (its count without
        sample weights) and ``W`` that of all samples. For multilabel
        targets, ``"balanced"`` or a list of one dict per label: a sample's
        weight is the product of its weights over the labels (scikit-learn's
        ``compute_sample_weight`` convention). Validation samples are
        weighed by the same class weights. In :meth:`partial_fit`,
        ``"balanced"`` is computed from each call's samples; a dict keeps
        the same weights from call to call.

    scoring : None, "loss", str or callable, default=None
        What early stopping watches on the validation set (not in
        scikit-learn's MLP): None is the accuracy, ``"loss"`` the validation
        loss (``validation_scores_`` then holds minus the loss: higher is
        better), or any scikit-learn scorer name or callable
        ``scorer(estimator, X, y)``. Validation sample weights are passed
        to a scorer that takes ``sample_weight``, and only to one that does.

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
            Every class that can appear in any call, each once; required on
            the first call (not for multilabel targets, where it may give
            the column indices); a later call may repeat it but not change
            it. It is the third positional argument, as in
            :class:`~sklearn.linear_model.SGDClassifier` (scikit-learn 1.9's
            ``MLPClassifier`` puts ``sample_weight`` third): weights passed
            there by mistake are refused, since y's labels are checked
            against ``classes``.
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
        if classes is not None:
            try:
                unique_labels(classes)
            except ValueError as error:
                raise ValueError(
                    f"classes are not class labels: {error} {_POSITIONAL_HINT}"
                ) from None
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
            binarizer, new = _first_partial_fit_binarizer(y, classes), True
        else:
            binarizer, new = _new_binarizer(y), True
        T = binarizer.transform(y).astype(dtype)
        return y, T, _Labels(self, binarizer, new, dtype)

    def _weight_samples(self, y, sample_weight, dtype, labels):
        if self.class_weight is None:
            return sample_weight
        if self.class_weight != "balanced":
            _check_class_weight_values(self.class_weight)
        labels.class_weights = _class_weights(
            self.class_weight, y, labels.binarizer, sample_weight
        )
        weighted = labels.weigh(y, sample_weight)
        if not weighted.any():
            raise ValueError(
                "class_weight and sample_weight leave every sample with weight 0: "
                "there is nothing to train on."
            )
        return weighted

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
        if not _array_api.is_numpy(P):
            return _array_api.total(self._hits(P, T))
        if self.out_activation_ == "softmax":
            # T is one-hot: a row is right where T holds its 1 at P's argmax
            # (twice as fast as comparing with T's own argmax)
            n, k = P.shape
            return float(
                T.reshape(-1).take(P.argmax(axis=1) + np.arange(0, n * k, k)).sum()
            )
        # binary or multilabel: every output thresholded at 0.5
        return float(((P > 0.5) == (T > 0.5)).all(axis=1).sum())

    def _hits(self, P, T):
        """1.0 where a row's prediction matches its targets, else 0.0 (array API)."""
        xp = _array_api.namespace(P)
        if len(self.classes_) == 1:  # one class: always predicted, always right
            return xp.ones((P.shape[0],), dtype=P.dtype, device=_array_api.device(P))
        if self.out_activation_ == "softmax":
            hits = xp.argmax(P, axis=1) == xp.argmax(T, axis=1)
        else:
            hits = xp.all((P > 0.5) == (T > 0.5), axis=1)
        return xp.astype(hits, P.dtype)

    def _output_metrics(self, P, y, sample_weight, T=None) -> dict:
        if not _array_api.is_numpy(P):  # on the device, from the targets T
            hits = self._hits(P, T)
            if sample_weight is None:
                return {"val_accuracy": _array_api.total(hits) / P.shape[0]}
            weighted = float(hits @ sample_weight) / _array_api.total(sample_weight)
            return {"val_accuracy": weighted}
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
            the probability of each label, independently. A model fitted on
            a single class gives that class probability 1 (one column).
        """
        check_is_fitted(self)
        P = self._outputs(X, method="predict_proba")
        if not _array_api.is_numpy(P):
            return self._probabilities_xp(P)
        if self.out_activation_ == "logistic":
            # strictly inside (0, 1), even where float32 rounds expit to 1
            eps = np.finfo(P.dtype).eps
            np.clip(P, eps, 1 - eps, out=P)
        else:
            # never exactly 0, so that log(predict_proba) stays finite
            np.maximum(P, np.finfo(P.dtype).tiny, out=P)
        if len(self.classes_) == 1:  # one class seen: it is certain
            return np.ones_like(P)
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
        Z = self._outputs(X, apply_output=False, method="predict_log_proba")
        if not _array_api.is_numpy(Z):
            return self._log_probabilities_xp(Z)
        if self.out_activation_ == "softmax":
            # bounded below like predict_proba, so log(predict_proba) agrees
            log_p = log_softmax(Z, axis=1)
            return np.maximum(log_p, np.log(np.finfo(log_p.dtype).tiny), out=log_p)
        if len(self.classes_) == 1:  # as predict_proba: probability 1
            return np.zeros_like(Z)
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
        P = self._outputs(X, method="predict")
        if not _array_api.is_numpy(P):
            return self._labels_xp(P)
        return self._label_binarizer.inverse_transform(P, threshold=0.5)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on X and y, as :class:`~sklearn.base.ClassifierMixin`'s.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            Counted on the host in float64 whatever the namespace of X:
            scikit-learn's ``accuracy_score`` would count PyTorch labels in
            PyTorch's default float32.
        """
        y_pred = self.predict(X)
        y, y_pred, sample_weight = (
            _array_api.to_numpy(a) for a in (y, y_pred, sample_weight)
        )
        return float(accuracy_score(y, y_pred, sample_weight=sample_weight))

    # --- the same, for a model fitted on an array API input ---------------

    def _probabilities_xp(self, P):
        """predict_proba's bounds and columns in P's namespace, on its device."""
        xp = _array_api.namespace(P)
        finfo = xp.finfo(P.dtype)
        if len(self.classes_) == 1:
            return xp.ones_like(P)
        if self.out_activation_ == "logistic":
            P = xp.clip(P, min=finfo.eps, max=1 - finfo.eps)
        else:
            P = xp.clip(P, min=finfo.smallest_normal)
        if self.n_outputs_ == 1:
            return xp.concat([1 - P, P], axis=1)
        return P

    def _log_probabilities_xp(self, Z):
        """predict_log_proba from the logits Z, in Z's namespace."""
        xp = _array_api.namespace(Z)
        finfo = xp.finfo(Z.dtype)
        if self.out_activation_ == "softmax":
            row_max = xp.max(Z, axis=1, keepdims=True)
            shifted = Z - row_max
            log_sum = xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
            return xp.clip(shifted - log_sum, min=math.log(finfo.smallest_normal))
        if len(self.classes_) == 1:
            return xp.zeros_like(Z)
        zero = xp.zeros_like(Z)
        log_p = -xp.logaddexp(zero, -Z)  # log sigmoid(z)
        if self.n_outputs_ == 1:  # log(1 - sigmoid(z)) = log sigmoid(-z)
            log_p = xp.concat([-xp.logaddexp(zero, Z), log_p], axis=1)
        low, high = math.log(finfo.eps), math.log1p(-finfo.eps)
        return xp.clip(log_p, min=low, max=high)

    def _labels_xp(self, P):
        """predict's labels: classes_ (on P's device when they are numbers)."""
        xp, device = _array_api.namespace(P), _array_api.device(P)
        classes = self.classes_
        if self.out_activation_ == "softmax":
            index = xp.argmax(P, axis=1)
        elif self._label_binarizer.y_type_ == "multilabel-indicator":
            return xp.astype(P > 0.5, xp_int(xp, classes))
        elif len(classes) == 1:
            index = xp.zeros((P.shape[0],), dtype=xp.int64, device=device)
        else:
            index = xp.astype(P[:, 0] > 0.5, xp.int64)
        if classes.dtype.kind not in "biuf":  # strings stay on the host
            return classes[_array_api.to_numpy(index)]
        return xp.take(_array_api.move(classes, xp, device), index)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

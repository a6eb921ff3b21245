"""NumpyMLPClassifier: validation, bookkeeping and the training loop.

The math (forward, loss, backward) is in :mod:`skmlp._network`, the update
rules in :mod:`skmlp._optimizers`; this module turns them into a
scikit-learn estimator.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_random_state,
    column_or_1d,
    validate_data,
)

from . import _network
from ._activations import OUTPUT_ACTIVATIONS
from ._callbacks import CALLBACK_ATTRIBUTES, CallbackSupportMixin, EpochTasks
from ._interrupt import deferred_keyboard_interrupt
from ._optimizers import SGD, Adam, minimize_lbfgs
from ._version import __version__


class DivergenceWarning(UserWarning):
    """Training stopped because the loss became infinite or NaN."""


class InconsistentVersionWarning(UserWarning):
    """A model pickled by another version of skmlp was loaded."""


class _EpochResult:
    """What one epoch's batches add up to."""

    def __init__(self) -> None:
        self.loss_sum = 0.0  # sum over batches of loss * batch weight
        self.weight_sum = 0.0
        self.n_correct = 0
        self.diverged_at: int | None = None  # index of the batch that overflowed


def _as_training_dtype(X, dtype: np.dtype):
    """X in the training dtype, refusing values that dtype cannot hold."""
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


def _has_stochastic_solver(estimator: NumpyMLPClassifier) -> bool:
    if estimator.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers. "
            "lbfgs is not stochastic."
        )
    return True


class NumpyMLPClassifier(CallbackSupportMixin, ClassifierMixin, BaseEstimator):
    """Multilayer perceptron classifier with hand-written backpropagation.

    A drop-in for scikit-learn's :class:`~sklearn.neural_network.MLPClassifier`:
    the parameters and fitted attributes they share have the same names and
    meanings. The forward and backward passes are plain NumPy, written to be
    read (see :mod:`skmlp._network`).

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,) or int, default=(100,)
        Number of units in each hidden layer. ``()`` gives no hidden layer
        (multinomial logistic regression).

    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the hidden layers.

    solver : {"sgd", "adam", "lbfgs"}, default="adam"
        ``"sgd"``: minibatch stochastic gradient descent with momentum;
        ``"adam"``: Adam; ``"lbfgs"``: full-batch L-BFGS (scipy's L-BFGS-B),
        often best on small data sets; no ``partial_fit``.

    alpha : float, default=1e-4
        Strength of the L2 penalty, ``alpha/2 * sum ||W||^2``, divided like the
        data loss by the sum of the sample weights (as in scikit-learn).

    batch_size : int or "auto", default="auto"
        Minibatch size for the stochastic solvers; ``"auto"`` is
        ``min(200, n_samples)``.

    learning_rate : {"constant", "invscaling", "adaptive", "cosine"}, default="constant"
        Learning-rate schedule of ``solver="sgd"``. ``"cosine"`` (not in
        scikit-learn) decays the rate from ``learning_rate_init`` to 0 over
        ``max_iter`` epochs, following half a cosine period.

    learning_rate_init : float, default=1e-3
        Initial learning rate (``"sgd"`` and ``"adam"``).

    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.

    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (lbfgs).

    shuffle : bool, default=True
        Whether to shuffle the samples at each epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling and the validation
        split. Every call to ``fit`` starts again from this seed.

    tol : float, default=1e-4
        Improvement (of the training loss, or of the validation accuracy with
        ``early_stopping``) below which an epoch counts as no progress.

    verbose : bool, default=False
        Print one line per epoch.

    warm_start : bool, default=False
        Whether ``fit`` continues from the current weights.

    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.

    nesterovs_momentum : bool, default=True
        Whether ``solver="sgd"`` uses Nesterov's momentum.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified),
        stop when its accuracy has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and keep the best weights seen. On data
        too small to hold anything out, the training loss is watched instead
        (with a warning). ``partial_fit`` ignores it: one call is one pass.

    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping.

    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's decay rates for the first and second moments, and its
        denominator's guard.

    n_iter_no_change : int, default=10
        Epochs without progress (see ``tol``) before stopping.

    max_fun : int, default=15000
        Maximum number of loss evaluations of ``solver="lbfgs"``.

    dtype : {"auto", "float32", "float64"}, default="auto"
        Precision of the weights and of the arithmetic (not in scikit-learn).
        float32 is what neural networks are trained in and about twice as
        fast on a CPU; float64 is for exact work (the gradient checks use it).
        ``"auto"`` follows X the way scikit-learn's estimators do: float32
        when float32 holds X exactly (float32, bool, 8- and 16-bit integers,
        such as MNIST's uint8 pixels), float64 otherwise. A float32 default
        for float64 data would be faster, but scikit-learn's sample-weight
        checks compare fits to a relative 1e-7, finer than float32 resolves;
        pass ``dtype="float32"`` (or float32 data) to train in float32.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen in ``fit``, when X had string column names.
    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix from layer i to layer i+1, shape
        ``(units[i], units[i+1])``. Writing into it changes the model.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` is the bias vector of layer i+1.
    loss_ : float
        Loss at the end of the last epoch (or of lbfgs).
    best_loss_ : float or None
        Lowest training loss reached; None with ``early_stopping``.
    loss_curve_ : list of float
        Training loss after each epoch (each lbfgs iteration).
    validation_scores_ : list of float or None
        Validation accuracy after each epoch with ``early_stopping``.
    best_validation_score_ : float or None
        Best validation accuracy with ``early_stopping``.
    history_ : dict of lists
        Per-epoch record, more than scikit-learn keeps: ``"loss"`` (training
        loss), ``"accuracy"`` (training accuracy on the batches as they were
        trained), ``"val_loss"`` and ``"val_accuracy"`` (with a validation
        split, else empty), ``"learning_rate"`` and ``"time"`` (seconds
        since the start of the first fit call recorded in the history).
    n_iter_ : int
        Number of epochs (iterations for lbfgs) run.
    t_ : int
        Number of training samples seen by the solver.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
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
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive", "cosine"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dtype": [
            StrOptions({"auto", "float32", "float64"}),
            Options(type, {np.float32, np.float64}),
        ],
    }

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
        dtype="auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype

    # ------------------------------------------------------------------
    # public API
    # ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a label indicator matrix for multilabel
            classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : NumpyMLPClassifier
        """
        return self._fit(X, y, sample_weight, incremental=False)

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
            call, ignored after. Not needed for multilabel targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : NumpyMLPClassifier
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

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
        P = self._forward_probabilities(X)
        if self.n_outputs_ == 1:  # binary: P is the probability of classes_[1]
            return np.hstack([1 - P, P])
        return P

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        P = self.predict_proba(X)
        return np.log(P, out=P)

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
        P = self._forward_probabilities(X)
        return self._label_binarizer.inverse_transform(P, threshold=0.5)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags

    # ------------------------------------------------------------------
    # persistence: coefs_ and intercepts_ are views into one flat vector,
    # and pickle does not keep views: rebuild the link after loading.
    # ------------------------------------------------------------------

    def __getstate__(self):
        # a copy: on Python 3.11+ object.__getstate__ returns the live __dict__
        state = dict(super().__getstate__())
        state.pop("_params", None)  # coefs_ and intercepts_ hold the same values
        state["_skmlp_version"] = __version__
        return state

    def __setstate__(self, state):
        version = state.pop("_skmlp_version", None)
        if version != __version__:
            warnings.warn(
                f"Trying to unpickle {type(self).__name__} from skmlp version "
                f"{version} when using version {__version__}. This might lead to "
                "breaking code or invalid results. Use at your own risk.",
                InconsistentVersionWarning,
                stacklevel=2,
            )
        super().__setstate__(state)
        if hasattr(self, "coefs_"):
            self._link_parameters()

    # ------------------------------------------------------------------
    # parameters
    # ------------------------------------------------------------------

    def _link_parameters(self) -> None:
        """Pack coefs_/intercepts_ into one flat vector and view them from it."""
        flat = np.concatenate(
            [np.ravel(W) for W in self.coefs_] + [np.ravel(b) for b in self.intercepts_]
        ).astype(self.coefs_[0].dtype, copy=False)
        units = self._units()
        self._params = flat
        self.coefs_, self.intercepts_ = _network.split_parameters(flat, units)

    def _parameters_linked(self) -> bool:
        params = getattr(self, "_params", None)
        return params is not None and all(
            a.base is params for a in self.coefs_ + self.intercepts_
        )

    def _units(self) -> list[int]:
        return [self.coefs_[0].shape[0]] + [len(b) for b in self.intercepts_]

    # ------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------

    def _hidden_layer_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if any(not isinstance(s, Integral) or s <= 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _training_dtype(self, X_dtype: np.dtype, first_pass: bool) -> np.dtype:
        if self.dtype == "auto":
            exact_in_float32 = (
                X_dtype == np.float32
                or X_dtype.kind == "b"
                or (X_dtype.kind in "iu" and X_dtype.itemsize <= 2)
            )
            dtype = np.dtype(np.float32 if exact_in_float32 else np.float64)
        else:
            dtype = np.dtype(self.dtype)
        if first_pass:
            return dtype
        fitted_dtype = self.coefs_[0].dtype
        if self.dtype != "auto" and dtype != fitted_dtype:
            raise ValueError(
                f"dtype={self.dtype!r} differs from the fitted weights' dtype "
                f"{fitted_dtype}; refit from scratch to change it."
            )
        return fitted_dtype  # training goes on in the precision it started in

    def _set_classes(self, y) -> None:
        binarizer = LabelBinarizer()
        binarizer.fit(y)
        if binarizer.y_type_ != "multilabel-indicator" and len(binarizer.classes_) < 2:
            raise ValueError(
                "The number of classes has to be greater than one; got "
                f"{len(binarizer.classes_)} class"
            )
        self._label_binarizer = binarizer
        self.classes_ = binarizer.classes_

    def _validate_targets(self, y, incremental: bool, first_pass: bool):
        check_classification_targets(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # DataConversionWarning, as sklearn
        if first_pass and not incremental:
            self._set_classes(y)
        else:
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
        return y

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------

    def _fit(self, X, y, sample_weight, incremental: bool, classes=None):
        # A call that fails leaves the model exactly as it was: weights,
        # optimizer state and attributes (a first call: not fitted at all).
        snapshot = self._snapshot()
        try:
            return self._fit_unguarded(X, y, sample_weight, incremental, classes)
        except BaseException:
            self._restore(snapshot)
            raise

    def _fit_unguarded(self, X, y, sample_weight, incremental, classes):
        X, y, T, sample_weight = self._prepare(
            X, y, sample_weight, incremental, classes
        )
        lbfgs = self.solver == "lbfgs"
        # subtasks: epochs, or lbfgs iterations plus the one scipy never runs
        n_tasks = self.max_iter + 1 if lbfgs else 1 if incremental else self.max_iter
        tasks = EpochTasks(self, X, y, sample_weight, n_tasks)
        try:
            if lbfgs:
                self._fit_lbfgs(X, T, sample_weight, tasks)
            else:
                self._fit_stochastic(X, y, T, sample_weight, incremental, tasks)
        finally:
            tasks.close()
        return self

    def _prepare(self, X, y, sample_weight, incremental, classes):
        """Validate the data and set up the network (new, or the current one).

        Returns X in the training dtype (CSR if sparse), y, the target matrix
        T (one-hot or indicator, training dtype) and the sample weights.
        """
        hidden = self._hidden_layer_sizes()
        if incremental and not hasattr(self, "classes_"):
            if type_of_target(y).startswith("multilabel"):
                self._set_classes(y)  # the labels are the columns of y
            elif _check_partial_fit_first_call(self, classes):
                self._set_classes(np.asarray(classes))
        fitted = hasattr(self, "coefs_")
        first_pass = not fitted or (not self.warm_start and not incremental)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype="numeric",
            reset=first_pass,
        )
        dtype = self._training_dtype(X.dtype, first_pass)
        X = _as_training_dtype(X, dtype)  # the one copy of X that fit makes
        if sp.issparse(X):
            X = X.tocsr()  # batches are rows
        y = self._validate_targets(y, incremental, first_pass)
        T = self._label_binarizer.transform(y).astype(dtype)
        if sample_weight is not None:
            # rejects a wrong length, negative values and all zeros
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=dtype, ensure_non_negative=True
            )
        units = [X.shape[1], *hidden, T.shape[1]]
        if first_pass:
            self._initialize(units, dtype)
        elif self._units() != units:
            raise ValueError(
                f"The network's layer sizes {self._units()} do not match "
                f"{units}, required by hidden_layer_sizes={self.hidden_layer_sizes}"
                " and the data; refit from scratch (warm_start=False)."
            )
        elif not self._parameters_linked():
            self._link_parameters()  # the user replaced a coefs_ entry
        return X, y, T, sample_weight

    def _snapshot(self) -> dict:
        # one deepcopy for all, so that objects shared between attributes
        # (classes_ and the label binarizer's) stay shared
        return copy.deepcopy(
            {k: v for k, v in self.__dict__.items() if k not in CALLBACK_ATTRIBUTES}
        )

    def _restore(self, snapshot: dict) -> None:
        live = {k: v for k, v in self.__dict__.items() if k in CALLBACK_ATTRIBUTES}
        self.__dict__.clear()
        self.__dict__.update(snapshot)
        self.__dict__.update(live)
        if hasattr(self, "coefs_"):
            self._link_parameters()

    def _initialize(self, units: list[int], dtype: np.dtype) -> None:
        # Every fit starts again from random_state (an int seeds a fresh
        # generator); the generator is kept for later partial_fit calls.
        if self.random_state is None:
            seed = np.random.randint(np.iinfo(np.int32).max)
            self._rng = np.random.RandomState(seed)
        else:
            self._rng = check_random_state(self.random_state)
        self._params = _network.glorot_uniform(units, self._rng, dtype)
        self.coefs_, self.intercepts_ = _network.split_parameters(self._params, units)
        self.n_layers_ = len(units)
        self.n_outputs_ = units[-1]
        self.out_activation_ = (
            "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"
        )
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.history_ = {
            key: []
            for key in (
                "loss",
                "accuracy",
                "val_loss",
                "val_accuracy",
                "learning_rate",
                "time",
            )
        }
        self._elapsed = 0.0
        self._no_improvement_count = 0
        self._optimizer = None
        if self.early_stopping and self.solver != "lbfgs":
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _make_optimizer(self):
        n, dtype = self._params.size, self._params.dtype
        if self.solver == "sgd":
            return SGD(
                n,
                dtype,
                self.learning_rate_init,
                schedule=self.learning_rate,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum,
                power_t=self.power_t,
                max_iter=self.max_iter,
            )
        return Adam(
            n, dtype, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon
        )

    def _validation_split(self, y, n_samples: int):
        """Indices of the training and validation samples for early stopping.

        Returns ``(train_idx, None)`` when the data is too small to hold out
        a validation set; early stopping then watches the training loss.
        """
        n_val = math.ceil(self.validation_fraction * n_samples)
        if n_val < 1 or n_samples - n_val < 1:
            warnings.warn(
                f"early_stopping: {n_samples} samples with validation_fraction="
                f"{self.validation_fraction} leave no room for both a training "
                "and a validation set; stopping on the training loss instead.",
                UserWarning,
                stacklevel=4,
            )
            return np.arange(n_samples), None
        stratify = None
        if y.ndim == 1:
            _, counts = np.unique(y, return_counts=True)
            n_classes = len(counts)
            if counts.min() >= 2 and min(n_val, n_samples - n_val) >= n_classes:
                stratify = y
        train_idx, val_idx = train_test_split(
            np.arange(n_samples),
            test_size=n_val,
            random_state=self._rng,
            stratify=stratify,
        )
        return np.sort(train_idx), np.sort(val_idx)

    def _fit_stochastic(
        self, X, y, T, sample_weight, incremental: bool, tasks: EpochTasks
    ) -> None:
        if self._optimizer is None or not incremental:
            self._optimizer = self._make_optimizer()
        params = self._params

        early_stopping = self.early_stopping and not incremental
        train_idx, val_idx = np.arange(X.shape[0]), None
        if early_stopping:
            train_idx, val_idx = self._validation_split(y, X.shape[0])
        validation = None
        if val_idx is not None:
            sw_val = None if sample_weight is None else sample_weight[val_idx]
            validation = (X[val_idx], T[val_idx], y[val_idx], sw_val)
            best_params = params.copy()
        batch_size = self._batch_size(len(train_idx))
        ws = _network.Workspace(self._units(), batch_size, params.dtype)
        # Weights to fall back on if the loss overflows: the ones the current
        # epoch started from, checked finite by its first batch's loss, and
        # the previous epoch's, for when that very first batch overflows.
        epoch_start, previous_start = params.copy(), params.copy()
        start_time = time.perf_counter() - self._elapsed

        # Overflow is detected below (a non-finite loss or weights) and reported
        # once, as a DivergenceWarning; NumPy's own warnings would only repeat it.
        errstate = np.errstate(over="ignore", invalid="ignore")
        with deferred_keyboard_interrupt() as interrupt, errstate:
            try:
                for _ in range(self.max_iter):
                    epoch_start, previous_start = previous_start, epoch_start
                    np.copyto(epoch_start, params)
                    tasks.begin_epoch()
                    order = (
                        self._rng.permutation(train_idx) if self.shuffle else train_idx
                    )
                    batches = self._batches(
                        X, T, sample_weight, order, batch_size, val_idx is None, ws
                    )
                    epoch = self._train_epoch(batches, ws, interrupt)
                    if epoch.diverged_at is not None:
                        first = epoch.diverged_at == 0
                        self._diverged(previous_start if first else epoch_start)
                        break
                    if not np.isfinite(params).all():
                        self._diverged(epoch_start)
                        break
                    if interrupt.raised:
                        warnings.warn("Training interrupted by user.", stacklevel=3)
                        break
                    improved = self._end_epoch(
                        epoch, len(train_idx), validation, start_time
                    )
                    if improved:
                        np.copyto(best_params, params)
                    if tasks.end_epoch():  # a callback asked to stop
                        break
                    if self._should_stop() or incremental:
                        break
                    if self.n_iter_ == self.max_iter:
                        warnings.warn(
                            f"Stochastic Optimizer: Maximum iterations "
                            f"({self.max_iter}) reached and the optimization "
                            "hasn't converged yet.",
                            ConvergenceWarning,
                            stacklevel=3,
                        )
            except KeyboardInterrupt:
                if interrupt.deferred:
                    raise  # a second Ctrl-C: the user means it
                # No handler could be installed (not the main thread): the
                # interrupt may have come mid-update, so go back to the
                # weights of the start of the epoch.
                np.copyto(params, epoch_start)
                warnings.warn("Training interrupted by user.", stacklevel=3)

        if validation is not None:
            np.copyto(params, best_params)  # the best weights seen

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than "
                "sample size. It is going to be clipped",
                stacklevel=4,
            )
        return min(self.batch_size, n_samples)

    def _batches(self, X, T, sample_weight, order, batch_size, whole, ws):
        """Yield the (X, T, sample_weight) of each minibatch, in ``order``.

        Without shuffling and with ``whole`` (no held-out rows), batches are
        plain slices of X (no copy); otherwise each batch's rows are gathered
        into buffers allocated once.
        """
        contiguous = whole and not self.shuffle
        T_buffer = np.empty((batch_size, T.shape[1]), dtype=T.dtype)
        for start in range(0, len(order), batch_size):
            stop = min(start + batch_size, len(order))
            rows = slice(start, stop) if contiguous else order[start:stop]
            sw_b = None if sample_weight is None else sample_weight[rows]
            if contiguous or sp.issparse(X):  # a view, or a small sparse copy
                yield X[rows], T[rows], sw_b
            else:
                # mode="clip" skips the bounds check's extra buffering: the
                # indices come from a permutation and are valid by construction
                n = stop - start
                X_b = np.take(X, rows, axis=0, out=ws.activations[0][:n], mode="clip")
                T_b = np.take(T, rows, axis=0, out=T_buffer[:n], mode="clip")
                yield X_b, T_b, sw_b

    def _train_epoch(self, batches, ws, interrupt) -> _EpochResult:
        """One pass of forward, backward and update over the batches."""
        units, params, optimizer = self._units(), self._params, self._optimizer
        result = _EpochResult()
        for k, (X_b, T_b, sw_b) in enumerate(batches):
            loss = _network.loss_and_gradient(
                params,
                units,
                X_b,
                T_b,
                sw_b,
                self.activation,
                self.out_activation_,
                self.alpha,
                ws,
            )
            if not math.isfinite(loss):
                result.diverged_at = k
                return result
            weight = X_b.shape[0] if sw_b is None else float(sw_b.sum())
            result.loss_sum += loss * weight
            result.weight_sum += weight
            result.n_correct += self._n_correct(ws.activations[-1][: len(T_b)], T_b)
            optimizer.step(params, ws.grad)
            if interrupt.raised:
                break
        return result

    def _end_epoch(
        self, epoch: _EpochResult, n_samples: int, validation, start_time: float
    ) -> bool:
        """Record the epoch; return whether the validation score improved."""
        self.n_iter_ += 1
        self.t_ += n_samples
        self.loss_ = epoch.loss_sum / epoch.weight_sum if epoch.weight_sum else 0.0
        self.loss_curve_.append(self.loss_)
        history = self.history_
        history["loss"].append(self.loss_)
        history["accuracy"].append(epoch.n_correct / n_samples)
        history["learning_rate"].append(self._optimizer.learning_rate)
        message = f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}"
        improved = False
        if validation is not None:
            val_loss, val_acc = self._evaluate(*validation)
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(val_acc)
            message += (
                f", validation loss = {val_loss:.6f}"
                f", validation accuracy = {val_acc:.4f}"
            )
            improved = self._update_no_improvement_validation(val_acc)
        else:
            self._update_no_improvement_loss()
        # time since the first fit of this history, pauses between calls excluded
        self._elapsed = time.perf_counter() - start_time
        history["time"].append(self._elapsed)
        if self.verbose:
            print(f"{message}, time = {history['time'][-1]:.1f}s", flush=True)
        self._optimizer.epoch_ends(self.t_, self.n_iter_)
        return improved

    def _should_stop(self) -> bool:
        """n_iter_no_change epochs without progress: stop, or lower the rate."""
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        if self._optimizer.stalled(self.verbose):
            if self.verbose:
                what = (
                    "Validation score" if self.validation_scores_ else "Training loss"
                )
                print(
                    f"{what} did not improve more than tol={self.tol:f} for "
                    f"{self.n_iter_no_change} consecutive epochs. Stopping."
                )
            return True
        self._no_improvement_count = 0
        return False

    def _diverged(self, last_good_params: np.ndarray) -> None:
        np.copyto(self._params, last_good_params)
        self._optimizer = self._make_optimizer()  # its state is not finite either
        warnings.warn(
            "Training diverged: the loss became infinite or NaN at epoch "
            f"{self.n_iter_ + 1}, so training stopped and the weights from the "
            "start of that epoch were kept. The learning rate "
            f"(learning_rate_init={self.learning_rate_init}) is probably too "
            "large, or the inputs need scaling (e.g. StandardScaler).",
            DivergenceWarning,
            stacklevel=4,
        )

    def _n_correct(self, P: np.ndarray, T: np.ndarray) -> int:
        """Number of rows of P whose prediction matches the targets T."""
        if self.out_activation_ == "softmax":
            return int((P.argmax(axis=1) == T.argmax(axis=1)).sum())
        # binary or multilabel: every output thresholded at 0.5
        return int(((P > 0.5) == (T > 0.5)).all(axis=1).sum())

    def _evaluate(self, X, T, y, sample_weight) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of the current weights on (X, y)."""
        loss_sum = 0.0
        P = np.empty(T.shape, dtype=self._params.dtype)
        for rows, X_chunk in self._chunks(X):
            Z = self._logits(X_chunk)
            ce = _network.CROSS_ENTROPY[self.out_activation_](Z, T[rows])
            P[rows] = Z
            loss_sum += float(
                ce.sum() if sample_weight is None else ce @ sample_weight[rows]
            )
        total = len(y) if sample_weight is None else float(sample_weight.sum())
        y_pred = self._label_binarizer.inverse_transform(P, threshold=0.5)
        return loss_sum / total, float(
            accuracy_score(y, y_pred, sample_weight=sample_weight)
        )

    def _update_no_improvement_validation(self, score: float) -> bool:
        self.validation_scores_.append(score)
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _update_no_improvement_loss(self) -> None:
        # Also with early_stopping when no validation split could be made (or
        # in partial_fit): the training loss is what is watched then, so its
        # best value has to be kept too.
        loss = self.loss_curve_[-1]
        best = np.inf if self.best_loss_ is None else self.best_loss_
        if loss > best - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(loss, best)

    def _fit_lbfgs(self, X, T, sample_weight, tasks: EpochTasks) -> None:
        units = self._units()
        params = self._params
        ws = _network.Workspace(units, X.shape[0], params.dtype)
        last_loss = [np.nan]

        def loss_and_gradient(theta):
            params[...] = theta
            last_loss[0] = _network.loss_and_gradient(
                params,
                units,
                X,
                T,
                sample_weight,
                self.activation,
                self.out_activation_,
                self.alpha,
                ws,
            )
            return last_loss[0], ws.grad.astype(np.float64)

        def end_of_iteration(theta):
            # scipy's last evaluation may have been a line-search trial point:
            # report the iteration's accepted weights
            params[...] = theta
            self.loss_curve_.append(last_loss[0])
            self.history_["loss"].append(last_loss[0])
            if self.verbose:
                print(
                    f"Iteration {len(self.loss_curve_)}, loss = {last_loss[0]:.8f}",
                    flush=True,
                )
            if tasks.end_epoch():
                raise StopIteration  # a callback asked to stop; scipy stops
            tasks.begin_epoch()

        tasks.begin_epoch()
        result = minimize_lbfgs(
            loss_and_gradient,
            params,
            max_iter=self.max_iter,
            max_fun=self.max_fun,
            tol=self.tol,
            callback=end_of_iteration,
        )
        params[...] = result.x
        if not np.isfinite(params).all():
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may "
                "contain large values and need to be preprocessed."
            )
        n_iter = _check_optimize_result("lbfgs", result, self.max_iter)
        self.n_iter_ += n_iter
        self.t_ += n_iter * X.shape[0]
        self.loss_ = float(result.fun)
        self.best_loss_ = min(self.best_loss_, self.loss_)

    # ------------------------------------------------------------------
    # prediction
    # ------------------------------------------------------------------

    def _chunks(self, X):
        """Split X into row chunks whose activations take about 32 MB at most."""
        n = X.shape[0]
        rows = max(256, (1 << 23) // sum(self._units()))
        for start in range(0, n, rows):
            s = slice(start, min(start + rows, n))
            yield s, X[s]

    def _logits(self, X_chunk) -> np.ndarray:
        dtype = self.coefs_[0].dtype
        X_chunk = _as_training_dtype(X_chunk, dtype)
        activations = [X_chunk] + [
            np.empty((X_chunk.shape[0], len(b)), dtype=dtype) for b in self.intercepts_
        ]
        coefs = [np.asarray(W, dtype=dtype) for W in self.coefs_]
        intercepts = [np.asarray(b, dtype=dtype) for b in self.intercepts_]
        return _network.forward(
            X_chunk, coefs, intercepts, self.activation, activations
        )

    def _forward_probabilities(self, X) -> np.ndarray:
        """Output probabilities (n_samples, n_outputs), computed chunk by chunk.

        X is validated in its own dtype and converted one chunk at a time, so
        predicting on a large X needs little memory beyond X and the result.
        """
        X = validate_data(self, X, accept_sparse=["csr"], dtype="numeric", reset=False)
        P = np.empty((X.shape[0], self.n_outputs_), dtype=self.coefs_[0].dtype)
        for rows, X_chunk in self._chunks(X):
            Z = self._logits(X_chunk)
            OUTPUT_ACTIVATIONS[self.out_activation_](Z)
            P[rows] = Z
        if self.out_activation_ == "logistic":
            # strictly inside (0, 1), even where float32 rounds expit to 1
            eps = np.finfo(P.dtype).eps
            np.clip(P, eps, 1 - eps, out=P)
        return P

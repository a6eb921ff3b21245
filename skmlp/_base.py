"""What both estimators share: parameters, validation, fit plumbing, prediction.

:class:`BaseMLP` turns the math (:mod:`skmlp._network`) and the training loops
(:mod:`skmlp._training`) into a scikit-learn estimator. A subclass says what
its targets are and how its outputs are read: ``_encode_targets``,
``_out_activation``, ``_batch_score``, ``_default_validation_score`` and its
prediction methods.
"""

from __future__ import annotations

import copy
import inspect
import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.metrics import check_scoring
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_random_state,
    validate_data,
)

from . import _array_api, _fused, _network, _parameters
from ._activations import (
    ACTIVATION_NAMES,
    OUTPUT_ACTIVATIONS,
    check_activation,
    get_activation,
)
from ._callbacks import CALLBACK_ATTRIBUTES, CallbackSupportMixin, EpochTasks
from ._data import as_training_dtype, row_chunks, training_dtype, validation_split
from ._optimizers import SGD, Adam
from ._training import TrainingData, fit_lbfgs, fit_stochastic
from ._version import __version__
from ._warnings import InconsistentVersionWarning, warn


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training; the model keeps what it had learned."""


def _check_some_weight(sample_weight: np.ndarray) -> None:
    # scikit-learn >= 1.7 refuses all-zero weights in _check_sample_weight;
    # older versions do not, and a loss divided by a weight sum of 0 is NaN
    if not sample_weight.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")


def _has_stochastic_solver(estimator) -> bool:
    if estimator.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers. "
            "lbfgs is not stochastic."
        )
    return True


def _has_hidden_layer(estimator) -> bool:
    """transform() needs a network with at least one hidden layer.

    The fitted network decides where there is one, else the parameter: so
    ``hasattr(est, "transform")`` is False for ``hidden_layer_sizes=()``
    before and after fitting, and scikit-learn treats it as no transformer.
    """
    if hasattr(estimator, "coefs_"):
        n_hidden = len(estimator.coefs_) - 1
    else:
        sizes = estimator.hidden_layer_sizes
        n_hidden = len(sizes) if hasattr(sizes, "__len__") else 1
    if n_hidden < 1:
        raise AttributeError(
            "transform is only available for networks with at least one hidden "
            "layer: hidden_layer_sizes=() has none."
        )
    return True


def _forward_chunk(X_chunk, coefs, intercepts, activation) -> np.ndarray:
    """The last layer's pre-activations for one chunk of rows.

    A function of its own so that the chunk's float copy and buffers are
    freed when it returns, before the next chunk is made.
    """
    dtype, like = coefs[0].dtype, coefs[0]
    X_chunk = as_training_dtype(X_chunk, _array_api.numpy_dtype(like))
    buffers = [X_chunk] + [
        _array_api.empty((X_chunk.shape[0], b.shape[0]), dtype, like)
        for b in intercepts
    ]
    return _network.forward(X_chunk, coefs, intercepts, activation, buffers)


def _host_rows(X):
    """A NumPy stand-in with X's rows, for scikit-learn's host-side checks."""
    return X if _array_api.is_numpy(X) else np.empty((X.shape[0], 0))


def _host_validation(validation):
    """An explicit validation set with y_val and its weights on the host."""
    if validation is None:
        return None
    X_val, y_val, sw_val = validation
    return X_val, _array_api.to_numpy(y_val), _array_api.to_numpy(sw_val)


def _device_labels(y, like):
    """Labels on ``like``'s device when they are numbers (scorers read them)."""
    if y.dtype.kind not in "biuf":
        return y
    xp = _array_api.namespace(like)
    return _array_api.move(y, xp, _array_api.device(like))


def _device_validation(val, xp, device):
    """A checked validation set moved to the training device."""
    if val is None:
        return None
    X_val, T_val, y_val, sw_val = val
    X_val = _array_api.move(X_val, xp, device)
    T_val, sw_val = (_array_api.move(a, xp, device) for a in (T_val, sw_val))
    return X_val, T_val, _device_labels(y_val, X_val), sw_val


def _same_layout(a, b) -> bool:
    return tuple(a.shape) == tuple(b.shape) and _array_api.namespace(
        a
    ) is _array_api.namespace(b)


class BaseMLP(CallbackSupportMixin, TransformerMixin, BaseEstimator):
    """Base of NumpyMLPClassifier and NumpyMLPRegressor (not for direct use)."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATION_NAMES)), tuple],
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
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "scoring": [None, StrOptions({"loss"}), str, callable, HasMethods("__call__")],
        "dtype": [
            StrOptions({"auto", "float32", "float64"}),
            Options(type, {np.float32, np.float64}),
        ],
    }

    def _shared_init(self, kwargs: dict) -> None:
        for name, value in kwargs.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # ------------------------------------------------------------------
    # fit, partial_fit
    # ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Fit the model to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.
        X_val, y_val : array-like, default=None
            An explicit validation set (not in scikit-learn's MLP). With
            ``early_stopping=True`` it is what early stopping watches, and
            the model trains on all of X (no split); without early stopping
            its loss and score are still recorded in ``history_`` each epoch.
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Weights of the validation samples.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        validation = (X_val, y_val, sample_weight_val)
        return self._fit(X, y, sample_weight, incremental=False, validation=validation)

    def _fit(self, X, y, sample_weight, incremental, classes=None, validation=None):
        # A call that fails leaves the model as it was: weights, optimizer
        # state and attributes (a first call: not fitted at all). Ctrl-C is
        # the exception: training stops after a whole batch and the model
        # keeps what it learned, and the interrupt goes on to the caller.
        if incremental and hasattr(self, "coefs_"):
            # scikit-learn validates partial_fit's parameters on the first call
            # only; a set_params between calls (batch_size=0, say) would then
            # reach the training loop unchecked
            self._validate_params()
        snapshot = self._snapshot()
        training = False
        try:
            data = self._prepare(X, y, sample_weight, incremental, classes, validation)
            training = True
            lbfgs = self.solver == "lbfgs"
            # subtasks: epochs, or lbfgs iterations plus one scipy never runs
            n_tasks = (
                self.max_iter + 1 if lbfgs else 1 if incremental else self.max_iter
            )
            tasks = EpochTasks(self, data.X, data.y, data.sample_weight, n_tasks)
            try:
                if lbfgs:
                    fit_lbfgs(self, data, tasks)
                else:
                    fit_stochastic(self, data, incremental, tasks)
            finally:
                tasks.close()
        except KeyboardInterrupt as interrupt:
            if not training:
                self._restore(snapshot)  # interrupted before training began
                raise
            raise TrainingInterrupted(*interrupt.args) from None
        except BaseException:
            self._restore(snapshot)
            raise
        return self

    def _prepare(self, X, y, sample_weight, incremental, classes, validation):
        """Validate everything, then set up the network (new or current).

        Nothing of the model is changed until every argument has been
        checked, so a bad call leaves the model as it was.
        """
        hidden = self._hidden_layer_sizes()
        self._check_activation()
        rates = self._check_dropout(len(hidden))
        fitted = hasattr(self, "coefs_")
        first_pass = not fitted or (not self.warm_start and not incremental)
        # Everything follows X: with array_api_dispatch=True and X of another
        # namespace than NumPy (PyTorch, CuPy, ...), the network trains there.
        # Targets and weights are checked and encoded on the host (they are
        # small), then moved to X's device once.
        xp, device = _array_api.input_namespace(X)
        if xp is not None:
            _array_api.refuse_unsupported(self, xp)
            y = _array_api.to_numpy(y)
            sample_weight = _array_api.to_numpy(sample_weight)
            validation = _host_validation(validation)
        if not first_pass:
            self._check_same_namespace_as_fit(X, xp, device)
        X, y = self._validate_Xy(X, y, reset=first_pass)
        if incremental:
            self._check_partial_fit_classes(y, classes)
        if first_pass:
            dtype = training_dtype(self.dtype, _array_api.numpy_dtype(X))
        else:
            dtype = self._fitted_dtype()
        X = as_training_dtype(X, dtype)  # the one copy of X that fit makes
        y, T, targets = self._encode_targets(y, incremental, first_pass, classes, dtype)
        if sample_weight is not None:
            # rejects a wrong length, negative values and all zeros
            sample_weight = _check_sample_weight(
                sample_weight, _host_rows(X), dtype=dtype, ensure_non_negative=True
            )
            _check_some_weight(sample_weight)
        sample_weight = self._weight_samples(y, sample_weight, dtype, targets)
        val = self._prepare_validation(validation, targets, dtype, T.shape[1])
        scorer = self._resolve_scorer()
        kernels = _fused.requested()  # SKMLP_KERNELS checked before training
        units = [X.shape[1], *hidden, T.shape[1]]
        if not first_pass and self._units() != units:
            raise ValueError(
                f"The network's layer sizes {self._units()} do not match "
                f"{units}, required by hidden_layer_sizes={self.hidden_layer_sizes}"
                " and the data; refit from scratch (warm_start=False)."
            )
        # --- from here on the model changes ---
        targets.commit()
        if first_pass:
            self._initialize(units, dtype)
            if xp is not None:
                self._move_parameters(xp, device)
        else:
            if not self._parameters_linked():
                self._link_parameters()  # the user replaced a coefs_ entry
            self._match_stopping_state()
        self._dropout = rates
        if xp is not None:  # the targets and weights join X on its device
            T = _array_api.move(T, xp, device)
            sample_weight = _array_api.move(sample_weight, xp, device)
            val = _device_validation(val, xp, device)
        data = TrainingData(X, y, T, sample_weight, scorer=scorer, kernels=kernels)
        if val is not None:
            data.validation = val
        elif self.early_stopping and not incremental and self.solver != "lbfgs":
            data = self._split_validation(data)
        self._check_scorer_weights(data)
        self._try_scorer(data)
        return data

    def _try_scorer(self, data) -> None:
        """Score the starting weights once, so that a scorer that cannot
        score these targets (``max_error`` on several outputs,
        ``neg_log_loss`` without every class) fails before training."""
        if data.scorer is None or data.validation is None:
            return
        try:
            data.score(self)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"scoring={self.scoring!r} cannot score this validation set: {error}"
            ) from error

    def _match_stopping_state(self) -> None:
        """Fill the stopping attributes that this call's settings need.

        A warm start or ``partial_fit`` may come after ``set_params`` changed
        ``early_stopping`` or ``solver``: the attributes set up for the old
        settings (``validation_scores_`` None, or ``best_loss_`` None) are
        given the starting values the new ones expect, as a first fit would.
        """
        if self.validation_scores_ is None and self._stops_on_validation():
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self._no_improvement_count = 0
        if self.best_loss_ is None:
            self.best_loss_ = np.inf

    def _stops_on_validation(self) -> bool:
        return self.early_stopping and self.solver != "lbfgs"

    def _validate_Xy(self, X, y, reset: bool):
        """scikit-learn's checks of X and y; X in CSR if sparse (batches are rows)."""
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype="numeric",
            y_numeric=self._y_numeric,
            reset=reset,
        )
        if sp.issparse(y):  # a sparse label indicator matrix: small, made dense
            y = y.toarray()
        return (X.tocsr() if sp.issparse(X) else X), y

    def _split_validation(self, data: TrainingData) -> TrainingData:
        """Hold out ``validation_fraction`` of the rows for early stopping."""
        n = data.X.shape[0]
        train_idx, val_idx = validation_split(
            data.y, n, self.validation_fraction, self._split_seed, self._stratify
        )
        sw, take = data.sample_weight, _array_api.take_rows
        if (
            val_idx is not None
            and sw is not None
            and not _array_api.any_nonzero(take(sw, val_idx))
        ):
            val_idx = None  # every held-out row has weight 0: nothing to score
        if val_idx is None:
            warn(
                f"early_stopping: {n} samples with validation_fraction="
                f"{self.validation_fraction} leave no usable validation set "
                "(too few samples, or held-out samples of zero total weight); "
                "stopping on the training loss instead.",
                UserWarning,
            )
            return data
        data.rows = train_idx  # batches gather from X: no copy of X
        y_val = data.y[val_idx]
        if not _array_api.is_numpy(data.X):
            y_val = _device_labels(y_val, data.X)
        data.validation = (
            take(data.X, val_idx),
            take(data.T, val_idx),
            y_val,
            None if sw is None else take(sw, val_idx),
        )
        return data

    def _prepare_validation(self, validation, targets, dtype, n_outputs: int):
        """Check an explicit validation set; return it ready to score, or None."""
        if validation is None:
            return None
        X_val, y_val, sw_val = validation
        if X_val is None and y_val is None:
            if sw_val is not None:
                raise ValueError("sample_weight_val is given without X_val and y_val.")
            return None
        if X_val is None or y_val is None:
            raise ValueError(
                "X_val and y_val must be given together: got "
                f"X_val={'None' if X_val is None else 'an array'} and "
                f"y_val={'None' if y_val is None else 'an array'}."
            )
        X_val, y_val = self._validate_Xy(X_val, y_val, reset=False)
        X_val = as_training_dtype(X_val, dtype)
        y_val, T_val = targets.encode_validation(y_val)
        if T_val.shape[1] != n_outputs:
            raise ValueError(
                f"y_val has {T_val.shape[1]} outputs (columns) but y has "
                f"{n_outputs}: they must have the same number."
            )
        if sw_val is not None:
            sw_val = _check_sample_weight(
                sw_val, X_val, dtype=dtype, ensure_non_negative=True
            )
            _check_some_weight(sw_val)
        # weighed like the training rows (class weights): one criterion
        sw_val = targets.weigh(y_val, sw_val)
        if sw_val is not None:
            _check_some_weight(sw_val)
        return X_val, T_val, y_val, sw_val

    # ------------------------------------------------------------------
    # the network: set-up, parameters, workspace
    # ------------------------------------------------------------------

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
        # the validation split is drawn from this seed on every warm fit
        self._split_seed = int(self._rng.randint(np.iinfo(np.int32).max))
        self.n_layers_ = len(units)
        self.n_outputs_ = units[-1]
        self.out_activation_ = self._out_activation()
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.history_ = {key: [] for key in self._history_keys()}
        self._elapsed = 0.0
        self._no_improvement_count = 0
        self._optimizer = None
        self._optimizer_epochs = 0
        if self._stops_on_validation():
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _history_keys(self) -> list[str]:
        return ["loss", "val_loss", "val_score", "learning_rate", "time"]

    def _training_loss(self):
        """What the network trains on: an output activation's name (its
        canonical loss) or a :class:`skmlp._losses.Loss`."""
        return self.out_activation_

    def _make_optimizer(self):
        optimizer = self._new_optimizer()
        if not _array_api.is_numpy(self._params):
            optimizer.to_namespace_of(self._params)
        return optimizer

    def _new_optimizer(self):
        n, dtype = self._params.shape[0], _array_api.numpy_dtype(self._params)
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

    def _workspace(self, batch_size: int) -> _network.Workspace:
        return _network.Workspace(
            self._units(),
            batch_size,
            self._params.dtype,
            activation=self._activation_function(),
            dropout=self._dropout is not None,
            like=self._params,
        )

    def _activation_function(self):
        return get_activation(self.activation)

    def _move_parameters(self, xp, device) -> None:
        """Move the (new) parameters to X's namespace and device."""
        self._params = _array_api.move(self._params, xp, device)
        self.coefs_, self.intercepts_ = _network.split_parameters(
            self._params, self._units()
        )

    def _check_same_namespace_as_fit(self, X, xp, device) -> None:
        """A warm start or partial_fit trains where the first fit did."""
        model_xp = _array_api.model_namespace(self)
        wanted = _array_api.NUMPY if xp is None else xp
        same_device = xp is None or _array_api.device(self._params) == device
        if model_xp is not wanted or not same_device:
            fitted = "numpy" if model_xp is _array_api.NUMPY else model_xp.__name__
            given = "numpy (or array-like)" if xp is None else xp.__name__
            raise ValueError(
                f"This model was fitted on {fitted} arrays"
                + ("" if xp is None else f" on {device}")
                + f"; X is {given}: a warm start or partial_fit trains in the "
                "namespace and on the device of the first fit. Move the model "
                "first with skmlp.move_to(model, xp, device), or refit."
            )

    def _link_parameters(self) -> None:
        self._params, self.coefs_, self.intercepts_ = _parameters.link(
            self.coefs_, self.intercepts_
        )

    def _parameters_linked(self) -> bool:
        params = getattr(self, "_params", None)
        return _parameters.is_linked(params, self.coefs_, self.intercepts_)

    def _units(self) -> list[int]:
        return _parameters.layer_units(self.coefs_, self.intercepts_)

    def _fitted_dtype(self) -> np.dtype:
        fitted = _array_api.numpy_dtype(self.coefs_[0])
        if self.dtype != "auto" and np.dtype(self.dtype) != fitted:
            raise ValueError(
                f"dtype={self.dtype!r} differs from the fitted weights' dtype "
                f"{fitted}; refit from scratch to change it."
            )
        return fitted  # training goes on in the precision it started in

    # ------------------------------------------------------------------
    # parameter checks that scikit-learn's constraints cannot express
    # ------------------------------------------------------------------

    def _hidden_layer_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if any(not isinstance(s, Integral) or s <= 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _check_activation(self) -> None:
        if not isinstance(self.activation, str):
            check_activation(self.activation)
        if self.solver == "lbfgs" and np.any(np.asarray(self.dropout) > 0):
            # L-BFGS needs one deterministic objective for its line searches
            raise ValueError(
                "dropout is not supported with solver='lbfgs': use 'adam' or "
                f"'sgd', or dropout=0 (got dropout={self.dropout!r})."
            )

    def _check_dropout(self, n_hidden: int):
        """Per-hidden-layer dropout rates, or None when there is no dropout."""
        rates = self.dropout
        if np.ndim(rates) == 0:
            rates = [rates] * n_hidden
        rates = list(rates)
        if len(rates) != n_hidden:
            raise ValueError(
                f"dropout must be a float or one rate per hidden layer: got "
                f"{len(rates)} rates for {n_hidden} hidden layers."
            )
        for rate in rates:
            if not isinstance(rate, Real) or not 0 <= rate < 1:
                raise ValueError(
                    f"dropout rates must be in [0, 1); got dropout={self.dropout!r}."
                )
        return [float(r) for r in rates] if any(rates) else None

    # ------------------------------------------------------------------
    # validation scores for early stopping and history_
    # ------------------------------------------------------------------

    def _score_name(self) -> str:
        """What ``val_score`` is, in words, for the verbose output."""
        if self.scoring is None:
            return self._default_score_key.removeprefix("val_")
        return "loss" if self.scoring == "loss" else "score"

    def _watches_validation(self) -> bool:
        return self.early_stopping

    def _resolve_scorer(self):
        """The scorer that ``scoring`` names, looked up before training starts.

        Returns None for the built-in scores (None, ``"loss"``), else
        ``(scorer, takes_weights)``: validation weights are passed only to a
        scorer that accepts ``sample_weight`` (a metric such as ``max_error``
        has none).
        """
        if self.scoring is None or self.scoring == "loss":
            return None
        scorer = check_scoring(self, scoring=self.scoring)  # unknown names raise
        func = getattr(scorer, "_score_func", scorer)  # a named scorer's metric
        try:
            parameters = inspect.signature(func).parameters.values()
        except (TypeError, ValueError):  # a builtin without a signature
            return scorer, False
        takes_weights = any(
            p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in parameters
        )
        return scorer, takes_weights

    def _check_scorer_weights(self, data) -> None:
        if data.scorer is None or data.validation is None or data.scorer[1]:
            return
        if data.validation[3] is not None:
            warn(
                f"scoring={self.scoring!r} takes no sample_weight: the validation "
                "scores are not weighted (the validation loss is).",
                UserWarning,
            )

    def _mean_loss(self, X, T, sample_weight) -> tuple[float, np.ndarray]:
        """Mean loss (without the penalty) of the current weights, and outputs P."""
        outputs = self._forward(X)  # (n, n_outputs) logits
        loss = _network.get_loss(self._training_loss())
        per_sample = loss.forward(outputs, T)[0]  # outputs are now P
        loss_sum = float(
            _array_api.total(per_sample)
            if sample_weight is None
            else per_sample @ sample_weight
        )
        total = X.shape[0] if sample_weight is None else _array_api.total(sample_weight)
        return (loss_sum / total if total else 0.0), outputs

    def _validation_metrics(self, X, T, y, sample_weight, scorer=None) -> dict | None:
        """Loss (without the penalty) and score of the current weights.

        None when the outputs are not finite: the weights diverged, and no
        metric (R², a scorer) is defined on such predictions.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            loss, outputs = self._mean_loss(X, T, sample_weight)
        if not (math.isfinite(loss) and _array_api.all_finite(outputs)):
            return None
        metrics = {"val_loss": loss}
        metrics.update(self._output_metrics(outputs, y, sample_weight, T))
        if self.scoring is None:
            metrics["val_score"] = metrics[self._default_score_key]
        elif self.scoring == "loss":
            metrics["val_score"] = -metrics["val_loss"]  # higher is better
        else:
            scorer, takes_weights = scorer or self._resolve_scorer()
            weights = sample_weight if takes_weights else None
            metrics["val_score"] = float(self._score_with(scorer, X, y, weights))
        return metrics

    def _score_with(self, scorer, X, y, sample_weight):
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        with warnings.catch_warnings():
            # X_val was validated into an array: only the feature-names
            # warning this causes is silenced, not UndefinedMetricWarning
            warnings.filterwarnings(
                "ignore", message=".*feature names", category=UserWarning
            )
            return scorer(self, X, y, **kwargs)

    # ------------------------------------------------------------------
    # prediction: chunked forward passes
    # ------------------------------------------------------------------

    def _forward(self, X, *, finish=None, layers=slice(None)) -> np.ndarray:
        """Run X through the network chunk by chunk; the last layer's values.

        ``layers`` (a slice of the layers, default all) and ``finish``
        (applied in place to each chunk's last pre-activations, e.g. the
        output activation; default none, giving the logits) say what is
        computed. X is converted to the weights' dtype one chunk at a time,
        so a large X needs little memory beyond itself and the result. X must
        already be validated.
        """
        dtype = _array_api.numpy_dtype(self.coefs_[0])
        if _array_api.is_numpy(self.coefs_[0]):
            coefs = [np.asarray(W, dtype=dtype) for W in self.coefs_[layers]]
            intercepts = [np.asarray(b, dtype=dtype) for b in self.intercepts_[layers]]
        else:  # fitted on an array API input: the weights are on its device
            coefs, intercepts = self.coefs_[layers], self.intercepts_[layers]
        activation = self._activation_function()
        shape = (X.shape[0], intercepts[-1].shape[0])
        out = _array_api.empty(shape, coefs[0].dtype, coefs[0])
        for rows in row_chunks(X.shape[0], self._units(), dtype.itemsize):
            Z = _forward_chunk(X[rows, ...], coefs, intercepts, activation)
            if finish is not None:
                finish(Z)
            out[rows, ...] = Z
        return out

    def _outputs(
        self, X, *, apply_output: bool = True, method: str = "predict"
    ) -> np.ndarray:
        """The network's outputs for X (n_samples, n_outputs), or its logits."""
        X = self._validated(X, method)
        finish = OUTPUT_ACTIVATIONS[self.out_activation_] if apply_output else None
        return self._forward(X, finish=finish)

    def transform(self, X):
        """The last hidden layer's activations: the network as a feature extractor.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, hidden_layer_sizes[-1])
        """
        check_is_fitted(self)
        X = self._validated(X, "transform")
        # every layer but the output one, then the hidden activation f
        finish = self._activation_function().forward
        return self._forward(X, finish=finish, layers=slice(-1))

    def _validated(self, X, method: str = "predict"):
        """X checked for prediction, in the namespace and device of the weights."""
        _array_api.check_same_namespace(X, self, method)
        return validate_data(
            self, X, accept_sparse=["csr"], dtype="numeric", reset=False
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the features :meth:`transform` outputs.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``"<estimator name in lower case><i>"`` for each unit of the last
            hidden layer.
        """
        from sklearn.utils.validation import _check_feature_names_in

        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        prefix = type(self).__name__.lower()
        n = self.intercepts_[-2].shape[0]
        return np.asarray([f"{prefix}{i}" for i in range(n)], dtype=object)

    # ------------------------------------------------------------------
    # snapshots (atomic calls) and persistence
    # ------------------------------------------------------------------

    def _snapshot(self) -> dict:
        """What a failed call needs to put the model back as it was.

        Everything is validated before the model changes, so only training
        itself can fail half-way (an error in a callback, a custom
        activation, a scorer, memory). Objects that a call replaces (a new
        fit's weights, a warm fit's optimizer) need no copy: the snapshot
        keeps the old ones. What training changes in place is saved cheaply:
        the parameters and the optimizer's state are copied into buffers
        allocated once per model, the growing records by their lengths, the
        random generator by its state. A deep copy of the whole model cost a
        one-batch ``partial_fit`` a third of its time.
        """
        state = {k: v for k, v in self.__dict__.items() if k not in CALLBACK_ATTRIBUTES}
        if getattr(self, "_params", None) is None:
            # a RandomState given as random_state is drawn from by _initialize
            given = self.random_state
            if isinstance(given, np.random.RandomState):
                return {"dict": state, "given_rng": (given, given.get_state())}
            return {"dict": state}
        in_place = {"_params": self._params}
        optimizer = self._optimizer
        if optimizer is not None:
            for name, value in vars(optimizer).items():
                if _array_api.is_array(value) and not name.startswith("_"):
                    in_place[f"_optimizer.{name}"] = value
        backup = self.__dict__.setdefault("_backup", {})
        for key, array in in_place.items():
            if key not in backup or not _same_layout(backup[key], array):
                backup[key] = _array_api.empty(array.shape, array.dtype, array)
            _array_api.copy_into(backup[key], array)
        records = {"loss_curve_": self.loss_curve_}
        records.update({f"history_.{k}": v for k, v in self.history_.items()})
        if self.validation_scores_ is not None:
            records["validation_scores_"] = self.validation_scores_
        return {
            "dict": state,
            "arrays": in_place,
            "optimizer": copy.copy(optimizer),  # its scalars: steps, rate
            "lengths": {key: (lst, len(lst)) for key, lst in records.items()},
            "rng": self._rng.get_state(),
        }

    def _restore(self, snapshot: dict) -> None:
        live = {k: v for k, v in self.__dict__.items() if k in CALLBACK_ATTRIBUTES}
        backup = self.__dict__.get("_backup")
        self.__dict__.clear()
        self.__dict__.update(snapshot["dict"])
        self.__dict__.update(live)
        if "given_rng" in snapshot:
            generator, generator_state = snapshot["given_rng"]
            generator.set_state(generator_state)
        if "arrays" not in snapshot:
            return
        # the objects of the snapshot, with the contents they had
        self._backup = backup
        for key, array in snapshot["arrays"].items():
            _array_api.copy_into(array, backup[key])
        if self._optimizer is not None:
            arrays = {k: v for k, v in vars(self._optimizer).items()}
            vars(self._optimizer).update(vars(snapshot["optimizer"]))
            vars(self._optimizer).update(
                {k: v for k, v in arrays.items() if _array_api.is_array(v)}
            )
        for records, length in snapshot["lengths"].values():
            del records[length:]
        self._rng.set_state(snapshot["rng"])
        if not self._parameters_linked():
            self._link_parameters()

    def __getstate__(self):
        # a copy: on Python 3.11+ object.__getstate__ returns the live __dict__
        state = dict(super().__getstate__())
        state.pop("_params", None)  # coefs_ and intercepts_ hold the same values
        state.pop("_backup", None)  # scratch space for failed calls
        state["_skmlp_version"] = __version__
        return state

    def __setstate__(self, state):
        version = state.pop("_skmlp_version", None)
        if version != __version__:
            warn(
                f"Trying to unpickle {type(self).__name__} from skmlp version "
                f"{version} when using version {__version__}. This might lead to "
                "breaking code or invalid results. Use at your own risk.",
                InconsistentVersionWarning,
            )
        super().__setstate__(state)
        if hasattr(self, "coefs_"):
            self._link_parameters()

    def __sklearn_array_api_convert__(self, converter):
        """scikit-learn's ``move_estimator_to`` (1.8+): see :func:`skmlp.move_to`."""
        probe = converter(np.zeros(1))
        return _array_api.move_model(
            self, _array_api.namespace(probe), _array_api.device(probe)
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # every option but a custom activation and the regressor's losses
        # beyond squared error and Poisson (refused with array API inputs)
        tags.array_api_support = _array_api.numpy_only_options(self) is None
        if not hasattr(self, "transform"):  # hidden_layer_sizes=()
            tags.transformer_tags = None
        return tags


# Without a hidden layer there is nothing to transform into: the methods
# disappear (available_if). Wrapped here, after the class is made, because
# the set_output machinery re-wraps a class's own transform when the class is
# created and would drop the condition.
BaseMLP.transform = available_if(_has_hidden_layer)(BaseMLP.transform)
BaseMLP.fit_transform = available_if(_has_hidden_layer)(TransformerMixin.fit_transform)
BaseMLP.get_feature_names_out = available_if(_has_hidden_layer)(
    BaseMLP.get_feature_names_out
)

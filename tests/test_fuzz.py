"""Property-based tests over the parameter space (hypothesis).

Each example builds a tiny problem (20-60 rows, 2-5 features) and an
estimator with drawn parameters (for the regressor, every loss: squared
error, Poisson, absolute error, Huber, one quantile level or several, a
``(function, gradient)`` pair), then runs a short sequence of calls on it:
``fit`` (with or without ``sample_weight``, an explicit validation set,
warm start), ``partial_fit``, ``set_params`` between calls, and a pickle
round trip, after which every later call runs on the original and on the
copy alike. Some calls are valid, some are broken on purpose (bad weights,
bad validation sets, unseen labels, dropout with L-BFGS, ...); an oracle
written from the documentation says which must succeed, which must be
refused and which may go either way.

What is checked after each call:

- a call that fails raises a clear ``ValueError`` or ``TypeError`` (an
  ``AttributeError`` for ``partial_fit`` with L-BFGS, as scikit-learn), from
  the validation before training (no frame of ``skmlp/_training.py`` in its
  traceback: an exception that passed through the training loops is a
  defect, whatever its type), and leaves the model exactly as it was: every
  attribute, byte for byte (a first call: not fitted);
- a call that succeeds leaves finite outputs of the documented shapes,
  probabilities that sum to 1 within the dtype's round-off, ``n_iter_ <=
  max_iter``, a finite ``loss_`` (unless the loss diverged), one ``history_``
  entry per epoch in every list that is filled, validation records in step,
  ``t_`` counting the samples trained, ``transform`` exactly when there is a
  hidden layer, and, when early stopping watched a validation set, the
  weights of the best epoch (rescored on the validation set, given or split
  off; the validation loss recorded for the weights kept recomputed from
  each loss's formula); a quantile model's ``predict_quantiles`` of shape
  (n, levels) or (n, outputs, levels), never decreasing along the levels,
  with ``predict`` their median; the output units and activation that the
  loss needs (a warm start or ``partial_fit`` that would change them is
  refused);
- the inputs are not modified, the parameters are not changed by ``fit``,
  and only the warnings training can give are given (ConvergenceWarning,
  DivergenceWarning, the validation split's, the batch size's, a scorer's
  without weights, and scikit-learn's metrics' own on tiny validation sets).

The budget is fixed and derandomized, so that CI is reproducible:
``SKMLP_FUZZ_EXAMPLES`` sets the number of examples of every test here (for
a longer run before a release) and ``SKMLP_FUZZ_SEED`` draws another
sequence of examples.
"""

from __future__ import annotations

import inspect
import math
import os
import pickle
import struct
import warnings
from dataclasses import dataclass, field
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, note, seed, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, xlogy
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, check_scoring, r2_score

import skmlp._base
from skmlp import DivergenceWarning, NumpyMLPClassifier, NumpyMLPRegressor
from skmlp._activations import ACTIVATION_NAMES, get_activation

# ---------------------------------------------------------------------------
# budget
# ---------------------------------------------------------------------------

_EXAMPLES = int(os.environ.get("SKMLP_FUZZ_EXAMPLES", "0"))
_SEED = os.environ.get("SKMLP_FUZZ_SEED")


def _budget(default: int):
    """settings for one test: ``default`` examples, derandomized, no database."""
    return settings(
        max_examples=_EXAMPLES or default,
        deadline=None,
        derandomize=_SEED is None,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def _seeded(test):
    return test if _SEED is None else seed(int(_SEED))(test)


# ---------------------------------------------------------------------------
# module-level callables (so that a model holding them pickles)
# ---------------------------------------------------------------------------


def softsign(Z):
    return Z / (1.0 + np.abs(Z))


def softsign_derivative(Z):
    return 1.0 / (1.0 + np.abs(Z)) ** 2


CUSTOM = (softsign, softsign_derivative)


def log_cosh(y_true, y_pred):
    """log(cosh(p - t)) of each entry, written so that it never overflows."""
    r = np.abs(y_pred - y_true)
    return r + np.log1p(np.exp(-2 * r)) - math.log(2)


def log_cosh_gradient(y_true, y_pred):
    return np.tanh(y_pred - y_true)


def log_cosh_wrong_gradient(y_true, y_pred):
    return 2 * np.tanh(y_pred - y_true)  # a forgotten factor: refused at fit


LOG_COSH = (log_cosh, log_cosh_gradient)


def _dense(y):
    return y.toarray() if sp.issparse(y) else np.asarray(y)


def score_plain(estimator, X, y):
    """A scorer(estimator, X, y) without a sample_weight argument."""
    pred, y = estimator.predict(X), _dense(y)
    if is_classifier(estimator):
        return float(np.mean(pred == y))
    with np.errstate(over="ignore"):  # a diverging model's squares
        return -float(np.mean((pred - y.astype(float)) ** 2))


def score_weighted(estimator, X, y, sample_weight=None):
    """A scorer(estimator, X, y, sample_weight=None)."""
    pred, y = estimator.predict(X), _dense(y)
    if is_classifier(estimator):
        hits = (pred == y).reshape(len(y), -1).all(axis=1)
        return float(np.average(hits, weights=sample_weight))
    with np.errstate(over="ignore"):  # a diverging model's squares
        err = ((pred - y.astype(float)) ** 2).reshape(len(y), -1).mean(axis=1)
        return -float(np.average(err, weights=sample_weight))


CLF_SCORINGS = [
    None,
    "loss",
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "neg_log_loss",
    score_plain,
    score_weighted,
]
REG_SCORINGS = [
    None,
    "loss",
    "r2",
    "neg_mean_squared_error",
    "neg_max_error",
    score_plain,
    score_weighted,
]
ACTIVATIONS = ["relu", *sorted(ACTIVATION_NAMES - {"relu"}), CUSTOM]

# ---------------------------------------------------------------------------
# problems
# ---------------------------------------------------------------------------


@dataclass
class Problem:
    """A tiny data set: training rows and an explicit validation set."""

    classifier: bool
    target: str  # binary, multiclass, multilabel, single; regressor: single, multi
    X: object  # (n, p), dense or sparse
    y: np.ndarray
    X_val: object
    y_val: np.ndarray
    labels: np.ndarray  # every class label (classifier; range(L) for multilabel)
    poisson: bool = False  # regressor: counts (y >= 0), as loss="poisson" needs
    rng: np.random.RandomState = field(repr=False, default=None)

    @property
    def n(self) -> int:
        return self.X.shape[0]


LABEL_NAMES = {
    "int": np.array([0, 1, 2, 3]),
    "str": np.array(["a", "b", "c", "d"]),
    "neg": np.array([-7, 2, 5, 13]),
}


def _format_X(X, fmt):
    if fmt == "float32":
        return X.astype(np.float32)
    if fmt == "int8":
        return np.clip(np.round(X * 2), -8, 8).astype(np.int8)
    if fmt in ("csr", "csc", "csr32"):
        X = np.where(np.abs(X) < 0.6, 0.0, X)
        M = sp.csr_matrix(X) if fmt != "csc" else sp.csc_matrix(X)
        return M.astype(np.float32) if fmt == "csr32" else M
    return X


def draw_problem(data, classifier: bool, poisson: bool = False) -> Problem:
    n = data.draw(st.integers(20, 60), label="n_samples")
    p = data.draw(st.integers(2, 5), label="n_features")
    n_val = data.draw(st.integers(3, 12), label="n_val")
    rs = data.draw(st.integers(0, 2**16), label="data_seed")
    fmt = data.draw(
        st.sampled_from(["float64", "float32", "int8", "csr", "csc", "csr32"]),
        label="X_format",
    )
    scale = data.draw(st.sampled_from([1.0, 100.0]), label="X_scale")
    rng = np.random.RandomState(rs)
    Z = rng.normal(size=(n + n_val, p))
    W = rng.normal(size=(p, 4))
    if classifier:
        target = data.draw(
            st.sampled_from(["multiclass", "binary", "multilabel", "single"]),
            label="target",
        )
        if target == "multilabel":
            L = data.draw(st.integers(2, 3), label="n_labels")
            Y = (Z @ W[:, :L] + rng.normal(size=(n + n_val, L)) > 0).astype(int)
            labels = np.arange(L)
        else:
            k = {"binary": 2, "single": 1}.get(target) or data.draw(
                st.integers(3, 4), label="n_classes"
            )
            names = LABEL_NAMES[
                data.draw(st.sampled_from(["int", "str", "neg"]), label="label_names")
            ][:k]
            codes = np.argmax(Z @ W[:, :k] + rng.normal(size=(n + n_val, k)), axis=1)
            codes[:k] = np.arange(k)  # every class is in the training rows
            Y, labels = names[codes], names
    else:
        target = data.draw(st.sampled_from(["single", "multi"]), label="target")
        k = 1 if target == "single" else data.draw(st.integers(2, 3), label="n_out")
        F = np.tanh(Z @ W[:, :k]) + 0.1 * rng.normal(size=(n + n_val, k))
        Y = rng.poisson(np.exp(F)).astype(float) if poisson else F
        Y = Y[:, 0] if target == "single" else Y
        labels = None
    X = _format_X(Z * scale, fmt)
    rows = np.arange(n + n_val)
    return Problem(
        classifier,
        target,
        _take(X, rows[:n]),
        Y[:n],
        _take(X, rows[n:]),
        Y[n:],
        labels,
        poisson,
        rng,
    )


def _take(X, rows):
    return X[rows] if not sp.issparse(X) else X[rows].asformat(X.format)


def _take_y(y, rows):
    return _take(y, rows) if sp.issparse(y) else np.asarray(y)[rows]


def _with_nan(X):
    dense = (X.toarray() if sp.issparse(X) else X).astype(float)
    dense[0, 0] = np.nan
    return type(X)(dense) if sp.issparse(X) else dense


def _extra_feature(X):
    if sp.issparse(X):
        return sp.hstack([X, X[:, :1]]).asformat(X.format)
    return np.hstack([X, X[:, :1]])


# ---------------------------------------------------------------------------
# estimators
# ---------------------------------------------------------------------------

HIDDEN = [(3,), (), (4, 2), 5]


def _n_hidden(sizes) -> int:
    return 1 if np.ndim(sizes) == 0 else len(sizes)


def _hidden_list(sizes) -> list[int]:
    return [int(sizes)] if np.ndim(sizes) == 0 else [int(s) for s in sizes]


def draw_dropout(data, sizes):
    kind = data.draw(st.sampled_from(["none", "float", "per-layer"]), label="dropout")
    if kind == "none":
        return 0.0
    if kind == "float":
        return 0.25
    return [0.2, 0.0, 0.1][: _n_hidden(sizes)]


def draw_class_weight(data, problem: Problem):
    kind = data.draw(
        st.sampled_from(
            [None, "balanced", "dict", "dict_zero", "dict_invalid", "dict_partial"]
        ),
        label="class_weight",
    )
    if kind in (None, "balanced"):
        return kind
    value = st.sampled_from([1.0, 0.5, 3.0])
    bad = {
        "dict_zero": 0.0,
        "dict_invalid": data.draw(
            st.sampled_from([-1.0, np.nan, np.inf]), label="bad_weight"
        ),
    }.get(kind)
    if problem.target == "multilabel":
        L = len(problem.labels)
        cw = [{0: data.draw(value), 1: data.draw(value)} for _ in range(L)]
        if bad is not None:
            cw[data.draw(st.integers(0, L - 1))][data.draw(st.integers(0, 1))] = bad
        return cw[:-1] if kind == "dict_partial" else cw
    cw = {label.item(): data.draw(value) for label in problem.labels}
    keys = list(cw)
    if bad is not None:
        cw[keys[data.draw(st.integers(0, len(keys) - 1))]] = bad
    if kind == "dict_partial":
        del cw[keys[data.draw(st.integers(0, len(keys) - 1))]]
    return cw


# The regressor's losses (README, and the docstrings of ``loss``, ``quantile``
# and ``huber_threshold``). A draw is the parameters it sets: "loss", with
# "quantile" or "huber_threshold" where the loss reads them.
QUANTILE_LEVEL = [0.3, 0.5, 0.05, 0.9]
QUANTILE_LEVELS = [  # several, increasing: non-crossing outputs
    [0.1, 0.5, 0.9],  # predict: the 0.5 level itself
    [0.25, 0.75],  # predict: halfway between the two
    (0.1, 0.3, 0.6, 0.95),  # predict: 2/3 of the way from 0.3 to 0.6
    np.array([0.05, 0.2, 0.4]),  # all below 0.5: predict is the 0.4 level
    [0.6, 0.8],  # all above: predict is the 0.6 level
]
HUBER_THRESHOLDS = [1.0, 0.1, 5.0]
# refused before training, whatever the data
BAD_LOSSES = [
    {"loss": "quantile", "quantile": None},  # the levels are required
    {"loss": "quantile", "quantile": [0.5, 0.1]},  # not increasing
    {"loss": "quantile", "quantile": [0.2, 0.2]},  # not strictly
    {"loss": "quantile", "quantile": 1.0},  # outside (0, 1)
    {"loss": "quantile", "quantile": [0.0, 0.5]},
    {"loss": "quantile", "quantile": []},
    {"loss": "quantile", "quantile": [[0.1, 0.5]]},  # not one-dimensional
    # a float quantile is checked (scikit-learn's constraint) even where ignored
    {"loss": "huber", "quantile": 1.5},
    {"loss": "huber", "huber_threshold": 0.0},
    {"loss": "huber", "huber_threshold": -1.0},
    {"loss": "huber", "huber_threshold": np.inf},
    {"loss": (log_cosh, log_cosh_wrong_gradient)},  # fails the gradient check
    {"loss": [log_cosh, log_cosh_gradient]},  # a list: the pair is a tuple
    {"loss": (log_cosh,)},
    {"loss": "hinge"},
]
LOSS_KINDS = (
    ["squared_error"] * 2
    + ["poisson"] * 2
    + ["absolute_error", "huber", "quantile", "quantiles", "quantiles", "custom"]
    + ["invalid"]
)
REGRESSION_LOSS_NAMES = {
    "squared_error",
    "poisson",
    "absolute_error",
    "huber",
    "quantile",
}


def draw_loss(data, kinds=LOSS_KINDS) -> dict:
    """The regressor's loss parameters."""
    kind = data.draw(st.sampled_from(kinds), label="loss")
    if kind == "huber":
        d = data.draw(st.sampled_from(HUBER_THRESHOLDS), label="huber_threshold")
        return {"loss": "huber", "huber_threshold": d}
    if kind == "quantile":
        q = data.draw(st.sampled_from(QUANTILE_LEVEL), label="quantile")
        return {"loss": "quantile", "quantile": q}
    if kind == "quantiles":
        q = data.draw(st.sampled_from(QUANTILE_LEVELS), label="quantiles")
        return {"loss": "quantile", "quantile": q}
    if kind == "custom":
        return {"loss": LOG_COSH}
    if kind == "invalid":
        return dict(data.draw(st.sampled_from(BAD_LOSSES), label="bad_loss"))
    return {"loss": kind}


def _loss_invalid(p: dict) -> str | None:
    """Why the regressor's loss parameters must be refused, or None."""
    loss, q, d = p["loss"], p["quantile"], p["huber_threshold"]
    if q is not None and np.ndim(q) == 0 and not 0 < q < 1:
        return "quantile a float outside (0, 1)"
    if not 0 < d < math.inf:
        return "huber_threshold not in (0, inf)"
    if isinstance(loss, str):
        if loss not in REGRESSION_LOSS_NAMES:
            return "unknown loss"
        if loss != "quantile":
            return None
        if q is None:
            return "loss='quantile' without quantile"
        levels = np.atleast_1d(np.asarray(q, dtype=float))
        if levels.ndim > 1 or levels.size == 0:
            return "quantile not one or more levels"
        if not ((levels > 0) & (levels < 1)).all():
            return "quantile level outside (0, 1)"
        if (np.diff(levels) <= 0).any():
            return "quantile levels not strictly increasing"
        return None
    if not isinstance(loss, tuple):
        return "loss neither a name nor a tuple"
    if len(loss) != 2 or not all(callable(g) for g in loss):
        return "loss not a (function, gradient) pair"
    if loss[1] is log_cosh_wrong_gradient:
        return "loss gradient does not match its function"
    return None


def _n_levels(p: dict) -> int:
    """Output units per target: the number of quantile levels, else 1."""
    return np.atleast_1d(p["quantile"]).size if p["loss"] == "quantile" else 1


def _out_activation(p: dict) -> str:
    if p["loss"] == "poisson":
        return "exp"
    return "noncrossing" if _n_levels(p) > 1 else "identity"


def draw_estimator(data, problem: Problem, loss: dict | None = None):
    """``loss``: the regressor's loss parameters (default: the problem's)."""
    solver = data.draw(st.sampled_from(["adam", "sgd", "lbfgs"]), label="solver")
    hidden = data.draw(st.sampled_from(HIDDEN), label="hidden_layer_sizes")
    params = dict(
        hidden_layer_sizes=hidden,
        activation=data.draw(st.sampled_from(ACTIVATIONS), label="activation"),
        solver=solver,
        alpha=data.draw(st.sampled_from([1e-4, 0.0, 0.5]), label="alpha"),
        batch_size=data.draw(st.sampled_from(["auto", 7, 16, 100]), label="batch"),
        learning_rate=data.draw(
            st.sampled_from(["constant", "invscaling", "adaptive", "cosine"]),
            label="learning_rate",
        ),
        learning_rate_init=data.draw(
            st.sampled_from([1e-3, 0.05, 1.0, 50.0]), label="learning_rate_init"
        ),
        max_iter=data.draw(st.integers(1, 5), label="max_iter"),
        shuffle=data.draw(st.booleans(), label="shuffle"),
        tol=data.draw(st.sampled_from([1e-4, 0.0]), label="tol"),
        warm_start=data.draw(st.booleans(), label="warm_start"),
        momentum=data.draw(st.sampled_from([0.9, 0.0]), label="momentum"),
        nesterovs_momentum=data.draw(st.booleans(), label="nesterov"),
        early_stopping=data.draw(st.booleans(), label="early_stopping"),
        validation_fraction=data.draw(
            st.sampled_from([0.1, 0.3, 0.6]), label="validation_fraction"
        ),
        n_iter_no_change=data.draw(st.sampled_from([10, 1, 2]), label="patience"),
        max_fun=data.draw(st.sampled_from([15000, 4]), label="max_fun"),
        dropout=draw_dropout(data, hidden),
        scoring=data.draw(
            st.sampled_from(CLF_SCORINGS if problem.classifier else REG_SCORINGS),
            label="scoring",
        ),
        dtype=data.draw(st.sampled_from(["auto", "float32", "float64"]), label="dtype"),
    )
    rs = data.draw(st.integers(0, 3), label="random_state")
    if data.draw(st.booleans(), label="random_state_is_instance"):
        rs = np.random.RandomState(rs)
    params["random_state"] = rs
    if problem.classifier:
        params["class_weight"] = draw_class_weight(data, problem)
        return NumpyMLPClassifier(**params)
    if loss is None:
        loss = {"loss": "poisson" if problem.poisson else "squared_error"}
    return NumpyMLPRegressor(**loss, **params)


# ---------------------------------------------------------------------------
# calls
# ---------------------------------------------------------------------------


@dataclass
class Call:
    """One call on the model: its arguments and what the oracle expects."""

    method: str  # fit, partial_fit
    X: object
    y: object
    kwargs: dict
    expect: str = "ok"  # ok, refuse, either, attribute
    why: list = field(default_factory=list)

    def describe(self) -> str:
        def shape(v):
            if v is None:
                return "None"
            if sp.issparse(v):
                return f"{v.format}{v.shape}"
            a = np.asarray(v, dtype=object) if isinstance(v, list) else v
            return f"{getattr(a, 'dtype', type(a).__name__)}{getattr(a, 'shape', '')}"

        args = ", ".join(f"{k}={shape(v)}" for k, v in self.kwargs.items())
        return (
            f"{self.method}(X={shape(self.X)}, y={shape(self.y)}, {args}) "
            f"expect={self.expect} {self.why}"
        )


def draw_weights(data, n: int, label: str):
    kind = data.draw(
        st.sampled_from(["none", "ones", "some_zeros", "random", "invalid"]),
        label=label,
    )
    if kind == "none":
        return None
    rng = np.random.RandomState(data.draw(st.integers(0, 99), label=f"{label}_seed"))
    if kind == "ones":
        return np.ones(n)
    w = rng.uniform(0.1, 3.0, size=n)
    if kind == "some_zeros":
        w[rng.rand(n) < 0.4] = 0.0
        w[rng.randint(n)] = 1.0  # never all zero
        return w
    if kind == "random":
        return w
    bad = data.draw(
        st.sampled_from(["negative", "nan", "inf", "all_zero", "length", "2d"]),
        label=f"{label}_invalid",
    )
    if bad == "negative":
        w[0] = -1.0
    elif bad == "nan":
        w[0] = np.nan
    elif bad == "inf":
        w[0] = np.inf
    elif bad == "all_zero":
        w[:] = 0.0
    elif bad == "length":
        w = w[:-1]
    else:
        w = w[:, None]
    return w


def _weights_invalid(w, n: int) -> bool:
    if w is None:
        return False
    w = np.asarray(w, dtype=float)
    return (
        w.ndim != 1
        or len(w) != n
        or not np.isfinite(w).all()
        or (w < 0).any()
        or not w.any()
    )


def draw_y_variant(data, problem: Problem, y, label: str):
    """y itself, or a broken y (which must be refused)."""
    if data.draw(st.integers(0, 9), label=f"{label}_broken") < 9:
        return y, None  # nine calls in ten: a valid y
    n = len(y)
    if problem.classifier:
        kind = data.draw(st.sampled_from(["continuous", "nan"]), label=label)
        bad = np.linspace(0.1, 0.9, n) if kind == "continuous" else np.full(n, np.nan)
        return bad, f"y {kind}"
    kind = data.draw(
        st.sampled_from(["none", "strings", "str_dtype", "negative"]), label=label
    )
    if kind == "str_dtype":
        bad = np.asarray(y).astype(str)
    elif kind == "none":
        bad = np.asarray(y, dtype=object).copy()
        bad.flat[0] = None
    elif kind == "strings":
        bad = np.asarray(y).astype(str).astype(object)
        bad.flat[0] = "x"
    else:
        if not problem.poisson:
            return y, None
        bad = np.array(y, dtype=float)
        bad.flat[0] = -1.0
    return bad, f"y {kind}"


def draw_X_variant(data, problem: Problem, X, label: str):
    kind = data.draw(
        st.sampled_from(["same", "same", "other_features", "nan"]), label=label
    )
    if kind == "other_features":
        return _extra_feature(X), "other_features"
    if kind == "nan":
        return _with_nan(X), "nan"
    return X, None


def draw_validation(data, problem: Problem, kwargs: dict) -> dict:
    kind = data.draw(
        st.sampled_from(["none", "valid", "invalid"]), label="validation_set"
    )
    if kind == "none":
        return {}
    X_val, y_val = problem.X_val, problem.y_val
    sw_val = draw_weights(data, len(y_val), "sample_weight_val")
    out = {"X_val": X_val, "y_val": y_val}
    if sw_val is not None:
        out["sample_weight_val"] = sw_val
    if kind == "valid":
        return out
    bad = data.draw(
        st.sampled_from(
            ["X_only", "y_only", "sw_only", "features", "outputs", "length", "unseen"]
            + (["sparse_y"] if problem.target == "multilabel" else [])
        ),
        label="validation_invalid",
    )
    if bad == "X_only":
        del out["y_val"]
    elif bad == "y_only":
        del out["X_val"]
    elif bad == "sw_only":
        out = {"sample_weight_val": np.ones(len(y_val))}
    elif bad == "features":
        out["X_val"] = _extra_feature(X_val)
    elif bad == "outputs":
        if np.ndim(y_val) == 1:
            out["y_val"] = np.column_stack([y_val, y_val])
        elif problem.classifier:
            out["y_val"] = np.column_stack([y_val, y_val[:, 0]])
        else:
            out["y_val"] = y_val[:, 0]
    elif bad == "length":
        out["y_val"] = y_val[:-1]
    elif bad == "unseen":
        if problem.classifier and problem.target != "multilabel":
            other = "zz" if problem.labels.dtype.kind == "U" else 99
            out["y_val"] = np.concatenate([y_val[:-1], [other]])
        elif problem.poisson:
            out["y_val"] = np.where(np.arange(len(y_val)) == 0, -1.0, y_val.T).T
        else:
            out["y_val"] = y_val  # no unseen value for regression targets
    elif bad == "sparse_y":
        out["y_val"] = sp.csr_matrix(y_val)
    return out


def draw_fit(data, problem: Problem) -> Call:
    rows = data.draw(st.sampled_from(["all", "head"]), label="fit_rows")
    m = problem.n if rows == "all" else data.draw(st.integers(10, problem.n), label="m")
    X, y = _take(problem.X, np.arange(m)), problem.y[:m]
    X, _ = draw_X_variant(data, problem, X, "fit_X")
    y, _ = draw_y_variant(data, problem, y, "fit_y")
    kwargs = {}
    sw = draw_weights(data, m, "sample_weight")
    if sw is not None:
        kwargs["sample_weight"] = sw
    kwargs.update(draw_validation(data, problem, kwargs))
    return Call("fit", X, y, kwargs)


def draw_partial_fit(data, problem: Problem) -> Call:
    start = data.draw(st.integers(0, problem.n - 1), label="chunk_start")
    size = data.draw(st.integers(1, problem.n - start), label="chunk_size")
    rows = np.arange(start, start + size)
    X, y = _take(problem.X, rows), problem.y[rows]
    X, _ = draw_X_variant(data, problem, X, "partial_X")
    y, _ = draw_y_variant(data, problem, y, "partial_y")
    kwargs = {}
    if problem.classifier:
        kind = data.draw(
            st.sampled_from(["all", "none", "missing_label", "extra_label"]),
            label="classes",
        )
        labels = problem.labels
        if kind == "all":
            kwargs["classes"] = labels
        elif kind == "missing_label" and len(labels) > 1:
            # leave out a label that the chunk holds, if it holds any
            present = (
                np.unique(y) if np.ndim(y) == 1 and y.dtype.kind != "f" else labels
            )
            drop = present[0] if len(present) else labels[0]
            kwargs["classes"] = labels[labels != drop]
        elif kind == "extra_label":
            other = "zz" if labels.dtype.kind == "U" else 99
            kwargs["classes"] = np.concatenate([labels, [other]])
    sw = draw_weights(data, size, "sample_weight")
    if sw is not None:
        kwargs["sample_weight"] = sw
    return Call("partial_fit", X, y, kwargs)


def draw_set_params(data, problem: Problem, est) -> dict:
    keys = data.draw(
        st.lists(
            st.sampled_from(
                [
                    "solver",
                    "early_stopping",
                    "max_iter",
                    "batch_size",
                    "warm_start",
                    "learning_rate_init",
                    "dtype",
                    "scoring",
                    "dropout",
                    "hidden_layer_sizes",
                ]
                + (
                    ["class_weight"]
                    if problem.classifier
                    else ["loss", "quantile", "huber_threshold"]
                )
            ),
            min_size=1,
            max_size=3,
            unique=True,
        ),
        label="set_params",
    )
    choices = {
        "solver": st.sampled_from(["adam", "sgd", "lbfgs"]),
        "early_stopping": st.booleans(),
        "max_iter": st.integers(1, 5),
        "batch_size": st.sampled_from(["auto", 7, 16, 0]),
        "warm_start": st.booleans(),
        "learning_rate_init": st.sampled_from([1e-3, 0.05, 1.0]),
        "dtype": st.sampled_from(["auto", "float32", "float64"]),
        "scoring": st.sampled_from(
            CLF_SCORINGS if problem.classifier else REG_SCORINGS
        ),
        "hidden_layer_sizes": st.sampled_from(HIDDEN),
        # the levels alone: read by loss="quantile" only (a warm start with
        # another number of them is refused), a bad one or two among them
        "quantile": st.sampled_from(
            QUANTILE_LEVEL + QUANTILE_LEVELS + [None, [0.5, 0.1], 0.0]
        ),
        "huber_threshold": st.sampled_from(HUBER_THRESHOLDS + [0.0]),
    }
    new = {}
    for key in keys:
        if key == "dropout":
            new[key] = draw_dropout(data, est.hidden_layer_sizes)
        elif key == "class_weight":
            new[key] = draw_class_weight(data, problem)
        elif key == "loss":
            new.update(draw_loss(data))
        else:
            new[key] = data.draw(choices[key], label=key)
    return new


# ---------------------------------------------------------------------------
# the oracle: what the documentation says a call must do
# ---------------------------------------------------------------------------


def _is_multilabel_y(y) -> bool:
    return sp.issparse(y) or np.ndim(y) == 2


def _labels_of(y):
    if np.ndim(y) == 2 or sp.issparse(y):
        return set(range(y.shape[1]))
    return {v.item() if hasattr(v, "item") else v for v in np.unique(y)}


def _class_weight_rows(cw, y_train, sw_train, y_rows, sw_rows):
    """Row weights of y_rows: sw_rows times the class weights of a fit on y_train.

    ``cw`` a dict, a list of dicts (one per label), "balanced" (class c
    weighs W / (n_classes * W_c), W_c its total sample weight in y_train,
    n_classes the number of classes in y_train; 0 for a class absent from
    it, or of weight 0) or None. The README's definition, written anew.
    """
    Yr = _dense(y_rows).reshape(y_rows.shape[0], -1)
    w = np.ones(len(Yr)) if sw_rows is None else np.array(sw_rows, dtype=float)
    if cw is None:
        return w
    if cw != "balanced":
        dicts = cw if isinstance(cw, list) else [cw]
        for j, d in enumerate(dicts):
            w *= np.array([d.get(v.item(), 1.0) for v in Yr[:, j]])
        return w
    Yt = _dense(y_train).reshape(y_train.shape[0], -1)
    swt = np.ones(len(Yt)) if sw_train is None else np.asarray(sw_train, dtype=float)
    for j in range(Yt.shape[1]):
        present = np.unique(Yt[:, j])
        totals = np.array([swt[Yt[:, j] == c].sum() for c in present])
        table = {
            c.item(): (swt.sum() / (len(present) * t) if t > 0 else 0.0)
            for c, t in zip(present, totals)
        }
        w *= np.array([table.get(v.item(), 0.0) for v in Yr[:, j]])
    return w


def _scoring_risky(scoring, problem: Problem) -> str | None:
    """Why a scorer may not be computable on this problem's validation sets."""
    if scoring == "balanced_accuracy" and problem.target == "multilabel":
        return "balanced_accuracy on multilabel targets"
    if scoring == "neg_max_error" and problem.target == "multi":
        return "max_error on multi-output targets"
    if scoring == "neg_log_loss":
        return "log_loss on a validation set that may lack classes"
    return None


def expect(est, call: Call, problem: Problem) -> Call:
    """Fill in call.expect and call.why from the model's state and the arguments."""
    refuse, either = [], []
    X, y, kw = call.X, call.y, call.kwargs
    p = est.get_params()
    fitted = hasattr(est, "coefs_")
    incremental = call.method == "partial_fit"
    if incremental and p["solver"] == "lbfgs":
        call.expect, call.why = "attribute", ["partial_fit with lbfgs"]
        return call
    first_pass = not fitted or (not p["warm_start"] and not incremental)

    # parameters
    if p["batch_size"] == 0:
        refuse.append("batch_size=0")
    dropout = p["dropout"]
    if np.ndim(dropout) and len(dropout) != _n_hidden(p["hidden_layer_sizes"]):
        refuse.append("dropout length")
    if p["solver"] == "lbfgs" and np.any(np.asarray(dropout) > 0):
        refuse.append("dropout with lbfgs")
    loss_invalid = None if problem.classifier else _loss_invalid(p)
    if loss_invalid:
        refuse.append(loss_invalid)
    poisson = not problem.classifier and p["loss"] == "poisson"

    # X and y
    n = X.shape[0]
    dense = X.toarray() if sp.issparse(X) else X
    if not np.isfinite(np.asarray(dense, dtype=float)).all():
        refuse.append("X has NaN")
    if not first_pass and X.shape[1] != est.n_features_in_:
        refuse.append("n_features changed")
    y_arr = np.asarray(y) if not sp.issparse(y) else y
    y_broken = False
    if problem.classifier:
        if y_arr.dtype.kind == "f":
            refuse.append("y not class labels")
            y_broken = True
    elif y_arr.dtype.kind == "U":
        # numeric strings: converted (as scikit-learn's MLPRegressor does) or
        # refused, but cleanly and before training
        either.append("y of numeric strings")
        y_broken = True
    elif y_arr.dtype.kind == "O" or (poisson and (y_arr < 0).any()):
        refuse.append("y invalid for regression")
        y_broken = True
    if not first_pass:
        if _hidden_list(p["hidden_layer_sizes"]) != [
            len(b) for b in est.intercepts_[:-1]
        ]:
            refuse.append("hidden_layer_sizes changed")
        fitted_dtype = est.coefs_[0].dtype
        if p["dtype"] != "auto" and np.dtype(p["dtype"]) != fitted_dtype:
            refuse.append("dtype changed")
        if not problem.classifier and not y_broken:
            n_out = 1 if np.ndim(y) == 1 else y.shape[1]
            if n_out != est.n_outputs_:
                refuse.append("n_outputs changed")
            if not loss_invalid:
                # the network's outputs are kept: the loss must read them as
                # they are (the same output activation, units per target)
                if _out_activation(p) != est.out_activation_:
                    refuse.append("output activation changed")
                if n_out * _n_levels(p) != est.intercepts_[-1].shape[0]:
                    refuse.append("output units changed")

    # classes
    classes = None  # what classes_ is after the call
    if problem.classifier and not y_broken:
        labels = _labels_of(y)
        multilabel = problem.target == "multilabel"
        if incremental:
            given_classes = kw.get("classes")
            if given_classes is not None:
                given_set = {v.item() for v in np.asarray(given_classes)}
                if multilabel:
                    either.append("classes= with multilabel partial_fit")
            if not fitted:
                if given_classes is None:
                    if not multilabel:
                        refuse.append("first partial_fit without classes")
                    classes = labels
                else:
                    classes = given_set
            else:
                classes = set(est.classes_.tolist())
                if given_classes is not None and given_set != classes:
                    refuse.append("classes= differs from classes_")
            if classes is not None and not multilabel and not labels <= classes:
                refuse.append("labels not in classes")
        elif first_pass:
            classes = labels
        else:
            classes = set(est.classes_.tolist())
            if labels != classes:
                refuse.append("warm start with other classes")

    # sample weights and class weights
    sw = kw.get("sample_weight")
    if _weights_invalid(sw, n):
        refuse.append("invalid sample_weight")
    elif problem.classifier and not y_broken and p["class_weight"] is not None:
        # README: values finite and non-negative, some sample left a weight
        cw = p["class_weight"]
        multilabel = problem.target == "multilabel"
        if cw != "balanced":
            dicts = cw if isinstance(cw, list) else [cw]
            if not all(math.isfinite(v) and v >= 0 for d in dicts for v in d.values()):
                refuse.append("class_weight value negative or not finite")
            if multilabel and (not isinstance(cw, list) or len(cw) != y.shape[1]):
                refuse.append("class_weight not one dict per label")
            elif not multilabel and classes is not None:
                if set(cw) - classes and classes - set(cw):
                    # compute_class_weight's rule: keys that are no class are
                    # refused if some class has no key
                    either.append("class_weight keys are not the classes")
        if not refuse:
            if not _class_weight_rows(cw, y, sw, y, sw).any():
                refuse.append("class weights times sample weights all zero")

    # the validation set
    names = ("X_val", "y_val", "sample_weight_val")
    given = {k for k in names if k in kw}
    if given:
        if given == {"sample_weight_val"}:
            refuse.append("sample_weight_val without X_val, y_val")
        elif not {"X_val", "y_val"} <= given:
            refuse.append("X_val without y_val or y_val without X_val")
        else:
            X_val, y_val = kw["X_val"], kw["y_val"]
            if X_val.shape[1] != X.shape[1]:
                refuse.append("X_val n_features")
            if y_val.shape[0] != X_val.shape[0]:
                refuse.append("y_val length")
            if _weights_invalid(kw.get("sample_weight_val"), X_val.shape[0]):
                refuse.append("invalid sample_weight_val")
            cw = p.get("class_weight")
            if problem.classifier and cw is not None and not refuse:
                sw_val = kw.get("sample_weight_val")
                if not _class_weight_rows(cw, y, sw, y_val, sw_val).any():
                    refuse.append("validation weights all zero")
            if problem.classifier:
                if sp.issparse(y_val):
                    either.append("sparse y_val")
                if (np.ndim(y) == 2) != _is_multilabel_y(y_val) or (
                    np.ndim(y) == 2 and y_val.shape[1] != y.shape[1]
                ):
                    refuse.append("y_val outputs")
                elif classes is not None and np.ndim(y_val) == 1:
                    if not _labels_of(y_val) <= classes:
                        refuse.append("y_val has unseen labels")
            else:
                if np.ndim(y_val) != np.ndim(y) or (
                    np.ndim(y) == 2 and y_val.shape[1] != y.shape[1]
                ):
                    refuse.append("y_val outputs")
                if poisson and (np.asarray(y_val) < 0).any():
                    refuse.append("y_val negative for poisson")

    # the scorer, if a validation set may be scored
    may_validate = not incremental and (
        "X_val" in kw or (p["early_stopping"] and p["solver"] != "lbfgs")
    )
    risky = _scoring_risky(p["scoring"], problem)
    if may_validate and risky:
        either.append(risky)

    call.why = refuse or either
    call.expect = "refuse" if refuse else "either" if either else "ok"
    return call


# ---------------------------------------------------------------------------
# the model's state, byte for byte
# ---------------------------------------------------------------------------

# scratch space for failed calls, and the callback machinery's live objects
_NOT_STATE = {
    "_backup",
    "_skl_callbacks",
    "_skl_callbacks_to_teardown",
    "_callback_fit_ctx",
    "_parent_callback_ctx",
}


def _freeze(value, timeless: bool):
    """A comparable, hashable image of a value: arrays by their bytes."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return (
                "objects",
                value.shape,
                tuple(_freeze(v, timeless) for v in value.flat),
            )
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if sp.issparse(value):
        return ("sparse", value.format, _freeze(value.toarray(), timeless))
    if isinstance(value, np.random.RandomState):
        return ("rng", _freeze(value.get_state(), timeless))
    if isinstance(value, dict):
        items = [
            (repr(k), _freeze(v, timeless))
            for k, v in value.items()
            if not (timeless and k in ("time", "_elapsed"))
        ]
        return ("dict", tuple(sorted(items, key=lambda kv: kv[0])))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_freeze(v, timeless) for v in value))
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.tobytes())
    if value is None or isinstance(value, (bool, int, str)):
        return (type(value).__name__, value)
    if isinstance(value, (type, np.dtype)) or callable(value):
        return ("named", repr(value))
    if hasattr(value, "__dict__"):
        # an object the model holds (optimizer, label binarizer): its public
        # state (the optimizer's private arrays are scratch space)
        public = {k: v for k, v in vars(value).items() if not k.startswith("_")}
        return (type(value).__name__, _freeze(public, timeless))
    return ("repr", repr(value))


def state(est, timeless: bool = False) -> dict:
    """Every attribute of the model (``timeless``: without the clock's)."""
    return {
        k: _freeze(v, timeless)
        for k, v in vars(est).items()
        if k not in _NOT_STATE and not (timeless and k == "_elapsed")
    }


def _changed(before: dict, after: dict) -> list[str]:
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k))


def _params_image(est) -> dict:
    params = est.get_params()
    params.pop("random_state")  # an instance is consumed by fitting, by design
    return {k: _freeze(v, False) for k, v in params.items()}


def _inputs_image(call: Call):
    return _freeze([call.X, call.y, call.kwargs], False)


# ---------------------------------------------------------------------------
# exceptions and warnings
# ---------------------------------------------------------------------------

_TRAINING = os.path.join("skmlp", "_training.py")


def _frames(exc):
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame.f_code.co_filename
        tb = tb.tb_next


def check_refusal(exc, call: Call, est) -> None:
    """A failed call must fail cleanly, before training."""
    frames = list(_frames(exc))
    where = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    assert not any(f.endswith(_TRAINING) for f in frames), (
        f"raised during training, not before it: {where}"
    )
    allowed = (
        (AttributeError,) if call.expect == "attribute" else (ValueError, TypeError)
    )
    module = type(exc).__module__
    assert isinstance(exc, allowed) and (
        type(exc) in allowed or module.startswith(("sklearn", "skmlp"))
    ), f"not a clear {' or '.join(a.__name__ for a in allowed)}: {where}"
    # raised by numpy's or scipy's own Python code: an accident, not a check
    innermost = frames[-1] if frames else ""
    sep = os.sep
    assert not any(f"{sep}{pkg}{sep}" in innermost for pkg in ("numpy", "scipy")), (
        f"raised inside {innermost}, not by a check: {where}"
    )


def _allowed_warning(w) -> bool:
    if issubclass(w.category, (ConvergenceWarning, DivergenceWarning)):
        return True
    if os.path.join("sklearn", "metrics", "") in w.filename:
        return True  # a scorer's own (UndefinedMetricWarning, labels missing)
    message = str(w.message)
    return w.category is UserWarning and (
        "validation set" in message  # too small to split: the training loss
        or "batch_size" in message  # larger than the data: clipped
        or "takes no sample_weight" in message  # scorer without weights
    )


# ---------------------------------------------------------------------------
# after a successful call
# ---------------------------------------------------------------------------


@dataclass
class Before:
    fitted: bool
    continuing: bool  # the call goes on from the model's state
    curve: int = 0
    history: dict = field(default_factory=dict)
    validation_scores: int = 0
    t: int = 0
    classes: object = None
    units: list = None
    dtype: object = None


def before(est, call: Call) -> Before:
    fitted = hasattr(est, "coefs_")
    continuing = fitted and (call.method == "partial_fit" or est.warm_start)
    b = Before(fitted, continuing)
    if fitted:
        b.curve = len(est.loss_curve_)
        b.history = {k: len(v) for k, v in est.history_.items()}
        b.validation_scores = len(est.validation_scores_ or [])
        b.t = est.t_
        b.classes = getattr(est, "classes_", None)
        b.units = [est.coefs_[0].shape[0]] + [len(i) for i in est.intercepts_]
        b.dtype = est.coefs_[0].dtype
    return b


def _expected_dtype(param, X):
    if param != "auto":
        return np.dtype(param)
    kind = X.dtype
    exact = (
        kind == np.float32
        or kind.kind == "b"
        or (kind.kind in "iu" and kind.itemsize <= 2)
    )
    return np.dtype(np.float32 if exact else np.float64)


def _logits64(est, X):
    """The network's logits, recomputed in float64 from the weights."""
    dtype = est.coefs_[0].dtype
    A = (X.toarray() if sp.issparse(X) else np.asarray(X)).astype(dtype).astype(float)
    act = get_activation(est.activation)
    for i, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        A = A @ W.astype(float) + b.astype(float)
        if i < len(est.coefs_) - 1:
            act.forward(A)
    return A


def _validation_loss(est, X, y, sw):
    """The data loss on a validation set, recomputed in float64."""
    Z = _logits64(est, X)
    if est.out_activation_ == "softmax":
        T = np.asarray(y)[:, None] == est.classes_[None, :]
        per = logsumexp(Z, axis=1) - (Z * T).sum(axis=1)
    elif est.out_activation_ == "logistic":
        T = (
            _dense(y)
            if np.ndim(y) == 2 or sp.issparse(y)
            else (np.asarray(y) == est.classes_[-1])
        )
        T = np.asarray(T, dtype=float).reshape(Z.shape)
        if len(est.classes_) == 1:
            T[:] = 0.0  # LabelBinarizer's encoding of a single class
        per = (np.logaddexp(0, Z) - T * Z).sum(axis=1)
    else:
        per = _regression_loss(est, Z, np.asarray(y, dtype=float))
    return float(np.average(per, weights=sw))


def _regression_loss(est, Z, y):
    """Per-sample loss of the logits Z (n, units) for the targets y.

    From the docstring of ``loss``, written anew: squared error averaged
    over the outputs (as ``loss_``), Poisson summed over them (both as in
    scikit-learn), every other loss the mean over the output columns.
    """
    n, loss = Z.shape[0], est.loss
    T = y.reshape(n, -1)  # (n, K)
    if loss == "poisson":
        return (xlogy(T, T) - T * Z - T + np.exp(Z)).sum(axis=1)
    if loss == "quantile":
        q = np.atleast_1d(np.asarray(est.quantile, dtype=float))  # (Q,)
        Zr = Z.reshape(n, T.shape[1], len(q))  # target by target, lowest first
        # p_0 = z_0, p_j = p_{j-1} + softplus(z_j): non-crossing levels
        gaps = np.logaddexp(0.0, Zr[:, :, 1:])
        P = np.concatenate([Zr[:, :, :1], Zr[:, :, :1] + np.cumsum(gaps, 2)], 2)
        r = P - T[:, :, None]  # p - t, (n, K, Q)
        pinball = np.where(r < 0, -q * r, (1 - q) * r)  # q (t - p) below t
        return pinball.reshape(n, -1).mean(axis=1)
    r = Z - T
    if loss == "squared_error":
        per = 0.5 * r**2
    elif loss == "absolute_error":
        per = np.abs(r)
    elif loss == "huber":
        d, a = est.huber_threshold, np.abs(r)
        per = np.where(a <= d, 0.5 * a**2, d * a - 0.5 * d**2)
    else:
        assert loss == LOG_COSH, loss  # (a pickled copy: equal, not the same)
        per = np.logaddexp(r, -r) - math.log(2)  # log((e^r + e^-r) / 2)
    return per.mean(axis=1)


def _canonical_loss(est) -> bool:
    """MLPRegressor's losses, whose early stopping scores R^2 by default."""
    return isinstance(est.loss, str) and est.loss in ("squared_error", "poisson")


def rescore(est, X, y, sw) -> float:
    """What early stopping's score of the current weights on (X, y) should be."""
    scoring = est.scoring
    if scoring is None and not is_classifier(est) and not _canonical_loss(est):
        scoring = "loss"  # minus the validation loss (the docstring of scoring)
    if scoring is None:
        pred = est.predict(X)
        y = _dense(y)
        metric = accuracy_score if is_classifier(est) else r2_score
        return float(metric(y, pred, sample_weight=sw))
    if scoring == "loss":
        with np.errstate(over="ignore"):  # exp of a large Poisson logit, ...
            return -_validation_loss(est, X, y, sw)
    if scoring is score_plain:
        return score_plain(est, X, y)
    scorer = check_scoring(est, scoring=scoring)
    takes_weights = scoring is score_weighted or (
        "sample_weight" in inspect.signature(scorer._score_func).parameters
    )
    if sw is None or not takes_weights:
        return float(scorer(est, X, y))
    return float(scorer(est, X, y, sample_weight=sw))


def check_outputs(est, problem: Problem, X, diverged: bool) -> None:
    """Predictions, probabilities and transform of a fitted model.

    Finite on the rows just trained on, unless the call diverged: the
    weights kept are then finite, but may be the very first ones, whose
    outputs can overflow on unscaled data (shapes are still checked).
    """
    if diverged:
        with np.errstate(all="ignore"):
            _check_outputs(est, problem, X, finite=False)
    else:
        _check_outputs(est, problem, X, finite=True)


def _check_outputs(est, problem: Problem, X, finite: bool) -> None:
    rows = min(X.shape[0], 8)
    Xc = _take(X, np.arange(rows))
    pred = est.predict(Xc)
    dtype = est.coefs_[0].dtype
    eps = np.finfo(dtype).eps
    if problem.classifier:
        classes = est.classes_
        if problem.target == "multilabel":
            assert pred.shape == (rows, len(classes))
            assert np.isin(pred, [0, 1]).all()
        else:
            assert pred.shape == (rows,)
            assert np.isin(pred, classes).all(), (pred, classes)
        proba = est.predict_proba(Xc)
        log_proba = est.predict_log_proba(Xc)
        assert proba.shape == log_proba.shape == (rows, len(classes)), proba.shape
        if finite:
            assert np.isfinite(proba).all(), proba
            assert (proba >= 0).all() and (proba <= 1).all(), proba
            assert np.isfinite(log_proba).all() and (log_proba <= 0).all()
            if problem.target == "multilabel":
                assert (pred == (proba > 0.5)).all()
            else:
                # softmax: the sum of k rounded terms, each within eps/2 of
                # its value, and the normalisation's own rounding: a few k eps
                tol = 4 * len(classes) * eps
                sums = proba.astype(float).sum(axis=1)
                assert np.all(np.abs(sums - 1) <= tol), (sums - 1, tol)
                if len(classes) > 1:
                    assert (pred == classes[proba.argmax(axis=1)]).all()
    else:
        shape = (rows,) if np.ndim(problem.y) == 1 else (rows, problem.y.shape[1])
        assert pred.shape == shape
        if finite:
            assert np.isfinite(pred).all(), f"predictions not finite: {pred}"
            if est.out_activation_ == "exp":
                assert (pred >= 0).all()
        _check_quantiles(est, Xc, pred, shape, finite)
    if rows >= 2 and finite:  # R^2 needs two samples; -inf if squares overflow
        assert not np.isnan(est.score(Xc, problem.y[:rows]))
    if len(est.coefs_) > 1:
        out = est.transform(Xc)
        assert out.shape == (rows, len(est.intercepts_[-2]))
        assert not finite or np.isfinite(out).all(), f"transform not finite: {out}"
        assert len(est.get_feature_names_out()) == out.shape[1]
    else:
        assert not hasattr(est, "transform"), (
            "transform advertised without a hidden layer"
        )
        with pytest.raises(AttributeError):
            est.transform(Xc)


def _median(levels, Q):
    """predict's median of the quantile predictions Q (..., n_levels).

    The docstring of predict, written anew: the 0.5 level if fitted, else
    the linear interpolation at 0.5 between the levels on either side of it,
    else (all on one side) the level nearest to 0.5.
    """
    levels = list(levels)
    if 0.5 in levels:
        return Q[..., levels.index(0.5)]
    below = [i for i, q in enumerate(levels) if q < 0.5]
    above = [i for i, q in enumerate(levels) if q > 0.5]
    if not below or not above:
        return Q[..., int(np.argmin(np.abs(np.array(levels) - 0.5)))]
    i, j = below[-1], above[0]
    w = (0.5 - levels[i]) / (levels[j] - levels[i])
    return (1 - w) * Q[..., i] + w * Q[..., j]


def _check_quantiles(est, Xc, pred, shape, finite: bool) -> None:
    """predict_quantiles: there exactly for a quantile model, every level,
    never decreasing along them; predict is their median."""
    if est.loss != "quantile":
        assert not hasattr(est, "quantiles_"), "quantiles_ kept from another loss"
        assert not hasattr(est, "predict_quantiles")
        return
    levels = np.atleast_1d(np.asarray(est.quantile, dtype=float))
    assert np.array_equal(est.quantiles_, levels), (est.quantiles_, levels)
    Q = est.predict_quantiles(Xc)
    assert Q.shape == (*shape, len(levels)), (Q.shape, shape, levels)
    assert Q.dtype == est.coefs_[0].dtype
    if not finite:
        return
    assert np.isfinite(Q).all(), f"quantiles not finite: {Q}"
    steps = np.diff(Q, axis=-1)
    assert (steps >= 0).all(), f"the quantiles cross: {Q}"
    median = _median(levels, Q.astype(float))
    eps = np.finfo(Q.dtype).eps
    tol = 4 * eps * max(1.0, float(np.abs(Q).max()))
    assert np.allclose(pred, median, rtol=0, atol=tol), (pred, median, levels)


def _validation_rows(est, problem: Problem, X, y, kw, held_out):
    """The validation set of a call, with the weights its loss and score use.

    The explicit one, or the rows of X that early stopping held out (``held_out``).
    """
    if "X_val" in kw:
        # validation rows are weighed by the class weights too (README)
        sw_val = kw.get("sample_weight_val")
        if problem.classifier:
            cw, sw = est.class_weight, kw.get("sample_weight")
            sw_val = _class_weight_rows(cw, y, sw, kw["y_val"], sw_val)
        return kw["X_val"], kw["y_val"], sw_val
    # the split held out: its rows of X, weighed as in training (class
    # weights from all of y, then the held-out rows taken)
    assert held_out is not None
    sw = kw.get("sample_weight")
    if problem.classifier:
        sw = _class_weight_rows(est.class_weight, y, sw, y, sw)
    sw_val = None if sw is None else np.asarray(sw)[held_out]
    return _take(X, held_out), _take_y(y, held_out), sw_val


def _check_val_loss(est, recorded, X, y, sw) -> None:
    """The validation loss recorded for the kept weights is theirs (the loss
    of the docstrings, recomputed in float64: round-off only)."""
    with np.errstate(over="ignore"):
        again = _validation_loss(est, X, y, sw)
    f64 = est.coefs_[0].dtype == np.float64
    tol = (1e-9 if f64 else 2e-4) * max(1, abs(recorded))
    assert abs(again - recorded) <= tol, ("val_loss", again, recorded)


def check_success(
    est, call: Call, problem: Problem, b: Before, caught, held_out=None
) -> None:
    """The invariants after a call that succeeded.

    ``held_out``: the validation rows of X that early stopping split off in
    this call (recorded from ``skmlp._data.validation_split``), or None.
    """
    diverged = any(issubclass(w.category, DivergenceWarning) for w in caught)
    fallback = any("no usable validation set" in str(w.message) for w in caught)
    incremental = call.method == "partial_fit"
    lbfgs = est.solver == "lbfgs"
    X, y, kw = call.X, call.y, call.kwargs
    n_iter = est.n_iter_

    # shapes, dtype and classes
    assert est.n_features_in_ == X.shape[1]
    if b.continuing:
        assert [est.coefs_[0].shape[0]] + [len(i) for i in est.intercepts_] == b.units
        assert est.coefs_[0].dtype == b.dtype
    else:
        assert est.coefs_[0].dtype == _expected_dtype(est.dtype, X)
        hidden = _hidden_list(est.hidden_layer_sizes)
        assert [len(i) for i in est.intercepts_[:-1]] == hidden
    for W, bias in zip(est.coefs_, est.intercepts_):
        assert W.shape[1] == len(bias) and W.dtype == bias.dtype == est.coefs_[0].dtype
        assert np.isfinite(W).all() and np.isfinite(bias).all()
    if problem.classifier:
        if b.continuing:
            assert np.array_equal(est.classes_, b.classes)
        elif problem.target == "multilabel":
            assert np.array_equal(est.classes_, np.arange(y.shape[1]))
        elif incremental:
            assert np.array_equal(est.classes_, np.unique(kw["classes"]))
        else:
            assert np.array_equal(est.classes_, np.unique(y))
        k = len(est.classes_)
        n_out = k if problem.target == "multilabel" or k > 2 else 1
        assert est.n_outputs_ == est.intercepts_[-1].shape[0] == n_out
    else:
        # one unit per target and quantile level, in the activation the
        # loss needs (a continuing call that would change them is refused)
        n_out = 1 if np.ndim(y) == 1 else y.shape[1]
        p = est.get_params()
        assert est.n_outputs_ == n_out
        assert est.intercepts_[-1].shape[0] == n_out * _n_levels(p)
        assert est.out_activation_ == _out_activation(p), est.out_activation_

    # epochs and records
    assert 0 <= n_iter <= (1 if incremental else est.max_iter)
    if not diverged and not lbfgs:
        assert n_iter >= 1
    assert hasattr(est, "loss_"), "loss_ not set"
    if not diverged:
        assert np.isfinite(est.loss_), est.loss_
    curve = est.loss_curve_
    assert len(curve) == (b.curve if b.continuing else 0) + n_iter
    assert np.isfinite(curve).all()
    history = est.history_
    for key in ("loss", "accuracy", "learning_rate", "time"):
        if key in history:
            assert len(history[key]) == len(curve), (key, len(history[key]), len(curve))
    assert np.array_equal(history["loss"], curve)
    rates = np.asarray(history["learning_rate"], dtype=float)
    assert np.all(np.isnan(rates) | ((rates >= 0) & np.isfinite(rates))), rates
    assert np.all(np.diff(history["time"]) >= 0)
    validated = "X_val" in kw or (
        not incremental and est.early_stopping and not lbfgs and not fallback
    )
    # README: the validation lists stay empty until a call has a validation
    # set, then have an entry per epoch (NaN for epochs without one)
    val_keys = [k for k in history if k.startswith("val_")]
    had_validation = any(b.history.get(k, 0) for k in val_keys) and b.continuing
    for key in val_keys:
        column = np.asarray(history[key], dtype=float)
        if (validated and n_iter) or had_validation:
            assert len(column) == len(curve), (key, len(column), len(curve))
        else:
            assert len(column) == 0, (key, len(column))
        new = column[len(column) - n_iter :] if len(column) else column
        if not validated:
            assert np.isnan(new).all(), (key, new)
        elif key == "val_loss" and not lbfgs:
            assert np.isfinite(new).all(), (key, new)
    minus_loss = est.scoring == "loss" or (
        est.scoring is None and not problem.classifier and not _canonical_loss(est)
    )
    if validated and n_iter and minus_loss:
        # the score is minus the validation loss, epoch by epoch
        score = np.asarray(history["val_score"][-n_iter:], dtype=float)
        loss = np.asarray(history["val_loss"][-n_iter:], dtype=float)
        assert np.array_equal(score, -loss, equal_nan=True), (score, loss)

    # samples counted
    n_train = X.shape[0]
    if validated and "X_val" not in kw:
        n_train -= math.ceil(est.validation_fraction * X.shape[0])
    t_before = b.t if b.continuing else 0
    assert est.t_ - t_before == (0 if lbfgs else n_iter * n_train)

    # early stopping on a validation set: the best epoch's weights are kept
    watched = validated and not incremental and est.early_stopping and not lbfgs
    if watched:
        scores = est.validation_scores_
        assert scores is not None
        old = b.validation_scores if b.continuing else 0
        assert len(scores) == old + n_iter
        new = np.asarray(scores[old:], dtype=float)
        assert np.array_equal(
            new,
            np.asarray(history["val_score"][-n_iter:] if n_iter else []),
            equal_nan=True,
        )
        if n_iter:
            # the best of this call's epochs (-inf: a score that overflowed)
            scored = new[~np.isnan(new)]
            assert len(scored), f"every validation score is NaN: {new}"
            best = est.best_validation_score_
            assert best == scored.max(), (best, new)
            X_v, y_v, sw_val = _validation_rows(est, problem, X, y, kw, held_out)
            again = rescore(est, X_v, y_v, sw_val)
            # the same forward pass, in float64 for "loss": round-off only
            f64 = est.coefs_[0].dtype == np.float64
            if math.isfinite(best):
                tol = (1e-9 if f64 else 2e-4) * max(1, abs(best))
                assert abs(again - best) <= tol, (again, best, new)
            else:
                assert again == best, (again, best, new)
            best_epochs = np.flatnonzero(new == best)
            if len(best_epochs) == 1:  # (a tie: either epoch's weights)
                epoch = len(curve) - n_iter + best_epochs[0]
                _check_val_loss(est, history["val_loss"][epoch], X_v, y_v, sw_val)
    elif not lbfgs and n_iter:
        assert est.best_loss_ is not None
        assert est.best_loss_ <= min(curve[-n_iter:])
        if "X_val" in kw and not diverged:
            # the weights kept are the last epoch's
            X_v, y_v, sw_val = _validation_rows(est, problem, X, y, kw, None)
            _check_val_loss(est, history["val_loss"][-1], X_v, y_v, sw_val)

    check_outputs(est, problem, X, diverged)


# ---------------------------------------------------------------------------
# running a call
# ---------------------------------------------------------------------------


def run_call(models: list, call: Call, problem: Problem) -> None:
    """Make the call on every model (twins after a pickle), then check it."""
    outcomes = []
    for est in models:
        b = before(est, call)
        image, params, inputs = state(est), _params_image(est), _inputs_image(call)
        held_out = []  # the validation rows early stopping splits off, if any

        def record_split(
            *args, _split=skmlp._base.validation_split, _into=held_out, **kwargs
        ):
            train_idx, val_idx = _split(*args, **kwargs)
            _into.append(val_idx)
            return train_idx, val_idx

        with (
            warnings.catch_warnings(record=True) as caught,
            mock.patch.object(skmlp._base, "validation_split", record_split),
        ):
            warnings.simplefilter("always")
            error = None
            if call.expect == "attribute":
                assert not hasattr(est, "partial_fit")
                with pytest.raises(AttributeError) as info:
                    est.partial_fit(call.X, call.y, **call.kwargs)
                error = info.value
            else:
                try:
                    getattr(est, call.method)(call.X, call.y, **call.kwargs)
                except Exception as exc:  # noqa: BLE001 - checked below
                    error = exc
            assert _inputs_image(call) == inputs, "the call modified its inputs"
            if error is not None:
                note(f"raised {type(error).__name__}: {error}")
                check_refusal(error, call, est)
                assert call.expect != "ok", (
                    f"a valid call was refused: {type(error).__name__}: {error}"
                )
                assert _changed(image, state(est)) == [], (
                    "a failed call changed the model"
                )
            else:
                assert call.expect not in ("refuse", "attribute"), (
                    f"an invalid call ({call.why}) succeeded"
                )
                assert _params_image(est) == params, "fit changed the parameters"
                assert len(held_out) <= 1, held_out
                split = held_out[0] if held_out else None
                check_success(est, call, problem, b, caught, held_out=split)
            unexpected = [w for w in caught if not _allowed_warning(w)]
            assert not unexpected, [
                f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
                for w in unexpected
            ]
        outcomes.append(None if error is None else type(error))
    if len(models) > 1:
        assert len(set(outcomes)) == 1, outcomes
        first = state(models[0], timeless=True)
        for other in models[1:]:
            diff = _changed(first, state(other, timeless=True))
            assert diff == [], f"the pickled copy went another way: {diff}"


def pickle_round_trip(models: list, problem: Problem) -> list:
    est = models[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. InconsistentVersionWarning
        copy = pickle.loads(pickle.dumps(est))
    assert _changed(state(est), state(copy)) == []
    if hasattr(est, "coefs_"):
        method = "predict_proba" if problem.classifier else "predict"
        X = problem.X
        if est.n_features_in_ != X.shape[1]:
            X = _extra_feature(X)  # fitted on the "other_features" variant
        a, c = getattr(est, method)(X), getattr(copy, method)(X)
        assert a.tobytes() == c.tobytes(), "predictions changed by pickling"
    return [est, copy]


def run_sequence(data, classifier: bool) -> None:
    loss = None if classifier else draw_loss(data)
    poisson = loss is not None and loss["loss"] == "poisson"
    problem = draw_problem(data, classifier, poisson)
    models = [draw_estimator(data, problem, loss)]
    note(f"estimator: {models[0]!r}")
    steps = data.draw(
        st.lists(
            st.sampled_from(["fit", "partial_fit", "set_params", "pickle"]),
            min_size=1,
            max_size=4,
        ),
        label="steps",
    )
    for step in steps:
        if step == "set_params":
            new = draw_set_params(data, problem, models[0])
            note(f"set_params({new})")
            for est in models:
                est.set_params(**new)
        elif step == "pickle":
            note("pickle round trip")
            models = pickle_round_trip(models, problem)[:2]
        else:
            draw = draw_fit if step == "fit" else draw_partial_fit
            call = expect(models[0], draw(data, problem), problem)
            note(call.describe())
            run_call(models, call, problem)


# ---------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------


@_seeded
@_budget(500)
@given(st.data())
def test_classifier_call_sequences(data):
    run_sequence(data, classifier=True)


@_seeded
@_budget(500)
@given(st.data())
def test_regressor_call_sequences(data):
    run_sequence(data, classifier=False)


@_seeded
@_budget(120)
@given(st.data())
def test_regression_losses_train_and_continue(data):
    """Every regression loss through a valid first fit (early stopping mostly
    on, so that the kept weights are rescored with each loss's own formula),
    then a continuing call after a change of loss (warm start or
    partial_fit: refused when the outputs no longer fit)."""
    kinds = ["absolute_error", "huber", "quantile", "quantiles", "custom"]
    loss = draw_loss(data, kinds + ["squared_error", "poisson"])
    # counts half the time, whatever the loss: every loss takes them, so that
    # a change to or from loss="poisson" is refused for its outputs alone
    counts = loss["loss"] == "poisson" or data.draw(st.booleans(), label="counts")
    problem = draw_problem(data, False, poisson=counts)
    est = draw_estimator(data, problem, loss)
    est.set_params(
        early_stopping=data.draw(st.sampled_from([True, True, False]), label="es"),
        scoring=data.draw(
            st.sampled_from([None, None, "loss", "r2", score_weighted]), label="sc"
        ),
        learning_rate_init=data.draw(st.sampled_from([1e-3, 0.05]), label="lr"),
    )
    if est.solver == "lbfgs":
        est.set_params(dropout=0.0)
    note(f"estimator: {est!r}")
    kwargs = {}
    sw = draw_weights(data, problem.n, "sample_weight")
    if not _weights_invalid(sw, problem.n) and sw is not None:
        kwargs["sample_weight"] = sw
    if data.draw(st.booleans(), label="X_val"):
        kwargs.update(X_val=problem.X_val, y_val=problem.y_val)
    call = expect(est, Call("fit", problem.X, problem.y, kwargs), problem)
    note(call.describe())
    assert call.expect != "refuse", call.why
    models = [est]
    run_call(models, call, problem)
    if not hasattr(est, "coefs_") or data.draw(st.integers(0, 3), label="stop") == 0:
        return
    if data.draw(st.booleans(), label="pickle"):
        models = pickle_round_trip(models, problem)
    change = data.draw(st.integers(0, 3), label="new_loss") > 0
    new = draw_loss(data, sorted(set(LOSS_KINDS))) if change else {}
    method = data.draw(st.sampled_from(["fit", "fit", "partial_fit"]), label="method")
    if method == "fit":
        new["warm_start"] = data.draw(st.integers(0, 3), label="warm_start") > 0
    note(f"set_params({new})")
    for m in models:
        m.set_params(**new)
    call = Call(method, problem.X, problem.y, dict(kwargs))
    if method == "partial_fit":
        call.kwargs = {k: v for k, v in kwargs.items() if k == "sample_weight"}
    call = expect(est, call, problem)
    note(call.describe())
    run_call(models, call, problem)


@_seeded
@_budget(150)
@given(st.data())
def test_invalid_weights_and_dropout_are_refused(data):
    """Bad sample weights (training or validation) and dropout with L-BFGS."""
    classifier = data.draw(st.booleans(), label="classifier")
    problem = draw_problem(data, classifier)
    est = (NumpyMLPClassifier if classifier else NumpyMLPRegressor)(
        hidden_layer_sizes=(3,), max_iter=2, random_state=0
    )
    if data.draw(st.booleans(), label="fitted_first"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(problem.X, problem.y)
        est.set_params(warm_start=data.draw(st.booleans(), label="warm_start"))
    where = data.draw(
        st.sampled_from(["fit", "partial_fit", "validation", "dropout"]), label="where"
    )
    n, n_val = problem.n, len(problem.y_val)
    bad = data.draw(
        st.sampled_from([-1.0, np.nan, np.inf, "zeros", "short", "2d"]), label="bad"
    )

    def broken(m):
        w = np.ones(m)
        if bad == "zeros":
            return np.zeros(m)
        if bad == "short":
            return w[:-1]
        if bad == "2d":
            return w[:, None]
        w[m // 2] = bad
        return w

    kwargs = {}
    method = "partial_fit" if where == "partial_fit" else "fit"
    if method == "partial_fit" and classifier and problem.target != "multilabel":
        kwargs["classes"] = problem.labels
    if where == "validation":
        kwargs.update(X_val=problem.X_val, y_val=problem.y_val)
        kwargs["sample_weight_val"] = broken(n_val)
    elif where == "dropout":
        est.set_params(solver="lbfgs", dropout=0.2)
    else:
        kwargs["sample_weight"] = broken(n)
    call = Call(method, problem.X, problem.y, kwargs, expect="refuse", why=[where])
    note(call.describe())
    image = state(est)
    with pytest.raises((ValueError, TypeError)) as info:
        getattr(est, method)(problem.X, problem.y, **kwargs)
    check_refusal(info.value, call, est)
    assert _changed(image, state(est)) == []


@_seeded
@_budget(100)
@given(st.data())
def test_class_weight_is_a_sample_weight(data):
    """class_weight multiplies the sample weights (README): same training."""
    problem = draw_problem(data, classifier=True)
    cw = data.draw(st.sampled_from(["balanced", "dict"]), label="class_weight")
    if cw == "dict":
        if problem.target == "multilabel":
            cw = [{0: 0.5, 1: 2.0} for _ in problem.labels]
        else:
            cw = {label.item(): 0.5 + i for i, label in enumerate(problem.labels)}
    sw = draw_weights(data, problem.n, "sample_weight")
    if _weights_invalid(sw, problem.n):
        sw = None
    params = dict(
        hidden_layer_sizes=(3,),
        solver=data.draw(st.sampled_from(["adam", "sgd", "lbfgs"]), label="solver"),
        max_iter=3,
        random_state=0,
        dtype="float64",
    )
    effective = _class_weight_rows(cw, problem.y, sw, problem.y, sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = NumpyMLPClassifier(class_weight=cw, **params)
        weighted.fit(problem.X, problem.y, sample_weight=sw)
        plain = NumpyMLPClassifier(**params).fit(
            problem.X, problem.y, sample_weight=effective
        )
    for a, b in zip(
        weighted.coefs_ + weighted.intercepts_, plain.coefs_ + plain.intercepts_
    ):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)

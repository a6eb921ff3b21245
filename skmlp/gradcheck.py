"""Check backpropagation against finite differences.

Backpropagation is the chain rule applied by hand, and a single wrong sign or
transpose still gives a network that trains, only worse. The reliable test is
to compare every partial derivative it computes with a numerical one::

    dL/dw  ~  (L(w + eps) - L(w - eps)) / (2 eps)

The centered difference has an error of order eps**2 (a one-sided one only
eps), so in float64 with eps = 1e-6 a correct gradient agrees to about 1e-9
relative, and a wrong one is off by orders of magnitude more.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch, check_random_state

from . import _network


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||), and 0 where both are 0."""
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(a - b) / denominator)


def check_gradients(
    estimator,
    X,
    y,
    sample_weight=None,
    *,
    eps: float = 1e-6,
    max_per_parameter: int | None = None,
    random_state=0,
) -> Bunch:
    """Compare the backpropagated gradient with centered finite differences.

    Works in float64 whatever the estimator's ``dtype``. An unfitted estimator
    is checked at its initial weights (the way ``fit`` would initialise them),
    a fitted one at its current weights; the estimator itself is not changed.

    Parameters
    ----------
    estimator : NumpyMLPClassifier or NumpyMLPRegressor
        Fitted or not. With ``dropout``, one set of masks is drawn (from
        ``random_state``) and kept for every evaluation: the gradient checked
        is that of the network those masks select, as in one training batch.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data the loss is computed on (keep it small: every checked parameter
        costs two forward passes over it).
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Targets.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    eps : float, default=1e-6
        Step of the finite differences.
    max_per_parameter : int, default=None
        Check at most this many entries (chosen at random) of each weight
        matrix and bias vector; None checks them all.
    random_state : int, RandomState instance or None, default=0
        Chooses the entries when ``max_per_parameter`` is set.

    Notes
    -----
    ReLU has no derivative at 0, and a finite difference that straddles the
    kink measures neither side's slope. Biases start at zero, so at
    initialisation a unit whose inputs are all zero for some sample sits
    exactly on the kink; if a ReLU network shows one large error, check again
    after a few training steps (or with another ``random_state``).

    Returns
    -------
    result : Bunch
        ``names``: "coefs_[i]" and "intercepts_[i]" for each parameter array;
        ``errors``: dict name -> relative error ``||g - n|| / (||g|| + ||n||)``
        between the backprop gradient g and the numerical one n over the
        checked entries; ``abs_errors``: dict name -> ``max |g - n|`` (for
        gradients so small that round-off dominates the relative error);
        ``max_error``: the largest relative error; ``loss``: the loss at the
        checked weights (round-off in the differences grows with it, as about
        1e-16 * loss / eps); ``analytic`` and
        ``numeric``: dict name -> the checked entries of g and n (flat).

    Examples
    --------
    >>> import numpy as np
    >>> from skmlp import NumpyMLPClassifier, check_gradients
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.randn(20, 4), rng.randint(3, size=20)
    >>> result = check_gradients(NumpyMLPClassifier((5,), alpha=0.1), X, y)
    >>> result.max_error < 1e-7
    True
    """
    if hasattr(estimator, "coefs_"):
        est = copy.deepcopy(estimator)
        est.coefs_ = [np.asarray(W, dtype=np.float64) for W in est.coefs_]
        est.intercepts_ = [np.asarray(b, dtype=np.float64) for b in est.intercepts_]
        est._link_parameters()
        est.dtype = "float64"
        # checked like a partial_fit call: y may hold a subset of the classes
        data = est._prepare(X, y, sample_weight, True, None, None)
    else:
        est = clone(estimator).set_params(dtype="float64", early_stopping=False)
        data = est._prepare(X, y, sample_weight, False, None, None)
    X, T, sample_weight = data.X, data.T, data.sample_weight

    params, units = est._params, est._units()
    ws = est._workspace(X.shape[0])
    activation = est._activation_function()
    loss_function = est._training_loss()  # the loss parameter's, e.g. pinball
    # With dropout the loss is random; the check is of its gradient for one
    # fixed draw of the masks (the network training sees for one batch).
    masks = None
    if est._dropout is not None:
        mask_rng = check_random_state(random_state)
        masks = _network.draw_dropout_masks(mask_rng, X.shape[0], est._dropout, ws)

    def loss(theta: np.ndarray) -> float:
        return _network.loss_and_gradient(
            theta,
            units,
            X,
            T,
            sample_weight,
            activation,
            loss_function,
            est.alpha,
            ws,
            dropout_masks=masks,
        )

    loss_at_params = loss(params)
    gradient = ws.grad.copy()

    rng = check_random_state(random_state)
    names = [f"coefs_[{i}]" for i in range(len(units) - 1)]
    names += [f"intercepts_[{i}]" for i in range(len(units) - 1)]
    # where each array lies in the flat vector: the layout split_parameters defines
    coefs, intercepts = _network.split_parameters(params, units)
    sizes = [a.size for a in coefs + intercepts]
    offsets = np.concatenate([[0], np.cumsum(sizes)])

    result = Bunch(
        names=names,
        loss=loss_at_params,
        errors={},
        abs_errors={},
        analytic={},
        numeric={},
    )
    for name, start, stop in zip(names, offsets[:-1], offsets[1:]):
        entries = np.arange(start, stop)
        if max_per_parameter is not None and len(entries) > max_per_parameter:
            entries = np.sort(rng.choice(entries, max_per_parameter, replace=False))
        numeric = np.empty(len(entries))
        for k, j in enumerate(entries):
            saved = params[j]
            params[j] = saved + eps
            loss_plus = loss(params)
            params[j] = saved - eps
            loss_minus = loss(params)
            params[j] = saved
            numeric[k] = (loss_plus - loss_minus) / (2 * eps)
        result.analytic[name] = gradient[entries]
        result.numeric[name] = numeric
        result.errors[name] = _relative_error(gradient[entries], numeric)
        result.abs_errors[name] = float(np.abs(gradient[entries] - numeric).max())
    result.max_error = max(result.errors.values())
    return result

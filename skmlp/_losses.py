"""Regression losses beyond the canonical pairs, each with its output delta.

:mod:`skmlp._network` trains on a :class:`Loss`: a per-sample loss, the
output activation it goes with, and the delta ``D_L = dloss_i/dZ_L`` that
starts the backward pass. The four canonical pairs (softmax and logistic with
cross-entropy, identity with squared error, exp with Poisson deviance) all
have ``D_L = P - T`` and live in :mod:`skmlp._network`. The losses here do
not: their deltas are derived in ``docs/backprop.md`` (section 3.1), next to
the functions that compute them.

======================  ==========================  ===========================
loss                    per output, ``r = p - t``   ``dloss/dp``
======================  ==========================  ===========================
absolute error          ``|r|``                     ``sign(r)``, 0 at ``r = 0``
Huber, threshold d      ``r**2 / 2`` if ``|r| <=    ``clip(r, -d, d)``
                        d``, else ``d (|r| - d/2)``
quantile (pinball) q    ``max(-q r, (1 - q) r)``    ``1 - q`` if ``r > 0``,
                                                    ``-q`` if ``r < 0``, 0 at 0
your own pair           ``function(t, p)``          ``gradient(t, p)``
======================  ==========================  ===========================

Each loss of a sample is the **mean** over its output columns, so that a loss
keeps its scale whatever the number of outputs (``mean_absolute_error`` and
``mean_pinball_loss`` average the same way); the gradient is that of this
mean. (Squared error is the exception, for scikit-learn's sake: see
:data:`skmlp._network.CANONICAL_LOSSES`.)

Several quantiles at once come from one network whose outputs cannot cross:
for each target, output 0 is the lowest quantile and each next one adds a
positive gap, ``p_j = p_{j-1} + softplus(z_j)`` (:func:`noncrossing`). A sum
of non-negative floating-point numbers never decreases, so the predicted
quantiles are in order for every input, by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from scipy.special import expit

from ._activations import softplus


@dataclass(frozen=True)
class Loss:
    """A loss as the network trains on it.

    Attributes
    ----------
    name : str
        What the estimator calls it (``"huber"``, ``"quantile"``, ...).
    out_activation : str
        The output activation ``g`` (``P = g(Z_L)``): ``"identity"``,
        ``"exp"``, ``"softmax"``, ``"logistic"`` or ``"noncrossing"``.
    forward : callable
        ``forward(Z, T) -> (per_sample, cache)``: overwrites the output
        logits ``Z`` (n, units[-1]) with the predictions ``P``, returns the
        per-sample loss (n,) as ``loss_`` reports it and what ``backward``
        needs besides ``P`` and ``T`` (or None).
    backward : callable
        ``backward(P, T, cache, delta)``: fills ``delta`` (n, units[-1]) with
        ``d objective_i / dZ_L``, before sample weights and the mean.
    outputs_summed : bool
        True when the objective is the per-sample loss times the number of
        columns of T (scikit-learn's squared error: reported averaged over
        the outputs, differentiated summed over them); False when the
        objective is the per-sample loss itself.
    """

    name: str
    out_activation: str
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, Any]]
    backward: Callable[[np.ndarray, np.ndarray, Any, np.ndarray], None]
    outputs_summed: bool = False


# --- absolute error -----------------------------------------------------------


def absolute_error(Z: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, None]:
    """Per-sample mean absolute error of the identity output: mean_k |p_k - t_k|."""
    return np.abs(Z - T).mean(axis=1), None  # Z is already P


def absolute_error_delta(P, T, cache, delta: np.ndarray) -> None:
    """d/dp_k of mean_k |p_k - t_k| = sign(p_k - t_k) / K.

    ``|r|`` has no derivative at ``r = 0``; any value in [-1, 1] is a
    subgradient there, and ``np.sign`` takes 0, the smallest: a prediction
    that is exactly right is not pushed either way.
    """
    np.subtract(P, T, out=delta)
    np.sign(delta, out=delta)
    delta /= P.shape[1]


# --- Huber --------------------------------------------------------------------


def huber(Z: np.ndarray, T: np.ndarray, threshold: float) -> tuple[np.ndarray, None]:
    """Per-sample mean Huber loss of the identity output, threshold ``d``.

    ``r**2 / 2`` where ``|r| <= d`` and ``d (|r| - d / 2)`` beyond, with
    ``r = p - t``: squared error for small residuals, absolute error (times
    d) for large ones, and the two pieces meet with the same value and slope
    at ``|r| = d``.
    """
    r = np.abs(Z - T)  # (n, K)
    quadratic = r <= threshold
    loss = np.where(quadratic, 0.5 * r * r, threshold * (r - 0.5 * threshold))
    return loss.mean(axis=1), None


def huber_delta(P, T, cache, delta: np.ndarray, threshold: float) -> None:
    """d/dp of the Huber loss: r inside the threshold, +-d beyond: clip(r, -d, d).

    Divided by K, the mean over the outputs. The derivative is continuous
    (it is r = +-d on both sides of the joint), so there is no kink to choose
    a subgradient at.
    """
    np.subtract(P, T, out=delta)
    np.clip(delta, -threshold, threshold, out=delta)
    delta /= P.shape[1]


# --- quantile (pinball) loss, one or several levels ---------------------------


def noncrossing(Z: np.ndarray, n_quantiles: int) -> np.ndarray:
    """Non-crossing quantile outputs, in place: z -> p, increasing in the level.

    ``Z`` is (n, n_targets * n_quantiles), target by target: columns
    ``k * Q .. k * Q + Q - 1`` are target k's quantiles, lowest level first.
    For each target, ``p_0 = z_0`` and ``p_j = p_{j-1} + softplus(z_j)``:
    the quantiles are a cumulative sum of positive gaps on top of the
    lowest. Returns ``softplus'(z_j) = sigmoid(z_j)``, shape (n, n_targets,
    Q - 1), which the backward pass needs.
    """
    n = Z.shape[0]
    Zr = Z.reshape(n, -1, n_quantiles)  # (n, K, Q): a view of Z (it is contiguous)
    gaps = Zr[:, :, 1:]  # z_1 .. z_{Q-1} of each target
    slopes = expit(gaps)  # (n, K, Q - 1), softplus'(z) = sigmoid(z)
    softplus(gaps)  # the gaps, > 0 (or 0 where softplus underflows)
    np.cumsum(gaps, axis=2, out=gaps)  # p_j - p_0 = sum of the gaps up to j
    gaps += Zr[:, :, :1]  # p_j = p_0 + ...
    if not np.shares_memory(Zr, Z):  # pragma: no cover - Z was not contiguous
        Z[...] = Zr.reshape(Z.shape)
    return slopes


def noncrossing_delta(D: np.ndarray, slopes: np.ndarray, n_quantiles: int) -> None:
    """Turn dloss/dP into dloss/dZ through :func:`noncrossing`, in place.

    ``p_m = z_0 + sum_{j=1..m} softplus(z_j)``, so ``dp_m/dz_0 = 1`` and
    ``dp_m/dz_j = sigmoid(z_j)`` for ``1 <= j <= m`` (0 for ``j > m``). By
    the chain rule, ``dloss/dz_0 = sum_m dloss/dp_m`` and ``dloss/dz_j =
    sigmoid(z_j) * sum_{m >= j} dloss/dp_m``: a reversed cumulative sum.
    """
    n = D.shape[0]
    Dr = D.reshape(n, -1, n_quantiles)  # (n, K, Q), a view of D
    # sum_{m >= j} dloss/dp_m for each j: cumulative sum from the top level
    above = np.cumsum(Dr[:, :, ::-1], axis=2)[:, :, ::-1]
    Dr[:, :, 0] = above[:, :, 0]
    np.multiply(slopes, above[:, :, 1:], out=Dr[:, :, 1:])
    if not np.shares_memory(Dr, D):  # pragma: no cover - D was not contiguous
        D[...] = Dr.reshape(D.shape)


def pinball(
    Z: np.ndarray, T: np.ndarray, levels: np.ndarray, n_quantiles: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-sample mean pinball loss; Z -> P (non-crossing when n_quantiles > 1).

    ``T`` holds each target once per quantile (the layout of Z) and
    ``levels`` the level of each column. With ``r = p - t``, the loss of a
    column is ``max(-q r, (1 - q) r)``: ``q (t - p)`` below the target,
    ``(1 - q) (p - t)`` above it, as in ``mean_pinball_loss``; its minimiser
    over a distribution of t is the q-quantile.
    """
    slopes = noncrossing(Z, n_quantiles) if n_quantiles > 1 else None
    r = Z - T  # (n, K * Q), p - t
    loss = np.maximum(-levels * r, (1 - levels) * r)
    return loss.mean(axis=1), slopes


def pinball_delta(
    P, T, slopes, delta: np.ndarray, levels: np.ndarray, n_quantiles: int
) -> None:
    """d/dp of the pinball loss: 1 - q above the target, -q below, / columns.

    At ``p = t`` the loss has a kink, where every value in [-q, 1 - q] is a
    subgradient; 0 is taken, the smallest (as for the absolute error, which
    is twice the pinball loss at q = 1/2). Then back through the
    non-crossing outputs (:func:`noncrossing_delta`).
    """
    r = P - T  # (n, K * Q)
    np.subtract(r > 0, levels, out=delta)  # 1 - q where p > t, -q elsewhere
    delta[r == 0] = 0  # the kink
    delta /= P.shape[1]
    if n_quantiles > 1:
        noncrossing_delta(delta, slopes, n_quantiles)


# --- your own (function, gradient) pair ----------------------------------------


def custom(Z: np.ndarray, T: np.ndarray, function: Callable) -> tuple[np.ndarray, None]:
    """Per-sample mean of ``function(y_true, y_pred)`` over the outputs."""
    # copies: a function that works in place must not change P or the targets
    values = np.asarray(function(T.copy(), Z.copy()), dtype=Z.dtype)
    return values.reshape(Z.shape).mean(axis=1), None


def custom_delta(P, T, cache, delta: np.ndarray, gradient: Callable) -> None:
    """``gradient(y_true, y_pred)`` (d function / d y_pred), divided by K."""
    delta[...] = gradient(T.copy(), P.copy())
    delta /= P.shape[1]


# --- the losses the regressor offers -------------------------------------------


def _as_levels(quantile) -> np.ndarray:
    return np.atleast_1d(np.asarray(quantile, dtype=np.float64))


def check_quantile(quantile) -> np.ndarray:
    """The quantile levels, checked: one or more increasing floats in (0, 1).

    Raises
    ------
    ValueError
        If ``quantile`` is None, empty, not one-dimensional, outside the open
        interval (0, 1), or not strictly increasing.
    """
    if quantile is None:
        raise ValueError(
            "loss='quantile' needs the quantile level(s): quantile=0.5 for the "
            "median, or several increasing levels such as quantile=[0.05, 0.5, "
            "0.95] for one network whose quantiles never cross."
        )
    try:
        levels = _as_levels(quantile)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"quantile must be a float in (0, 1) or a list of them; got {quantile!r}."
        ) from exc
    if levels.ndim != 1 or levels.size == 0:
        raise ValueError(
            "quantile must be a float in (0, 1) or a one-dimensional list of "
            f"them; got {quantile!r}."
        )
    if not np.all((levels > 0) & (levels < 1)):
        raise ValueError(
            "quantile levels must be in the open interval (0, 1); got "
            f"{levels.tolist()}."
        )
    if np.any(np.diff(levels) <= 0):
        raise ValueError(
            "quantile levels must be strictly increasing (each column of "
            "predict_quantiles is one level, in this order, and the outputs "
            f"are built to be non-decreasing along them); got {levels.tolist()}."
        )
    return levels


def regression_loss(
    name: str | tuple,
    *,
    quantile=None,
    huber_threshold: float = 1.0,
    n_targets: int = 1,
    dtype: np.dtype | type = np.float64,
) -> Loss:
    """The :class:`Loss` of a regressor's ``loss`` parameter (not the canonical ones).

    Parameters
    ----------
    name : {"absolute_error", "huber", "quantile"} or (callable, callable)
        The loss, or a ``(function, gradient)`` pair (see
        :func:`check_custom_loss`).
    quantile : float or array-like of float, default=None
        The levels of ``"quantile"``.
    huber_threshold : float, default=1.0
        The threshold of ``"huber"``.
    n_targets : int, default=1
        Number of targets (columns of y): the levels repeat for each.
    dtype : dtype, default=np.float64
        The training dtype, for the levels.

    Returns
    -------
    loss : Loss
    """
    if not isinstance(name, str):
        function, gradient = name
        return Loss(
            "custom",
            "identity",
            partial(custom, function=function),
            partial(custom_delta, gradient=gradient),
        )
    if name == "absolute_error":
        return Loss(name, "identity", absolute_error, absolute_error_delta)
    if name == "huber":
        t = float(huber_threshold)
        return Loss(
            name,
            "identity",
            partial(huber, threshold=t),
            partial(huber_delta, threshold=t),
        )
    if name == "quantile":
        levels = check_quantile(quantile)
        Q = len(levels)
        columns = np.tile(levels, n_targets).astype(dtype)  # (K * Q,)
        return Loss(
            name,
            "noncrossing" if Q > 1 else "identity",
            partial(pinball, levels=columns, n_quantiles=Q),
            partial(pinball_delta, levels=columns, n_quantiles=Q),
        )
    raise ValueError(f"unknown regression loss {name!r}")  # pragma: no cover


def median_weights(levels: np.ndarray) -> tuple[int, int, float]:
    """How ``predict`` reads a median off the quantile columns.

    Returns ``(i, j, w)``: the point prediction is ``(1 - w) p_i + w p_j``.
    That is the 0.5 level itself when it is fitted; else the linear
    interpolation at 0.5 between the two fitted levels around it; else (all
    levels on one side of 0.5) the level nearest to 0.5. A single level is
    its own prediction, as in ``HistGradientBoostingRegressor(loss="quantile")``.
    """
    levels = np.asarray(levels, dtype=np.float64)
    above = int(np.searchsorted(levels, 0.5))  # first level >= 0.5
    if above < len(levels) and levels[above] == 0.5:
        return above, above, 0.0
    if above == 0:
        return 0, 0, 0.0
    if above == len(levels):
        return above - 1, above - 1, 0.0
    low, high = levels[above - 1], levels[above]
    return above - 1, above, float((0.5 - low) / (high - low))


# --- checking a (function, gradient) pair ---------------------------------------

# A tiny problem to try a pair on: targets, and predictions whose residuals
# (0.37, -0.61, 1.43, -1.77, 0.23, -0.29) avoid 0 and +-1, where the usual
# hand-written losses have their kinks.
_TRY_TARGETS = np.array([[0.0, 1.0, -2.0], [0.5, -1.0, 3.0]])
_TRY_RESIDUALS = np.array([[0.37, -0.61, 1.43], [-1.77, 0.23, -0.29]])
_FD_STEP = 1e-6
# Centered differences with step h are off by about h**2 |f'''| / 6 from the
# derivative, plus float64 round-off of about 1e-16 |f| / h: for losses of
# size up to 1e3 and third derivatives up to 1e6 on this problem, below 1e-6
# in all. A wrong gradient (a forgotten factor, a sign) is off by order 1.
_FD_TOLERANCE = 1e-4


def _call_pair_member(role: str, g: Callable, T: np.ndarray, P: np.ndarray):
    try:
        out = g(T.copy(), P.copy())  # copies: g may work in place
    except Exception as exc:
        raise ValueError(
            f"loss {role} {g!r} raised {type(exc).__name__} on (y_true, y_pred) "
            f"arrays of shape {P.shape} and dtype {P.dtype}: {exc}"
        ) from exc
    try:
        out = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"loss {role} {g!r} returned {type(out).__name__}, which is not an "
            f"array of numbers: {exc}"
        ) from exc
    if out.shape != P.shape:
        raise ValueError(
            f"loss {role} {g!r} returned an array of shape {out.shape} for "
            f"y_pred of shape {P.shape}: it must return one value per entry "
            "of y_pred (the mean over the outputs and samples is taken by "
            "the network)."
        )
    if not np.isfinite(out).all():
        raise ValueError(
            f"loss {role} {g!r} returned non-finite values for finite inputs "
            f"y_true={T.tolist()}, y_pred={P.tolist()}: {out.tolist()}."
        )
    return out


def check_custom_loss(spec: Any, dtype: np.dtype | type = np.float64) -> None:
    """Try a ``(function, gradient)`` loss pair on a tiny array.

    ``function(y_true, y_pred)`` must return the loss of each entry, an array
    of ``y_pred``'s shape, and ``gradient(y_true, y_pred)`` its derivative
    with respect to ``y_pred``, of the same shape. Both are called on a
    (2, 3) problem in ``dtype`` (the training dtype) and in float64, and the
    gradient is compared, entry by entry, with centered finite differences
    of the sum of ``function`` in float64 (step 1e-6): each must agree
    within 1e-4 (relative to the derivative's size, or absolute below 1).

    Parameters
    ----------
    spec : pair of callables
        The ``loss`` parameter.
    dtype : dtype, default=np.float64
        The dtype training will use.

    Raises
    ------
    ValueError
        With a message that starts with "loss" and says what is wrong.
    """
    if not (
        isinstance(spec, (tuple, list))
        and len(spec) == 2
        and all(callable(g) for g in spec)
    ):
        raise ValueError(
            "loss must be 'squared_error', 'poisson', 'absolute_error', 'huber', "
            "'quantile' or a pair (function, gradient) of callables, each "
            f"taking (y_true, y_pred); got {spec!r}."
        )
    function, gradient = spec
    T64, P64 = _TRY_TARGETS, _TRY_TARGETS + _TRY_RESIDUALS
    T, P = T64.astype(dtype), P64.astype(dtype)
    _call_pair_member("function", function, T, P)
    _call_pair_member("gradient", gradient, T, P)
    analytic = _call_pair_member("gradient", gradient, T64, P64)
    numeric = np.empty_like(P64)
    for index in np.ndindex(P64.shape):
        step = np.zeros_like(P64)
        step[index] = _FD_STEP
        up = _call_pair_member("function", function, T64, P64 + step).sum()
        down = _call_pair_member("function", function, T64, P64 - step).sum()
        numeric[index] = (up - down) / (2 * _FD_STEP)
    error = np.abs(analytic - numeric) / np.maximum(1.0, np.abs(numeric))
    if error.max() > _FD_TOLERANCE:
        worst = np.unravel_index(error.argmax(), error.shape)
        raise ValueError(
            f"loss gradient {gradient!r} does not match the derivative of "
            f"{function!r} with respect to y_pred: at y_true={T64[worst]:g}, "
            f"y_pred={P64[worst]:g} it returns {analytic[worst]:.6g}, finite "
            f"differences give {numeric[worst]:.6g}."
        )

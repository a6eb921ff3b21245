"""The network's math: initialisation, forward pass, loss, backward pass.

Pure functions on NumPy arrays, free of scikit-learn plumbing, meant to be read
top to bottom next to a derivation of backpropagation (see ``docs/backprop.md``).

Notation, for a batch of ``n`` samples and a network with layer sizes
``units = [n_features, h_1, ..., h_{L-1}, n_outputs]``:

* ``A_0 = X``                          input, shape (n, units[0])
* ``Z_l = A_{l-1} @ W_l + b_l``        pre-activation of layer l, (n, units[l])
* ``A_l = f(Z_l)``                     hidden activation (relu, tanh, ...)
* ``A_l = f(Z_l) * M_l``               the same under dropout, M_l a random mask
* ``P = g(Z_L)``                       output predictions, g = softmax,
                                       logistic, identity or exp

``W_l`` has shape (units[l-1], units[l]) and ``b_l`` shape (units[l],).  In the
code the lists are 0-based: ``coefs[i]`` is ``W_{i+1}``.

The loss is the (sample-weighted) mean of a per-sample loss ``loss_i`` (the
one that goes with ``g``: cross-entropy for softmax and logistic, squared
error for identity, Poisson deviance for exp, see :data:`LOSSES`; or one of
:mod:`skmlp._losses`: absolute error, Huber, pinball, your own) plus an L2
penalty, with the same scaling as scikit-learn's ``MLPClassifier`` and
``MLPRegressor``::

    loss = ( sum_i s_i * loss_i  +  alpha/2 * sum_l ||W_l||^2 ) / sum_i s_i

where ``s_i`` are the sample weights (all 1 by default).

All parameters live in one flat vector (coefficients first, then intercepts)
and ``coefs``/``intercepts`` are views into it: an optimizer then updates every
parameter with a few whole-vector operations, and L-BFGS gets the vector it
works on without any packing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from . import _array_api
from ._activations import (
    Activation,
    exp,
    get_activation,
    logistic,
    softmax_of_shifted,
)
from ._array_api import NUMPY, namespace
from ._losses import Loss

# ---------------------------------------------------------------------------
# Parameters: one flat vector, seen as per-layer matrices
# ---------------------------------------------------------------------------


def n_parameters(units: list[int]) -> tuple[int, int]:
    """Return (number of coefficients, number of intercepts) for ``units``."""
    n_coef = sum(a * b for a, b in zip(units[:-1], units[1:]))
    return n_coef, sum(units[1:])


def split_parameters(
    flat: np.ndarray, units: list[int]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Views of ``flat`` as the weight matrices and bias vectors of each layer.

    Writing to a view writes to ``flat`` and the other way round. ``flat``
    is a NumPy array or an array of any array API namespace.
    """
    xp = namespace(flat)
    reshape = np.ndarray.reshape if xp is NUMPY else xp.reshape
    coefs, intercepts = [], []
    start = 0
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        end = start + fan_in * fan_out
        coefs.append(reshape(flat[start:end], (fan_in, fan_out)))
        start = end
    for fan_out in units[1:]:
        intercepts.append(flat[start : start + fan_out])
        start += fan_out
    return coefs, intercepts


def glorot_uniform(
    units: list[int], rng: np.random.RandomState, dtype: np.dtype
) -> np.ndarray:
    """Xavier/Glorot initialisation, as one flat parameter vector.

    Each weight is drawn from U(-r, r) with ``r = sqrt(6 / (fan_in + fan_out))``:
    that keeps the variance of activations and of gradients roughly the same
    from layer to layer (Glorot & Bengio, 2010), so a deep net neither
    saturates nor fades at the start. Biases start at zero; the random weights
    already break the symmetry between units.
    """
    n_coef, n_intercept = n_parameters(units)
    flat = np.zeros(n_coef + n_intercept, dtype=dtype)
    coefs, _ = split_parameters(flat, units)
    for W in coefs:
        fan_in, fan_out = W.shape
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        W[...] = rng.uniform(-bound, bound, size=W.shape)
    return flat


# ---------------------------------------------------------------------------
# Buffers, allocated once per fit and reused by every batch
# ---------------------------------------------------------------------------


@dataclass
class Workspace:
    """Preallocated arrays for the forward and backward pass of one batch.

    ``activations[l]`` holds ``A_l`` (``activations[0]`` is the input batch and
    ``activations[-1]`` the output predictions), ``deltas[l]`` holds
    ``dLoss/dZ_{l+1}``, and ``grad`` is the flat gradient vector laid out like
    the parameters, with ``grad_coefs``/``grad_intercepts`` as views into it.
    Batches smaller than ``batch_size`` use the first rows of each buffer.

    Two optional lists have one buffer per hidden layer (``[l - 1]`` for
    layer ``l``), or are None:

    * ``derivative_inputs``: what each layer's ``f'`` reads when that is not
      ``activations[l]``: ``Z_l`` for an activation that needs its input
      (GELU, a custom pair), else the un-masked ``f(Z_l)`` under dropout,
      since ``activations[l]`` then holds the masked one. Allocated when
      ``activation`` needs its input or ``dropout`` is True, and otherwise by
      the first :func:`loss_and_gradient` call that needs it.
    * ``dropout_masks``: room for :func:`draw_dropout_masks`, allocated when
      ``dropout`` is True (or by its first call).

    ``reported_loss`` is set by each :func:`loss_and_gradient` call: the
    batch's loss as ``loss_`` reports it (see there).

    ``like`` is an array (the parameters) whose namespace and device the
    buffers take: None (NumPy) or a NumPy array, or an array API array
    (PyTorch, CuPy, ...), with ``dtype`` of its namespace.
    """

    units: list[int]
    batch_size: int
    dtype: np.dtype
    activation: str | tuple | Activation | None = field(default=None, kw_only=True)
    dropout: bool = field(default=False, kw_only=True)
    like: object = field(default=None, kw_only=True, repr=False)
    activations: list[np.ndarray] = field(init=False)
    deltas: list[np.ndarray] = field(init=False)
    grad: np.ndarray = field(init=False)
    grad_coefs: list[np.ndarray] = field(init=False)
    grad_intercepts: list[np.ndarray] = field(init=False)
    scratch: np.ndarray = field(init=False)
    ones: np.ndarray = field(init=False)
    reported_loss: float = field(init=False, default=float("nan"))
    derivative_inputs: list[np.ndarray] | None = field(init=False, default=None)
    dropout_masks: list[np.ndarray] | None = field(init=False, default=None)
    _views: tuple | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        n = self.batch_size
        self.activations = [self._empty((n, u)) for u in self.units]
        self.deltas = [self._empty((n, u)) for u in self.units[1:]]
        n_coef, n_intercept = n_parameters(self.units)
        self.grad = self._empty(n_coef + n_intercept)
        self.grad_coefs, self.grad_intercepts = split_parameters(self.grad, self.units)
        # room for alpha * W (the L2 gradient) without a new array per batch
        self.scratch = self._empty(n_coef)
        # a row of ones: 1^T delta sums delta's rows as one BLAS call (the
        # intercepts' gradient), 2-4x faster than a reduction over axis 0
        self.ones = self._empty(n)
        self.ones[...] = 1
        needs_input = (
            self.activation is not None and get_activation(self.activation).needs_input
        )
        if needs_input or self.dropout:
            self.derivative_inputs = self._hidden_buffers()
        if self.dropout:
            self.dropout_masks = self._hidden_buffers()

    def parameter_views(
        self, params: np.ndarray, units: list[int]
    ) -> tuple[list[np.ndarray], list[np.ndarray], int]:
        """``split_parameters(params, units)`` and the number of weights,
        made once per parameter vector.

        A fit hands every batch the same vector: its views are kept (with
        the vector, so that ``is`` cannot mistake a new one for it) rather
        than made again for each batch, 7 of a small network's 300 us.
        """
        views = self._views
        if views is None or views[0] is not params or views[1] != list(units):
            coefs, intercepts = split_parameters(params, units)
            n_coef = n_parameters(units)[0]
            views = self._views = (params, list(units), coefs, intercepts, n_coef)
        return views[2], views[3], views[4]

    def _empty(self, shape) -> np.ndarray:
        return _array_api.empty(shape, self.dtype, self.like)

    def _hidden_buffers(self) -> list[np.ndarray]:
        """One (batch_size, units[l]) array per hidden layer l."""
        n = self.batch_size
        return [self._empty((n, u)) for u in self.units[1:-1]]


# ---------------------------------------------------------------------------
# Dropout masks
# ---------------------------------------------------------------------------


def draw_dropout_masks(
    rng: np.random.RandomState,
    n: int,
    rates: list[float],
    out: Workspace | list[int],
    dtype: np.dtype | type | None = None,
) -> list[np.ndarray | None]:
    """Draw inverted-dropout masks for a batch of ``n`` samples.

    A hidden unit is dropped with probability ``p`` (its layer's rate),
    independently for every sample and unit, and the mask holds 0 where it is
    dropped and ``1 / (1 - p)`` where it is kept. The forward pass multiplies
    ``f(Z_l)`` by the mask, so a unit's expected output is unchanged and
    nothing needs rescaling at predict time, when no mask is applied.

    Parameters
    ----------
    rng : numpy.random.RandomState
        The caller's random state: the same state gives the same masks.
    n : int
        Number of samples in the batch.
    rates : sequence of float in [0, 1)
        One dropout rate per hidden layer.
    out : Workspace or list of int
        A Workspace whose ``dropout_masks`` buffers receive the masks
        (allocated if missing), or the hidden layer sizes, for new arrays.
    dtype : dtype, optional
        Of new arrays (float64 by default); a Workspace has its own.

    Returns
    -------
    masks : list of (ndarray of shape (n, units[l])) or None
        One per hidden layer; None where the rate is 0, so that the pass
        is then exactly the one without dropout.

    Notes
    -----
    The draw is a 16-bit integer per unit, compared with ``round(p * 2**16)``:
    four times faster than a float64 uniform draw. The probability of keeping
    a unit is then ``1 - p`` to within 2**-17.
    """
    if isinstance(out, Workspace):
        if out.dropout_masks is None:
            out.dropout_masks = out._hidden_buffers()
        buffers = [M[:n, ...] for M in out.dropout_masks]
    else:
        dtype = np.float64 if dtype is None else dtype
        buffers = [np.empty((n, width), dtype=dtype) for width in out]
    if len(rates) != len(buffers):
        raise ValueError(
            f"dropout needs one rate per hidden layer ({len(buffers)}); got "
            f"{len(rates)} rates."
        )
    masks: list[np.ndarray | None] = []
    for p, M in zip(rates, buffers):
        if p == 0:
            masks.append(None)
            continue
        draw = rng.randint(0, 2**16, size=M.shape, dtype=np.uint16)  # (n, units[l])
        keep = draw >= round(p * 2**16)  # True with probability 1 - p
        if isinstance(M, np.ndarray):
            np.multiply(keep, 1 / (1 - p), out=M, dtype=M.dtype)
        else:  # drawn on the host (the model's RandomState), copied over
            scaled = np.multiply(keep, 1 / (1 - p), dtype=_array_api.numpy_dtype(M))
            M[...] = _array_api.move(scaled, namespace(M), _array_api.device(M))
        masks.append(M)
    return masks


# ---------------------------------------------------------------------------
# Forward pass
# ---------------------------------------------------------------------------


def _affine(A: np.ndarray, W: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """out = A @ W + b.  A may be a scipy sparse matrix (first layer only)."""
    xp = namespace(W)  # NumPy, or the namespace of an array API input
    if sp.issparse(A):
        out[...] = A @ W
    else:
        xp.matmul(A, W, out=out)
    out += b  # b has shape (fan_out,): broadcast over the n rows


def forward(
    X: np.ndarray,
    coefs: list[np.ndarray],
    intercepts: list[np.ndarray],
    activation: str | tuple | Activation,
    activations: list[np.ndarray],
    *,
    derivative_inputs: list[np.ndarray] | None = None,
    dropout_masks: list[np.ndarray | None] | None = None,
) -> np.ndarray:
    """Run the network up to the output *logits* ``Z_L``.

    Fills ``activations[1:]`` with ``A_1 .. A_{L-1}`` and ``Z_L`` (each buffer
    must have ``X.shape[0]`` rows) and returns ``activations[-1]``.  The output
    activation is left to the caller: the loss is computed more accurately
    from the logits than from the probabilities.

    ``activation`` is a name, a ``(function, derivative)`` pair or an
    :class:`~skmlp._activations.Activation`. For training only:
    ``dropout_masks`` (one per hidden layer, None for no dropout there, see
    :func:`draw_dropout_masks`) multiply each ``f(Z_l)``, and
    ``derivative_inputs`` (one buffer per hidden layer) receive what the
    backward pass's ``f'`` will read: ``Z_l`` if the activation needs its
    input, else the un-masked ``f(Z_l)``.
    """
    act = get_activation(activation)
    xp = namespace(coefs[0])
    A = X  # (n, units[0])
    last = len(coefs) - 1
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        Z = activations[i + 1]  # (n, units[i+1])
        _affine(A, W, b, out=Z)  # Z = A W + b
        if i < last:
            kept = None if derivative_inputs is None else derivative_inputs[i]
            if kept is not None and act.needs_input:
                xp.copyto(kept, Z)  # f' reads Z_{i+1}
            act.forward(Z)  # A = f(Z), in place
            if kept is not None and not act.needs_input:
                xp.copyto(kept, Z)  # f' reads f(Z_{i+1}) before the mask
            M = None if dropout_masks is None else dropout_masks[i]
            if M is not None:
                Z *= M  # drop units; scale the kept ones by 1 / (1 - p)
        A = Z
    return A  # (n, n_outputs): logits


# ---------------------------------------------------------------------------
# Losses, each computed from the logits of its output activation
# ---------------------------------------------------------------------------
# Each function takes the logits Z (n, K) and the targets T (n, K), overwrites
# Z with the predictions P = g(Z) and returns the per-sample loss, shape (n,).
# Each pairs an output activation g with the loss whose derivative with
# respect to Z is simply P - T (see loss_and_gradient).


def softmax_cross_entropy(Z: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy of softmax(Z) against one-hot targets T.

    ``ce_i = -sum_k t_ik log p_ik = log(sum_k exp z_ik) - sum_k t_ik z_ik``.
    Working with the logits avoids log(0) entirely. Shifting each row by its
    maximum first changes neither term's difference (the t's sum to 1) and
    keeps ``sum_k t_ik z_ik`` small, so the difference loses no digits.
    Z is overwritten with the probabilities P = softmax(Z); returns ce, shape (n,).
    """
    xp = namespace(Z)
    Z -= _array_api.row_max(Z)[:, None]  # now every z <= 0
    tz = xp.einsum("ij,ij->i", T, Z)  # (n,)  sum_k t_ik z_ik
    log_sum_exp = softmax_of_shifted(Z)  # (n,); Z is now P
    return log_sum_exp - tz


def sigmoid_cross_entropy(Z: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-sample binary cross-entropy of sigmoid(Z) against 0/1 targets T.

    For one output, ``-t log p - (1-t) log(1-p) = log(1 + e^z) - t z`` with
    p = sigmoid(z); ``np.logaddexp(0, z)`` computes log(1 + e^z) without
    overflow. Summed over the outputs (one per label in multilabel problems).
    Z is overwritten with P = sigmoid(Z); returns ce, shape (n,).
    """
    xp = namespace(Z)
    ce = xp.sum(xp.logaddexp(0, Z) - T * Z, axis=1)
    logistic(Z)
    return ce


def squared_error(Z: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-sample half squared error of the identity output: 0.5 sum_k (z_k - t_k)^2.

    Summed over the outputs, so that its derivative is ``z - t`` for every
    output. (scikit-learn's ``MLPRegressor`` uses that derivative but reports
    the loss averaged over the outputs: for ``n_outputs > 1`` this loss is
    ``n_outputs`` times its ``loss_``.) Z is already P; returns shape (n,).
    """
    xp = namespace(Z)
    diff = Z - T  # (n, K)
    return 0.5 * xp.einsum("ij,ij->i", diff, diff)


def poisson_deviance(Z: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-sample half Poisson deviance of p = exp(z) against targets t >= 0.

    ``sum_k t log(t / p) - t + p = sum_k t log t - t z - t + e^z`` (with
    0 log 0 = 0), scikit-learn's ``MLPRegressor(loss="poisson")`` loss for one
    sample; it is 0 when p = t. Written with ``z = log p``, so a p that
    underflows to 0 never meets a log. Z is overwritten with P = exp(Z);
    returns shape (n,).
    """
    xp = namespace(Z)
    tz = xp.einsum("ij,ij->i", T, Z)  # (n,)  sum_k t_k z_k
    exp(Z)  # Z is now P
    return xp.sum(xp.xlogy(T, T) - T + Z, axis=1) - tz


LOSSES = {
    "softmax": softmax_cross_entropy,
    "logistic": sigmoid_cross_entropy,
    "identity": squared_error,
    "exp": poisson_deviance,
}
"""Output activation -> its loss, each with output delta P - T."""

CROSS_ENTROPY = LOSSES  # the name the classifier knew it by


def canonical_delta(P: np.ndarray, T: np.ndarray, cache, delta: np.ndarray) -> None:
    """The output delta of every pair in :data:`LOSSES`: dloss_i/dz_ik = p_ik - t_ik."""
    xp = namespace(P)
    xp.subtract(P, T, out=delta)


def _summed(function):
    """A loss of :data:`LOSSES` as a :class:`~skmlp._losses.Loss` forward."""

    def forward(Z: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, None]:
        return function(Z, T), None

    return forward


def _averaged_squared_error(Z: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, None]:
    """squared_error averaged over the outputs: scikit-learn's reported loss."""
    return squared_error(Z, T) / T.shape[1], None


CANONICAL_LOSSES = {
    "softmax": Loss(
        "log_loss", "softmax", _summed(softmax_cross_entropy), canonical_delta
    ),
    "logistic": Loss(
        "log_loss", "logistic", _summed(sigmoid_cross_entropy), canonical_delta
    ),
    # scikit-learn's MLPRegressor reports the squared error averaged over the
    # outputs but backpropagates the gradient of their sum; loss_ and the
    # stopping rule follow its report, training follows its gradient.
    "identity": Loss(
        "squared_error",
        "identity",
        _averaged_squared_error,
        canonical_delta,
        outputs_summed=True,
    ),
    "exp": Loss("poisson", "exp", _summed(poisson_deviance), canonical_delta),
}
"""Output activation -> its canonical :class:`~skmlp._losses.Loss` (delta P - T)."""


def get_loss(spec: str | Loss) -> Loss:
    """The :class:`~skmlp._losses.Loss` for an output activation's name, or ``spec``."""
    return spec if isinstance(spec, Loss) else CANONICAL_LOSSES[spec]


# ---------------------------------------------------------------------------
# Loss and gradient: forward, loss, backward
# ---------------------------------------------------------------------------


def loss_and_gradient(
    params: np.ndarray,
    units: list[int],
    X: np.ndarray,
    T: np.ndarray,
    sample_weight: np.ndarray | None,
    activation: str | tuple | Activation,
    out_activation: str,
    alpha: float,
    ws: Workspace,
    *,
    dropout_masks: list[np.ndarray | None] | None = None,
    l2_gradient: bool = True,
    gradient_scale: float = 1.0,
) -> float:
    """Loss of the network on one batch, and its gradient in ``ws.grad``.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Flat parameter vector (see :func:`split_parameters`).
    units : list of int
        Layer sizes, input and output included.
    X : ndarray or sparse matrix of shape (n, units[0])
        The batch.
    T : ndarray of shape (n, units[-1])
        Targets: one-hot rows (softmax), 0/1 indicators (logistic), real
        values (identity, and the losses of :mod:`skmlp._losses`) or counts
        >= 0 (exp).
    sample_weight : ndarray of shape (n,) or None
        Weight of each sample; None means all ones.
    activation : str, pair of callables or Activation
        The hidden activation (see :func:`skmlp._activations.get_activation`).
    out_activation : {"softmax", "logistic", "identity", "exp"} or Loss
        The output activation, which picks its canonical loss in
        :data:`CANONICAL_LOSSES`, or a :class:`~skmlp._losses.Loss`.
    alpha : float
        L2 penalty strength.
    ws : Workspace
        Buffers with at least n rows; on return ``ws.activations[-1][:n]``
        holds the output predictions, ``ws.grad`` the gradient and
        ``ws.reported_loss`` the loss as ``loss_`` reports it.
    dropout_masks : list of (ndarray or None), optional
        One per hidden layer, from :func:`draw_dropout_masks`; None (the
        default) or all-None entries train without dropout.
    l2_gradient : bool, default=True
        Add the L2 penalty's gradient ``alpha / sum(s) * W`` to ``ws.grad``.
        The training loops pass False and hand that term to the optimizer's
        step instead (a fused kernel adds it on the way, see
        :mod:`skmlp._fused`); the loss includes the penalty either way.
    gradient_scale : float, default=1.0
        Leave ``gradient_scale`` times the gradient in ``ws.grad``; the loss
        is not scaled. SGD passes its learning rate: the factor then rides on
        the output delta, ``(n, K)``, and the step saves a pass over every
        parameter (see :meth:`skmlp._optimizers.SGD.gradient_scale`).

    Returns
    -------
    loss : float
        The objective whose gradient ``ws.grad`` is. It is
        ``ws.reported_loss`` too, except for squared error with several
        outputs: scikit-learn reports its data term averaged over the
        outputs and differentiates it summed over them, and so does skmlp.
    """
    n = X.shape[0]
    xp = namespace(params)  # NumPy, or the namespace of an array API input
    loss_fn = get_loss(out_activation)
    coefs, intercepts, n_coef = ws.parameter_views(params, units)
    act = get_activation(activation)
    # [:n, ...]: the first n rows, spelled so that every array API namespace
    # takes it (array-api-strict wants an index for each axis, or an ellipsis)
    A = [X] + [a[:n, ...] for a in ws.activations[1:]]  # A_0 .. A_{L-1}, then Z_L
    D = [d[:n, ...] for d in ws.deltas]  # D[i] = dLoss/dZ_{i+1}
    ones = ws.ones[:n]  # (n,)
    L = len(coefs)
    masks = [None] * (L - 1)  # masks[i-1] = M_i, hidden layer i
    if dropout_masks is not None:
        masks = [None if M is None else M[:n, ...] for M in dropout_masks]
    # f' reads A_i itself, unless it needs Z_i or A_i is masked: then it reads
    # kept[i-1], filled by the forward pass
    kept = None
    if act.needs_input or any(M is not None for M in masks):
        if ws.derivative_inputs is None:
            ws.derivative_inputs = ws._hidden_buffers()
        kept = [k[:n, ...] for k in ws.derivative_inputs]

    # ---- forward ---------------------------------------------------------
    Z_out = forward(
        X, coefs, intercepts, act, A, derivative_inputs=kept, dropout_masks=masks
    )  # (n, K) logits
    per_sample, cache = loss_fn.forward(Z_out, T)  # (n,); Z_out is now P
    P = Z_out

    # ---- loss ------------------------------------------------------------
    if sample_weight is None:
        weight_sum = float(n)
        data_loss = float(xp.sum(per_sample))
    else:
        weight_sum = float(xp.sum(sample_weight))
        data_loss = float(per_sample @ sample_weight)
    W_all = params[:n_coef]  # every weight matrix, flattened end to end
    l2 = 0.5 * alpha * float(W_all @ W_all)
    ws.reported_loss = (data_loss + l2) / weight_sum
    if loss_fn.outputs_summed:
        data_loss *= T.shape[1]  # the objective sums what the report averages
    loss = (data_loss + l2) / weight_sum

    # ---- backward --------------------------------------------------------
    # Output layer. For each pair in LOSSES (softmax + cross-entropy, sigmoid
    # + binary cross-entropy, identity + squared error, exp + Poisson
    # deviance) dloss_i/dz_ik = p_ik - t_ik: the derivative of the output
    # activation and of the loss cancel (canonical links). The losses of
    # skmlp._losses have deltas of their own. Each sample counts with weight
    # s_i / sum(s), hence (P - T) * s / sum(s), or (P - T) / n. Every
    # gradient below is linear in this delta, so a gradient_scale c taken
    # here scales them all: (P - T) * c / n.
    delta = D[L - 1]  # (n, K)
    loss_fn.backward(P, T, cache, delta)  # dloss_i/dZ_L, e.g. P - T
    if sample_weight is not None:
        delta *= sample_weight[:, None]
    if gradient_scale == 1.0:
        delta /= weight_sum
    else:
        delta *= gradient_scale / weight_sum

    for i in range(L - 1, -1, -1):
        # Z_{i+1} = A_i W + b, so
        #   dLoss/dW = A_i^T delta   (units[i], n) @ (n, units[i+1])
        #   dLoss/db = sum of delta over the rows (every row adds the same b)
        #   dLoss/dA_i = delta W^T    (n, units[i+1]) @ (units[i+1], units[i])
        if sp.issparse(A[i]):
            ws.grad_coefs[i][...] = A[i].T @ delta
        else:
            xp.matmul(A[i].T, delta, out=ws.grad_coefs[i])
        xp.matmul(ones, delta, out=ws.grad_intercepts[i])  # 1^T delta: row sums
        if i > 0:
            prev = D[i - 1]  # (n, units[i])
            xp.matmul(delta, coefs[i].T, out=prev)  # dLoss/dA_i
            M = masks[i - 1]
            if M is not None:
                prev *= M  # A_i = f(Z_i) * M_i: dLoss/df(Z_i) = dLoss/dA_i * M_i
            f_input = A[i] if kept is None else kept[i - 1]  # A_i, or Z_i
            act.derivative(f_input, prev)  # times f'(Z_i): dLoss/dZ_i
            delta = prev

    # L2 penalty: d/dW (alpha/2 ||W||^2) / sum(s) = alpha W / sum(s), weights
    # only (intercepts are not penalised), for all layers in one go.
    if alpha and l2_gradient:
        scratch = ws.scratch[:n_coef]
        xp.multiply(W_all, gradient_scale * alpha / weight_sum, out=scratch)
        ws.grad[:n_coef] += scratch  # grad += alpha / sum(s) * W (times c)
    return loss

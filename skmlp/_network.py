"""The network's math: initialisation, forward pass, loss, backward pass.

Pure functions on NumPy arrays, free of scikit-learn plumbing, meant to be read
top to bottom next to a derivation of backpropagation (see ``docs/backprop.md``).

Notation, for a batch of ``n`` samples and a network with layer sizes
``units = [n_features, h_1, ..., h_{L-1}, n_outputs]``:

* ``A_0 = X``                          input, shape (n, units[0])
* ``Z_l = A_{l-1} @ W_l + b_l``        pre-activation of layer l, (n, units[l])
* ``A_l = f(Z_l)``                     hidden activation (relu, tanh, ...)
* ``P = g(Z_L)``                       output probabilities, g = softmax or logistic

``W_l`` has shape (units[l-1], units[l]) and ``b_l`` shape (units[l],).  In the
code the lists are 0-based: ``coefs[i]`` is ``W_{i+1}``.

The loss is the (sample-weighted) mean cross-entropy plus an L2 penalty, with
the same scaling as scikit-learn's ``MLPClassifier``::

    loss = ( sum_i s_i * ce_i  +  alpha/2 * sum_l ||W_l||^2 ) / sum_i s_i

where ``s_i`` are the sample weights (all 1 by default) and ``ce_i`` the
cross-entropy of sample i.

All parameters live in one flat vector (coefficients first, then intercepts)
and ``coefs``/``intercepts`` are views into it: an optimizer then updates every
parameter with a few whole-vector operations, and L-BFGS gets the vector it
works on without any packing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ._activations import ACTIVATIONS, DERIVATIVES

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

    Writing to a view writes to ``flat`` and the other way round.
    """
    coefs, intercepts = [], []
    start = 0
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        end = start + fan_in * fan_out
        coefs.append(flat[start:end].reshape(fan_in, fan_out))
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
    ``activations[-1]`` the output probabilities), ``deltas[l]`` holds
    ``dLoss/dZ_{l+1}``, and ``grad`` is the flat gradient vector laid out like
    the parameters, with ``grad_coefs``/``grad_intercepts`` as views into it.
    Batches smaller than ``batch_size`` use the first rows of each buffer.
    """

    units: list[int]
    batch_size: int
    dtype: np.dtype
    activations: list[np.ndarray] = field(init=False)
    deltas: list[np.ndarray] = field(init=False)
    grad: np.ndarray = field(init=False)
    grad_coefs: list[np.ndarray] = field(init=False)
    grad_intercepts: list[np.ndarray] = field(init=False)
    scratch: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = self.batch_size
        self.activations = [np.empty((n, u), dtype=self.dtype) for u in self.units]
        self.deltas = [np.empty((n, u), dtype=self.dtype) for u in self.units[1:]]
        n_coef, n_intercept = n_parameters(self.units)
        self.grad = np.empty(n_coef + n_intercept, dtype=self.dtype)
        self.grad_coefs, self.grad_intercepts = split_parameters(self.grad, self.units)
        # room for alpha * W (the L2 gradient) without a new array per batch
        self.scratch = np.empty(n_coef, dtype=self.dtype)


# ---------------------------------------------------------------------------
# Forward pass
# ---------------------------------------------------------------------------


def _affine(A: np.ndarray, W: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """out = A @ W + b.  A may be a scipy sparse matrix (first layer only)."""
    if sp.issparse(A):
        out[...] = A @ W
    else:
        np.matmul(A, W, out=out)
    out += b  # b has shape (fan_out,): broadcast over the n rows


def forward(
    X: np.ndarray,
    coefs: list[np.ndarray],
    intercepts: list[np.ndarray],
    activation: str,
    activations: list[np.ndarray],
) -> np.ndarray:
    """Run the network up to the output *logits* ``Z_L``.

    Fills ``activations[1:]`` with ``A_1 .. A_{L-1}`` and ``Z_L`` (each buffer
    must have ``X.shape[0]`` rows) and returns ``activations[-1]``.  The output
    activation is left to the caller: the loss is computed more accurately
    from the logits than from the probabilities.
    """
    f = ACTIVATIONS[activation]
    A = X  # (n, units[0])
    last = len(coefs) - 1
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        Z = activations[i + 1]  # (n, units[i+1])
        _affine(A, W, b, out=Z)  # Z = A W + b
        if i < last:
            f(Z)  # A = f(Z), in place
        A = Z
    return A  # (n, n_outputs): logits


# ---------------------------------------------------------------------------
# Loss: cross-entropy computed from the logits
# ---------------------------------------------------------------------------


def softmax_cross_entropy(Z: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy of softmax(Z) against one-hot targets T.

    ``ce_i = -sum_k t_ik log p_ik = log(sum_k exp z_ik) - sum_k t_ik z_ik``.
    Working with the logits avoids log(0) entirely, and shifting each row by
    its maximum keeps exp from overflowing. Z is overwritten with the
    probabilities P = softmax(Z); returns ce, shape (n,).
    """
    Z -= Z.max(axis=1, keepdims=True)  # now every z <= 0
    tz = np.einsum("ij,ij->i", T, Z)  # (n,)  sum_k t_ik z_ik
    np.exp(Z, out=Z)
    sum_exp = Z.sum(axis=1)  # (n,)  >= 1: the max term is exp(0)
    Z /= sum_exp[:, None]  # Z is now P
    return np.log(sum_exp) - tz


def sigmoid_cross_entropy(Z: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-sample binary cross-entropy of sigmoid(Z) against 0/1 targets T.

    For one output, ``-t log p - (1-t) log(1-p) = log(1 + e^z) - t z`` with
    p = sigmoid(z); ``np.logaddexp(0, z)`` computes log(1 + e^z) without
    overflow. Summed over the outputs (one per label in multilabel problems).
    Z is overwritten with P = sigmoid(Z); returns ce, shape (n,).
    """
    ce = (np.logaddexp(0, Z) - T * Z).sum(axis=1)
    expit(Z, out=Z)
    return ce


CROSS_ENTROPY = {"softmax": softmax_cross_entropy, "logistic": sigmoid_cross_entropy}


# ---------------------------------------------------------------------------
# Loss and gradient: forward, loss, backward
# ---------------------------------------------------------------------------


def loss_and_gradient(
    params: np.ndarray,
    units: list[int],
    X: np.ndarray,
    T: np.ndarray,
    sample_weight: np.ndarray | None,
    activation: str,
    out_activation: str,
    alpha: float,
    ws: Workspace,
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
        Targets: one-hot rows (softmax) or 0/1 indicators (logistic).
    sample_weight : ndarray of shape (n,) or None
        Weight of each sample; None means all ones.
    activation, out_activation : str
        Hidden activation name, and "softmax" or "logistic".
    alpha : float
        L2 penalty strength.
    ws : Workspace
        Buffers with at least n rows; on return ``ws.activations[-1][:n]``
        holds the output probabilities and ``ws.grad`` the gradient.

    Returns
    -------
    loss : float
    """
    n = X.shape[0]
    coefs, intercepts = split_parameters(params, units)
    A = [X] + [a[:n] for a in ws.activations[1:]]  # A_0 .. A_{L-1}, then Z_L
    D = [d[:n] for d in ws.deltas]  # D[i] = dLoss/dZ_{i+1}
    L = len(coefs)

    # ---- forward ---------------------------------------------------------
    Z_out = forward(X, coefs, intercepts, activation, A)  # (n, K) logits
    ce = CROSS_ENTROPY[out_activation](Z_out, T)  # (n,); Z_out is now P
    P = Z_out

    # ---- loss ------------------------------------------------------------
    if sample_weight is None:
        weight_sum = float(n)
        data_loss = float(ce.sum())
    else:
        weight_sum = float(sample_weight.sum())
        data_loss = float(ce @ sample_weight)
    n_coef = sum(W.size for W in coefs)
    W_all = params[:n_coef]  # every weight matrix, flattened end to end
    l2 = 0.5 * alpha * float(W_all @ W_all)
    loss = (data_loss + l2) / weight_sum

    # ---- backward --------------------------------------------------------
    # Output layer. For softmax + cross-entropy, and for sigmoid + binary
    # cross-entropy alike, dce_i/dz_ik = p_ik - t_ik: the derivative of the
    # output activation and of the log cancel. Each sample counts with weight
    # s_i / sum(s), hence (P - T) * s / sum(s), or (P - T) / n without weights.
    delta = D[L - 1]  # (n, K)
    np.subtract(P, T, out=delta)
    if sample_weight is not None:
        delta *= sample_weight[:, None]
    delta /= weight_sum

    backward_derivative = DERIVATIVES[activation]
    for i in range(L - 1, -1, -1):
        # Z_{i+1} = A_i W + b, so
        #   dLoss/dW = A_i^T delta   (units[i], n) @ (n, units[i+1])
        #   dLoss/db = sum of delta over the rows (every row adds the same b)
        #   dLoss/dA_i = delta W^T    (n, units[i+1]) @ (units[i+1], units[i])
        if sp.issparse(A[i]):
            ws.grad_coefs[i][...] = A[i].T @ delta
        else:
            np.matmul(A[i].T, delta, out=ws.grad_coefs[i])
        np.sum(delta, axis=0, out=ws.grad_intercepts[i])
        if i > 0:
            prev = D[i - 1]  # (n, units[i])
            np.matmul(delta, coefs[i].T, out=prev)  # dLoss/dA_i
            backward_derivative(A[i], prev)  # times f'(Z_i): dLoss/dZ_i
            delta = prev

    # L2 penalty: d/dW (alpha/2 ||W||^2) / sum(s) = alpha W / sum(s), weights
    # only (intercepts are not penalised), for all layers in one go.
    if alpha:
        scratch = ws.scratch[:n_coef]
        np.multiply(W_all, alpha / weight_sum, out=scratch)
        ws.grad[:n_coef] += scratch  # grad += alpha / sum(s) * W
    return loss

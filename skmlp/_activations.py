"""Activation functions and their derivatives, side by side.

Every function works **in place** on the array it is given: the training loop
allocates its buffers once per fit, and these functions fill them rather than
returning new arrays.

Most derivatives are written in terms of the activation's *output*
``A = f(Z)``, not its input ``Z``: the backward pass has ``A`` at hand (the
forward pass overwrote ``Z`` with it), and for these functions ``f'(Z)`` is a
simple expression of ``A``. GELU's is not, so its derivative reads ``Z``,
which the forward pass then keeps (see :class:`Activation`):

=========== =============================== =================================
name        f(z)                            f'(z)
=========== =============================== =================================
identity    z                               1
logistic    1 / (1 + exp(-z))               a (1 - a)
tanh        tanh(z)                         1 - a**2
relu        max(z, 0)                       1 if a > 0 else 0
leaky_relu  max(z, 0.01 z)                  1 if a > 0 else 0.01
elu         z if z > 0 else exp(z) - 1      1 if a > 0 else a + 1
gelu        z Phi(z)                        Phi(z) + z phi(z)   (from z)
softplus    log(1 + exp(z))                 1 - exp(-a)
=========== =============================== =================================

(``a = f(z)``; ``Phi(z) = (1 + erf(z / sqrt 2)) / 2`` and
``phi(z) = exp(-z**2 / 2) / sqrt(2 pi)`` are the standard normal distribution
function and density.) Each ``*_derivative(A, delta)`` multiplies ``delta``
(the gradient of the loss with respect to ``A``) by ``f'(Z)``, turning it into
the gradient with respect to ``Z``: the chain rule, one layer at a time.

``activation`` may also be a pair ``(function, derivative)`` of your own
callables, each mapping ``Z`` to a new array of ``Z``'s shape
(``derivative(Z)`` is ``dA/dZ`` elementwise): :func:`get_activation` wraps
either form in an :class:`Activation`, and :func:`check_activation` tries a
pair on a tiny array before training starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from . import _array_api
from ._array_api import namespace

LEAKY_RELU_SLOPE = 0.01
"""Slope of ``leaky_relu`` for negative inputs."""

# --- hidden-layer activations: Z -> f(Z), in place -------------------------


def identity(Z: np.ndarray) -> None:
    """f(z) = z: nothing to do."""


def logistic(Z: np.ndarray) -> None:
    """f(z) = 1 / (1 + exp(-z)), computed without overflow by scipy's expit."""
    xp = namespace(Z)  # NumPy (with scipy.special), or Z's array API namespace
    xp.expit(Z, out=Z)


def tanh(Z: np.ndarray) -> None:
    """f(z) = tanh(z)."""
    xp = namespace(Z)
    xp.tanh(Z, out=Z)


def zeros_for(Z: np.ndarray) -> np.ndarray | int:
    """Zeros for ``maximum(Z, zeros)``: an array of Z's shape, or the scalar 0.

    NumPy's ``maximum`` runs its vector loop when both operands are arrays,
    not when one is a scalar: ``np.maximum(Z, 0)`` took 2.5-4x as long as
    ``np.maximum(Z, zeros)`` on a 2-core AMD EPYC, NumPy 2.4 (25 against
    6.8 us for a (128, 512) float32 batch, 10 against 4 us for (200, 100)
    float64). The zeros come from one read-only vector per dtype, kept
    between calls (the pages of ``np.zeros`` are the kernel's zero page
    until written, so a large one costs address space, not memory). Other
    namespaces, and arrays that are not C-contiguous or have more than
    :data:`ZEROS_MAX` elements, get the scalar.
    """
    if type(Z) is not np.ndarray or not Z.flags.c_contiguous or Z.size > ZEROS_MAX:
        return 0
    zeros = _zeros.get(Z.dtype)
    if zeros is None or zeros.size < Z.size:
        zeros = np.zeros(max(Z.size, 1 << 16), dtype=Z.dtype)
        zeros.flags.writeable = False
        _zeros[Z.dtype] = zeros
    return zeros[: Z.size].reshape(Z.shape)


ZEROS_MAX = 1 << 24
"""Largest array (elements) that :func:`zeros_for` gives zeros for."""

_zeros: dict[np.dtype, np.ndarray] = {}


def relu(Z: np.ndarray) -> None:
    """f(z) = max(z, 0)."""
    xp = namespace(Z)
    xp.maximum(Z, zeros_for(Z), out=Z)


def leaky_relu(Z: np.ndarray) -> None:
    """f(z) = max(z, 0.01 z): z where z > 0, 0.01 z where it is not."""
    # for 0 < slope < 1, slope * z is the larger of the two exactly when z < 0
    xp = namespace(Z)
    xp.maximum(Z, LEAKY_RELU_SLOPE * Z, out=Z)


def elu(Z: np.ndarray) -> None:
    """f(z) = z where z > 0, exp(z) - 1 where it is not (alpha = 1).

    Written as ``max(z, 0) + expm1(min(z, 0))``: each term is 0 on the other
    side of 0, and ``exp`` only ever sees numbers <= 0, so it cannot overflow.
    """
    xp = namespace(Z)
    negative_part = xp.minimum(Z, 0)  # (n, d)
    xp.expm1(negative_part, out=negative_part)  # exp(z) - 1, accurate near 0
    xp.maximum(Z, zeros_for(Z), out=Z)
    Z += negative_part


def gelu(Z: np.ndarray) -> None:
    """f(z) = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2, the exact GELU.

    ``Phi`` is the standard normal distribution function; scipy's ``ndtr``
    computes it without the cancellation of ``1 + erf`` for very negative z.
    """
    xp = namespace(Z)
    Z *= xp.ndtr(Z)


def softplus(Z: np.ndarray) -> None:
    """f(z) = log(1 + exp(z)), computed without overflow.

    Written as ``max(z, 0) + log1p(exp(-|z|))`` (for z > 0, factor ``e^z``
    out of ``1 + e^z``): the exponent is never positive. Ten times faster
    than ``np.logaddexp(0, z)``, which computes the same.
    """
    xp = namespace(Z)
    tail = xp.abs(Z)  # (n, d)
    xp.negative(tail, out=tail)
    xp.exp(tail, out=tail)  # exp(-|z|), in (0, 1]
    xp.log1p(tail, out=tail)
    xp.maximum(Z, zeros_for(Z), out=Z)
    Z += tail


# --- their derivatives: delta *= f'(Z), with f'(Z) written through A = f(Z) -


def identity_derivative(A: np.ndarray, delta: np.ndarray) -> None:
    """f'(z) = 1: delta is unchanged."""


def logistic_derivative(A: np.ndarray, delta: np.ndarray) -> None:
    """f'(z) = a (1 - a)."""
    delta *= A
    delta *= 1 - A


def tanh_derivative(A: np.ndarray, delta: np.ndarray) -> None:
    """f'(z) = 1 - a**2."""
    delta *= 1 - A**2


def relu_derivative(A: np.ndarray, delta: np.ndarray) -> None:
    """f'(z) = 1 where the unit was active (a > 0), 0 where it was not."""
    # A > 0 exactly where the unit was active (A = max(Z, 0) is never
    # negative); multiplying by the mask is 4x faster than copyto(where=).
    xp = namespace(A)
    xp.multiply(delta, A > 0, out=delta)


def leaky_relu_derivative(A: np.ndarray, delta: np.ndarray) -> None:
    """f'(z) = 1 where a > 0, the slope 0.01 where it is not.

    ``a`` has the sign of ``z``. The factor is ``slope + (1 - slope) [a > 0]``:
    arithmetic on the boolean mask is ten times faster than ``np.where``,
    whose branches the processor cannot predict on random signs.
    """
    xp = namespace(A)
    factor = xp.multiply(A > 0, 1 - LEAKY_RELU_SLOPE, dtype=delta.dtype)  # (n, d)
    factor += LEAKY_RELU_SLOPE
    delta *= factor


def elu_derivative(A: np.ndarray, delta: np.ndarray) -> None:
    """f'(z) = 1 where a > 0, and e^z = a + 1 where it is not.

    Both cases are ``min(a, 0) + 1``. (With alpha = 1 the derivative is
    continuous at 0: e^0 = 1.)
    """
    xp = namespace(A)
    factor = xp.minimum(A, 0)  # (n, d)
    factor += 1
    delta *= factor


def gelu_derivative(Z: np.ndarray, delta: np.ndarray) -> None:
    """f'(z) = Phi(z) + z phi(z), phi(z) = exp(-z**2 / 2) / sqrt(2 pi).

    Takes the pre-activation ``Z``, not ``A``: ``z Phi(z)`` cannot be solved
    for ``z`` in closed form (it is not even one-to-one for z < 0).
    """
    xp = namespace(Z)
    density = xp.exp(-0.5 * Z**2)  # (n, d)
    density *= 1 / math.sqrt(2 * math.pi)
    density *= Z  # z phi(z)
    density += xp.ndtr(Z)  # Phi(z) + z phi(z)
    delta *= density


def softplus_derivative(A: np.ndarray, delta: np.ndarray) -> None:
    """f'(z) = sigmoid(z) = 1 - exp(-a).

    With ``a = log(1 + e^z)``, ``exp(-a) = 1 / (1 + e^z)`` and
    ``1 - 1 / (1 + e^z) = e^z / (1 + e^z)``. ``-expm1(-a)`` computes
    ``1 - exp(-a)`` accurately when ``a`` is tiny (very negative z).
    """
    xp = namespace(A)
    factor = xp.negative(A)  # (n, d)
    xp.expm1(factor, out=factor)
    xp.negative(factor, out=factor)
    delta *= factor


ACTIVATIONS: dict[str, Callable[[np.ndarray], None]] = {
    "identity": identity,
    "logistic": logistic,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
    "softplus": softplus,
}

DERIVATIVES: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {
    "identity": identity_derivative,
    "logistic": logistic_derivative,
    "tanh": tanh_derivative,
    "relu": relu_derivative,
    "leaky_relu": leaky_relu_derivative,
    "elu": elu_derivative,
    "gelu": gelu_derivative,  # takes Z, not A: see NEEDS_INPUT
    "softplus": softplus_derivative,
}

ACTIVATION_NAMES: frozenset[str] = frozenset(ACTIVATIONS)
"""The built-in hidden activations, the strings ``activation`` accepts."""

NEEDS_INPUT: frozenset[str] = frozenset({"gelu"})
"""Built-ins whose derivative reads the pre-activation Z instead of A = f(Z)."""


# --- one object for a built-in name or a pair of your own -------------------


@dataclass(frozen=True)
class Activation:
    """A hidden activation and its derivative, as the network uses them.

    Attributes
    ----------
    name : str
        The built-in's name, or ``"custom"`` for a ``(function, derivative)``
        pair.
    forward : callable
        ``forward(Z)`` overwrites ``Z`` with ``f(Z)``.
    derivative : callable
        ``derivative(S, delta)`` multiplies ``delta`` by ``f'(Z)`` in place;
        ``S`` is ``Z`` when ``needs_input`` is True, else ``A = f(Z)``.
    needs_input : bool
        Whether the backward pass must keep ``Z`` for the derivative (GELU
        and every custom pair) rather than read it off ``A``.
    """

    name: str
    forward: Callable[[np.ndarray], None]
    derivative: Callable[[np.ndarray, np.ndarray], None]
    needs_input: bool = False


# A pair's functions return new arrays; these adapt them to the in-place
# interface. Module-level functions under functools.partial (not lambdas), so
# that an Activation of importable functions pickles.
def _pair_forward(function: Callable, Z: np.ndarray) -> None:
    Z[...] = function(Z)


def _pair_derivative(derivative: Callable, Z: np.ndarray, delta: np.ndarray) -> None:
    delta *= derivative(Z)


def _is_pair(spec: Any) -> bool:
    return (
        isinstance(spec, (tuple, list))
        and len(spec) == 2
        and all(callable(g) for g in spec)
    )


def _invalid_activation(spec: Any) -> ValueError:
    names = ", ".join(repr(name) for name in sorted(ACTIVATION_NAMES))
    return ValueError(
        f"activation must be one of {names}, or a pair (function, derivative) "
        f"of callables that map the pre-activation array Z to an array of the "
        f"same shape; got {spec!r}."
    )


def get_activation(spec: str | tuple | Activation) -> Activation:
    """The :class:`Activation` for a built-in name or a ``(function, derivative)`` pair.

    Parameters
    ----------
    spec : str, pair of callables, or Activation
        One of :data:`ACTIVATION_NAMES`; or ``(function, derivative)``, where
        ``function(Z)`` returns ``f(Z)`` and ``derivative(Z)`` returns
        ``f'(Z)``, each an array of ``Z``'s shape; an :class:`Activation` is
        returned as it is.

    Returns
    -------
    activation : Activation

    Raises
    ------
    ValueError
        If ``spec`` is none of these. (A pair is not called here: see
        :func:`check_activation`.)
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        if spec not in ACTIVATION_NAMES:
            raise _invalid_activation(spec)
        # looked up at each call, so that a patched DERIVATIVES entry (see
        # examples/gradient_check.py) takes effect
        return Activation(
            spec, ACTIVATIONS[spec], DERIVATIVES[spec], spec in NEEDS_INPUT
        )
    if _is_pair(spec):
        function, derivative = spec
        return Activation(
            "custom",
            partial(_pair_forward, function),
            partial(_pair_derivative, derivative),
            needs_input=True,
        )
    raise _invalid_activation(spec)


def _try_on_sample(role: str, g: Callable, Z: np.ndarray) -> None:
    """Call one function of a pair on ``Z`` and check what comes back."""
    try:
        out = g(Z.copy())  # a copy: g may work in place
    except Exception as exc:
        raise ValueError(
            f"activation {role} {g!r} raised {type(exc).__name__} on a "
            f"{Z.shape} {Z.dtype} array: {exc}"
        ) from exc
    try:
        out = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"activation {role} {g!r} returned {type(out).__name__}, which is "
            f"not an array of numbers: {exc}"
        ) from exc
    if out.shape != Z.shape:
        raise ValueError(
            f"activation {role} {g!r} returned an array of shape {out.shape} "
            f"for an input of shape {Z.shape}: it must work elementwise and "
            f"return an array of its input's shape."
        )
    if not np.isfinite(out).all():
        raise ValueError(
            f"activation {role} {g!r} returned non-finite values for the "
            f"finite input {Z.tolist()}: {out.tolist()}."
        )


def check_activation(spec: Any, dtype: np.dtype | type = np.float64) -> None:
    """Validate ``activation``; try a custom pair on a tiny array.

    A pair's ``function`` and ``derivative`` are each called on a (2, 3) array
    of ``dtype`` holding negative, zero and positive values, and must return
    finite numbers of the same shape. This catches the usual slips (a
    reduction instead of an elementwise map, a scalar, a missing return)
    before training starts; it cannot tell whether ``derivative`` is really
    the derivative of ``function``: ``skmlp.check_gradients`` can.

    Parameters
    ----------
    spec : str or pair of callables
        The ``activation`` parameter.
    dtype : dtype, default=np.float64
        The dtype training will use.

    Raises
    ------
    ValueError
        With a message that starts with "activation" and says what is wrong.
    """
    get_activation(spec)  # a name, or a pair of callables
    if isinstance(spec, (str, Activation)):
        return
    Z = np.array([[-2.0, -0.5, 0.0], [0.25, 1.0, 3.0]], dtype=dtype)
    function, derivative = spec
    _try_on_sample("function", function, Z)
    _try_on_sample("derivative", derivative, Z)


# --- output activations: logits -> predictions, in place --------------------


def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise softmax: p_k = exp(z_k) / sum_j exp(z_j); returns log sum_j exp(z_j).

    Subtracting each row's maximum m first changes nothing mathematically (the
    factor exp(-m) cancels) but keeps every exponent <= 0, so ``exp`` can
    never overflow, and the largest term is exp(0) = 1, so the sum is >= 1.
    The returned log of the normaliser, ``m + log sum_j exp(z_j - m)``, shape
    (n,), is what the cross-entropy needs (``skmlp._network``).
    """
    row_max = _array_api.row_max(Z)  # (n,)
    Z -= row_max[:, None]
    return row_max + softmax_of_shifted(Z)


def softmax_of_shifted(Z: np.ndarray) -> np.ndarray:
    """:func:`softmax` of rows already shifted so that each one's maximum is 0.

    Returns ``log sum_j exp(z_j)`` of the shifted rows, shape (n,). The
    cross-entropy shifts the rows itself (see ``skmlp._network``) and calls
    this, so that the maximum is taken once per batch, not twice.
    """
    xp = namespace(Z)
    xp.exp(Z, out=Z)
    sum_exp = xp.sum(Z, axis=1)  # (n,)  >= 1: the max term is exp(0)
    Z /= sum_exp[:, None]
    return xp.log(sum_exp)


def exp(Z: np.ndarray) -> None:
    """p = exp(z): the mean of a Poisson target under a log link."""
    xp = namespace(Z)
    xp.exp(Z, out=Z)


OUTPUT_ACTIVATIONS: dict[str, Callable[[np.ndarray], Any]] = {
    "softmax": softmax,
    "logistic": logistic,
    "identity": identity,
    "exp": exp,
}

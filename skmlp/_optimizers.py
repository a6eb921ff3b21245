"""Optimizers: SGD (momentum, Nesterov, learning-rate schedules), Adam, L-BFGS.

The stochastic optimizers update the flat parameter vector **in place** from
the flat gradient vector, so one step is a handful of whole-vector NumPy calls
whatever the number of layers. Their state (velocities, moments) is a flat
vector too, allocated once when the optimizer is made and carried across
``partial_fit`` calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.optimize

from . import _array_api, _fused
from ._array_api import namespace

# Updates are whole-vector NumPy operations into preallocated scratch space.
# BLAS's axpy (y += a x in one pass) was tried: 5x faster on a quiet machine,
# but OpenBLAS threads it, and on a busy machine each call's thread hand-off
# made a whole epoch over 10x slower.


class _Scratch:
    """Optimizers keep a scratch vector for their passes; pickles leave it out.

    It holds nothing between steps, so a pickle (or a snapshot compared byte
    for byte) has no need of it; it is allocated again on loading.
    """

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_scratch", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "_scratch" not in state:
            like = state["velocity"] if "velocity" in state else state["m"]
            self._scratch = _array_api.empty(like.shape, like.dtype, like)

    def to_namespace_of(self, params) -> None:
        """Move the state vectors to the namespace and device of ``params``.

        Optimizers are made with NumPy vectors; an array API fit moves them
        next to the parameters once, and every step stays there.
        """
        xp, device = namespace(params), _array_api.device(params)
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(self, name, _array_api.move(value, xp, device))
            elif isinstance(value, np.generic):  # _tiny: a Python float compares
                setattr(self, name, value.item())

    # "numpy" (the code below) or "numba" (skmlp/_fused.py: the same step in
    # one pass); a class attribute, so that older pickles read "numpy"
    kernels = "numpy"

    def use_kernels(self, kernels: str) -> None:
        """Take the steps with ``"numpy"`` or ``"numba"`` (same bits)."""
        self.kernels = kernels

    def _fused(self, params) -> bool:
        return self.kernels == "numba" and type(params) is np.ndarray

    def _add_l2(self, xp, params, grad, decay: float, n_coef: int) -> None:
        """grad[:n_coef] += decay * params[:n_coef], the L2 term (2 passes)."""
        if decay:
            scratch = self._scratch[:n_coef]
            xp.multiply(params[:n_coef], decay, out=scratch)
            grad[:n_coef] += scratch


class SGD(_Scratch):
    """Stochastic gradient descent with momentum and learning-rate schedules.

    One step, with velocity ``v``, momentum ``mu`` and learning rate ``lr``::

        v <- mu * v - lr * g
        w <- w + v                      (classical momentum)
        w <- w + mu * v - lr * g        (Nesterov: look one step ahead)

    With Nesterov momentum the velocity is stored multiplied by the momentum,
    ``u = mu * v`` (attribute ``velocity``; ``velocity_scaled`` says so):
    ``mu * v`` is what the step adds to ``w``, and ``u`` follows as
    ``u <- mu * (u - lr * g)``, since ``mu * v <- mu * (mu * v - lr * g)``.
    The step is then 5 passes over the vectors instead of 6, with the same
    result up to float rounding.

    Both updates use ``lr * g``, never ``g`` alone. The training loop
    therefore asks for the gradient already multiplied by the learning rate
    (:meth:`gradient_scale`): the factor is taken once on the output delta,
    an ``(n, K)`` array, where the gradient is made, and the step, told
    ``scaled=True``, saves its pass over every parameter that makes ``lr * g``.

    Parameters
    ----------
    n_params : int
        Length of the flat parameter vector.
    dtype : dtype
        dtype of the parameters.
    learning_rate_init : float
        Initial step size.
    schedule : {"constant", "invscaling", "adaptive", "cosine"}
        How the step size changes: kept, ``lr0 / (t + 1) ** power_t`` after
        ``t`` samples, divided by 5 each time training stalls, or a cosine
        decay from ``lr0`` to 0 over ``max_iter`` epochs.
    momentum, nesterov, power_t : float, bool, float
        As in scikit-learn's ``MLPClassifier``.
    max_iter : int
        Length of the cosine schedule, in epochs.
    """

    # Velocities of weights on inputs that are almost never non-zero (the
    # border pixels of MNIST) decay geometrically towards 0 and, in float32,
    # become denormal numbers after a few hundred steps; arithmetic on
    # denormals is many times slower. Flushing them to zero every so often
    # costs little and changes nothing measurable.
    FLUSH_EVERY = 64

    def __init__(
        self,
        n_params: int,
        dtype: np.dtype,
        learning_rate_init: float,
        schedule: str = "constant",
        momentum: float = 0.9,
        nesterov: bool = True,
        power_t: float = 0.5,
        max_iter: int = 200,
    ) -> None:
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate_init
        self.schedule = schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.max_iter = max_iter
        # v, or u = mu * v with Nesterov momentum (see the class docstring)
        self.velocity = np.zeros(n_params, dtype=dtype)
        self.velocity_scaled = nesterov
        self._scratch = np.empty(n_params, dtype=dtype)
        self._tiny = np.finfo(dtype).tiny
        self.n_steps = 0

    def __setstate__(self, state: dict) -> None:
        # Older pickles hold the velocity itself: scale it for Nesterov steps
        # so that partial_fit continues where it stopped.
        if "velocity_scaled" not in state:
            if state["nesterov"]:
                state["velocity"] = state["velocity"] * state["momentum"]
            state["velocity_scaled"] = state["nesterov"]
        super().__setstate__(state)

    def gradient_scale(self) -> float:
        """The factor the gradient handed to :meth:`step` may already carry.

        The learning rate: a step with ``scaled=True`` then reads ``grad`` as
        ``lr * g`` and does not multiply it again.
        """
        return self.learning_rate

    def step(
        self,
        params: np.ndarray,
        grad: np.ndarray,
        decay: float = 0.0,
        n_coef: int = 0,
        scaled: bool = False,
    ) -> None:
        """Update ``params`` in place with the gradient ``grad``.

        ``decay``: an L2 term ``decay * params[:n_coef]`` still to be added to
        the gradient of the first ``n_coef`` parameters (the weights), which
        the fused kernel adds on the way; ``grad`` may be changed.
        ``scaled``: ``grad`` is ``gradient_scale() * g`` (``decay`` is not
        scaled: the step scales it).
        """
        lr, mu, v, s = self.learning_rate, self.momentum, self.velocity, self._scratch
        if scaled:
            # grad is lr * g: the L2 term joins it as lr * decay * W, and
            # what multiplies the sum is 1
            decay, lr = lr * decay, 1.0
        if self._fused(params):
            kernel = _fused.kernels()[
                "sgd_nesterov" if self.nesterov else "sgd_classical"
            ]
            self.n_steps += 1
            flush = self.n_steps % self.FLUSH_EVERY == 0
            c = _fused.scalar
            kernel(
                params,
                grad,
                v,
                n_coef if decay else 0,
                c(decay, params),
                c(lr, params),
                c(mu, params),
                flush,
                float(self._tiny),
            )
            return
        xp = namespace(params)  # NumPy, or the namespace of an array API input
        self._add_l2(xp, params, grad, decay, n_coef)
        # 3 passes over the flat vectors (4 with Nesterov), all in place, and
        # one more where grad is g itself, not lr * g
        if scaled:
            s = grad  # lr * g already
        else:
            xp.multiply(grad, lr, out=s)  # s = lr * g
        if self.nesterov:
            v -= s  # mu * v - lr * g: the new velocity (v holds mu * v)
            v *= mu  # the new mu * v
            params += v
            params -= s  # w += mu * v - lr * g
        else:
            v *= mu
            v -= s  # v = mu * v - lr * g
            params += v
        self.n_steps += 1
        if self.n_steps % self.FLUSH_EVERY == 0:
            s = self._scratch  # (not grad)
            xp.abs(v, out=s)
            xp.copyto(v, 0, where=s < self._tiny)

    def epoch_ends(self, n_samples_seen: int, n_epochs: int) -> None:
        """Move the schedule on at the end of an epoch."""
        if self.schedule == "invscaling":
            self.learning_rate = (
                self.learning_rate_init / (n_samples_seen + 1) ** self.power_t
            )
        elif self.schedule == "cosine":
            progress = min(n_epochs / self.max_iter, 1.0)
            self.learning_rate = (
                0.5 * self.learning_rate_init * (1 + math.cos(math.pi * progress))
            )

    def stalled(self, verbose: bool) -> bool:
        """Training stopped improving: return True to stop.

        With the adaptive schedule the learning rate is divided by 5 and
        training goes on, until it falls below 1e-6.
        """
        if self.schedule != "adaptive":
            return True
        if self.learning_rate <= 1e-6:
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(f"Setting learning rate to {self.learning_rate:f}")
        return False


class Adam(_Scratch):
    """Adam (Kingma & Ba, 2014), with bias-corrected moment estimates.

    One step, at step number ``t``::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g**2
        w <- w - lr * sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v) + eps)

    The moments are stored divided by their constant weights,
    ``m / (1 - b1)`` and ``v / (1 - b2)`` (attributes ``m`` and ``v``): then
    ``g`` enters each without a multiplication, and the two constants fold
    into the scalar step size and ``eps``, since
    ``sqrt(v) + eps = sqrt(1 - b2) * (sqrt(v / (1 - b2)) + eps / sqrt(1 - b2))``.
    That saves two of the twelve whole-vector passes of the textbook form,
    with the same result up to float rounding.
    """

    def __init__(
        self,
        n_params: int,
        dtype: np.dtype,
        learning_rate_init: float,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.m = np.zeros(n_params, dtype=dtype)  # first moment / (1 - b1)
        self.v = np.zeros(n_params, dtype=dtype)  # second moment / (1 - b2)
        self._scratch = np.empty(n_params, dtype=dtype)
        self.n_steps = 0
        self.moments_scaled = True

    def __setstate__(self, state: dict) -> None:
        # Older pickles hold the moments themselves: rescale them so that
        # partial_fit continues where it stopped.
        if not state.get("moments_scaled", False):
            state["m"] = state["m"] / (1 - state["beta_1"])
            state["v"] = state["v"] / (1 - state["beta_2"])
            state["moments_scaled"] = True
        super().__setstate__(state)

    def gradient_scale(self) -> float:
        """1: Adam divides the scale of the gradient out (up to ``epsilon``),
        so there is no multiplication to move out of its step."""
        return 1.0

    def step(
        self,
        params: np.ndarray,
        grad: np.ndarray,
        decay: float = 0.0,
        n_coef: int = 0,
        scaled: bool = False,
    ) -> None:
        """Update ``params`` in place with the gradient ``grad`` (``decay``
        and ``n_coef``: an L2 term still to add, as in :meth:`SGD.step`;
        ``scaled`` changes nothing, since :meth:`gradient_scale` is 1)."""
        b1, b2, m, v, s = self.beta_1, self.beta_2, self.m, self.v, self._scratch
        xp = namespace(params)
        self._add_l2(xp, params, grad, 0.0 if self._fused(params) else decay, n_coef)
        self.n_steps += 1
        t = self.n_steps
        # lr_t * (1 - b1) / sqrt(1 - b2): bias corrections and the weights of
        # the stored moments in one scalar
        step_size = (
            self.learning_rate
            * math.sqrt((1 - b2**t) / (1 - b2))
            * (1 - b1)
            / (1 - b1**t)
        )
        if self._fused(params):
            c = _fused.scalar
            _fused.kernels()["adam"](
                params,
                grad,
                m,
                v,
                n_coef if decay else 0,
                c(decay, params),
                c(b1, params),
                c(b2, params),
                c(self.epsilon / math.sqrt(1 - b2), params),
                c(step_size, params),
            )  # the 10 passes below, and the L2 term, in one
            return
        # 10 passes over the flat vectors, all in place (every array (n,))
        m *= b1
        m += grad  # m = b1 m + g                                    2 passes
        v *= b2
        xp.multiply(grad, grad, out=s)
        v += s  # v = b2 v + g^2                                      3 passes
        xp.sqrt(v, out=s)
        s += self.epsilon / math.sqrt(1 - b2)
        xp.divide(m, s, out=s)
        s *= step_size
        params -= s  # w -= step_size m / (sqrt(v) + eps')            5 passes

    def epoch_ends(self, n_samples_seen: int, n_epochs: int) -> None:
        """Adam keeps its learning rate: nothing to do."""

    def stalled(self, verbose: bool) -> bool:
        """Training stopped improving: Adam stops."""
        return True


def minimize_lbfgs(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    *,
    max_iter: int,
    max_fun: int,
    tol: float,
    callback: Callable[[np.ndarray], None] | None = None,
) -> scipy.optimize.OptimizeResult:
    """Minimise ``fun`` (returning loss and gradient) with scipy's L-BFGS-B.

    L-BFGS works on the whole data set at once (no batches): it builds an
    approximation of the inverse Hessian from the last gradients and takes
    quasi-Newton steps with a line search. scipy works in float64, so the
    parameters are handed over as float64.
    """
    options = {"maxiter": max_iter, "maxfun": max_fun, "gtol": tol}
    return scipy.optimize.minimize(
        fun,
        x0.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        options=options,
        callback=callback,
    )

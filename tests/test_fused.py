"""The fused update kernels (skmlp/_fused.py, SKMLP_KERNELS=numba) against the
NumPy steps they stand in for: the same operations in the same order, so the
same bits, for every optimizer variant, dtype and option that reaches them."""

from __future__ import annotations

import math
import pickle
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skmlp import NumpyMLPClassifier, NumpyMLPRegressor, _fused
from skmlp._optimizers import SGD, Adam

numba = pytest.importorskip("numba", reason="numba (the fast extra) not installed")

N, N_COEF = 1001, 900  # a parameter vector: 900 weights, then 101 intercepts


def steps(seed, dtype, n_steps=128):
    rng = np.random.RandomState(seed)
    w0 = rng.standard_normal(N).astype(dtype)
    grads = [
        (rng.standard_normal(N) * 10.0 ** rng.uniform(-6, 1, N)).astype(dtype)
        for _ in range(n_steps)
    ]
    for g in grads:  # some below the smallest normal: velocities the flush zeroes
        g[:50] = np.finfo(dtype).tiny * rng.uniform(-1, 1, 50)
    return w0, grads


def with_l2(w, g, decay):
    """What loss_and_gradient adds to the NumPy path's gradient."""
    g = g.copy()
    g[:N_COEF] += w[:N_COEF] * w.dtype.type(decay)
    return g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("decay", [0.0, 1e-4 / 128, 0.3])
@pytest.mark.parametrize("seed", range(3))
def test_sgd_kernel_gives_the_numpy_step_bit_for_bit(dtype, nesterov, decay, seed):
    w0, grads = steps(seed, dtype)
    ref, w_ref = SGD(N, dtype, 0.05, momentum=0.9, nesterov=nesterov), w0.copy()
    fused, w = SGD(N, dtype, 0.05, momentum=0.9, nesterov=nesterov), w0.copy()
    fused.use_kernels("numba")
    for g in grads:  # 128 steps: the last one flushes (every 64)
        ref.step(w_ref, with_l2(w_ref, g, decay))
        fused.step(w, g, decay=decay, n_coef=N_COEF)
    np.testing.assert_array_equal(w, w_ref)
    np.testing.assert_array_equal(fused.velocity, ref.velocity)
    if not decay:  # (with the L2 term no gradient stays that small)
        assert (ref.velocity == 0).any()  # the flush did something to compare


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("decay", [0.0, 1e-4 / 128, 0.3])
@pytest.mark.parametrize("seed", range(3))
def test_sgd_kernel_on_a_prescaled_gradient_gives_the_numpy_step(
    dtype, nesterov, decay, seed
):
    """The training loop's step: grad is already lr * g (``scaled=True``),
    the L2 term becomes lr * decay * W; NumPy and the kernel agree bit for bit."""
    w0, grads = steps(seed, dtype)
    ref, w_ref = SGD(N, dtype, 0.05, momentum=0.9, nesterov=nesterov), w0.copy()
    fused, w = SGD(N, dtype, 0.05, momentum=0.9, nesterov=nesterov), w0.copy()
    fused.use_kernels("numba")
    for g in grads:
        g = g * dtype(ref.gradient_scale())
        ref.step(w_ref, g.copy(), decay=decay, n_coef=N_COEF, scaled=True)
        fused.step(w, g.copy(), decay=decay, n_coef=N_COEF, scaled=True)
    np.testing.assert_array_equal(w, w_ref)
    np.testing.assert_array_equal(fused.velocity, ref.velocity)
    assert not np.array_equal(w, w0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decay", [0.0, 1e-4 / 200, 0.3])
@pytest.mark.parametrize("seed", range(3))
def test_adam_kernel_gives_the_numpy_step_bit_for_bit(dtype, decay, seed):
    w0, grads = steps(seed, dtype)
    ref, w_ref = Adam(N, dtype, 1e-3), w0.copy()
    fused, w = Adam(N, dtype, 1e-3), w0.copy()
    fused.use_kernels("numba")
    for g in grads:
        ref.step(w_ref, with_l2(w_ref, g, decay))
        fused.step(w, g, decay=decay, n_coef=N_COEF)
    np.testing.assert_array_equal(w, w_ref)
    np.testing.assert_array_equal(fused.m, ref.m)
    np.testing.assert_array_equal(fused.v, ref.v)


def test_kernels_keep_the_dtype():
    """A float32 step computes in float32 (a float64 temporary would round
    twice and give other bits; the bit-for-bit tests would see it too)."""
    w = np.ones(N, np.float32)
    opt = SGD(N, np.float32, 0.1)
    opt.use_kernels("numba")
    opt.step(w, np.full(N, 1 / 3, np.float32), decay=1 / 7, n_coef=N_COEF)
    assert w.dtype == opt.velocity.dtype == np.float32


def fit_both(monkeypatch, make, fit):
    """The same fit with SKMLP_KERNELS=numpy and =numba."""
    models = {}
    for choice in ("numpy", "numba"):
        monkeypatch.setenv("SKMLP_KERNELS", choice)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models[choice] = fit(make())
    return models["numpy"], models["numba"]


def assert_same_model(a, b):
    for name in ("coefs_", "intercepts_"):
        for x, y in zip(getattr(a, name), getattr(b, name)):
            np.testing.assert_array_equal(x, y)
    assert a.loss_curve_ == b.loss_curve_
    assert a.n_iter_ == b.n_iter_


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


CONFIGS = [
    dict(solver="sgd"),
    dict(solver="sgd", nesterovs_momentum=False, learning_rate="invscaling"),
    dict(solver="sgd", momentum=0.0, alpha=0.0),
    dict(solver="adam"),
    dict(solver="adam", alpha=0.1, dropout=0.2),
    dict(solver="adam", early_stopping=True, n_iter_no_change=3),
]


@pytest.mark.parametrize(
    "config", CONFIGS, ids=lambda c: "-".join(map(str, c.values()))
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fits_are_identical_with_and_without_kernels(
    monkeypatch, digits, config, dtype
):
    X, y = digits
    w = np.random.RandomState(0).uniform(0, 2, len(y))

    def make():
        return NumpyMLPClassifier(
            (20,), max_iter=15, batch_size=32, random_state=0, **config
        )

    a, b = fit_both(
        monkeypatch, make, lambda m: m.fit(X.astype(dtype), y, sample_weight=w)
    )
    assert_same_model(a, b)


def test_partial_fit_warm_start_regressor_and_pickle(monkeypatch, digits):
    X, y = digits
    target = X[:, :3].sum(axis=1)

    def calls(model):
        model.partial_fit(X[:150], target[:150])
        model = pickle.loads(pickle.dumps(model))  # the kernels travel as a choice
        model.partial_fit(X[150:], target[150:])
        return model.set_params(warm_start=True, max_iter=5).fit(X, target)

    def make():
        return NumpyMLPRegressor(
            hidden_layer_sizes=(16,), solver="sgd", batch_size=40, random_state=1
        )

    assert_same_model(*fit_both(monkeypatch, make, calls))


def test_an_unknown_choice_is_refused_before_training(monkeypatch, digits):
    X, y = digits
    clf = NumpyMLPClassifier((5,), max_iter=2, random_state=0).fit(X, y)
    before = [W.copy() for W in clf.coefs_]
    monkeypatch.setenv("SKMLP_KERNELS", "cuda")
    with pytest.raises(ValueError, match="SKMLP_KERNELS='cuda' is not one of numpy"):
        clf.partial_fit(X, y)
    for W, W0 in zip(clf.coefs_, before):
        np.testing.assert_array_equal(W, W0)


def test_numba_missing_is_a_clear_error(monkeypatch, digits):
    X, y = digits
    monkeypatch.setenv("SKMLP_KERNELS", "numba")
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba fails
    with pytest.raises(ImportError, match=r"needs numba.*skmlp\[fast\]"):
        NumpyMLPClassifier((5,), max_iter=2).fit(X, y)


def test_lbfgs_ignores_the_kernels(monkeypatch, digits):
    X, y = digits
    a, b = fit_both(
        monkeypatch,
        lambda: NumpyMLPClassifier((8,), solver="lbfgs", max_iter=20, random_state=0),
        lambda m: m.fit(X, y),
    )
    assert_same_model(a, b)


def test_scalar_rounds_like_numpy():
    like = np.zeros(1, np.float32)
    assert _fused.scalar(0.1, like) == np.float32(0.1)
    assert _fused.scalar(math.pi, like).dtype == np.float32

"""Backpropagation against centered finite differences, in float64."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _gradient_bound import assert_gradients_agree, relative_bound
from sklearn.exceptions import ConvergenceWarning

from skmlp import NumpyMLPClassifier, check_gradients

RNG = np.random.RandomState(0)
X = RNG.randn(24, 5)
TARGETS = {
    "binary": RNG.randint(2, size=24),
    "multiclass": RNG.randint(4, size=24),
    "multilabel": RNG.randint(2, size=(24, 3)),
}
WEIGHTS = RNG.randint(0, 4, size=24).astype(float)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("alpha", [0.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True])
def test_backprop_matches_finite_differences(activation, target, alpha, weighted):
    # Checked after two epochs rather than at initialisation: biases start at
    # zero, so at init a ReLU unit whose inputs are all zero sits exactly on
    # the kink, where no derivative exists (see check_gradients' notes).
    clf = NumpyMLPClassifier(
        (6, 4),
        activation=activation,
        alpha=alpha,
        solver="sgd",
        learning_rate_init=0.1,
        max_iter=2,
        random_state=0,
    )
    sample_weight = WEIGHTS if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, TARGETS[target], sample_weight=sample_weight)
    result = check_gradients(clf, X, TARGETS[target], sample_weight=sample_weight)
    assert set(result.errors) == {
        "coefs_[0]",
        "coefs_[1]",
        "coefs_[2]",
        "intercepts_[0]",
        "intercepts_[1]",
        "intercepts_[2]",
    }
    assert_gradients_agree(result)  # tests/_gradient_bound.py: the bound, argued


def test_gradient_check_on_fitted_float32_model_and_sparse_input():
    y = TARGETS["multiclass"]
    clf = NumpyMLPClassifier((7,), dtype="float32", max_iter=5, random_state=0)
    clf.fit(X, y)
    before = [W.copy() for W in clf.coefs_]
    result = check_gradients(clf, sp.csr_matrix(X), y)
    assert_gradients_agree(result)
    # the estimator itself is left alone
    assert clf.coefs_[0].dtype == np.float32
    for W, W0 in zip(clf.coefs_, before):
        np.testing.assert_array_equal(W, W0)


def test_gradient_check_detects_a_wrong_derivative(monkeypatch):
    from skmlp import _activations

    def broken_tanh_derivative(A, delta):
        delta *= 1 - A  # forgot the square

    monkeypatch.setitem(_activations.DERIVATIVES, "tanh", broken_tanh_derivative)
    clf = NumpyMLPClassifier((6,), activation="tanh", random_state=0)
    result = check_gradients(clf, X, TARGETS["multiclass"])
    assert result.errors["coefs_[0]"] > 1e-3
    # the output layer's gradient does not go through the hidden derivative
    g, n = result.analytic["coefs_[1]"], result.numeric["coefs_[1]"]
    assert result.errors["coefs_[1]"] <= relative_bound(g, n, result.loss)


def test_gradient_check_subsampling():
    clf = NumpyMLPClassifier((30,), random_state=0)
    result = check_gradients(clf, X, TARGETS["binary"], max_per_parameter=10)
    assert len(result.numeric["coefs_[0]"]) == 10
    assert len(result.numeric["intercepts_[1]"]) == 1
    assert_gradients_agree(result)


@pytest.mark.parametrize("activation", ["elu", "tanh"])
def test_the_bound_catches_a_derivative_off_by_one_percent(monkeypatch, activation):
    # The hardest case for the bound: a model fitted by lbfgs until its
    # gradient is about 1e-5, where round-off is largest against it (the
    # fitted classifiers of test_features.test_activations_learn_and_check).
    from sklearn.datasets import load_digits

    from skmlp import _activations

    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16.0, y[:400]
    clf = NumpyMLPClassifier(
        (16,), activation=activation, solver="lbfgs", max_iter=100, random_state=0
    ).fit(X, y)
    assert_gradients_agree(check_gradients(clf, X[:30], y[:30]))
    right = _activations.DERIVATIVES[activation]

    def one_percent_off(A, delta):
        right(A, delta)
        delta *= 1.01

    monkeypatch.setitem(_activations.DERIVATIVES, activation, one_percent_off)
    result = check_gradients(clf, X[:30], y[:30])
    # the first layer's gradient, but for the L2 penalty's part, goes through
    # f': 1.01 times the right one, a relative error a little under 0.01 / 2
    assert 0.003 < result.errors["coefs_[0]"] < 0.005
    with pytest.raises(AssertionError, match=r"coefs_\[0\]: relative error"):
        assert_gradients_agree(result)

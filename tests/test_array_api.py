"""Array API inputs: scikit-learn's checks, and the NumPy fit reproduced.

With ``sklearn.config_context(array_api_dispatch=True)`` both estimators
train and predict in the namespace of X (PyTorch, CuPy, array-api-strict).
array-api-strict is in the test extra and runs in CI; PyTorch is not (its
wheels bring gigabytes of CUDA libraries): its tests run wherever it is
installed and skip, saying so, elsewhere. scikit-learn's checks need
``SCIPY_ARRAY_API=1`` before SciPy is imported, which tests/conftest.py sets.
"""

from __future__ import annotations

import os
import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

from skmlp import NumpyMLPClassifier, NumpyMLPRegressor, _network, move_to

pytestmark = pytest.mark.skipif(
    os.environ.get("SCIPY_ARRAY_API") != "1",
    reason="SCIPY_ARRAY_API is not set: not checking array_api input",
)

array_api_strict = pytest.importorskip(
    "array_api_strict", reason="array_api_strict is not installed"
)
try:
    from sklearn.utils._array_api import yield_namespace_device_dtype_combinations
    from sklearn.utils.estimator_checks import check_array_api_input
except ImportError:  # pragma: no cover - scikit-learn without them
    pytest.skip(
        "scikit-learn has no array API checks: SCIPY_ARRAY_API is not set "
        "for them to run",
        allow_module_level=True,
    )

try:
    import torch
except ImportError:  # CI: PyTorch stays out of the test extra
    torch = None

needs_torch = pytest.mark.skipif(
    torch is None,
    reason="torch is not installed: the PyTorch tests run where it is",
)


def dispatch():
    return sklearn.config_context(array_api_dispatch=True)


ESTIMATORS = [
    NumpyMLPClassifier(hidden_layer_sizes=(7,), max_iter=20, random_state=0),
    NumpyMLPClassifier(
        hidden_layer_sizes=(5, 4), solver="sgd", dropout=0.2, max_iter=20,
        early_stopping=True, random_state=0,
    ),
    NumpyMLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=30),
    NumpyMLPClassifier(activation="gelu", max_iter=10, random_state=0),
    NumpyMLPRegressor(hidden_layer_sizes=(7,), max_iter=20, random_state=0),
    NumpyMLPRegressor(
        activation="tanh", solver="sgd", early_stopping=True, max_iter=20,
        random_state=0,
    ),
    NumpyMLPRegressor(solver="lbfgs", activation="softplus", max_iter=30),
]  # fmt: skip


def _ids(estimator):
    changed = estimator.get_params()
    keys = ("solver", "activation", "dropout", "early_stopping")
    return (
        type(estimator).__name__
        + "-"
        + "-".join(str(changed[k]) for k in keys if k in changed)
    )


def _combinations():
    for namespace, device, dtype in yield_namespace_device_dtype_combinations(
        include_numpy_namespaces=False
    ):
        if namespace not in ("array_api_strict", "torch"):
            continue  # CuPy and dpnp need a GPU: benchmarks/bench_gpu.py
        marks = []
        if namespace == "torch":
            marks.append(needs_torch)
            if device != "cpu":
                continue  # CUDA, MPS, XPU: where one is lent
        name = f"{namespace}-{device}-{dtype}"
        yield pytest.param(namespace, device, dtype, marks=marks, id=name)


def _quiet(check, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(*args, **kwargs)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
@pytest.mark.parametrize("namespace, device, dtype", list(_combinations()))
def test_check_array_api_input(estimator, namespace, device, dtype):
    name = type(estimator).__name__
    _quiet(check_array_api_input, name, estimator, namespace, device, dtype)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
@pytest.mark.parametrize("namespace, device, dtype", list(_combinations()))
def test_check_array_api_input_and_values(estimator, namespace, device, dtype):
    """The array API fit reproduces the NumPy fit at 1000 machine epsilons.

    Every random draw is the model's NumPy RandomState: the same starting
    weights, batches and dropout masks. Weights and outputs agree at
    scikit-learn's tolerance (1000 eps of the dtype), sample weights given.
    Except for L-BFGS in float32 on PyTorch: its line searches amplify the
    last-bit differences between PyTorch's and OpenBLAS's float32 matrix
    products without a bound (4e-4 in the weights after 30 iterations on one
    CPU, 0.3 on another), so there no tolerance on the weights can be
    argued; see ``_lbfgs_float32_close`` for what is compared instead.
    """
    name = type(estimator).__name__
    if estimator.solver == "lbfgs" and dtype == "float32" and namespace == "torch":
        _lbfgs_float32_close(estimator)
        return
    _quiet(
        check_array_api_input,
        name,
        estimator,
        namespace,
        device,
        dtype,
        check_values=True,
        check_sample_weight=True,
    )


def _lbfgs_float32_close(estimator):
    """L-BFGS in float32 on PyTorch: each evaluation agrees, and it learns.

    SciPy's L-BFGS-B runs on the host in float64 either way; what PyTorch
    computes is each loss and gradient, in float32. So (1) the torch model,
    given the NumPy fit's final weights, predicts what the NumPy model does
    within a float32 forward-error bound: each output of this 6-7-(1 or 2)
    network is two layers of at most 7-term sums, each term's rounding at
    most 2**-24 of the running sum of magnitudes, a few 1e-6 of the outputs'
    scale; 1e-4 of it is far above that and far below a wrong product.
    (2) The torch fit ends with a finite loss, below the loss after the first
    iteration by at least half as much as the NumPy fit's: the two
    trajectories part after a few iterations (last-bit differences that the
    line searches amplify), but both descend.
    """
    X, y = _data(isinstance(estimator, NumpyMLPClassifier))
    X = X.astype(np.float32)
    estimator = clone(estimator).set_params(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # the loss after one iteration (L-BFGS records accepted iterates)
        start = clone(estimator).set_params(max_iter=1).fit(X, y).loss_curve_[0]
        reference = clone(estimator).fit(X, y)
        with dispatch():
            model = clone(estimator).fit(torch.asarray(X), torch.asarray(y))
            moved = move_to(reference, torch, "cpu")
            method = "predict_proba" if hasattr(moved, "predict_proba") else "predict"
            outputs = np.asarray(getattr(moved, method)(torch.asarray(X)))
    expected = getattr(reference, method)(X)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(outputs, expected, rtol=0, atol=1e-4 * scale)
    assert np.isfinite(model.loss_)
    assert start - model.loss_ >= 0.5 * (start - reference.loss_) > 0


# ---------------------------------------------------------------------------
# the gradient on PyTorch is the NumPy gradient
# ---------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize(
    "activation", ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu",
                   "gelu", "softplus"],
)  # fmt: skip
@pytest.mark.parametrize("out", ["softmax", "logistic", "identity", "exp"])
def test_torch_float64_gradient_equals_numpy(activation, out):
    """loss_and_gradient on torch float64: the NumPy loss and gradient.

    NumPy's gradient is checked against finite differences in
    tests/test_gradients.py; this pins the torch one to it, dropout masks,
    sample weights and the L2 term included.
    """
    rng = np.random.RandomState(0)
    units = [5, 6, 4, 3]
    n = 9
    params = rng.normal(scale=0.5, size=sum(_network.n_parameters(units)))
    X = rng.normal(size=(n, units[0]))
    T = rng.uniform(size=(n, units[-1]))
    if out == "softmax":
        T = np.eye(units[-1])[rng.randint(units[-1], size=n)]
    sw = rng.uniform(0.5, 2, size=n)
    masks = _network.draw_dropout_masks(rng, n, [0.3, 0.0], units[1:-1])
    results = []
    for to in (np.asarray, torch.asarray):
        ws = _network.Workspace(
            units, n, params.dtype if to is np.asarray else torch.float64,
            activation=activation, dropout=True, like=to(params),
        )  # fmt: skip
        p = to(params.copy())
        loss = _network.loss_and_gradient(
            p, units, to(X), to(T), to(sw), activation, out, 0.01, ws,
            dropout_masks=[None if M is None else to(M) for M in masks],
        )  # fmt: skip
        results.append((loss, np.asarray(ws.grad)))
    (loss_np, grad_np), (loss_torch, grad_torch) = results
    assert loss_torch == pytest.approx(loss_np, rel=1e-13)
    np.testing.assert_allclose(grad_torch, grad_np, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------
# options: they work, or are refused before training
# ---------------------------------------------------------------------------


def _data(classifier=True, n=60):
    if classifier:
        return make_classification(n_samples=n, n_features=6, random_state=0)
    X, y = make_regression(n_samples=n, n_features=6, random_state=0)
    return X, y / 100


def _strict(*arrays):
    return [array_api_strict.asarray(a) for a in arrays]


@pytest.mark.parametrize(
    "estimator, match",
    [
        (NumpyMLPClassifier(activation=(np.tanh, lambda Z: 1 - np.tanh(Z) ** 2)),
         "custom activation"),
        (NumpyMLPRegressor(loss="huber"), "loss='huber' is NumPy-only"),
        (NumpyMLPRegressor(loss="absolute_error"), "NumPy-only"),
        (NumpyMLPRegressor(loss="quantile", quantile=[0.1, 0.9]), "NumPy-only"),
        (NumpyMLPRegressor(loss=(lambda t, p: (p - t) ** 2, lambda t, p: 2 * (p - t))),
         "NumPy-only"),
    ],
)  # fmt: skip
def test_numpy_only_options_are_refused_before_training(estimator, match):
    X, y = _data(isinstance(estimator, NumpyMLPClassifier))
    with dispatch(), pytest.raises(ValueError, match=match):
        estimator.fit(*_strict(X, y))
    assert not hasattr(estimator, "coefs_")  # unchanged: never fitted
    assert not estimator.__sklearn_tags__().array_api_support


def test_predict_and_partial_fit_refuse_another_namespace():
    X, y = _data()
    model = NumpyMLPClassifier(max_iter=5, random_state=0)
    with dispatch(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(*_strict(X, y))
    weights = np.asarray(model._params).copy()
    with dispatch(), pytest.raises(ValueError, match="must use the same namespace"):
        model.predict(X)
    with pytest.raises(ValueError, match="array_api_dispatch=True"):
        model.predict(X)  # dispatch off: said how to call it
    model.set_params(warm_start=True)
    with dispatch(), pytest.raises(ValueError, match="skmlp.move_to"):
        model.fit(X, y)
    np.testing.assert_array_equal(np.asarray(model._params), weights)


def test_sparse_input_takes_the_numpy_path_under_dispatch():
    import scipy.sparse as sp

    X, y = _data()
    with dispatch():
        model = NumpyMLPClassifier(max_iter=5, random_state=0).fit(sp.csr_matrix(X), y)
        assert isinstance(model._params, np.ndarray)
        assert isinstance(model.predict_proba(sp.csr_matrix(X)), np.ndarray)


def test_mc_dropout_std_is_refused_on_array_api_models():
    X, y = _data(classifier=False)
    model = NumpyMLPRegressor(dropout=0.2, max_iter=5, random_state=0)
    with dispatch(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(*_strict(X, y))
        with pytest.raises(ValueError, match="NumPy-only"):
            model.predict(_strict(X)[0], return_std=True)
    y_numpy, std = move_to(model, np).predict(X, return_std=True)
    assert std.shape == y_numpy.shape


@pytest.mark.parametrize("classifier", [True, False])
def test_partial_fit_warm_start_and_validation_set_on_strict(classifier):
    X, y = _data(classifier, n=80)
    Est = NumpyMLPClassifier if classifier else NumpyMLPRegressor
    kwargs = dict(max_iter=4, random_state=0, early_stopping=True)
    extra = {"classes": np.unique(y)} if classifier else {}
    reference = Est(**kwargs)
    model = clone(reference)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit_args = dict(X_val=X[:20], y_val=y[:20])
        reference.fit(X, y, **fit_args).partial_fit(X, y, **extra)
        with dispatch():
            Xs, ys, Xv, yv = _strict(X, y, X[:20], y[:20])
            model.fit(Xs, ys, X_val=Xv, y_val=yv).partial_fit(Xs, ys, **extra)
    np.testing.assert_allclose(
        np.asarray(model._params), reference._params, rtol=1e-10, atol=1e-12
    )
    assert model.history_["val_loss"] == pytest.approx(
        reference.history_["val_loss"], rel=1e-10, nan_ok=True
    )


# ---------------------------------------------------------------------------
# persistence and deployment of a model fitted on PyTorch
# ---------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("classifier", [True, False])
def test_torch_model_pickles_and_moves_to_numpy(classifier):
    X, y = _data(classifier)
    Est = NumpyMLPClassifier if classifier else NumpyMLPRegressor
    model = Est(max_iter=5, random_state=0, solver="sgd")
    with dispatch(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(torch.asarray(X), torch.asarray(y))
        expected = model.predict(torch.asarray(X))
        loaded = pickle.loads(pickle.dumps(model))
        assert isinstance(loaded._params, torch.Tensor)
        assert loaded._parameters_linked()
        assert torch.equal(loaded.predict(torch.asarray(X)), expected)
        loaded.partial_fit(torch.asarray(X), torch.asarray(y))  # goes on there
    deployed = move_to(model, np)
    assert isinstance(deployed._params, np.ndarray) and deployed._parameters_linked()
    assert isinstance(deployed._optimizer.velocity, np.ndarray)
    np.testing.assert_allclose(deployed.predict(X), expected.numpy(), rtol=1e-12)
    assert isinstance(model._params, torch.Tensor)  # the original is unchanged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        deployed.partial_fit(X, y)  # and trains on NumPy from there


@needs_torch
def test_onnx_export_of_a_torch_model_says_to_move_it_first():
    pytest.importorskip("skmlp.onnx", reason="the onnx extra is not installed")
    from skl2onnx import to_onnx

    X, y = _data()
    model = NumpyMLPClassifier(max_iter=5, random_state=0)
    with dispatch(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(torch.asarray(X), torch.asarray(y))
    with pytest.raises(ValueError, match="skmlp.move_to"):
        to_onnx(model, X[:1].astype(np.float32))
    to_onnx(move_to(model, np), X[:1].astype(np.float32))


@needs_torch
def test_sklearn_move_estimator_to_uses_skmlp_move_to():
    move_estimator_to = pytest.importorskip(
        "sklearn.utils._array_api", reason="scikit-learn < 1.8"
    ).__dict__.get("move_estimator_to")
    if move_estimator_to is None:
        pytest.skip("scikit-learn < 1.8 has no move_estimator_to")
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = NumpyMLPClassifier(max_iter=5, random_state=0).fit(X, y)
    with dispatch():
        xp = sklearn.utils._array_api.get_namespace(torch.asarray(X))[0]
        on_torch = move_estimator_to(model, xp, "cpu")
        assert isinstance(on_torch._params, torch.Tensor)
        assert on_torch._parameters_linked()
        np.testing.assert_allclose(
            on_torch.predict_proba(torch.asarray(X)).numpy(), model.predict_proba(X)
        )

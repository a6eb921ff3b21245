"""ONNX export: onnxruntime must predict what skmlp's estimators predict.

skmlp.onnx registers skl2onnx's own MLP converters; these tests measure the
result against ``predict``/``predict_proba`` for every kind of target, and
check the refusals and the few fixes skmlp.onnx adds (see its docstring).
Needs the ``onnx`` extra (skl2onnx, onnx, onnxruntime); skipped without it.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import (
    load_digits,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")
skmlp_onnx = pytest.importorskip("skmlp.onnx")

import skmlp  # noqa: E402
from skmlp import NumpyMLPClassifier  # noqa: E402

# TODO(lead): drop guard (NumpyMLPRegressor is being written in parallel)
needs_regressor = pytest.mark.skipif(
    not hasattr(skmlp, "NumpyMLPRegressor"), reason="no NumpyMLPRegressor yet"
)

ACTIVATIONS = ["relu", "tanh", "logistic", "identity"]
# float32 arithmetic in two different orders (NumPy's BLAS, onnxruntime's
# kernels): a few ulps apart on probabilities of order 1.
ATOL_FLOAT32 = 1e-5


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16).astype(np.float32), y[:400]


def _targets(y: np.ndarray, kind: str) -> np.ndarray:
    if kind == "multiclass":
        return y
    if kind == "binary":
        return (y >= 5).astype(np.int64)
    if kind == "multiclass-str":
        return np.array([f"digit {d}" for d in range(10)])[y]
    if kind == "binary-str":
        return np.where(y >= 5, "high", "low")
    raise ValueError(kind)


def _fit(model, X, y):
    with warnings.catch_warnings():
        # a few epochs are enough to get distinct, non-trivial weights
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def _run(model, X: np.ndarray, options: dict | None = None) -> list:
    """Convert ``model``, run it with onnxruntime on X, return its outputs."""
    onx = skl2onnx.to_onnx(model, X[:1], options=options)
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


def _assert_same_predictions(labels, proba, expected_labels, expected_proba, atol):
    # Labels could only differ where the two most likely classes tie to
    # within float32 rounding (~1e-7): make sure no row of the data comes
    # close, so that a mismatch is a real bug and not an unlucky draw.
    top2 = np.sort(expected_proba, axis=1)[:, -2:]
    assert np.min(top2[:, 1] - top2[:, 0]) > 1e-6, "near-tie in the test data"
    assert proba.shape == expected_proba.shape
    assert_allclose(proba, expected_proba, rtol=0, atol=atol)
    assert_array_equal(labels, expected_labels)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize(
    "kind", ["binary", "multiclass", "binary-str", "multiclass-str"]
)
def test_tensor_output_matches(digits, activation, kind):
    X, y = digits
    y = _targets(y, kind)
    clf = NumpyMLPClassifier(
        (16, 8), activation, max_iter=20, random_state=0, dtype="float32"
    )
    _fit(clf, X, y)
    labels, proba = _run(clf, X, {"zipmap": False})
    assert proba.dtype == np.float32
    assert labels.dtype == (object if kind.endswith("str") else np.int64)
    _assert_same_predictions(
        labels, proba, clf.predict(X), clf.predict_proba(X), ATOL_FLOAT32
    )


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multiclass-str"])
def test_zipmap_dict_output(digits, kind):
    X, y = digits
    y = _targets(y, kind)
    clf = _fit(NumpyMLPClassifier((16,), max_iter=20, random_state=0), X, y)
    labels, dicts = _run(clf, X)  # zipmap=True is skl2onnx's default
    assert isinstance(dicts, list) and isinstance(dicts[0], dict)
    assert list(dicts[0]) == list(clf.classes_)
    proba = np.array([[row[c] for c in clf.classes_] for row in dicts])
    _assert_same_predictions(
        labels, proba, clf.predict(X), clf.predict_proba(X), ATOL_FLOAT32
    )


def test_zipmap_columns(digits):
    X, y = digits
    clf = _fit(NumpyMLPClassifier((16,), max_iter=20, random_state=0), X, y)
    labels, *columns = _run(clf, X, {"zipmap": "columns"})
    assert len(columns) == len(clf.classes_)
    _assert_same_predictions(
        labels,
        np.column_stack(columns),
        clf.predict(X),
        clf.predict_proba(X),
        ATOL_FLOAT32,
    )


@pytest.mark.parametrize("zipmap", [False, True])
@pytest.mark.parametrize("kind", ["binary", "multiclass-str"])
def test_pipeline_with_scaler(digits, zipmap, kind):
    X, y = digits
    X = X * 16  # raw pixel counts: the scaler has real work to do
    y = _targets(y, kind)
    pipe = make_pipeline(
        StandardScaler(),
        NumpyMLPClassifier((16,), "tanh", max_iter=20, random_state=0),
    )
    _fit(pipe, X, y)
    labels, proba = _run(pipe, X, {NumpyMLPClassifier: {"zipmap": zipmap}})
    if zipmap:
        proba = np.array([[row[c] for c in pipe.classes_] for row in proba])
    _assert_same_predictions(
        labels, proba, pipe.predict(X), pipe.predict_proba(X), ATOL_FLOAT32
    )


def test_float64_model(digits):
    X, y = digits
    X64 = X.astype(np.float64)
    clf = _fit(NumpyMLPClassifier((16,), max_iter=20, random_state=0), X64, y)
    assert clf.coefs_[0].dtype == np.float64
    expected_labels, expected_proba = clf.predict(X64), clf.predict_proba(X64)

    # float32 input: the weights are exported cast to float32, so the result
    # is a float32 computation of the float64 model (to float32 rounding)
    labels, proba = _run(clf, X, {"zipmap": False})
    assert proba.dtype == np.float32
    _assert_same_predictions(
        labels, proba, expected_labels, expected_proba, ATOL_FLOAT32
    )

    # double input: the weights stay float64 and the results agree to float64
    # rounding
    labels, proba = _run(clf, X64, {"zipmap": False})
    assert proba.dtype == np.float64
    _assert_same_predictions(labels, proba, expected_labels, expected_proba, 1e-12)


def test_integer_input(digits):
    # MNIST-like uint8/int pixels: the graph casts them to float32 first
    X, y = digits
    X_int = np.rint(X * 16).astype(np.int64)
    clf = _fit(
        NumpyMLPClassifier((16,), max_iter=20, random_state=0, dtype="float32"),
        X_int,
        y,
    )
    labels, proba = _run(clf, X_int, {"zipmap": False})
    _assert_same_predictions(
        labels, proba, clf.predict(X_int), clf.predict_proba(X_int), ATOL_FLOAT32
    )


@pytest.mark.parametrize("kind", ["multiclass-str", "negative-int"])
@pytest.mark.parametrize("zipmap", [False, True])
def test_nocl_gives_class_indices(digits, kind, zipmap):
    # skl2onnx's MLP converter ignores nocl; skmlp.onnx passes it the indices
    X, y = digits
    y = y - 5 if kind == "negative-int" else _targets(y, kind)
    clf = _fit(NumpyMLPClassifier((16,), max_iter=20, random_state=0), X, y)
    labels, proba = _run(clf, X, {"zipmap": zipmap, "nocl": True})
    assert labels.dtype == np.int64
    assert_array_equal(labels, np.searchsorted(clf.classes_, clf.predict(X)))
    if zipmap:  # the dicts are keyed by index too
        assert list(proba[0]) == list(range(len(clf.classes_)))


def test_labels_beyond_int32(digits):
    # skl2onnx stores integer labels as int32: 9e10 would come back wrapped
    X, y = digits
    clf = _fit(
        NumpyMLPClassifier((16,), max_iter=20, random_state=0),
        X,
        y.astype(np.int64) * 10**10,
    )
    with pytest.raises(ValueError, match="int32.*nocl"):
        skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False})
    labels, _ = _run(clf, X, {"zipmap": False, "nocl": True})
    assert_array_equal(clf.classes_[labels], clf.predict(X))


@pytest.mark.parametrize("kind", ["float", "bool"])
def test_float_and_bool_labels(digits, kind):
    # whole-number float and boolean labels come out as int64, as skl2onnx
    # does for scikit-learn's classifiers
    X, y = digits
    y = y.astype(np.float64) if kind == "float" else y >= 5
    clf = _fit(NumpyMLPClassifier((16,), max_iter=20, random_state=0), X, y)
    labels, proba = _run(clf, X, {"zipmap": False})
    assert labels.dtype == np.int64
    _assert_same_predictions(
        labels,
        proba,
        clf.predict(X).astype(np.int64),
        clf.predict_proba(X),
        ATOL_FLOAT32,
    )


def test_output_class_labels(digits):
    X, y = digits
    clf = _fit(NumpyMLPClassifier((16,), max_iter=20, random_state=0), X, y)
    labels, proba, classes = _run(
        clf, X, {"zipmap": False, "output_class_labels": True}
    )
    assert_array_equal(classes, clf.classes_)
    _assert_same_predictions(
        labels, proba, clf.predict(X), clf.predict_proba(X), ATOL_FLOAT32
    )


def test_sparse_trained_model(digits):
    # ONNX takes a dense tensor; the model trained on CSR is the same network
    X, y = digits
    clf = _fit(
        NumpyMLPClassifier((16,), max_iter=20, random_state=0, dtype="float32"),
        sp.csr_matrix(X),
        y,
    )
    labels, proba = _run(clf, X, {"zipmap": False})
    _assert_same_predictions(
        labels,
        proba,
        clf.predict(sp.csr_matrix(X)),
        clf.predict_proba(sp.csr_matrix(X)),
        ATOL_FLOAT32,
    )


def test_multilabel():
    X, Y = make_multilabel_classification(
        n_samples=200, n_features=10, n_classes=4, random_state=0
    )
    X = X.astype(np.float32)
    clf = _fit(
        NumpyMLPClassifier((16,), max_iter=50, random_state=0, dtype="float32"),
        X,
        Y,
    )
    onx = skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False})
    # declared as a matrix (skl2onnx alone declares one label per row)
    label_dims = onx.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in label_dims][1:] == [Y.shape[1]]
    labels, proba = _run(clf, X, {"zipmap": False})
    assert labels.dtype == np.int64 and labels.shape == Y.shape
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=ATOL_FLOAT32)
    assert_array_equal(labels, clf.predict(X))
    with pytest.raises(NotImplementedError, match="zipmap"):
        skl2onnx.to_onnx(clf, X[:1])


@pytest.mark.parametrize(
    "activation, message",
    [
        ("gelu", "activation='gelu' cannot be converted"),
        ("leaky_relu", "activation='leaky_relu' cannot be converted"),
        ((np.tanh, lambda Z: 1 - np.tanh(Z) ** 2), "custom activation"),
    ],
)
def test_unconvertible_activation_raises(digits, activation, message):
    X, y = digits
    clf = _fit(NumpyMLPClassifier((8,), max_iter=5, random_state=0), X, y)
    # as if trained with it: the converter reads the fitted model's parameter
    clf.activation = activation
    with pytest.raises(ValueError, match=message):
        skl2onnx.to_onnx(clf, X[:1])
    with pytest.raises(ValueError, match=message):
        skl2onnx.to_onnx(make_pipeline(StandardScaler().fit(X), clf), X[:1])


def test_unfitted_model_raises(digits):
    X, _ = digits
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(NumpyMLPClassifier(), X[:1])


# TODO(lead): drop guard (dropout is being added in parallel)
@pytest.mark.skipif(
    "dropout" not in NumpyMLPClassifier().get_params(), reason="no dropout yet"
)
def test_dropout_needs_nothing_at_inference(digits):
    X, y = digits
    clf = _fit(
        NumpyMLPClassifier((16,), dropout=0.3, max_iter=20, random_state=0),
        X,
        y,
    )
    labels, proba = _run(clf, X, {"zipmap": False})
    _assert_same_predictions(
        labels, proba, clf.predict(X), clf.predict_proba(X), ATOL_FLOAT32
    )


@pytest.fixture(scope="module")
def regression() -> tuple[np.ndarray, np.ndarray]:
    X, Y = make_regression(200, 8, n_targets=3, noise=1.0, random_state=0)
    return X.astype(np.float32), (Y / np.abs(Y).max()).astype(np.float32)


def _assert_same_regression(prediction, expected):
    # ONNX always returns a matrix, as skl2onnx does for MLPRegressor
    expected = expected.reshape(len(expected), -1)
    assert prediction.shape == expected.shape
    assert_allclose(prediction, expected, rtol=0, atol=ATOL_FLOAT32)


@needs_regressor
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_regressor_matches(regression, activation, n_outputs):
    # skl2onnx alone returns a single column of N * n_outputs values
    X, Y = regression
    y = Y[:, 0] if n_outputs == 1 else Y
    reg = _fit(
        skmlp.NumpyMLPRegressor(
            hidden_layer_sizes=(16, 8),
            activation=activation,
            max_iter=20,
            random_state=0,
            dtype="float32",
        ),
        X,
        y,
    )
    (prediction,) = _run(reg, X)
    assert prediction.dtype == np.float32
    _assert_same_regression(prediction, reg.predict(X))


@needs_regressor
def test_regressor_pipeline_float64_and_sparse(regression):
    X, Y = regression
    X64 = X.astype(np.float64) * 10
    pipe = _fit(
        make_pipeline(
            StandardScaler(),
            skmlp.NumpyMLPRegressor(
                hidden_layer_sizes=(16,), max_iter=20, random_state=0
            ),
        ),
        X64,
        Y,
    )
    (prediction,) = _run(pipe, X64)
    assert prediction.dtype == np.float64
    _assert_same_regression(prediction, pipe.predict(X64))

    reg = _fit(
        skmlp.NumpyMLPRegressor(
            hidden_layer_sizes=(16,), max_iter=20, random_state=0, dtype="float32"
        ),
        sp.csr_matrix(X),
        Y,
    )
    (prediction,) = _run(reg, X)
    _assert_same_regression(prediction, reg.predict(sp.csr_matrix(X)))


@needs_regressor
def test_regressor_refusals(regression):
    X, Y = regression
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(skmlp.NumpyMLPRegressor(), X[:1])
    # skl2onnx's converter has no exp output layer
    poisson = _fit(
        skmlp.NumpyMLPRegressor(
            hidden_layer_sizes=(8,), loss="poisson", max_iter=5, random_state=0
        ),
        X,
        np.exp(Y[:, 0]),
    )
    with pytest.raises(ValueError, match="poisson"):
        skl2onnx.to_onnx(poisson, X[:1])
    reg = _fit(
        skmlp.NumpyMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0),
        X,
        Y,
    )
    reg.activation = "elu"  # as if trained with it
    with pytest.raises(ValueError, match="activation='elu' cannot be converted"):
        skl2onnx.to_onnx(reg, X[:1])


def test_register_is_idempotent(digits):
    X, y = digits
    skmlp_onnx.register()
    skmlp_onnx.register()
    clf = _fit(NumpyMLPClassifier((8,), max_iter=5, random_state=0), X, y)
    labels, _ = _run(clf, X, {"zipmap": False})
    assert_array_equal(labels, clf.predict(X))


def test_core_does_not_import_extras():
    # `import skmlp` must work without the optional extras installed: it must
    # not even import them when they are there.
    code = (
        "import sys, skmlp\n"
        "extras = {'skl2onnx', 'onnx', 'onnxruntime', 'dask', 'distributed', "
        "'dask_ml'}\n"
        "assert not extras & set(sys.modules), extras & set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

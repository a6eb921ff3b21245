"""Trust: bad input gets a clear error and changes nothing; divergence,
interruption, persistence, reproducibility and concurrency."""

import pickle
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _gradient_bound import assert_gradients_agree
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

import skmlp
from skmlp import (
    DivergenceWarning,
    InconsistentVersionWarning,
    NumpyMLPClassifier,
    check_gradients,
)
from skmlp._optimizers import SGD

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


@pytest.fixture
def fitted(digits):
    X, y = digits
    clf = NumpyMLPClassifier((16,), solver="sgd", max_iter=3, random_state=0)
    return clf.fit(X, y)


def state(clf) -> bytes:
    """Everything the model holds, as bytes: equal bytes, identical state."""
    return pickle.dumps(clf)


# --------------------------------------------------------------------------
# bad X
# --------------------------------------------------------------------------

BAD_X = {
    "nan": (lambda X: np.where(X == X.max(), np.nan, X), "Input X contains NaN"),
    "inf": (lambda X: np.where(X == X.max(), np.inf, X), "Input X contains infinity"),
    "empty": (lambda X: X[:0], "0 sample"),
    "1-d": (lambda X: X[:, 0], "Expected 2D array, got 1D array"),
    "3-d": (lambda X: X[:, :, None], "Found array with dim 3"),
    "strings": (
        lambda X: np.full(X.shape, "a", dtype=object),
        "could not convert string to float",
    ),
    "too few features": (
        lambda X: X[:, :5],
        "X has 5 features, but NumpyMLPClassifier is expecting 64 features",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_X))
def test_bad_X_at_predict(fitted, digits, kind):
    X, _ = digits
    make_bad, message = BAD_X[kind]
    before = state(fitted)
    for method in (fitted.predict, fitted.predict_proba, fitted.predict_log_proba):
        with pytest.raises(ValueError, match=message):
            method(make_bad(X))
    assert state(fitted) == before


@pytest.mark.parametrize("kind", list(BAD_X))
def test_bad_X_at_partial_fit_changes_nothing(fitted, digits, kind):
    X, y = digits
    make_bad, message = BAD_X[kind]
    bad = make_bad(X)
    before = state(fitted)
    with pytest.raises(ValueError, match=message if kind != "3-d" else "dim"):
        fitted.partial_fit(bad, y[: len(bad)] if bad.ndim else y)
    assert state(fitted) == before
    fitted.predict(X)  # still usable


def test_bad_X_at_fit(digits):
    X, y = digits
    for kind, (make_bad, message) in BAD_X.items():
        if kind == "too few features":
            continue
        bad = make_bad(X)
        clf = NumpyMLPClassifier((4,))
        with pytest.raises(ValueError, match=message if kind != "3-d" else "dim"):
            clf.fit(bad, y[: len(bad)])
        assert not hasattr(clf, "coefs_") and not hasattr(clf, "n_features_in_")


def test_different_columns_later(fitted, digits):
    pd = pytest.importorskip("pandas")
    X, y = digits
    columns = [f"f{i}" for i in range(X.shape[1])]
    clf = NumpyMLPClassifier((4,), max_iter=2).fit(pd.DataFrame(X, columns=columns), y)
    before = state(clf)
    renamed = pd.DataFrame(X, columns=columns[::-1])
    with pytest.raises(ValueError, match="feature names"):
        clf.partial_fit(renamed, y)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(renamed)
    assert state(clf) == before


def test_huge_values_give_no_nan(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        clf = NumpyMLPClassifier((8,), max_iter=3, random_state=0).fit(X * 1e30, y)
    assert all(np.isfinite(W).all() for W in clf.coefs_)
    for scale in (1.0, 1e30):
        P = clf.predict_proba(X * scale)
        assert np.isfinite(P).all()
        np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-6)
    # float32 cannot hold 1e39: said clearly instead of turning into inf
    clf32 = NumpyMLPClassifier((8,), max_iter=2, dtype="float32").fit(X, y)
    with pytest.raises(ValueError, match="too large for float32"):
        clf32.predict(X * 1e39)
    with pytest.raises(ValueError, match="too large for float32"):
        NumpyMLPClassifier(dtype="float32").fit(X * 1e39, y)


# --------------------------------------------------------------------------
# bad y and sample_weight
# --------------------------------------------------------------------------

BAD_Y = {
    "continuous": (lambda y: y + 0.5, "Unknown label type"),
    "nan": (lambda y: np.where(y == 0, np.nan, y), "Input y contains NaN"),
    "wrong length": (lambda y: y[:-1], "inconsistent numbers of samples"),
}


@pytest.mark.parametrize("kind", list(BAD_Y))
def test_bad_y_at_fit(digits, kind):
    X, y = digits
    make_bad, message = BAD_Y[kind]
    clf = NumpyMLPClassifier((4,))
    with pytest.raises(ValueError, match=message):
        clf.fit(X, make_bad(y))
    assert not hasattr(clf, "coefs_")


@pytest.mark.parametrize("kind", ["continuous", "nan", "wrong length", "unseen"])
def test_bad_y_at_partial_fit_changes_nothing(fitted, digits, kind):
    X, y = digits
    before = state(fitted)
    if kind == "unseen":
        bad, message = np.where(y == 0, 42, y), "not in `self.classes_`"
    else:
        make_bad, message = BAD_Y[kind]
        bad = make_bad(y)
    with pytest.raises(ValueError, match=message):
        fitted.partial_fit(X, bad)
    assert state(fitted) == before


@pytest.mark.parametrize(
    ("make_weight", "message"),
    [
        (lambda n: np.ones(n - 1), r"sample_weight.shape == \(299,\), expected"),
        (lambda n: -np.ones(n), "Negative values"),
        (lambda n: np.zeros(n), "at least one non-zero"),
        (lambda n: np.full(n, np.nan), "Input sample_weight contains NaN"),
    ],
)
def test_bad_sample_weight(fitted, digits, make_weight, message):
    X, y = digits
    with pytest.raises(ValueError, match=message):
        NumpyMLPClassifier((4,)).fit(X, y, sample_weight=make_weight(len(y)))
    before = state(fitted)
    with pytest.raises(ValueError, match=message):
        fitted.partial_fit(X, y, sample_weight=make_weight(len(y)))
    assert state(fitted) == before


# --------------------------------------------------------------------------
# bad parameters: every invalid value of every parameter
# --------------------------------------------------------------------------

INVALID_PARAMS = {
    "hidden_layer_sizes": ["abc", 0, -1],
    "activation": ["swish", None],
    "solver": ["rmsprop"],
    "alpha": [-1.0, "big"],
    "batch_size": [0, -5, "big", 2.5],
    "learning_rate": ["step"],
    "learning_rate_init": [0.0, -0.1],
    "power_t": [-1.0],
    "max_iter": [0, 2.5],
    "shuffle": ["yes", 2],
    "random_state": ["seed", 1.5],
    "tol": [-1e-3],
    "verbose": ["loud"],
    "warm_start": ["no"],
    "momentum": [1.5, -0.1],
    "nesterovs_momentum": [2],
    "early_stopping": ["x"],
    "validation_fraction": [1.0, -0.1],
    "beta_1": [1.0, -0.5],
    "beta_2": [1.0],
    "epsilon": [0.0],
    "n_iter_no_change": [0, -1],
    "max_fun": [0],
    "dtype": ["float16", np.int32],
    "dropout": [1.0, -0.1, "half"],
    "scoring": [5],
    "class_weight": ["heavy", 3],
}


def test_every_parameter_is_covered():
    assert set(INVALID_PARAMS) == set(NumpyMLPClassifier._parameter_constraints)


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, values in INVALID_PARAMS.items() for value in values],
)
def test_invalid_parameter(digits, name, value):
    X, y = digits
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter"):
        NumpyMLPClassifier(**{name: value}).fit(X, y)


@pytest.mark.parametrize("sizes", [(0,), (5, -1), (2.5,)])
def test_invalid_hidden_layer_sizes_elements(digits, sizes):
    X, y = digits
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        NumpyMLPClassifier(hidden_layer_sizes=sizes).fit(X, y)


def test_changed_architecture_with_warm_start(fitted, digits):
    X, y = digits
    before = state(fitted)
    fitted.set_params(warm_start=True, hidden_layer_sizes=(7,))
    with pytest.raises(ValueError, match="layer sizes"):
        fitted.fit(X, y)
    fitted.set_params(warm_start=False, hidden_layer_sizes=(16,))
    assert state(fitted) == before


# --------------------------------------------------------------------------
# failures during training
# --------------------------------------------------------------------------


def test_failure_mid_training_restores_everything(fitted, digits, monkeypatch):
    X, y = digits
    before = state(fitted)
    calls = []
    original_step = SGD.step

    def failing_step(self, params, grad, **l2):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("simulated")
        original_step(self, params, grad, **l2)

    monkeypatch.setattr(SGD, "step", failing_step)
    with pytest.raises(MemoryError):
        fitted.partial_fit(X, y)
    assert state(fitted) == before
    monkeypatch.undo()
    fitted.partial_fit(X, y)  # and it trains on


def test_divergence_keeps_finite_weights(digits):
    X, y = digits
    clf = NumpyMLPClassifier(
        (16, 16), solver="sgd", learning_rate_init=1e8, max_iter=20, random_state=0
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    # one clear warning, naming the learning rate, and no NumPy overflow noise
    assert [type(w.message) for w in caught] == [DivergenceWarning]
    assert "learning_rate_init=100000000.0" in str(caught[0].message)
    assert all(np.isfinite(a).all() for a in clf.coefs_ + clf.intercepts_)
    assert np.isfinite(clf.predict_proba(X)).all()
    assert clf.n_iter_ < 20
    assert all(np.isfinite(clf.loss_curve_))


# Ctrl-C (one press or two: the interrupt reaches the caller, the model keeps
# its last whole batch) is tested in test_fidelity.py.


# --------------------------------------------------------------------------
# persistence
# --------------------------------------------------------------------------

CONFIGS = [
    dict(solver="sgd"),
    dict(solver="adam", dtype="float32"),
    dict(solver="lbfgs"),
    dict(early_stopping=True),
    dict(activation="tanh", hidden_layer_sizes=(7, 5)),
]


@pytest.mark.parametrize("params", CONFIGS)
def test_pickle_round_trip_bit_identical(digits, params):
    X, y = digits
    clf = NumpyMLPClassifier(max_iter=4, random_state=0, **params).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    if params.get("solver") != "lbfgs":
        clf.partial_fit(X, y)
        loaded.partial_fit(X, y)
        for a, b in zip(
            clf.coefs_ + clf.intercepts_, loaded.coefs_ + loaded.intercepts_
        ):
            np.testing.assert_array_equal(a, b)


def test_pickle_from_another_version_warns(fitted):
    data = fitted.__getstate__()
    assert data["_skmlp_version"] == skmlp.__version__
    assert "_params" not in data  # coefs_ and intercepts_ carry the values
    assert fitted._parameters_linked()  # ... and pickling took nothing away
    data["_skmlp_version"] = "0.0.1"
    clone = NumpyMLPClassifier.__new__(NumpyMLPClassifier)
    with pytest.warns(InconsistentVersionWarning, match="version 0.0.1"):
        clone.__setstate__(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(pickle.dumps(fitted))  # same version: silent


def test_skops_secure_loading(fitted, digits, tmp_path):
    sio = pytest.importorskip("skops.io")
    X, _ = digits
    path = tmp_path / "model.skops"
    sio.dump(fitted, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert all(name.startswith("skmlp.") for name in untrusted), untrusted
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    loaded.partial_fit(X[:50], fitted.predict(X[:50]))


# --------------------------------------------------------------------------
# reproducibility and concurrency
# --------------------------------------------------------------------------

FIT_AND_HASH = """
import hashlib, warnings
import numpy as np
from sklearn.datasets import load_digits
from skmlp import NumpyMLPClassifier
warnings.simplefilter("ignore")
X, y = load_digits(return_X_y=True)
clf = NumpyMLPClassifier((16,), max_iter=3, random_state={seed})
clf.fit(X[:300] / 16, y[:300])
print(hashlib.sha256(clf._params.tobytes()).hexdigest())
"""


def test_same_seed_same_weights_across_processes():
    def run(seed):
        out = subprocess.run(
            [sys.executable, "-c", FIT_AND_HASH.format(seed=seed)],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    first = run(3)
    assert first == run(3)
    assert first != run(4)


def test_concurrent_predict_proba(digits):
    X, y = digits
    clf = NumpyMLPClassifier((32,), max_iter=3, random_state=0).fit(X, y)
    inputs = [np.roll(X, k, axis=0) for k in range(8)]
    expected = [clf.predict_proba(Xi) for Xi in inputs]
    results = [None] * len(inputs)
    barrier = threading.Barrier(len(inputs))

    def work(i):
        barrier.wait()
        for _ in range(20):
            results[i] = clf.predict_proba(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------
# properties, on random networks and data
# --------------------------------------------------------------------------


@st.composite
def problems(draw):
    n_samples = draw(st.integers(4, 30))
    n_features = draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["binary", "multiclass", "multilabel"]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, size=(n_samples, n_features))
    if kind == "binary":
        y = np.arange(n_samples) % 2
    elif kind == "multiclass":
        y = np.arange(n_samples) % draw(st.integers(3, 5))
    else:
        y = rng.randint(2, size=(n_samples, 3))
        y[0], y[1] = 0, 1  # every label seen both ways
    rng.shuffle(y)
    weights = draw(st.one_of(st.none(), st.just(rng.randint(1, 4, n_samples))))
    params = dict(
        hidden_layer_sizes=tuple(draw(st.lists(st.integers(1, 6), max_size=3))),
        activation=draw(st.sampled_from(["identity", "logistic", "tanh", "relu"])),
        batch_size=draw(st.integers(1, n_samples)),
        alpha=draw(st.sampled_from([0.0, 1e-3, 0.5])),
        solver="sgd",
        learning_rate_init=0.05,
        max_iter=2,
        random_state=seed,
        dtype="float64",
    )
    return X, y, weights, params


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_properties(problem):
    X, y, weights, params = problem
    clf = NumpyMLPClassifier(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y, sample_weight=weights)
    if clf.activation == "relu":
        # ReLU has no derivative at 0; a dead unit can sit exactly there
        A = X
        for W, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
            Z = A @ W + b
            assume(np.abs(Z).min() > 1e-4)
            A = np.maximum(Z, 0)
    # backprop agrees with finite differences (after 2 epochs: off ReLU kinks)
    result = check_gradients(clf, X, y, sample_weight=weights)
    # A finite difference is only as good as the loss is accurate: in float64
    # the round-off of (L(w + h) - L(w - h)) / 2h is some ulps (2.2e-16) of |L|
    # over h, the truncation error h**2 * L''' / 6 smaller still. Two epochs
    # with batches of 1 can blow a network up (losses of 1e14 and more, about
    # 4 % of the draws), where no finite difference means anything: those
    # draws are left out.
    assume(np.isfinite(result.loss) and result.loss < 10)
    # relative error, plus round-off over the gradient's size where a whole
    # array's gradient is tiny (tests/_gradient_bound.py); a random draw's
    # gradient may vanish, so the bound's power to see a 1 % error is not asked
    assert_gradients_agree(result, detects=None)
    # probabilities
    P = clf.predict_proba(X)
    assert ((P >= 0) & (P <= 1)).all()
    if P.shape[1] > 1 and np.ndim(y) == 1:
        np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-10)
    # neither row order, chunking nor a sparse X changes a prediction beyond
    # round-off: BLAS may sum in another order for another matrix height
    tol = 2 * _probability_error_bound(clf, X)  # (n_samples, 1)
    perm = np.random.RandomState(0).permutation(len(X))
    assert (np.abs(clf.predict_proba(X[perm]) - P[perm]) <= tol[perm]).all()
    chunks = np.vstack([clf.predict_proba(part) for part in np.array_split(X, 3)])
    assert (np.abs(chunks - P) <= tol).all()
    assert (np.abs(clf.predict_proba(sp.csr_matrix(X)) - P) <= tol).all()
    # labels too, where no probability is within round-off of a tie
    if clf.out_activation_ == "softmax":
        top_two = np.sort(P, axis=1)[:, -2:]
        clear = top_two[:, 1] - top_two[:, 0] > 2 * tol[:, 0]
    else:
        clear = (np.abs(P - 0.5) > tol).all(axis=1)
    np.testing.assert_array_equal(
        clf.predict(sp.csr_matrix(X))[clear], clf.predict(X)[clear]
    )


def _probability_error_bound(clf, X) -> np.ndarray:
    """Bound on the float64 rounding error of each row's probabilities.

    A dot product of K terms plus a bias is off by at most
    (K + 1) * eps * (sum |a_i w_i| + |b|) whatever the order of the sum
    (Higham, Accuracy and Stability of Numerical Algorithms, 3.1; eps rather
    than eps / 2: a factor 2 to spare). Every hidden activation is
    1-Lipschitz, so an error d in its input stays below d in its output,
    and its own rounding adds a few eps of its value. A logit error e moves
    a softmax or logistic probability P by at most P * (exp(2 e) - 1), and
    P <= 1; the output function adds a few eps more.
    """
    eps = np.finfo(np.float64).eps
    A = np.asarray(X, dtype=np.float64)  # (n, d0)
    d = np.zeros_like(A)  # (n, d0): error bound on A
    n_layers = len(clf.coefs_)
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        # W: (d_i, d_i+1), b: (d_i+1,)
        Z = A @ W + b  # (n, d_i+1)
        terms = np.abs(A) @ np.abs(W) + np.abs(b)
        d = d @ np.abs(W) + (A.shape[1] + 1) * eps * terms
        if i < n_layers - 1:
            A = ACTIVATIONS[clf.activation](Z)
            d = d + 4 * eps * np.abs(A)
    return np.expm1(2 * d.max(axis=1, keepdims=True)) + 16 * eps  # (n, 1)


ACTIVATIONS = {
    "identity": lambda Z: Z,
    "logistic": lambda Z: 1 / (1 + np.exp(-Z)),
    "tanh": np.tanh,
    "relu": lambda Z: np.maximum(Z, 0),
}

"""Memory: fit copies X once, epochs allocate nothing new, predict works in chunks."""

import tracemalloc
import warnings

import numpy as np
import pytest
import sklearn

from skmlp import NumpyMLPClassifier

MB = 2**20


def traced_peak(function, *args, **kwargs) -> float:
    """Peak of the memory traced while ``function`` runs, in MB."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        result = function(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return (peak - start) / MB


@pytest.fixture(scope="module")
def pixels():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(6000, 784), dtype=np.uint8)
    y = rng.randint(0, 10, size=6000)
    return X, y


def fit(X, y, epochs):
    clf = NumpyMLPClassifier(
        (64,), solver="sgd", batch_size=128, max_iter=epochs, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clf.fit(X, y)


def test_fit_makes_one_float32_copy_of_X(pixels):
    X, y = pixels
    copy = X.size * 4 / MB  # 18 MB
    peak = traced_peak(fit, X, y, 1)
    assert copy <= peak < copy + 8, peak


def test_early_stopping_copies_only_the_validation_rows(pixels):
    X, y = pixels

    def fit_early_stopping():
        clf = NumpyMLPClassifier(
            (64,), early_stopping=True, batch_size=128, max_iter=1, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return clf.fit(X, y)

    copy = X.size * 4 / MB  # 18 MB; the held-out 10% add 1.8 MB
    peak = traced_peak(fit_early_stopping)
    assert copy <= peak < copy + 8, peak


def test_epochs_allocate_nothing_new(pixels):
    X, y = pixels
    one, four = traced_peak(fit, X, y, 1), traced_peak(fit, X, y, 3)
    assert four - one < 1.0, (one, four)


def test_predict_proba_works_in_chunks():
    # trained on pixels / 255, then the first layer divided by 255: the same
    # model on raw 0..255 pixels, with moderate logits (raw pixels straight
    # into fit give logits in the thousands and saturated probabilities that
    # would test nothing)
    X_small, y_small = _small()
    clf = fit(X_small / np.float32(255), y_small, 1)
    clf.coefs_[0][...] /= 255
    X = np.random.RandomState(1).randint(0, 256, size=(100_000, 784), dtype=np.uint8)
    output = 100_000 * 10 * 4 / MB  # the float32 result, 4 MB
    # Chunks follow scikit-learn's working_memory (MiB for the activations
    # of one chunk, X's float32 copy included); the default, 1024, would
    # hold all 100000 rows here.
    with sklearn.config_context(working_memory=32):
        peak = traced_peak(clf.predict_proba, X)
    # X as float32 would be 300 MB; chunk by chunk the extra stays small
    assert peak < output + 40, peak

    # Every chunk's rows are where they belong, up to float32 rounding. BLAS
    # sums in another order for another matrix height (a 1000-row call and
    # a 100000-row one differ by about 1e-6 relative), so the result is
    # compared with a float64 forward pass of the same float32 weights, on
    # rows spread over every chunk, within a bound that holds on any CPU:
    with sklearn.config_context(working_memory=32):
        P = clf.predict_proba(X)  # 11 chunks of 9777 rows
    rows = np.arange(0, len(X), 7)
    P64, rtol = _float64_proba_and_error_bound(clf, X[rows])
    assert _within(P[rows], P64, rtol)
    head = rows < 1000  # a single chunk of another height
    assert _within(clf.predict_proba(X[:1000])[rows[head]], P64[head], rtol[head])
    # ... and the bound is tight enough to see a row out of place
    assert not _within(P[rows + 1], P64, rtol)


def _within(P, reference, rtol) -> bool:
    return bool((np.abs(P - reference) <= rtol * reference).all())


def _float64_proba_and_error_bound(clf, X):
    """Softmax probabilities in float64 for a one-hidden-layer ReLU network, and
    a bound on the relative error of the float32 ones, row by row.

    A float32 dot product of K terms plus a bias is off by at most
    gamma_(K+1) * (sum |x_i w_i| + |b|), with gamma_n = n u / (1 - n u) and
    u = eps / 2 (Higham, Accuracy and Stability of Numerical Algorithms,
    section 3.1), whatever the order BLAS sums in; eps * (K + 1) is used, a
    factor 2 to spare. ReLU adds no error and does not amplify one; the
    output layer carries the hidden error d through |W| and adds its own.
    A logit error of at most e changes each softmax probability by a factor
    within exp(+-2e); exp, the sum and the division add a few eps more.
    The bound is worst case (the measured error is about 1e-6, the bound
    about 3e-2 here), but CPU-, BLAS- and thread-independent.
    """
    eps = float(np.finfo(np.float32).eps)
    W1, W2 = (np.asarray(W, dtype=np.float64) for W in clf.coefs_)
    b1, b2 = (np.asarray(b, dtype=np.float64) for b in clf.intercepts_)
    A = np.asarray(X, dtype=np.float64)  # (n, 784), exact: uint8 values
    H = np.maximum(A @ W1 + b1, 0)  # (n, 64)
    d1 = (A.shape[1] + 1) * eps * (A @ np.abs(W1) + np.abs(b1))  # (n, 64)
    Z = H @ W2 + b2  # (n, 10)
    d2 = d1 @ np.abs(W2) + (H.shape[1] + 1) * eps * (H @ np.abs(W2) + np.abs(b2))
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    P = E / E.sum(axis=1, keepdims=True)  # (n, 10)
    rtol = np.expm1(2 * d2.max(axis=1)) + 16 * eps  # (n,)
    return P, rtol[:, None]


def _small():
    rng = np.random.RandomState(0)
    return rng.randint(0, 256, size=(500, 784), dtype=np.uint8), np.arange(500) % 10

"""Memory: fit copies X once, epochs allocate nothing new, predict works in chunks."""

import tracemalloc
import warnings

import numpy as np
import pytest

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


def test_epochs_allocate_nothing_new(pixels):
    X, y = pixels
    one, four = traced_peak(fit, X, y, 1), traced_peak(fit, X, y, 3)
    assert four - one < 1.0, (one, four)


def test_predict_proba_works_in_chunks():
    clf = fit(*_small(), 1)
    X = np.random.RandomState(1).randint(0, 256, size=(100_000, 784), dtype=np.uint8)
    output = 100_000 * 10 * 4 / MB  # the float32 result, 4 MB
    peak = traced_peak(clf.predict_proba, X)
    # X as float32 would be 300 MB; chunk by chunk the extra stays small
    assert peak < output + 40, peak
    np.testing.assert_allclose(
        clf.predict_proba(X[:1000]), clf.predict_proba(X)[:1000], rtol=1e-6
    )


def _small():
    rng = np.random.RandomState(0)
    return rng.randint(0, 256, size=(500, 784), dtype=np.uint8), np.arange(500) % 10

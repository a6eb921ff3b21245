"""Training on data larger than memory: ``partial_fit`` on chunks of a memmap.

The memmap tests need nothing beyond the core; the dask-ml ``Incremental``
test needs the ``dask`` extra and is skipped without it.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skmlp import NumpyMLPClassifier

N_TRAIN, N_TEST, N_FEATURES, N_CLASSES = 20_000, 2_000, 784, 10
CHUNK = 1_000  # rows per partial_fit call: 3 MB of float32


def _write_mnist_like(
    path: Path, n_rows: int, seed: int
) -> tuple[np.memmap, np.ndarray]:
    """Write an MNIST-shaped float32 data set to ``path``; return it read-only.

    Each class is a random "stroke" pattern of 784 pixels in [0, 1]; a sample
    is its class's pattern with pixels dropped at random, plus noise: easy,
    but it takes real training to tell the classes apart. Rows are written a
    chunk at a time, so the data never sits in memory whole.
    """
    prototypes = np.random.default_rng(0).random((N_CLASSES, N_FEATURES)) < 0.15
    rng = np.random.default_rng(seed)
    y = rng.integers(N_CLASSES, size=n_rows)
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_rows, N_FEATURES))
    for start in range(0, n_rows, CHUNK):
        rows = slice(start, min(start + CHUNK, n_rows))
        n = rows.stop - rows.start
        kept = rng.random((n, N_FEATURES)) < 0.7
        X[rows] = prototypes[y[rows]] * kept + 0.3 * rng.random((n, N_FEATURES))
    X.flush()
    del X
    return np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, N_FEATURES)), y


@pytest.fixture(scope="module")
def mnist_like(tmp_path_factory):
    folder = tmp_path_factory.mktemp("memmap")
    X_train, y_train = _write_mnist_like(folder / "train.f32", N_TRAIN, seed=1)
    X_test, y_test = _write_mnist_like(folder / "test.f32", N_TEST, seed=2)
    return X_train, y_train, X_test, y_test


def _model() -> NumpyMLPClassifier:
    return NumpyMLPClassifier((32,), random_state=0, dtype="float32")


def test_chunked_partial_fit_from_memmap_bounded_memory(mnist_like):
    X_train, y_train, X_test, y_test = mnist_like
    classes = np.arange(N_CLASSES)
    clf = _model()

    tracemalloc.start()
    try:
        # Control: tracemalloc does see NumPy's allocations, so copying the
        # whole array into memory would show up in the peak.
        whole = np.array(X_train)
        assert tracemalloc.get_traced_memory()[1] >= X_train.nbytes
        del whole
        tracemalloc.reset_peak()

        for start in range(0, N_TRAIN, CHUNK):
            stop = start + CHUNK
            clf.partial_fit(X_train[start:stop], y_train[start:stop], classes=classes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Memory must scale with the chunk, not the file (63 MB, 20 chunks): a
    # few chunk-sized copies are fine (a dtype conversion makes one), the
    # whole file is not. Today's peak: about 3 MB, the batches, the network
    # and Adam's state; partial_fit copies nothing of a float32 chunk.
    chunk_nbytes = X_train[:CHUNK].nbytes
    assert peak < 4 * chunk_nbytes <= X_train.nbytes / 5, (peak, chunk_nbytes)
    assert clf.t_ == N_TRAIN
    # one pass over the file is enough on this easy data
    assert clf.score(X_test, y_test) > 0.9


def test_chunked_partial_fit_equals_in_memory_partial_fit(mnist_like):
    # Reading the chunks from disk changes nothing: the same calls on
    # in-memory copies of the chunks give the same weights, bit for bit.
    X_train, y_train, *_ = mnist_like
    classes = np.arange(N_CLASSES)
    from_disk, in_memory = _model(), _model()
    for start in range(0, 3 * CHUNK, CHUNK):
        rows = slice(start, start + CHUNK)
        from_disk.partial_fit(X_train[rows], y_train[rows], classes=classes)
        in_memory.partial_fit(np.array(X_train[rows]), y_train[rows], classes=classes)
    for a, b in zip(from_disk.coefs_, in_memory.coefs_):
        assert_array_equal(a, b)


def test_dask_ml_incremental_equals_chunked_loop(mnist_like):
    # dask-ml's Incremental calls partial_fit on the blocks of a Dask array
    # in order (shuffle_blocks=False) on a clone of the estimator: with the
    # same random_state (which seeds both the initial weights and the
    # generator that shuffles inside each call) and the same chunks, the
    # weights must be those of the plain loop, bit for bit.
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X_train, y_train, *_ = mnist_like
    n = 3 * CHUNK
    classes = np.arange(N_CLASSES)

    expected = _model()
    for _ in range(2):  # two epochs
        for start in range(0, n, CHUNK):
            rows = slice(start, start + CHUNK)
            expected.partial_fit(X_train[rows], y_train[rows], classes=classes)

    # a Dask array over the memmap: each block is read from disk when needed
    X_dask = da.from_array(X_train[:n], chunks=(CHUNK, N_FEATURES))
    y_dask = da.from_array(y_train[:n], chunks=CHUNK)
    inc = wrappers.Incremental(_model(), shuffle_blocks=False)
    for _ in range(2):
        inc.partial_fit(X_dask, y_dask, classes=classes)

    got = inc.estimator_
    assert got is not inc.estimator  # Incremental trains a clone
    assert got.t_ == expected.t_ == 2 * n
    for a, b in zip(
        got.coefs_ + got.intercepts_, expected.coefs_ + expected.intercepts_
    ):
        assert_array_equal(a, b)

    # Incremental.fit is one pass over the blocks, from a fresh clone
    one_pass = wrappers.Incremental(_model(), shuffle_blocks=False)
    one_pass.fit(X_dask, y_dask, classes=classes)
    loop = _model()
    for start in range(0, n, CHUNK):
        rows = slice(start, start + CHUNK)
        loop.partial_fit(X_train[rows], y_train[rows], classes=classes)
    for a, b in zip(one_pass.estimator_.coefs_, loop.coefs_):
        assert_array_equal(a, b)

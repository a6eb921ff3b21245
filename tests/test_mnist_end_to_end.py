"""End to end on the real MNIST: a small network trained on all 60000 images.

The real IDX files (``SKMLP_DATA_DIR``, or ``../shared/data/mnist`` next to the
repository) are needed; the test is skipped without them. It trains a
784-128-10 network for 6 epochs (3-5 s on one CPU core), which
reaches about 98% test accuracy: a broken gradient, optimizer, schedule or
data path shows up as a clearly lower number.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skmlp import NumpyMLPClassifier
from skmlp.datasets import load_mnist

MNIST_DIR = Path(
    os.environ.get("SKMLP_DATA_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
)


@pytest.mark.slow
@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"no MNIST folder at {MNIST_DIR}")
def test_small_network_reaches_97_percent_on_mnist():
    X_train, X_test, y_train, y_test = load_mnist(MNIST_DIR, scale=True)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    clf = NumpyMLPClassifier(
        hidden_layer_sizes=(128,),
        solver="sgd",
        learning_rate="cosine",
        learning_rate_init=0.1,
        momentum=0.9,
        batch_size=128,
        max_iter=6,
        dtype="float32",
        random_state=0,
    )
    # One BLAS thread: a multithreaded BLAS on minibatch-sized products slows
    # down tens of times as soon as another process competes for the cores
    # (its threads wait for each other at every product), while one thread
    # takes about 3 s here whatever else runs.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # 6 epochs by design
        clf.fit(X_train, y_train)

    assert clf.coefs_[0].dtype == np.float32
    assert clf.n_iter_ == 6
    # The training loss went down epoch after epoch.
    assert np.all(np.diff(clf.history_["loss"]) < 0), clf.history_["loss"]
    accuracy = clf.score(X_test, y_test)
    assert accuracy >= 0.97, accuracy

"""NumpyMLPClassifier on a Dask cluster: a real scheduler and worker processes.

Needs the ``dask`` extra (dask[distributed], dask-ml); skipped without it. The
cluster binds 127.0.0.1 only and writes its scratch files under a temporary
folder.
"""

from __future__ import annotations

import importlib
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from skmlp import NumpyMLPClassifier  # noqa: E402


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return (X[:360] / 16).astype(np.float32), y[:360]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """Where the cluster writes its files."""
    return tmp_path_factory.mktemp("dask")


@pytest.fixture(scope="module")
def client(scratch):
    """A two-process LocalCluster, started once for the module (~3 s)."""
    # The workers (spawned processes) get the parent's Dask configuration,
    # so their spill and scratch files land under `scratch` too.
    with (
        dask.config.set({"temporary-directory": str(scratch)}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # Import skmlp (and scikit-learn) on the workers now: the first task
        # would otherwise pay for it, a few seconds on a small machine.
        client.run(importlib.import_module, "skmlp")
        yield client


def _search(X, y) -> GridSearchCV:
    search = GridSearchCV(
        NumpyMLPClassifier(max_iter=15, learning_rate_init=0.01, random_state=0),
        {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-1]},
        cv=3,
        n_jobs=-1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y)


def test_grid_search_on_dask_matches_default_backend(client, scratch, digits):
    X, y = digits
    expected = _search(X, y)  # joblib's default backend (loky processes)

    with (
        distributed.get_task_stream(client) as tasks,
        joblib.parallel_config(backend="dask"),
    ):
        result = _search(X, y)

    # The fits ran as tasks on the cluster's worker processes. (joblib sends
    # them in batches of a size it tunes as it goes, so neither the number of
    # tasks nor their spread over the two workers is fixed.)
    workers = set(client.scheduler_info()["workers"])
    assert tasks.data
    assert {task["worker"] for task in tasks.data} <= workers

    # and gave the same scores (each fit is seeded: random_state=0)
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        assert_array_equal(result.cv_results_[key], expected.cv_results_[key])
    assert result.best_params_ == expected.best_params_
    assert expected.best_score_ > 0.8  # the search learned something
    assert_array_equal(
        result.best_estimator_.coefs_[0], expected.best_estimator_.coefs_[0]
    )
    assert (scratch / "dask-scratch-space").is_dir()  # not the current folder


def test_incremental_on_cluster_matches_local_loop(client, digits):
    # dask-ml's Incremental sends the estimator from task to task, so between
    # two blocks it is pickled and moved to another worker process: training
    # must go on exactly as in one process (weights, Adam's moments, the
    # shuffling generator all travel with it).
    dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
    da = pytest.importorskip("dask.array")
    X, y = digits
    classes = np.unique(y)
    params = dict(hidden_layer_sizes=(16,), random_state=0, dtype="float32")

    expected = NumpyMLPClassifier(**params)
    for _ in range(2):
        for start in range(0, len(X), 90):
            stop = start + 90
            expected.partial_fit(X[start:stop], y[start:stop], classes=classes)

    inc = dask_ml_wrappers.Incremental(
        NumpyMLPClassifier(**params), shuffle_blocks=False
    )
    X_dask = da.from_array(X, chunks=(90, X.shape[1]))
    y_dask = da.from_array(y, chunks=90)
    for _ in range(2):
        inc.partial_fit(X_dask, y_dask, classes=classes)

    for got, want in zip(
        inc.estimator_.coefs_ + inc.estimator_.intercepts_,
        expected.coefs_ + expected.intercepts_,
    ):
        assert_array_equal(got, want)
    assert inc.estimator_.t_ == expected.t_ == 2 * len(X)

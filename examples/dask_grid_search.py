"""Grid search on a Dask cluster: joblib's Dask backend runs the fits.
===================================================================

What it shows
-------------
``GridSearchCV(..., n_jobs=-1)`` hands its fits to joblib; under
``joblib.parallel_config(backend="dask")`` joblib hands them on to a Dask
cluster. Here the cluster is a ``distributed.LocalCluster`` (a scheduler and
two worker processes on this machine, bound to 127.0.0.1); pointing
``Client`` at a real scheduler's address (``Client("tcp://host:8786")``)
spreads the same search over many machines, with no other change. The
workers need skmlp installed, like any package the tasks use.

It searches hidden-layer sizes and the L2 penalty on scikit-learn's digits,
prints the cross-validated scores, and (``--compare``) runs the same search
on joblib's default backend to show the results are the same: each fit is
seeded by ``random_state``, so where it runs changes nothing.

How to run (needs ``pip install "skmlp[dask]"``)
-------------------------------------------------
    python examples/dask_grid_search.py              # about 15 s
    python examples/dask_grid_search.py --compare
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import dask
import joblib
import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from skmlp import NumpyMLPClassifier

PARAM_GRID = {
    "hidden_layer_sizes": [(32,), (64,), (64, 32)],
    "alpha": [1e-4, 1e-2, 1.0],
}


def make_search() -> GridSearchCV:
    return GridSearchCV(
        NumpyMLPClassifier(max_iter=100, learning_rate_init=0.01, random_state=0),
        PARAM_GRID,
        cv=3,
        n_jobs=-1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument(
        "--compare", action="store_true", help="also run on joblib's default backend"
    )
    args = parser.parse_args()
    # fewer epochs than convergence needs, on purpose: keep it quick
    warnings.simplefilter("ignore", ConvergenceWarning)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16, y, test_size=0.25, random_state=0
    )

    # The cluster's spill and scratch files go to a temporary folder (the
    # workers inherit this configuration), not to the current directory.
    with (
        tempfile.TemporaryDirectory() as scratch,
        dask.config.set({"temporary-directory": scratch}),
        LocalCluster(
            n_workers=args.n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"cluster: {len(client.scheduler_info()['workers'])} workers")
        start = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            search = make_search().fit(X_train, y_train)
        print(f"search on Dask: {time.perf_counter() - start:.1f} s")

    results = search.cv_results_
    for rank in np.argsort(results["rank_test_score"]):
        print(
            f"  {results['mean_test_score'][rank]:.4f} "
            f"+- {results['std_test_score'][rank]:.4f}  {results['params'][rank]}"
        )
    print(f"best: {search.best_params_}")
    print(
        f"test accuracy of the refitted best model: {search.score(X_test, y_test):.4f}"
    )

    if args.compare:
        start = time.perf_counter()
        local = make_search().fit(X_train, y_train)
        print(
            f"search on joblib's default backend: {time.perf_counter() - start:.1f} s"
        )
        same = np.array_equal(
            local.cv_results_["mean_test_score"], results["mean_test_score"]
        )
        print(
            f"same scores: {same}; same best parameters: "
            f"{local.best_params_ == search.best_params_}"
        )


# The workers are separate processes that import this file: the guard keeps
# them from starting clusters of their own.
if __name__ == "__main__":
    main()

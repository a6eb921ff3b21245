"""Tune a NumpyMLPClassifier on a subset of MNIST with GridSearchCV.
=================================================================

A 3-fold cross-validated grid search over the hidden layer sizes, the initial
learning rate and the L2 penalty ``alpha`` runs on a subset of the training
images (6000 by default), with the folds and candidates trained in parallel
(``n_jobs=-1``: one worker process per CPU core). It prints the ranked table
of ``cv_results_``, then trains the best candidate on the full training set
and reports its accuracy on the 10000 test images; the last line printed is
``test accuracy: 0.XXXX``. It takes about 40 s on a quiet 2-core CPU (30 s
for the search, 8 s for the final training). In that run, the learning rate
mattered most (0.3 best; at 0.6 the 2-hidden-layer networks broke down to
chance accuracy), the width a little, and alpha least; the best candidate,
784-256-10 at 0.3, scored 0.955 in cross-validation on 4000-image folds and
0.985 on the test set once trained on all 60000 images.

Run it from the repository root::

    SKMLP_DATA_DIR=../shared/data/mnist python examples/grid_search_mnist.py

or, in a few seconds, a tiny grid on tiny subsets (what the tests do)::

    python examples/grid_search_mnist.py --data-dir ../shared/data/mnist --quick

Threads and processes
---------------------
NumPy's matrix products run on a multithreaded BLAS (OpenBLAS here) that by
default starts one thread per core in every process. With one worker process
per core, each of them running a BLAS with one thread per core, a 2-core
machine would run 2 x 2 = 4 busy threads on 2 cores: this *oversubscription*
makes the threads take turns (context switches, caches of one thread evicted
by another, BLAS threads spinning while they wait for each other), and the
search gets slower, not faster. Independent fits parallelise perfectly across
processes, whereas one fit on minibatches of 128 images gains little from
several BLAS threads, so the right split is one BLAS thread per worker.

joblib's loky backend, which GridSearchCV uses, already sets the thread-count
environment variables (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ...) of
its workers to ``cpu_count() // n_jobs``; this example sets that limit
explicitly with ``parallel_config(inner_max_num_threads=...)``, checks it from
inside the workers with threadpoolctl, and trains the final model in the main
process, which keeps all its BLAS threads.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from typing import Any

import numpy as np
from joblib import Parallel, cpu_count, delayed, effective_n_jobs, parallel_config
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_info

from skmlp import NumpyMLPClassifier
from skmlp.datasets import DATA_DIR_ENV, load_mnist

# The grid: 3 x 3 x 3 = 27 candidates, 81 fits with 3 folds. As in
# scikit-learn, each step's L2 penalty is alpha / batch_size * ||W||^2 / 2:
# with batches of 128, alpha 1e-4 and 1e-3 both amount to no penalty at all
# (they give identical predictions here), so the values span 1e-4 to 0.1.
PARAM_GRID = {
    "mlp__hidden_layer_sizes": [(128,), (256,), (256, 128)],
    "mlp__learning_rate_init": [0.1, 0.3, 0.6],
    "mlp__alpha": [1e-4, 1e-2, 1e-1],
}
# --quick: 2 candidates, so that the tests run every line in a few seconds.
QUICK_GRID = {
    "mlp__hidden_layer_sizes": [(16,), (32,)],
    "mlp__learning_rate_init": [0.1],
    "mlp__alpha": [1e-4],
}


def scale_pixels(X: np.ndarray) -> np.ndarray:
    """Pixels 0..255 to float32 values in [0, 1]."""
    return np.multiply(X, np.float32(1 / 255), dtype=np.float32)


def make_pipeline(epochs: int, seed: int) -> Pipeline:
    """Pixel scaling, then a network trained by SGD with a cosine schedule.

    Parameters
    ----------
    epochs : int
        Training epochs (the length of the cosine schedule).
    seed : int
        Seeds the weights and the shuffling.

    Returns
    -------
    pipeline : Pipeline
        Steps ``"scale"`` and ``"mlp"``; the grid sets ``mlp__`` parameters.
    """
    net = NumpyMLPClassifier(
        solver="sgd",
        learning_rate="cosine",
        momentum=0.9,
        batch_size=128,
        max_iter=epochs,
        dtype="float32",
        random_state=seed,
    )
    return Pipeline([("scale", FunctionTransformer(scale_pixels)), ("mlp", net)])


def blas_threads() -> int:
    """Largest thread count among the BLAS libraries loaded in this process."""
    import numpy  # noqa: F401  (makes sure NumPy's BLAS is loaded)

    counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return max(counts, default=1)


def print_ranking(cv_results: dict[str, Any], top: int | None = None) -> None:
    """Print the candidates of ``cv_results_``, best first.

    Parameters
    ----------
    cv_results : dict
        ``GridSearchCV.cv_results_``.
    top : int, default=None
        Print only the ``top`` best; all if None.
    """
    order = np.argsort(cv_results["rank_test_score"], kind="stable")[:top]
    header = (
        f"{'rank':>4}  {'mean acc':>8}  {'std':>6}  {'fit s':>6}  "
        f"{'hidden':<10}  {'lr':>5}  {'alpha':>6}"
    )
    print(header)
    print("-" * len(header))
    for i in order:
        params = cv_results["params"][i]
        hidden = ",".join(map(str, params["mlp__hidden_layer_sizes"]))
        print(
            f"{cv_results['rank_test_score'][i]:>4}  "
            f"{cv_results['mean_test_score'][i]:>8.4f}  "
            f"{cv_results['std_test_score'][i]:>6.4f}  "
            f"{cv_results['mean_fit_time'][i]:>6.2f}  "
            f"{hidden:<10}  "
            f"{params['mlp__learning_rate_init']:>5g}  "
            f"{params['mlp__alpha']:>6g}"
        )


def positive_int(text: str) -> int:
    """Parse a positive integer (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` if None.

    Returns
    -------
    args : argparse.Namespace
    """
    parser = argparse.ArgumentParser(
        description=(
            "Grid search (3-fold CV) of NumpyMLPClassifier on a subset of MNIST, "
            "then the best candidate trained on all training images and tested."
        ),
        epilog=(
            "example: SKMLP_DATA_DIR=../shared/data/mnist python "
            "examples/grid_search_mnist.py"
        ),
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(DATA_DIR_ENV) or None,
        help=(
            f"folder holding the MNIST IDX files (default: ${DATA_DIR_ENV}; "
            "if neither is set, MNIST is downloaded from OpenML)"
        ),
    )
    parser.add_argument(
        "--subset",
        type=positive_int,
        default=None,
        help="training images the search runs on (default: 6000; 600 with --quick)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="epochs of every fit (default: 15; 2 with --quick)",
    )
    parser.add_argument(
        "--cv", type=positive_int, default=3, help="folds (default: %(default)s)"
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        help="worker processes; -1: one per CPU core (default: %(default)s)",
    )
    parser.add_argument(
        "--n-train",
        type=positive_int,
        default=None,
        help=(
            "images the best candidate is finally trained on (default: all "
            "60000; 3000 with --quick)"
        ),
    )
    parser.add_argument(
        "--n-test",
        type=positive_int,
        default=None,
        help="test images (default: all 10000; 1000 with --quick)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed (default: %(default)s)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "reduced mode, a smoke test: a 2-candidate grid on 600 images, 2 "
            "epochs, final training on 3000 images"
        ),
    )
    args = parser.parse_args(argv)
    if args.cv < 2:
        parser.error("--cv must be at least 2")
    if args.subset is None:
        args.subset = 600 if args.quick else 6000
    if args.epochs is None:
        args.epochs = 2 if args.quick else 15
    if args.quick:
        args.n_train = args.n_train or 3000
        args.n_test = args.n_test or 1000
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the example; return the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``sys.argv[1:]`` if None.

    Returns
    -------
    status : int
        0 on success.
    """
    args = parse_args(argv)
    start = time.perf_counter()
    # The schedule is planned for exactly max_iter epochs: reaching it is no
    # failure to converge. The filter reaches the workers too: scikit-learn
    # passes the warning filters on to its joblib workers.
    warnings.simplefilter("ignore", ConvergenceWarning)

    X_train, X_test, y_train, y_test = load_mnist(args.data_dir)
    X_train, y_train = X_train[: args.n_train], y_train[: args.n_train]
    X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    # The first `subset` images: MNIST's training set is in no particular
    # order, so they hold about the same share of every digit.
    X_sub, y_sub = X_train[: args.subset], y_train[: args.subset]

    grid = QUICK_GRID if args.quick else PARAM_GRID
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    n_workers = min(effective_n_jobs(args.n_jobs), n_candidates * args.cv)
    threads_per_worker = max(1, cpu_count() // n_workers)
    print(
        f"grid search: {n_candidates} candidates x {args.cv} folds on "
        f"{len(X_sub)} images, {args.epochs} epochs each, {n_workers} worker "
        f"processes with {threads_per_worker} BLAS thread(s) each"
    )

    search = GridSearchCV(
        make_pipeline(args.epochs, args.seed),
        grid,
        cv=StratifiedKFold(args.cv, shuffle=True, random_state=args.seed),
        n_jobs=n_workers,
        refit=False,  # refitted below, on the full training set
    )
    # One BLAS thread per core in all: see "Threads and processes" above.
    with parallel_config(backend="loky", inner_max_num_threads=threads_per_worker):
        if n_workers > 1:
            seen = Parallel(n_jobs=n_workers)(
                delayed(blas_threads)() for _ in range(n_workers)
            )
            print(f"BLAS threads seen inside the workers (threadpoolctl): {seen}")
        search_start = time.perf_counter()
        search.fit(X_sub, y_sub)
    print(f"searched in {time.perf_counter() - search_start:.1f}s\n")
    print_ranking(search.cv_results_)

    best = search.best_params_
    print(f"\nbest: {best} (mean CV accuracy {search.best_score_:.4f})")
    final = clone(search.estimator).set_params(**best)
    fit_start = time.perf_counter()
    final.fit(X_train, y_train)  # in this process, with all BLAS threads
    print(
        f"trained the best candidate on {len(X_train)} images in "
        f"{time.perf_counter() - fit_start:.1f}s "
        f"(main process: {blas_threads()} BLAS threads)"
    )
    accuracy = final.score(X_test, y_test)
    print(f"total time {time.perf_counter() - start:.1f}s")
    print(f"test accuracy: {accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where one BLAS thread beats the default: whole fits, 1 thread vs default.

Synthetic data (and ``load_breast_cancer`` for L-BFGS), networks from tabular
size to MNIST size; for each, fits inside ``threadpool_limits(1, "blas")`` and
with the BLAS default, interleaved, medians. ``work`` is what
``skmlp._threads.largest_layer_work`` measures (batch x fan_in x fan_out of
the largest layer); ``skmlp._threads.SMALL_WORK`` is the crossover. Run it on
a quiet machine to set that constant; on a busy one one thread wins at every
size::

    python benchmarks/bench_threads.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from threadpoolctl import threadpool_limits

from skmlp import NumpyMLPClassifier
from skmlp._threads import SMALL_WORK, largest_layer_work

CASES = [  # name, n_features, hidden, batch, n_samples, solver, dtype
    ("digits-like 64-100", 64, (100,), 200, 1800, "adam", "float64"),
    ("breast cancer, lbfgs", 30, (100,), 569, 569, "lbfgs", "float64"),
    ("128-128", 128, (128,), 200, 3000, "adam", "float32"),
    ("256-256", 256, (256,), 200, 3000, "adam", "float32"),
    ("400-200", 400, (200,), 200, 3000, "adam", "float32"),
    ("784-128, batch 128", 784, (128,), 128, 3000, "sgd", "float32"),
    ("784-128, batch 200", 784, (128,), 200, 3000, "adam", "float32"),
    ("784-512-256", 784, (512, 256), 200, 2000, "adam", "float32"),
]


def main(repeats: int) -> None:
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    print(f"SMALL_WORK = {SMALL_WORK / 1e6:.1f}M\n")
    print("| case | work | 1 thread (ms) | default (ms) | default / 1 thread |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, n_features, hidden, batch, n, solver, dtype in CASES:
        if solver == "lbfgs":
            X, y = load_breast_cancer(return_X_y=True)
            X = (X - X.mean(0)) / X.std(0)
        else:
            X = rng.random((n, n_features)).astype(dtype)
            y = (X[:, :5].sum(1) * 2).astype(int) % 3
        times = {1: [], None: []}
        for _ in range(repeats):
            for limit in times:
                clf = NumpyMLPClassifier(
                    hidden,
                    solver=solver,
                    batch_size=batch,
                    max_iter=30 if solver == "lbfgs" else 3,
                    tol=0,
                    n_iter_no_change=99,
                    random_state=0,
                )
                with threadpool_limits(limit, user_api="blas"):
                    start = time.perf_counter()
                    clf.fit(X, y)
                    times[limit].append(time.perf_counter() - start)
        one, default = statistics.median(times[1]), statistics.median(times[None])
        work = largest_layer_work([n_features, *hidden, 3], batch)
        print(
            f"| {name} | {work / 1e6:.1f}M | {one * 1e3:.1f} | {default * 1e3:.1f} "
            f"| {default / one:.2f} |"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

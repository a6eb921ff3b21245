"""Training speed on small tabular problems: skmlp against scikit-learn.

Where most users of an MLP in scikit-learn are: ``load_digits`` with Adam and
with SGD (100 epochs) and ``load_breast_cancer`` with L-BFGS (300
iterations), default networks (one hidden layer of 100 units) and default
settings otherwise, except that early stopping on the training loss is off
(``tol=0``) so that both run the same number of epochs. Repeats are
interleaved (skmlp, scikit-learn, skmlp, ...) and medians reported; run it in
a plain process (no thread limits set), as users do.

Run from the repository root::

    python benchmarks/bench_small.py            # 7 repeats
    python benchmarks/bench_small.py --quick    # 3 repeats, 20 epochs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from skmlp import NumpyMLPClassifier


def problems(quick: bool) -> dict:
    X_digits, y_digits = load_digits(return_X_y=True)
    X_digits = X_digits / 16
    X_bc, y_bc = load_breast_cancer(return_X_y=True)
    X_bc = StandardScaler().fit_transform(X_bc)
    epochs = 20 if quick else 100
    always = dict(tol=0.0, random_state=0)
    return {
        f"digits, adam, {epochs} epochs": (
            X_digits,
            y_digits,
            dict(solver="adam", max_iter=epochs, n_iter_no_change=epochs + 1),
        ),
        f"digits, sgd, {epochs} epochs": (
            X_digits,
            y_digits,
            dict(solver="sgd", max_iter=epochs, n_iter_no_change=epochs + 1),
        ),
        f"breast cancer, lbfgs, {60 if quick else 300} iterations": (
            X_bc,
            y_bc,
            dict(solver="lbfgs", max_iter=60 if quick else 300),
        ),
    }, always


def fit(estimator, X, y) -> tuple[float, int, float]:
    start = time.perf_counter()
    estimator.fit(X, y)
    seconds = time.perf_counter() - start
    return seconds, estimator.n_iter_, estimator.score(X, y)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--json", default=None, help="write the raw figures here")
    parser.add_argument(
        "--one-thread-row",
        action="store_true",
        help="add skmlp run inside threadpool_limits(1, 'blas')",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    warnings.simplefilter("ignore", ConvergenceWarning)
    runs, always = problems(args.quick)
    contenders = {"skmlp": NumpyMLPClassifier, "scikit-learn": MLPClassifier}
    if args.one_thread_row:
        contenders["skmlp, 1 BLAS thread"] = NumpyMLPClassifier
    results = {
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "numpy": np.__version__,
            "blas_threads": [
                i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"
            ],
            "load_average_at_start": os.getloadavg(),
        },
        "repeats": repeats,
        "problems": {},
    }
    for problem, (X, y, settings) in runs.items():
        times = {name: [] for name in contenders}
        info = {}
        for repeat in range(repeats):
            for name, cls in contenders.items():
                limit = 1 if name.endswith("1 BLAS thread") else None
                with threadpool_limits(limit, user_api="blas"):
                    seconds, n_iter, accuracy = fit(cls(**settings, **always), X, y)
                times[name].append(seconds)
                info[name] = {"n_iter": n_iter, "train_accuracy": accuracy}
                print(
                    f"  {problem} repeat {repeat + 1}: {name}: {seconds:.3f} s",
                    file=sys.stderr,
                )
        results["problems"][problem] = {
            name: {"seconds": times[name], "median": statistics.median(times[name])}
            | info[name]
            for name in contenders
        }
    results["machine"]["load_average_at_end"] = os.getloadavg()
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def print_table(results: dict) -> None:
    m = results["machine"]
    print(
        f"\nMachine: {m['platform']}, {m['cpu_count']} CPUs, BLAS threads "
        f"{m['blas_threads']}, load average {m['load_average_at_start'][0]:.1f} "
        f"(start) {m['load_average_at_end'][0]:.1f} (end); medians of "
        f"{results['repeats']} interleaved repeats\n"
    )
    print(
        "| problem | contender | seconds | vs scikit-learn | iterations "
        "| train accuracy |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    ratios = []
    for problem, rows in results["problems"].items():
        theirs = rows["scikit-learn"]["median"]
        ratios.append(rows["skmlp"]["median"] / theirs)
        for name, r in rows.items():
            print(
                f"| {problem} | {name} | {r['median']:.3f} "
                f"| {r['median'] / theirs:.2f}x | {r['n_iter']} "
                f"| {r['train_accuracy']:.4f} |"
            )
    print(f"\nmedian of skmlp / scikit-learn: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()

"""Time the classifier's epochs at two git revisions, side by side.

Each revision is checked out into a temporary worktree; the runs alternate
between them (A B A B ...), each in a fresh Python process that imports skmlp
from its worktree, so that both see the same machine load. Prints the median
seconds per epoch of each and their ratio. Use it to show that a refactoring
costs no speed::

    SKMLP_DATA_DIR=../shared/data/mnist python benchmarks/compare_revisions.py \\
        5e5e9b4 HEAD --repeats 5
    python benchmarks/compare_revisions.py 5e5e9b4 HEAD --data digits \\
        --epochs 100 --repeats 7

Absolute seconds depend on the machine and its load; the ratio of medians of
interleaved runs is what carries over.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUN = r"""
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, sys.argv[1])
from skmlp import NumpyMLPClassifier
from skmlp.datasets import load_mnist
hidden, solver, epochs = json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
if sys.argv[5] == "digits":  # small data: the default network and settings
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    clf = NumpyMLPClassifier(solver=solver, max_iter=epochs, tol=0,
                             n_iter_no_change=10**6, random_state=0)
else:
    X, _, y, _ = load_mnist()
    X = (X / np.float32(255)).astype(np.float32)
    clf = NumpyMLPClassifier(tuple(hidden), solver=solver, batch_size=128,
                             learning_rate_init=0.05 if solver == "sgd" else 1e-3,
                             max_iter=epochs, n_iter_no_change=10**6, tol=0,
                             random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
print(json.dumps({"s_per_epoch": seconds / epochs, "loss": float(clf.loss_)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--solvers", default="sgd,adam")
    parser.add_argument("--networks", default="128;512,256")
    parser.add_argument(
        "--data",
        choices=("mnist", "digits"),
        default="mnist",
        help="digits: load_digits with the default network (--networks is "
        "ignored; use --epochs 100)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for name in (args.before, args.after):
            path = Path(tmp) / name.replace("/", "_")
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(ROOT),
                    "worktree",
                    "add",
                    "--detach",
                    str(path),
                    name,
                ],
                check=True,
                capture_output=True,
            )
            trees[name] = path
        try:
            results = []
            networks = args.networks.split(";") if args.data == "mnist" else ["100"]
            for solver in args.solvers.split(","):
                for network in networks:
                    hidden = [int(u) for u in network.split(",")]
                    times = {name: [] for name in trees}
                    for _ in range(args.repeats):
                        for name, path in trees.items():
                            out = subprocess.run(
                                [sys.executable, "-c", RUN, str(path),
                                 json.dumps(hidden), solver, str(args.epochs),
                                 args.data],
                                check=True, capture_output=True, text=True,
                            )  # fmt: skip
                            times[name].append(json.loads(out.stdout)["s_per_epoch"])
                    medians = {name: statistics.median(t) for name, t in times.items()}
                    ratio = medians[args.after] / medians[args.before]
                    results.append((solver, network, medians, ratio))
                    print(
                        f"{solver:5s} {args.data} {network.replace(',', '-')}: "
                        + ", ".join(f"{n} {m:.4g} s/epoch" for n, m in medians.items())
                        + f", after/before {ratio:.3f}",
                        flush=True,
                    )
        finally:
            for path in trees.values():
                subprocess.run(
                    [
                        "git",
                        "-C",
                        str(ROOT),
                        "worktree",
                        "remove",
                        "--force",
                        str(path),
                    ],
                    capture_output=True,
                )


if __name__ == "__main__":
    main()

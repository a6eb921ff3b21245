"""Training speed on MNIST: skmlp against scikit-learn, PyTorch and the matmul floor.

One run, one machine, the same data (the real MNIST), network, optimizer,
learning rate, batch size, L2, epochs and shuffling for every contender;
repeats are interleaved (contender A, B, C, A, B, C, ...) so that a slow spell
of a shared machine hits all of them alike, and medians are reported.

Contenders: skmlp (float32), the same with ``SKMLP_KERNELS=numba`` (its
fused update kernels, where numba is installed), scikit-learn's
``MLPClassifier`` on float32 and on float64 input, PyTorch on the CPU when it
is importable, and the floor: the same epoch's matrix multiplies alone, in
NumPy, into preallocated arrays.

Run from the repository root::

    SKMLP_DATA_DIR=../shared/data/mnist python benchmarks/bench_mnist.py

Two optimizers: SGD (momentum 0.9, Nesterov, ``--lr``, ``--batch-size``) and
Adam with scikit-learn's defaults (learning rate 1e-3, ``batch_size="auto"``,
that is 200), the one users meet first. It prints a markdown table per
optimizer and network and writes the raw figures as JSON (``--json``, default
``benchmarks/results.json``). ``--quick``: one repeat of one epoch, no memory
measurement, to check that it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_info

from skmlp import NumpyMLPClassifier, _fused
from skmlp.datasets import load_mnist

NETWORKS = {"784-128-10": (128,), "784-512-256-10": (512, 256)}


ADAM_LR = 1e-3  # scikit-learn's default
AUTO_BATCH = 200  # batch_size="auto" on MNIST: min(200, n_samples)


def batch_size(args) -> int:
    return args.batch_size if args.solver == "sgd" else AUTO_BATCH


def shared_settings(args) -> dict:
    if args.solver == "sgd":
        solver = dict(
            solver="sgd",
            learning_rate_init=args.lr,
            momentum=0.9,
            nesterovs_momentum=True,
            batch_size=args.batch_size,
        )
    else:
        solver = dict(solver="adam", learning_rate_init=ADAM_LR, batch_size="auto")
    return dict(
        **solver,
        alpha=args.alpha,
        max_iter=args.epochs,
        shuffle=True,
        tol=0.0,
        n_iter_no_change=args.epochs + 1,  # train every epoch, no early stop
        random_state=0,
    )


# --------------------------------------------------------------------------
# contenders: each returns (fitted predictor, seconds of training)
# --------------------------------------------------------------------------


def fit_skmlp(hidden, data, args):
    clf = NumpyMLPClassifier(hidden, dtype="float32", **shared_settings(args))
    start = time.perf_counter()
    clf.fit(data["X32"], data["y"])
    return clf.predict_proba, time.perf_counter() - start


@contextlib.contextmanager
def numba_kernels():
    """``SKMLP_KERNELS=numba`` for the duration, then as it was."""
    previous = os.environ.get(_fused.ENV)
    os.environ[_fused.ENV] = "numba"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[_fused.ENV]
        else:
            os.environ[_fused.ENV] = previous


def fit_skmlp_numba(hidden, data, args):
    """skmlp with its fused update kernels (the ``fast`` extra), same bits."""
    with numba_kernels():
        return fit_skmlp(hidden, data, args)


def fit_sklearn(hidden, data, args, key):
    clf = MLPClassifier(hidden, **shared_settings(args))
    start = time.perf_counter()
    clf.fit(data[key], data["y"])
    return clf.predict_proba, time.perf_counter() - start


def fit_torch(hidden, data, args):
    import torch

    torch.manual_seed(0)
    layers, sizes = [], [784, *hidden, 10]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = torch.nn.Linear(a, b)
        torch.nn.init.xavier_uniform_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    # scikit-learn's alpha is an L2 term divided by the batch's size
    bs = batch_size(args)
    if args.solver == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=args.lr,
            momentum=0.9,
            nesterov=True,
            weight_decay=args.alpha / bs,
        )
    else:
        optimizer = torch.optim.Adam(
            model.parameters(), lr=ADAM_LR, eps=1e-8, weight_decay=args.alpha / bs
        )
    loss_fn = torch.nn.CrossEntropyLoss()
    X = torch.from_numpy(data["X32"])
    y = torch.from_numpy(data["y"])
    start = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(len(X))
        for i in range(0, len(X), bs):
            idx = order[i : i + bs]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(X[idx]), y[idx]).backward()
            optimizer.step()
    seconds = time.perf_counter() - start

    def predict_proba(X_test):
        with torch.no_grad():
            return torch.softmax(model(torch.from_numpy(X_test)), dim=1).numpy()

    return predict_proba, seconds


def fit_floor(hidden, data, args):
    """The epoch's matrix multiplies and nothing else."""
    units = [784, *hidden, 10]
    rng = np.random.RandomState(0)
    W = [rng.rand(a, b).astype(np.float32) for a, b in zip(units[:-1], units[1:])]
    gW = [np.empty_like(w) for w in W]
    n, bs = len(data["X32"]), batch_size(args)
    A = [np.empty((bs, u), np.float32) for u in units]
    D = [np.empty((bs, u), np.float32) for u in units]
    A[0][...] = data["X32"][:bs]
    D[-1][...] = rng.rand(bs, 10)
    start = time.perf_counter()
    for _ in range(args.epochs):
        for first in range(0, n, bs):
            m = min(bs, n - first)
            for i, w in enumerate(W):  # forward
                np.matmul(A[i][:m], w, out=A[i + 1][:m])
            for i in range(len(W) - 1, -1, -1):  # backward
                np.matmul(A[i][:m].T, D[i + 1][:m], out=gW[i])
                if i > 0:
                    np.matmul(D[i + 1][:m], W[i].T, out=D[i][:m])
    return None, time.perf_counter() - start


CONTENDERS = {
    "skmlp (float32)": fit_skmlp,
    "skmlp (float32), SKMLP_KERNELS=numba": fit_skmlp_numba,
    "scikit-learn, float32 input": lambda h, d, a: fit_sklearn(h, d, a, "X32"),
    "scikit-learn, float64 input": lambda h, d, a: fit_sklearn(h, d, a, "X64"),
    "PyTorch CPU": fit_torch,
    "matmul floor": fit_floor,
}


# --------------------------------------------------------------------------
# peak memory of one fit, in a fresh process
# --------------------------------------------------------------------------

MEMORY_SCRIPT = """
import sys, warnings
sys.argv = {argv!r}
warnings.simplefilter("ignore")
import bench_mnist as b
args = b.parse_args()
args.solver = {solver!r}
data = b.load(args)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current size
b.CONTENDERS[{name!r}](b.NETWORKS[{network!r}], data, args)
print(status("VmHWM:") - before)
"""


def peak_fit_memory(name: str, network: str, solver: str) -> float | None:
    """MB by which the process's peak resident memory grew during one fit."""
    script = MEMORY_SCRIPT.format(
        argv=sys.argv, name=name, network=network, solver=solver
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={
                **os.environ,
                "PYTHONPATH": os.path.dirname(os.path.abspath(__file__)),
            },
        )
        return int(out.stdout.strip().splitlines()[-1]) / 2**20
    except (subprocess.CalledProcessError, OSError, ValueError):
        return None


# --------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("SKMLP_DATA_DIR"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--skip", default="", help="comma-separated contenders")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--solvers", default="sgd,adam", help="sgd, adam or both")
    parser.add_argument("--json", default="benchmarks/results.json")
    parser.add_argument(
        "--quick", action="store_true", help="1 epoch, 1 repeat, no memory"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats, args.no_memory = 1, 1, True
    args.solver = "sgd"
    return args


def load(args) -> dict:
    X_train, X_test, y_train, y_test = load_mnist(args.data_dir, scale=True)
    return {
        "X32": X_train,
        "X64": X_train.astype(np.float64),
        "y": y_train,
        "X_test": X_test,
        "y_test": y_test,
    }


def available(name: str) -> bool:
    if "numba" in name:
        try:
            import numba  # noqa: F401
        except ImportError:
            return False
        # numba compiles each kernel at its first call: here, not in a timed fit
        rng = np.random.default_rng(0)
        X = rng.random((64, 8), dtype=np.float32)
        y = np.arange(64) % 3
        with numba_kernels():
            for solver in ("sgd", "adam"):
                NumpyMLPClassifier((4,), solver=solver, max_iter=1).fit(X, y)
        return True
    if name != "PyTorch CPU":
        return True
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    args = parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    data = load(args)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    names = [n for n in CONTENDERS if n not in skip and available(n)]
    results = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "load_average_at_start": os.getloadavg(),
            "blas": [
                {k: i.get(k) for k in ("internal_api", "num_threads", "architecture")}
                for i in threadpool_info()
            ],
        },
        "settings": {k: v for k, v in vars(args).items() if k != "solver"},
        "solvers": {},
    }
    for solver in args.solvers.split(","):
        args.solver = solver
        results["solvers"][solver] = {
            "batch_size": batch_size(args),
            "learning_rate_init": args.lr if solver == "sgd" else ADAM_LR,
            "networks": run_networks(args, data, names),
        }
    results["machine"]["load_average_at_end"] = os.getloadavg()
    print_tables(results, names)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nraw figures: {args.json}")


def run_networks(args, data: dict, names: list[str]) -> dict:
    """Time every contender on every network with ``args.solver``."""
    networks = {}
    for network in args.networks.split(","):
        hidden = NETWORKS[network]
        times = {n: [] for n in names}
        accuracy, throughput = {}, {n: [] for n in names}
        for repeat in range(args.repeats):
            for name in names:
                predict_proba, seconds = CONTENDERS[name](hidden, data, args)
                times[name].append(seconds / args.epochs)
                print(
                    f"  {network} repeat {repeat + 1}: {name}: "
                    f"{seconds / args.epochs:.3f} s/epoch",
                    file=sys.stderr,
                )
                if predict_proba is None:
                    continue
                X_test = data["X_test"]
                if "float64" in name:
                    X_test = X_test.astype(np.float64)
                start = time.perf_counter()
                proba = predict_proba(X_test)
                throughput[name].append(len(X_test) / (time.perf_counter() - start))
                accuracy[name] = float((proba.argmax(1) == data["y_test"]).mean())
        memory = {}
        if not args.no_memory:
            memory = {n: peak_fit_memory(n, network, args.solver) for n in names}
        networks[network] = {
            name: {
                "seconds_per_epoch": times[name],
                "median_seconds_per_epoch": statistics.median(times[name]),
                "test_accuracy": accuracy.get(name),
                "predict_proba_rows_per_s": (
                    statistics.median(throughput[name]) if throughput[name] else None
                ),
                "peak_fit_memory_mb": memory.get(name),
            }
            for name in names
        }
    return networks


def print_tables(results: dict, names: list[str]) -> None:
    def fmt(value, spec):
        return "n/a" if value is None else format(value, spec)

    m = results["machine"]
    print(f"\nMachine: {m['platform']}, {m['cpu_count']} CPUs, numpy {m['numpy']}")
    s = results["settings"]
    for solver, run in results["solvers"].items():
        if solver == "sgd":
            what = f"SGD lr={s['lr']} momentum=0.9 Nesterov, batch {run['batch_size']}"
        else:
            what = f"Adam lr={run['learning_rate_init']}, batch auto (200)"
        print(
            f"\n## {what}, alpha={s['alpha']}, {s['epochs']} epochs, medians of "
            f"{s['repeats']} interleaved repeats"
        )
        print_solver_tables(run["networks"], names)


def print_solver_tables(networks: dict, names: list[str]) -> None:
    def fmt(value, spec):
        return "n/a" if value is None else format(value, spec)

    for network, rows in networks.items():
        ours = rows["skmlp (float32)"]["median_seconds_per_epoch"]
        print(f"\n### {network}\n")
        print(
            "| contender | s/epoch | vs skmlp | test accuracy | peak fit memory (MB) "
            "| predict_proba (rows/s) |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name in names:
            r = rows[name]
            print(
                f"| {name} | {r['median_seconds_per_epoch']:.3f} "
                f"| {r['median_seconds_per_epoch'] / ours:.2f}x "
                f"| {fmt(r['test_accuracy'], '.4f')} "
                f"| {fmt(r['peak_fit_memory_mb'], '.0f')} "
                f"| {fmt(r['predict_proba_rows_per_s'], ',.0f')} |"
            )


if __name__ == "__main__":
    main()

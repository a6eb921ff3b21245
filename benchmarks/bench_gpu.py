"""skmlp's hand-written network on a GPU: PyTorch and CuPy, against nn.Module.

Three contenders train the same networks on MNIST on one device:

* ``skmlp-torch``: ``NumpyMLPClassifier`` under
  ``sklearn.config_context(array_api_dispatch=True)`` with X a PyTorch tensor
  on the device; skmlp's own forward and backward pass run there;
* ``skmlp-cupy``: the same with a CuPy array (skipped where CuPy is not
  installed, or on ``--device cpu``);
* ``torch-nn``: the peer, PyTorch's own ``nn.Sequential`` with autograd and
  ``torch.optim`` (SGD with Nesterov momentum, or Adam) in the usual loop, the
  batches gathered on the device from a ``randperm``, the loss read back once
  per epoch.

Two jobs, each reported as seconds per epoch and test accuracy:

* ``main``: README's main job (``examples/train_mnist.py``'s settings:
  784-512-256-10, float32, SGD with Nesterov momentum 0.9 and a cosine rate
  from 0.2, batch 128, alpha 0.03, 30 epochs on 54000 images distorted anew
  each epoch). The distortions are NumPy on the host; the next epoch's are
  made in a thread while the device trains on the current one. Targets on a
  GPU: test accuracy >= 0.992 in under 15 s.
* ``networks``: the benchmark networks of ``benchmarks/compare_revisions.py``
  (784-128-10 and 784-512-256-10, SGD and Adam, batch 128) on the plain
  images. Target on a GPU: the 784-512-256-10 epoch within 1.2 times the
  nn.Module loop's.

Run it on a GPU (PyTorch with CUDA; CuPy optional, e.g. ``pip install
cupy-cuda12x``), with the MNIST files where ``SKMLP_DATA_DIR`` points::

    SCIPY_ARRAY_API=1 SKMLP_DATA_DIR=../shared/data/mnist \\
        python benchmarks/bench_gpu.py --device cuda

and to prove it works on any machine, on the CPU, in a minute::

    SCIPY_ARRAY_API=1 python benchmarks/bench_gpu.py --device cpu --quick

(``--quick``: 6000 training images, 2 epochs, and the networks job's two
smallest cases.) ``--json PATH`` writes the rows. skmlp reads a few scalars
back from the device per batch (the loss, for its divergence check, and the
batch's accuracy for ``history_``): that synchronisation is part of what is
measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before SciPy is imported

import numpy as np  # noqa: E402
import sklearn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from train_mnist import (  # noqa: E402
    ALPHA,
    BATCH_SIZE,
    EPOCHS,
    HIDDEN,
    LEARNING_RATE,
    N_VALIDATION,
    distort_images,
)

from skmlp import NumpyMLPClassifier  # noqa: E402
from skmlp.datasets import load_mnist  # noqa: E402


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def to_device(array: np.ndarray, library: str, device: str):
    """A NumPy array as a PyTorch tensor or CuPy array on ``device``."""
    if library == "cupy":
        import cupy

        return cupy.asarray(array)
    import torch

    return torch.asarray(array, device=device)


def accuracy(model, X_test, y_test) -> float:
    with sklearn.config_context(array_api_dispatch=True):
        return model.score(X_test, y_test)


# --- skmlp on the device ------------------------------------------------------


def skmlp_main(library, device, data, epochs, seed=0) -> dict:
    """README's main job through skmlp's partial_fit, one epoch per call."""
    X_train, y_train, X_test, y_test = data
    net = NumpyMLPClassifier(
        hidden_layer_sizes=HIDDEN,
        solver="sgd",
        learning_rate="cosine",
        learning_rate_init=LEARNING_RATE,
        momentum=0.9,
        nesterovs_momentum=True,
        batch_size=BATCH_SIZE,
        alpha=ALPHA,
        max_iter=epochs,
        dtype="float32",
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    classes = np.unique(y_train)
    y_device = to_device(y_train, library, device)

    def next_epoch():
        return (distort_images(X_train, rng) / np.float32(255)).astype(np.float32)

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(next_epoch)
        synchronize(device)
        start = time.perf_counter()
        for epoch in range(epochs):
            X_epoch = to_device(pending.result(), library, device)
            if epoch + 1 < epochs:
                pending = pool.submit(next_epoch)  # made while this one trains
            with sklearn.config_context(array_api_dispatch=True):
                net.partial_fit(X_epoch, y_device, classes=classes)
        synchronize(device)
        seconds = time.perf_counter() - start
    X_t = to_device((X_test / np.float32(255)).astype(np.float32), library, device)
    score = accuracy(net, X_t, to_device(y_test, library, device))
    return {"seconds": seconds, "s_per_epoch": seconds / epochs, "accuracy": score}


def skmlp_network(library, device, data, hidden, solver, epochs) -> dict:
    X_train, y_train, X_test, y_test = (to_device(a, library, device) for a in data)
    net = NumpyMLPClassifier(
        hidden_layer_sizes=hidden,
        solver=solver,
        batch_size=128,
        learning_rate_init=0.05 if solver == "sgd" else 1e-3,
        max_iter=epochs,
        n_iter_no_change=10**6,
        tol=0,
        random_state=0,
    )
    with warnings.catch_warnings(), sklearn.config_context(array_api_dispatch=True):
        warnings.simplefilter("ignore")
        synchronize(device)
        start = time.perf_counter()
        net.fit(X_train, y_train)
        synchronize(device)
        seconds = time.perf_counter() - start
    score = accuracy(net, X_test, y_test)
    return {"seconds": seconds, "s_per_epoch": seconds / epochs, "accuracy": score}


# --- the peer: PyTorch's nn.Module loop -----------------------------------------


def torch_model(hidden, device):
    import torch
    from torch import nn

    torch.manual_seed(0)
    layers, width = [], 784
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers).to(device)


def torch_epochs(model, optimizer, X, y, epochs, batch_size, schedule=None):
    """The usual loop: randperm, gather, forward, loss, backward, step."""
    import torch
    import torch.nn.functional as F

    n = X.shape[0]
    for epoch in range(epochs):
        if schedule is not None:
            for group in optimizer.param_groups:
                group["lr"] = schedule(epoch)
        order = torch.randperm(n, device=X.device)
        total = torch.zeros((), device=X.device)
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        float(total)  # the epoch's loss, read back once


def torch_accuracy(model, X, y) -> float:
    import torch

    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


def torch_main(device, data, epochs, seed=0) -> dict:
    import torch

    X_train, y_train, X_test, y_test = data
    model = torch_model(HIDDEN, device)
    # skmlp's alpha penalises alpha/2 ||W||^2 over the batch's weight sum
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=LEARNING_RATE,
        momentum=0.9,
        nesterov=True,
        weight_decay=ALPHA / BATCH_SIZE,
    )
    rng = np.random.default_rng(seed)
    y_device = torch.asarray(y_train, device=device)

    def schedule(epoch):
        return 0.5 * LEARNING_RATE * (1 + math.cos(math.pi * epoch / epochs))

    def next_epoch():
        return (distort_images(X_train, rng) / np.float32(255)).astype(np.float32)

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(next_epoch)
        synchronize(device)
        start = time.perf_counter()
        for epoch in range(epochs):
            X_epoch = torch.asarray(pending.result(), device=device)
            if epoch + 1 < epochs:
                pending = pool.submit(next_epoch)
            torch_epochs(
                model, optimizer, X_epoch, y_device, 1, BATCH_SIZE,
                schedule=lambda _, e=epoch: schedule(e),
            )  # fmt: skip
        synchronize(device)
        seconds = time.perf_counter() - start
    X_t = torch.asarray((X_test / np.float32(255)).astype(np.float32), device=device)
    score = torch_accuracy(model, X_t, torch.asarray(y_test, device=device))
    return {"seconds": seconds, "s_per_epoch": seconds / epochs, "accuracy": score}


def torch_network(device, data, hidden, solver, epochs) -> dict:
    import torch

    X_train, y_train, X_test, y_test = (torch.asarray(a, device=device) for a in data)
    model = torch_model(hidden, device)
    if solver == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(), lr=0.05, momentum=0.9, nesterov=True
        )
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    synchronize(device)
    start = time.perf_counter()
    torch_epochs(model, optimizer, X_train, y_train, epochs, 128)
    synchronize(device)
    seconds = time.perf_counter() - start
    score = torch_accuracy(model, X_test, y_test)
    return {"seconds": seconds, "s_per_epoch": seconds / epochs, "accuracy": score}


# --- the runs -------------------------------------------------------------------


def libraries(device: str) -> list[str]:
    found = ["torch"]
    if device != "cpu":
        try:
            import cupy  # noqa: F401

            found.append("cupy")
        except ImportError:
            print("CuPy is not installed: skmlp-cupy skipped", flush=True)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:1, cpu, ...")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--jobs", default="main,networks")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    X, X_test, y, y_test = load_mnist()
    n_train = 6000 if args.quick else X.shape[0] - N_VALIDATION
    main_epochs = args.epochs or (2 if args.quick else EPOCHS)
    net_epochs = args.epochs or (1 if args.quick else 5)
    main_data = (X[:n_train], y[:n_train].astype(np.int64), X_test, y_test)
    plain = (
        (X[:n_train] / np.float32(255)).astype(np.float32),
        y[:n_train].astype(np.int64),
        (X_test / np.float32(255)).astype(np.float32),
        y_test.astype(np.int64),
    )
    rows = []

    def report(job, contender, result, **extra):
        row = {"job": job, "contender": contender, **extra, **result}
        rows.append(row)
        settings = " ".join(f"{k}={v}" for k, v in extra.items())
        print(
            f"{job:8s} {contender:12s} {settings:28s} "
            f"{result['s_per_epoch']:7.3f} s/epoch  accuracy {result['accuracy']:.4f}"
            f"  ({result['seconds']:.1f} s)",
            flush=True,
        )

    jobs = args.jobs.split(",")
    if "main" in jobs:
        for library in libraries(args.device):
            result = skmlp_main(library, args.device, main_data, main_epochs)
            report("main", f"skmlp-{library}", result, epochs=main_epochs)
        result = torch_main(args.device, main_data, main_epochs)
        report("main", "torch-nn", result, epochs=main_epochs)
    if "networks" in jobs:
        cases = [((128,), "sgd"), ((512, 256), "sgd")]
        if not args.quick:
            cases += [((128,), "adam"), ((512, 256), "adam")]
        for hidden, solver in cases:
            shape = "784-" + "-".join(map(str, hidden)) + "-10"
            for library in libraries(args.device):
                result = skmlp_network(
                    library, args.device, plain, hidden, solver, net_epochs
                )
                report("networks", f"skmlp-{library}", result, net=shape, solver=solver)
            result = torch_network(args.device, plain, hidden, solver, net_epochs)
            report("networks", "torch-nn", result, net=shape, solver=solver)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

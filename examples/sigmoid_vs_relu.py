"""Sigmoid vs ReLU hidden units on MNIST, with plain SGD and with momentum.
========================================================================

What it shows
-------------
The two-layer network of the blog post this project started from: 784 inputs
(pixels scaled to [0, 1]), 128 hidden units, 10 softmax outputs, trained by
minibatch SGD with learning rate 0.01 and batches of 256, no L2 penalty. The
post trained it for 100 epochs without momentum and reported a test accuracy
of 0.915 with sigmoid (logistic) hidden units and 0.952 with ReLU.

Four runs: {logistic, relu} x {momentum 0, momentum 0.9 (Nesterov, the
default)}. After every epoch the test accuracy is recorded (training goes on
one epoch at a time with ``partial_fit``, which keeps the optimizer's
velocity between calls), and the training loss comes from ``history_``.

What to look for:

* ReLU learns much faster than the sigmoid: the sigmoid's derivative is at
  most 1/4, so every gradient that flows back through it is shrunk, and
  saturated units (output near 0 or 1) pass back almost nothing.
* Momentum accumulates past gradients into a velocity; with mu = 0.9 a
  steady direction moves about 1 / (1 - mu) = 10 times faster, so a few
  epochs with momentum get further than many epochs without it.

It prints one line per run and saves ``sigmoid_vs_relu.png`` (training loss
and test accuracy per epoch) in ``--output-dir``.

How to run
----------
    python examples/sigmoid_vs_relu.py               # 20 epochs per run
    python examples/sigmoid_vs_relu.py --epochs 100  # the post's setting
    python examples/sigmoid_vs_relu.py --quick       # a few seconds (CI)

The default of 20 epochs keeps the four runs on the full 60000 training
images under a minute on 2 CPU cores (an epoch takes about 0.4 s there);
``--epochs 100`` reproduces the post's setting in about 3 minutes. On a
machine whose cores are busy with other work, BLAS threads can slow every
epoch down many times over; ``OPENBLAS_NUM_THREADS=1`` then helps.

MNIST is read from the folder named by the environment variable
``SKMLP_DATA_DIR``, else from ``../shared/data/mnist`` next to the repository
if it exists, else downloaded from OpenML by ``skmlp.datasets.load_mnist``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from skmlp import NumpyMLPClassifier
from skmlp.datasets import load_mnist

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT_DIR = REPO / "out" / "sigmoid_vs_relu"

# What the blog post reports after 100 epochs of SGD without momentum.
SEED_POST_ACCURACY = {"logistic": 0.915, "relu": 0.952}


def mnist_folder() -> str | None:
    """SKMLP_DATA_DIR if set, else the shared folder next to the repository."""
    if os.environ.get("SKMLP_DATA_DIR"):
        return os.environ["SKMLP_DATA_DIR"]
    shared = REPO.parent / "shared" / "data" / "mnist"
    return str(shared) if shared.is_dir() else None  # None: OpenML


def train(
    activation: str,
    momentum: float,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    epochs: int,
) -> dict:
    """Train one network epoch by epoch; return its per-epoch record."""
    clf = NumpyMLPClassifier(
        hidden_layer_sizes=(128,),
        activation=activation,
        solver="sgd",
        learning_rate_init=0.01,
        momentum=momentum,
        batch_size=256,
        alpha=0.0,  # the post has no L2 penalty
        dtype="float32",  # about twice as fast as float64, and accurate enough
        random_state=0,
    )
    classes = np.arange(10)
    test_accuracy = []
    start = time.perf_counter()
    for _ in range(epochs):
        # One partial_fit call is one pass over the (shuffled) training set.
        # Unlike fit with warm_start=True, it keeps the optimizer, so the
        # momentum velocity carries over from one epoch to the next.
        clf.partial_fit(X_train, y_train, classes=classes)
        test_accuracy.append(clf.score(X_test, y_test))
    return {
        "activation": activation,
        "momentum": momentum,
        "loss": list(clf.history_["loss"]),
        "train_accuracy": list(clf.history_["accuracy"]),
        "test_accuracy": test_accuracy,
        "seconds": time.perf_counter() - start,
    }


def plot(runs: list[dict], n_test: int, path: Path) -> None:
    """Training loss and test accuracy per epoch, side by side."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.5))
    colors = {"logistic": "tab:blue", "relu": "tab:red"}
    for run in runs:
        label = f"{run['activation']}, momentum {run['momentum']}"
        style = "-" if run["momentum"] else "--"
        epochs = np.arange(1, len(run["loss"]) + 1)
        color = colors[run["activation"]]
        ax_loss.plot(epochs, run["loss"], style, color=color, label=label)
        ax_acc.plot(epochs, run["test_accuracy"], style, color=color)
    for activation, accuracy in SEED_POST_ACCURACY.items():
        ax_acc.axhline(
            accuracy,
            color=colors[activation],
            linewidth=0.8,
            alpha=0.5,
            label=f"blog post, {activation}, 100 epochs: {accuracy}",
        )
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss (mean cross-entropy)")
    ax_loss.set_title("Training loss")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel(f"test accuracy ({n_test} images)")
    ax_acc.set_title("Test accuracy")
    ax_acc.set_ylim(max(0.0, min(min(r["test_accuracy"]) for r in runs) - 0.02), 1)
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
    ax_loss.legend()
    ax_acc.legend(fontsize=8, loc="lower right")
    fig.suptitle("MNIST, 784-128-10, SGD lr=0.01, batch 256")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs per run")
    parser.add_argument(
        "--n-train", type=int, default=60000, help="training images used (<= 60000)"
    )
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 epochs on 3000 images, tested on 2000 (for CI)",
    )
    args = parser.parse_args(argv)
    n_train, n_test, epochs = args.n_train, 10000, args.epochs
    if args.quick:
        n_train, n_test, epochs = 3000, 2000, 2
    args.output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    # scale=True: float32 pixels in [0, 1]. Raw 0..255 inputs would make the
    # first layer's pre-activations 255 times larger and saturate the sigmoid.
    X_train, X_test, y_train, y_test = load_mnist(mnist_folder(), scale=True)
    X_train, y_train = X_train[:n_train], y_train[:n_train]
    X_test, y_test = X_test[:n_test], y_test[:n_test]
    print(
        f"MNIST: {len(X_train)} training, {len(X_test)} test images; "
        f"{epochs} epochs per run\n"
    )

    print(
        f"{'activation':<11}{'momentum':>9}{'train loss':>12}"
        f"{'test acc':>10}{'seconds':>9}"
    )
    runs = []
    for momentum in [0.0, 0.9]:
        for activation in ["logistic", "relu"]:
            run = train(activation, momentum, X_train, y_train, X_test, y_test, epochs)
            runs.append(run)
            print(
                f"{activation:<11}{momentum:>9}{run['loss'][-1]:>12.4f}"
                f"{run['test_accuracy'][-1]:>10.4f}{run['seconds']:>9.1f}",
                flush=True,
            )
    print(
        "\nThe blog post, 100 epochs, momentum 0: test accuracy "
        f"{SEED_POST_ACCURACY['logistic']} (sigmoid), "
        f"{SEED_POST_ACCURACY['relu']} (ReLU)"
    )

    path = args.output_dir / "sigmoid_vs_relu.png"
    plot(runs, len(X_test), path)
    print(f"saved {path}")
    print(f"time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

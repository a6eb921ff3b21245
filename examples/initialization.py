"""Weight initialisation: Xavier/Glorot vs small Gaussian vs all zeros.
====================================================================

What it shows
-------------
The same network (784-128-10 on MNIST, sigmoid hidden units, SGD with
momentum) trained from three starting points:

* ``xavier``: uniform in [-r, r] with r = sqrt(6 / (fan_in + fan_out)), what
  ``NumpyMLPClassifier`` does by default. The variance 2 / (fan_in + fan_out)
  keeps the size of activations (forward) and of gradients (backward)
  roughly the same from layer to layer.
* ``gaussian``: 0.01 * randn, the recipe of many tutorials. It works on a
  small network, but starts slower: every gradient that flows back to the
  first layer is multiplied by W_2, which is ten times smaller than Xavier's.
  The deeper the network, the worse it gets (try ``--hidden 128 128 128``).
* ``zeros``: every weight 0. Then every hidden unit computes the same thing,
  receives the same gradient and takes the same step, forever: the network
  behaves as if it had a single hidden unit. The script shows it: after
  training, the incoming weight vectors of the hidden units are identical
  (their spread across units is 0 up to float32 rounding), and the figure
  shows the same weight image for every unit.

With ReLU (or tanh) instead of the sigmoid, zero weights are even worse: the
hidden activations are f(0) = 0, so the gradients of all weights are exactly
zero and only the output biases ever learn. The script checks that too.

How a custom initialisation is set: ``fit`` once with ``max_iter=1`` on a tiny
subset (one image per class) so that ``coefs_`` and ``intercepts_`` exist,
overwrite them in place (``clf.coefs_[i][...] = W``), then set
``warm_start=True`` and ``fit`` again: training continues from the weights
you wrote. The ``history_`` continues too, so its first entry (the tiny fit)
is skipped.

It prints the training loss and test accuracy for each initialisation and
saves ``initialization.png`` (loss curves, and weight images of the first
hidden units) in ``--output-dir``.

How to run
----------
    python examples/initialization.py            # about 10 s
    python examples/initialization.py --quick    # a few seconds (CI)

MNIST is read from the folder named by ``SKMLP_DATA_DIR``, else from
``../shared/data/mnist`` next to the repository if it exists, else downloaded
from OpenML.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from sklearn.exceptions import ConvergenceWarning

from skmlp import NumpyMLPClassifier
from skmlp.datasets import load_mnist

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT_DIR = REPO / "out" / "initialization"
INITS = ["xavier", "gaussian", "zeros"]
N_UNITS_SHOWN = 8


def mnist_folder() -> str | None:
    """SKMLP_DATA_DIR if set, else the shared folder next to the repository."""
    if os.environ.get("SKMLP_DATA_DIR"):
        return os.environ["SKMLP_DATA_DIR"]
    shared = REPO.parent / "shared" / "data" / "mnist"
    return str(shared) if shared.is_dir() else None  # None: OpenML


def initial_weights(
    init: str, shape: tuple[int, int], rng: np.random.RandomState
) -> np.ndarray:
    """A weight matrix of ``shape`` = (fan_in, fan_out) drawn by ``init``."""
    fan_in, fan_out = shape
    if init == "xavier":
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, size=shape)
    if init == "gaussian":
        return 0.01 * rng.randn(fan_in, fan_out)
    if init == "zeros":
        return np.zeros(shape)
    raise ValueError(f"unknown init {init!r}")


def train(
    init: str,
    activation: str,
    hidden: tuple[int, ...],
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
) -> NumpyMLPClassifier:
    """Train the network from the weights ``init`` gives, for ``epochs`` epochs."""
    clf = NumpyMLPClassifier(
        hidden_layer_sizes=hidden,
        activation=activation,
        solver="sgd",
        learning_rate_init=0.01,
        momentum=0.9,
        batch_size=256,
        alpha=0.0,
        max_iter=1,
        # Keep going however flat the loss: the plateaus are the point here.
        n_iter_no_change=np.inf,
        dtype="float32",
        random_state=0,
    )
    # 1. A first fit only to create coefs_ and intercepts_ with the right
    #    shapes: one image of each class (fit must see all 10 classes).
    first_of_each_class = [np.flatnonzero(y == k)[0] for k in range(10)]
    with warnings.catch_warnings():
        # Expected and harmless here: 1 epoch does not converge, and the
        # batch size (256) is clipped to the 10 samples.
        warnings.simplefilter("ignore")
        clf.fit(X[first_of_each_class], y[first_of_each_class])

    # 2. Overwrite every weight and bias in place. coefs_[i] is a view into
    #    the model's parameters, so "[...] =" changes the model itself.
    rng = np.random.RandomState(0)
    for W, b in zip(clf.coefs_, clf.intercepts_):
        W[...] = initial_weights(init, W.shape, rng)
        b[...] = 0.0

    # 3. Train from there: warm_start=True keeps the weights we wrote.
    clf.set_params(warm_start=True, max_iter=epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


def unit_spread(W: np.ndarray) -> float:
    """How different the hidden units' incoming weight vectors are.

    ``W`` has shape (n_inputs, n_units): column j holds the weights into unit
    j. For every input, take the standard deviation across the units, then
    the largest over the inputs. It is 0 exactly when all units are the same.
    """
    return float(W.std(axis=1).max())


def plot(
    curves: dict[str, list[float]], first_layer: dict[str, np.ndarray], path: Path
) -> None:
    """Loss curves on the left, weight images of the first units on the right."""
    fig = plt.figure(figsize=(12, 4.5))
    grid = fig.add_gridspec(len(INITS), 1 + N_UNITS_SHOWN, width_ratios=[6] + [1] * 8)
    ax = fig.add_subplot(grid[:, 0])
    for init, loss in curves.items():
        ax.plot(np.arange(1, len(loss) + 1), loss, marker=".", label=init)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (mean cross-entropy)")
    ax.set_title("Training loss by initialisation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    for row, init in enumerate(INITS):
        W = first_layer[init]
        for j in range(N_UNITS_SHOWN):
            image_ax = fig.add_subplot(grid[row, 1 + j])
            # One colour scale per row, symmetric around 0 (white)
            limit = np.abs(W[:, :N_UNITS_SHOWN]).max() or 1.0
            image_ax.imshow(
                W[:, j].reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit
            )
            image_ax.set_xticks([])
            image_ax.set_yticks([])
            if j == 0:
                image_ax.set_ylabel(init, fontsize=9)
            if row == 0:
                image_ax.set_title(f"unit {j}", fontsize=8)
    fig.suptitle(
        "784-128-10 sigmoid network on MNIST; right: weights into the first "
        "hidden units after training (red > 0 > blue)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument(
        "--hidden", type=int, nargs="+", default=[128], help="hidden layer sizes"
    )
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument(
        "--quick", action="store_true", help="3 epochs on 2000 images (for CI)"
    )
    args = parser.parse_args(argv)
    n_train, epochs, hidden = args.n_train, args.epochs, tuple(args.hidden)
    if args.quick:
        n_train, epochs = 2000, 3
    args.output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    X_train, X_test, y_train, y_test = load_mnist(mnist_folder(), scale=True)
    X, y = X_train[:n_train], y_train[:n_train]
    print(
        f"MNIST: {len(X)} training images, {len(X_test)} test images; network "
        f"784-{'-'.join(map(str, hidden))}-10, sigmoid, {epochs} epochs\n"
    )

    curves, first_layer = {}, {}
    print(f"{'init':<10}{'loss, epoch 1':>14}{'last':>8}{'test acc':>10}{'spread':>10}")
    for init in INITS:
        clf = train(init, "logistic", hidden, X, y, epochs)
        loss = clf.history_["loss"][1:]  # [0] is the tiny fit that made the weights
        curves[init] = loss
        first_layer[init] = clf.coefs_[0].copy()
        print(
            f"{init:<10}{loss[0]:>14.4f}{loss[-1]:>8.4f}"
            f"{clf.score(X_test, y_test):>10.4f}{unit_spread(clf.coefs_[0]):>10.2e}",
            flush=True,
        )
    print(
        "\nspread: std across hidden units of their incoming weights (max over "
        "inputs).\nWith zeros it stays at 0 (up to rounding): every hidden unit "
        "is the same unit."
    )

    # ReLU from all-zero weights: Z = 0, so A = relu(0) = 0 and relu'(0) = 0.
    # No gradient reaches any weight; only the output biases change.
    clf = train("zeros", "relu", hidden, X, y, epochs=1)
    largest = max(np.abs(W).max() for W in clf.coefs_)
    moved = np.abs(clf.intercepts_[-1]).max()
    print(
        f"\nrelu, zero weights, after 1 epoch: largest |weight| = {largest}, "
        f"largest |output bias| = {moved:.3f}"
    )

    path = args.output_dir / "initialization.png"
    plot(curves, first_layer, path)
    print(f"\nsaved {path}")
    print(f"time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

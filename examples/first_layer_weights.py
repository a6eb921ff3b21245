"""What the first layer learns: its weights as images, after 1, 5 and 20 epochs.
=============================================================================

What it shows
-------------
Each hidden unit of the first layer has one weight per pixel: column j of
``coefs_[0]`` (shape (784, n_hidden)) reshaped to 28 x 28 is a picture of
what unit j responds to (red: ink there raises its input, blue: lowers it).

The network (784-128-10, ReLU, SGD with momentum 0.9, learning rate 0.01,
batches of 256, pixels in [0, 1]) starts from Xavier weights W0 that the
script draws itself (so that it knows them), is trained one epoch at a time,
and ``coefs_[0]`` is copied after epochs 1, 5 and 20. The figure shows the
same 8 units in every row: first the weights W themselves, then the change
W - W0, what training has added to the random start.

What to notice:

* W itself stays noisy: with this learning rate, 20 epochs add to the
  random start less than the start itself (the printed ratio
  ``|W - W0| / |W0|``, Frobenius norms, stays below 1).
* W - W0 is smooth and looks like pieces of digits. That is backprop at
  work: the gradient of the first layer is ``dL/dW = X^T delta``, so the
  change of unit j's weights is a weighted sum of input images,
  ``-lr * sum_i delta_ij x_i``, and only ever contains what images contain.
* Some pixels, in the corners and along the edges, are 0 in every training
  image. The matching rows of ``X^T`` are zero, so their weights get a zero
  gradient and keep their initial values exactly (the script checks it);
  pixels inked in only a few images get tiny gradients. So W - W0 is white
  around the frame. (No L2 penalty here, ``alpha=0``: it would shrink every
  weight a little, those too.)
* The "neighbour correlation" printed for each snapshot (correlation of
  the weights of horizontally adjacent pixels, averaged over the units) is
  about 0 for random noise and grows as the images become smooth.

It prints test accuracy, neighbour correlations and that ratio per snapshot
and saves ``first_layer_weights.png`` in ``--output-dir``.

How to run
----------
    python examples/first_layer_weights.py            # about 10-15 s
    python examples/first_layer_weights.py --quick    # a few seconds (CI)
    python examples/first_layer_weights.py --snapshots 1 2 5 10 20 40

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

from skmlp import NumpyMLPClassifier
from skmlp.datasets import load_mnist

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT_DIR = REPO / "out" / "first_layer_weights"
N_UNITS_SHOWN = 8


def mnist_folder() -> str | None:
    """SKMLP_DATA_DIR if set, else the shared folder next to the repository."""
    if os.environ.get("SKMLP_DATA_DIR"):
        return os.environ["SKMLP_DATA_DIR"]
    shared = REPO.parent / "shared" / "data" / "mnist"
    return str(shared) if shared.is_dir() else None  # None: OpenML


def start_from_xavier(
    clf: NumpyMLPClassifier, X: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Give ``clf`` Xavier weights we draw ourselves; return the first layer's.

    There is no public way to get the weights a fit starts from, so: fit on
    one image of each class (this only creates coefs_ and intercepts_ with
    the right shapes), then overwrite every weight in place.
    """
    first_of_each_class = [np.flatnonzero(y == k)[0] for k in range(10)]
    with warnings.catch_warnings():
        # Expected here: 1 epoch does not converge, and the batch size is
        # clipped to the 10 samples.
        warnings.simplefilter("ignore")
        clf.fit(X[first_of_each_class], y[first_of_each_class])
    rng = np.random.RandomState(0)
    for W, b in zip(clf.coefs_, clf.intercepts_):
        fan_in, fan_out = W.shape
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        W[...] = rng.uniform(-bound, bound, size=W.shape)
        b[...] = 0.0
    return clf.coefs_[0].copy()


def neighbour_correlation(W: np.ndarray) -> float:
    """Mean over units of corr(w[r, c], w[r, c + 1]) in each unit's 28 x 28 image.

    Independent random weights give about 0; smooth images give values
    towards 1.
    """
    correlations = []
    for j in range(W.shape[1]):
        image = W[:, j].reshape(28, 28)
        left, right = image[:, :-1].ravel(), image[:, 1:].ravel()
        correlations.append(np.corrcoef(left, right)[0, 1])
    return float(np.mean(correlations))


def plot(weights: dict[int, np.ndarray], path: Path) -> None:
    """Rows: W at each snapshot (epoch 0 first), then W - W0; columns: units."""
    W0 = weights[0]
    rows = [(f"W, epoch {e}", W) for e, W in weights.items()]
    rows += [(f"W - W0, ep. {e}", W - W0) for e, W in weights.items() if e > 0]
    fig, axes = plt.subplots(
        len(rows),
        N_UNITS_SHOWN,
        figsize=(1.3 * N_UNITS_SHOWN + 0.5, 1.35 * len(rows) + 0.6),
        squeeze=False,
    )
    for row, (label, W) in enumerate(rows):
        for j in range(N_UNITS_SHOWN):
            ax = axes[row, j]
            image = W[:, j].reshape(28, 28)
            # Each image on its own colour scale, symmetric so that 0 is white.
            limit = np.abs(image).max() or 1.0
            ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
            if row == 0:
                ax.set_title(f"unit {j}", fontsize=9)
    fig.suptitle(
        "First-layer weights coefs_[0][:, j] as 28 x 28 images (784-128-10 ReLU, "
        "MNIST):\nthe weights W, and what training added to the start, W - W0",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--snapshots",
        type=int,
        nargs="+",
        default=[1, 5, 20],
        help="epochs after which the weights are shown",
    )
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="snapshots after epochs 1, 2, 3 on 2000 images (for CI)",
    )
    args = parser.parse_args(argv)
    snapshot_epochs, n_train = sorted(args.snapshots), args.n_train
    if args.quick:
        snapshot_epochs, n_train = [1, 2, 3], 2000
    args.output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    X_train, X_test, y_train, y_test = load_mnist(mnist_folder(), scale=True)
    X, y = X_train[:n_train], y_train[:n_train]
    print(
        f"MNIST: {len(X)} training images; snapshots after epochs "
        f"{', '.join(map(str, snapshot_epochs))}\n"
    )

    clf = NumpyMLPClassifier(
        hidden_layer_sizes=(128,),
        activation="relu",
        solver="sgd",
        learning_rate_init=0.01,
        momentum=0.9,
        batch_size=256,
        alpha=0.0,  # no L2: untouched weights then stay exactly as they started
        max_iter=1,
        dtype="float32",
        random_state=0,
    )
    W0 = start_from_xavier(clf, X, y)

    weights = {0: W0}
    print(
        f"{'epoch':>5}{'test acc':>10}{'corr W':>9}{'corr W - W0':>13}"
        f"{'|W - W0| / |W0|':>17}"
    )
    print(f"{0:>5}{'':>10}{neighbour_correlation(W0):>9.3f}")
    for epoch in range(1, max(snapshot_epochs) + 1):
        if epoch == 1:
            # warm_start=True: train from the weights written above. fit makes
            # a fresh optimizer, so nothing carries over from the tiny fit.
            clf.set_params(warm_start=True)
            clf.fit(X, y)
        else:
            # One epoch per call, keeping the optimizer and its momentum.
            clf.partial_fit(X, y)
        if epoch in snapshot_epochs:
            # copy: coefs_[0] is a view that the next epochs keep changing
            weights[epoch] = clf.coefs_[0].copy()
            print(
                f"{epoch:>5}{clf.score(X_test, y_test):>10.4f}"
                f"{neighbour_correlation(weights[epoch]):>9.3f}"
                f"{neighbour_correlation(weights[epoch] - W0):>13.3f}"
                f"{np.linalg.norm(weights[epoch] - W0) / np.linalg.norm(W0):>17.3f}",
                flush=True,
            )

    # Weights on pixels that are 0 in every training image get no gradient.
    never_inked = (X == 0).all(axis=0)  # (784,) one flag per pixel
    change = np.abs(clf.coefs_[0] - W0)[never_inked]
    print(
        f"\n{never_inked.sum()} pixels are 0 in every training image; the "
        f"largest change of their weights: {change.max() if change.size else 0.0}"
    )

    path = args.output_dir / "first_layer_weights.png"
    plot(weights, path)
    print(f"\nsaved {path}")
    print(f"time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

"""Hidden-layer activations on MNIST: test accuracy and seconds per epoch.
=======================================================================

What it shows
-------------
The same network, optimizer and seed, trained once per hidden activation:
scikit-learn's four (``relu``, ``tanh``, ``logistic``; ``identity`` is left
out, it makes the network linear), skmlp's four more (``leaky_relu``,
``elu``, ``gelu``, ``softplus``) and one defined here as a pair
``(function, derivative)``: LeCun's scaled tanh,

    f(z) = 1.7159 tanh(2z/3),    f'(z) = 1.7159 * 2/3 * (1 - tanh(2z/3)^2),

whose constants (LeCun et al., "Efficient BackProp", 1998) make f(1) = 1
and f(-1) = -1, so that inputs of about unit variance give outputs of about
unit variance.
The pair is gradient-checked first (``skmlp.check_gradients``: backprop
against finite differences, float64), since a wrong derivative trains too,
only worse.

The network: 784 pixels scaled to [0, 1], one hidden layer of 128 units, 10
softmax outputs; Adam (learning rate 1e-3), batches of 128, alpha=1e-4,
float32, 10 epochs, ``random_state=0`` for every run (same initial weights and
batch order; ``--seed`` changes it). It prints, per activation, the final
training loss, the test accuracy on the 10000 test images, the median wall
seconds per epoch (from ``history_["time"]``), the CPU seconds per epoch and
the CPU time relative to ReLU. CPU time is what the comparison uses: other
jobs on a shared machine stretch wall time by a different factor from one
run to the next, and change the CPU time a run needs much less.

Measured (full 60000 training images, 10 epochs, ``OMP_NUM_THREADS=1``, on a
2-core machine shared with other jobs), seeds 0 and 1:

==================  ==============  ==========  ===========  ===========
activation          test accuracy   train loss  CPU s/epoch  CPU vs relu
==================  ==============  ==========  ===========  ===========
relu                0.9766  0.9781  0.0311      0.447        1.00  1.00
tanh                0.9776  0.9765  0.0383      0.456        1.02  0.98
logistic            0.9689  0.9694  0.0874      0.500        1.12  1.02
leaky_relu          0.9758  0.9780  0.0316      0.420        0.94  1.07
elu                 0.9757  0.9758  0.0418      0.430        0.96  0.98
gelu                0.9769  0.9783  0.0292      0.718        1.61  1.86
softplus            0.9740  0.9739  0.0574      0.508        1.14  1.00
lecun_tanh (pair)   0.9747  0.9770  0.0475      0.438        0.98  1.07
==================  ==============  ==========  ===========  ===========

(train loss and CPU s/epoch: seed 0; the pair's check_gradients error:
1.1e-09.)

What to look for:

* After 10 epochs all but the sigmoid are within 0.974-0.978, and their
  order changes with the seed (tanh first with seed 0, gelu with seed 1):
  differences of 0.001-0.002 are about the spread from one seed to the next.
  ``logistic`` lags (0.969) and has three times ReLU's training loss: its
  derivative is at most 1/4, and its outputs are all positive.
* GELU costs about 1.6-1.9 times ReLU's CPU time per epoch: the normal
  distribution function (scipy's ``ndtr``) and its density are far dearer
  than a comparison, and its derivative needs ``Z``, which the forward pass
  then keeps as an extra copy. The others are within about 15% of ReLU: at
  128 hidden units the matrix products dominate an epoch.
* The pair, which returns new arrays where the built-ins work in place,
  costs about what ``tanh`` does, and trains like it (with a higher training
  loss after 10 epochs).

How to run
----------
    python examples/activations_mnist.py                  # 80 s (40 s of CPU)
    python examples/activations_mnist.py --seed 1
    python examples/activations_mnist.py --epochs 20
    python examples/activations_mnist.py --n-train 10000  # a subset
    python examples/activations_mnist.py --quick          # seconds (CI)

All 60000 images by default: the 8 runs of 10 epochs took 80 s of wall time
(41 s of CPU) on the shared 2-core machine. ``OMP_NUM_THREADS=1`` (or
``OPENBLAS_NUM_THREADS=1``) helps on a machine whose cores are busy with
other work.

MNIST is read from ``--data-dir``, else from the folder named by the
environment variable ``SKMLP_DATA_DIR``, else from ``../shared/data/mnist``
next to the repository if it exists, else downloaded from OpenML by
``skmlp.datasets.load_mnist``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skmlp import NumpyMLPClassifier, check_gradients
from skmlp.datasets import load_mnist

REPO = Path(__file__).resolve().parents[1]

# LeCun's constants: f(+-1) = +-1 (1.7159 tanh(2/3) = 1.0000)
LECUN_A, LECUN_B = 1.7159, 2.0 / 3.0


def lecun_tanh(Z: np.ndarray) -> np.ndarray:
    """f(z) = 1.7159 tanh(2z/3), elementwise; a new array of Z's shape."""
    return LECUN_A * np.tanh(LECUN_B * Z)


def lecun_tanh_derivative(Z: np.ndarray) -> np.ndarray:
    """f'(z) = 1.7159 * 2/3 * (1 - tanh(2z/3)^2), elementwise, from z."""
    return LECUN_A * LECUN_B * (1.0 - np.tanh(LECUN_B * Z) ** 2)


# Module-level functions, not lambdas: the estimator then pickles and clones.
ACTIVATIONS: dict[str, str | tuple] = {
    "relu": "relu",
    "tanh": "tanh",
    "logistic": "logistic",
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "gelu": "gelu",
    "softplus": "softplus",
    "lecun_tanh (pair)": (lecun_tanh, lecun_tanh_derivative),
}


def default_data_dir() -> str | None:
    """SKMLP_DATA_DIR if set, else the shared folder next to the repository."""
    if os.environ.get("SKMLP_DATA_DIR"):
        return os.environ["SKMLP_DATA_DIR"]
    shared = REPO.parent / "shared" / "data" / "mnist"
    return str(shared) if shared.is_dir() else None  # None: OpenML


def make_classifier(activation, epochs: int, seed: int = 0) -> NumpyMLPClassifier:
    """The one network every activation is tried in."""
    return NumpyMLPClassifier(
        hidden_layer_sizes=(128,),
        activation=activation,
        solver="adam",
        learning_rate_init=1e-3,
        batch_size=128,
        alpha=1e-4,
        max_iter=epochs,
        # train for exactly max_iter epochs: no stop on a stalled loss
        tol=0.0,
        n_iter_no_change=epochs + 1,
        dtype="float32",
        random_state=seed,
    )


def check_pair() -> float:
    """Largest relative error of backprop vs finite differences for the pair."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 5)), rng.integers(0, 3, size=20)
    clf = NumpyMLPClassifier(
        hidden_layer_sizes=(6, 4),
        activation=ACTIVATIONS["lecun_tanh (pair)"],
        alpha=0.1,
        random_state=0,
    )
    return check_gradients(clf, X, y).max_error


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir",
        default=default_data_dir(),
        help="folder of the MNIST IDX files (default: SKMLP_DATA_DIR)",
    )
    parser.add_argument("--epochs", type=int, default=10, help="epochs per run")
    parser.add_argument(
        "--seed", type=int, default=0, help="random_state of every network"
    )
    parser.add_argument(
        "--n-train", type=int, default=60000, help="training images used (<= 60000)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 epochs on 3000 images, tested on 2000 (for CI)",
    )
    args = parser.parse_args(argv)
    n_train, n_test, epochs = args.n_train, 10000, args.epochs
    if args.quick:
        n_train, n_test, epochs = 3000, 2000, 2
    start = time.perf_counter()

    error = check_pair()
    print(
        "lecun_tanh pair, check_gradients on a 5-6-4-3 network: "
        f"max relative error {error:.1e}\n"
    )

    X_train, X_test, y_train, y_test = load_mnist(args.data_dir, scale=True)
    X_train, y_train = X_train[:n_train], y_train[:n_train]
    X_test, y_test = X_test[:n_test], y_test[:n_test]
    print(
        f"MNIST: {len(X_train)} training, {len(X_test)} test images; 784-128-10, "
        f"adam lr 1e-3, batch 128, float32, {epochs} epochs, seed {args.seed}\n"
    )

    # A first small fit warms up the BLAS and NumPy code paths, so that the
    # first activation timed does not pay for it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        make_classifier("relu", 1).fit(X_train[:1000], y_train[:1000])

    print(
        f"{'activation':<20}{'train loss':>11}{'test acc':>10}"
        f"{'s/epoch':>9}{'CPU s/epoch':>13}{'vs relu':>9}"
    )
    results = {}
    for name, activation in ACTIVATIONS.items():
        clf = make_classifier(activation, epochs, args.seed)
        cpu_start = time.process_time()
        with warnings.catch_warnings():
            # max_iter is the planned number of epochs, not a budget run out
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        # CPU seconds barely notice other jobs on a shared machine (wall
        # seconds do), so the comparison between activations uses them
        cpu = (time.process_time() - cpu_start) / epochs
        # history_["time"]: wall seconds since training began, after each
        # epoch; the median epoch is the least disturbed by other jobs
        wall = float(np.median(np.diff([0.0, *clf.history_["time"]])))
        results[name] = (clf.score(X_test, y_test), cpu)
        print(
            f"{name:<20}{clf.loss_:>11.4f}{results[name][0]:>10.4f}"
            f"{wall:>9.3f}{cpu:>13.3f}{cpu / results['relu'][1]:>8.2f}x",
            flush=True,
        )
    print(f"\ntime: {time.perf_counter() - start:.1f} s")
    best = max(results, key=lambda name: results[name][0])
    print(f"best test accuracy: {best} {results[best][0]:.4f}")


if __name__ == "__main__":
    main()

"""Gradient check: backpropagation against finite differences, and a broken one.
=============================================================================

What it shows
-------------
1. ``skmlp.check_gradients`` compares every partial derivative that
   backpropagation computes with a centered finite difference,
   ``(L(w + eps) - L(w - eps)) / (2 eps)``, on a small network (5 inputs, two
   tanh hidden layers of 6 and 4 units, 3 classes, L2 penalty, sample
   weights). It prints the relative error for each weight matrix and bias
   vector: about 1e-10 when the backward pass is right.
2. It then swaps in a deliberately wrong derivative of tanh (``1 - a``
   instead of ``1 - a**2``: the square forgotten) and checks again. The
   errors jump by orders of magnitude, but only for the parameters *below*
   the first tanh on the way back: the output layer's gradient never goes
   through the hidden derivative, so it stays right. That is how a gradient
   check points at the layer where a bug sits.
3. One line per hidden activation (identity, logistic, tanh, relu; the
   derivatives derived in ``docs/backprop.md``), checked after 3 epochs of
   training, off the kink that relu has at 0.

It saves a bar chart (log scale) of the errors per parameter, correct vs
broken, as ``gradient_check.png`` in ``--output-dir``.

How to run
----------
    python examples/gradient_check.py            # about 2 seconds
    python examples/gradient_check.py --quick    # fewer entries checked (CI)
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skmlp import NumpyMLPClassifier, _activations, check_gradients

DEFAULT_OUTPUT_DIR = Path(__file__).resolve().parents[1] / "out" / "gradient_check"


def broken_tanh_derivative(A: np.ndarray, delta: np.ndarray) -> None:
    """A classic mistake: tanh'(z) is 1 - a**2, and this forgets the square."""
    delta *= 1 - A


@contextlib.contextmanager
def broken_derivative(activation: str = "tanh") -> Iterator[None]:
    """Replace skmlp's derivative of ``activation`` by a wrong one, temporarily.

    The backward pass looks the derivative up in ``_activations.DERIVATIVES``
    each time it runs, so changing the dict entry is enough; ``finally``
    puts the right one back even if the check raises.
    """
    original = _activations.DERIVATIVES[activation]
    _activations.DERIVATIVES[activation] = broken_tanh_derivative
    try:
        yield
    finally:
        _activations.DERIVATIVES[activation] = original


def make_problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A small random classification problem: 30 samples, 5 features, 3 classes.

    The sample weights are random too, so that the check covers them as well.
    Every parameter costs two forward passes per checked entry, so the data
    stays small.
    """
    rng = np.random.RandomState(seed)
    X = rng.randn(30, 5)
    y = rng.randint(3, size=30)
    sample_weight = rng.uniform(0.5, 2.0, size=30)
    return X, y, sample_weight


def plot_errors(correct: dict, broken: dict, path: Path) -> None:
    """Grouped bar chart of the relative error of each parameter array."""
    names = list(correct)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    # A relative error of exactly 0 cannot be drawn on a log axis: clip it.
    floor = 1e-16
    ax.bar(
        x - 0.2,
        [max(correct[n], floor) for n in names],
        width=0.4,
        label="correct derivative, 1 - a**2",
    )
    ax.bar(
        x + 0.2,
        [max(broken[n], floor) for n in names],
        width=0.4,
        label="broken derivative, 1 - a",
    )
    ax.axhline(1e-6, color="gray", linestyle="--", linewidth=1)
    ax.text(len(names) - 0.5, 1.5e-6, "1e-6", color="gray", ha="right")
    ax.set_xticks(x, names)
    ax.set_yscale("log")
    ax.set_ylim(top=1e2)  # room for the legend above the bars
    ax.set_ylabel("relative error  |g - n| / (|g| + |n|)")
    ax.set_title("Backprop vs finite differences, tanh network 5-6-4-3")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="check at most 20 entries of each parameter array (for CI)",
    )
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    X, y, sample_weight = make_problem()
    max_per_parameter = 20 if args.quick else None
    # Not fitted: check_gradients then checks the network at the weights fit
    # would start from (Xavier/Glorot, random_state=0).
    clf = NumpyMLPClassifier((6, 4), activation="tanh", alpha=0.1, random_state=0)

    correct = check_gradients(
        clf, X, y, sample_weight, max_per_parameter=max_per_parameter
    )
    with broken_derivative("tanh"):
        broken = check_gradients(
            clf, X, y, sample_weight, max_per_parameter=max_per_parameter
        )

    print("Relative error |g - n| / (|g| + |n|) per parameter array")
    print("(g: backprop gradient, n: centered finite difference, eps=1e-6)\n")
    print(f"{'parameter':<16}{'shape':<10}{'correct':>12}{'broken':>12}")
    # layer sizes: 5 inputs, hidden layers of 6 and 4 units, 3 classes
    units = [X.shape[1], 6, 4, 3]
    shapes = {}
    for i in range(len(units) - 1):
        shapes[f"coefs_[{i}]"] = (units[i], units[i + 1])
        shapes[f"intercepts_[{i}]"] = (units[i + 1],)
    for name in correct.names:
        print(
            f"{name:<16}{str(shapes[name]):<10}"
            f"{correct.errors[name]:>12.1e}{broken.errors[name]:>12.1e}"
        )
    ratio = broken.max_error / max(correct.max_error, 1e-300)
    print(f"\nmax relative error, correct derivative: {correct.max_error:.1e}")
    print(f"max relative error, broken derivative:  {broken.max_error:.1e}")
    print(f"the wrong derivative makes the error {ratio:.0e} times larger")
    print(
        "coefs_[2] and intercepts_[2] (the output layer) stay correct: their "
        "gradient\nis computed before the backward pass reaches any tanh."
    )

    # Every hidden activation, checked after a few epochs of training rather
    # than at the initial weights: biases start at zero, so at init a sample
    # whose first-layer ReLUs are all off gives the second layer a
    # pre-activation of exactly 0, the kink of relu, where no derivative
    # exists and the finite difference averages the two one-sided slopes.
    print("\nEvery hidden activation, max relative error over all parameters")
    print("(at the weights after 3 epochs of SGD):")
    for activation in ["identity", "logistic", "tanh", "relu"]:
        clf_a = NumpyMLPClassifier(
            (6, 4),
            activation=activation,
            alpha=0.1,
            solver="sgd",
            learning_rate_init=0.1,
            max_iter=3,
            random_state=0,
        )
        with warnings.catch_warnings():
            # 3 epochs are not meant to converge
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf_a.fit(X, y, sample_weight)
        result = check_gradients(
            clf_a, X, y, sample_weight, max_per_parameter=max_per_parameter
        )
        print(f"  {activation:<9} {result.max_error:.1e}")

    path = args.output_dir / "gradient_check.png"
    plot_errors(correct.errors, broken.errors, path)
    print(f"\nsaved {path}")
    print(f"time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

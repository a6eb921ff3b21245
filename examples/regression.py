"""NumpyMLPRegressor next to scikit-learn's MLPRegressor, in the same pipeline.
============================================================================

What it shows
-------------
``NumpyMLPRegressor`` is a drop-in for scikit-learn's ``MLPRegressor``: the
same parameters, in the same pipeline, reach the same held-out R^2. The data
are Friedman's first regression problem (``sklearn.datasets.make_friedman1``,
generated offline): 10 features uniform on [0, 1], of which only five matter,

    y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise,

with Gaussian noise of standard deviation 1. Each model is the same pipeline,
only the regressor differs:

    TransformedTargetRegressor(               # y standardised, predictions
        Pipeline([StandardScaler(), MLP]),    # mapped back to y's units
        transformer=StandardScaler(),
    )

Scaling y matters as much as scaling X: the squared error of targets around
15 +- 5 would start far from the small outputs of a fresh network, and the
L2 penalty would weigh differently against it.

Two solvers (L-BFGS and Adam, one hidden layer of 64 ReLU units), several
seeds; a seed fixes the data set, the train/test split (75/25) and both
networks' initialisation (they draw their initial weights differently, so the
two are not the same network). It prints the test R^2 and the fit time of
each, and, as a ceiling, the R^2 of the true function without its noise.

Measured (2-core machine shared with other jobs, ``OMP_NUM_THREADS=1``; fit
times are noisy there, compare them within one run only):

* Mean test R^2 over seeds 0-4: L-BFGS 0.9386 (skmlp) vs 0.9388
  (scikit-learn), Adam 0.9333 vs 0.9330; the largest difference in any one
  of the 10 fits is 0.0071 (the bar: 0.02). The noise ceiling is 0.95-0.96.
* skmlp's fit takes about 0.6 times scikit-learn's (median ratio).
* Seeds 0-9: largest difference 0.0074 over the 20 fits.
* With fewer samples the seeds spread more: with ``--n-samples 1000`` (the
  size of ``--quick``) and seeds 0-9, L-BFGS stays within 0.0071, while Adam
  differs by up to 0.034 in one seed (mean R^2 0.905 for skmlp, 0.910 for
  scikit-learn): on 750 training samples, where each stops on its own
  training loss matters more.
* The whole run takes about 12 s (``--quick``: about 3 s).

Why not ``load_diabetes``: its 442 noisy samples leave an MLP's test R^2
swinging by +-0.1 from one seed to the next for either implementation (and
below a linear model's), so a comparison at 0.02 would measure noise.
``fetch_california_housing`` would need a download.

How to run
----------
    python examples/regression.py              # 5 seeds, both solvers
    python examples/regression.py --seeds 10
    python examples/regression.py --quick      # 2 seeds, 1000 samples (CI)
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import NumpyMLPRegressor

# The same settings for both implementations; only the seed changes.
SOLVERS = {
    # full-batch quasi-Newton: a strong L2 penalty keeps 64 units from
    # fitting the noise of 1500 samples
    "lbfgs": dict(solver="lbfgs", alpha=1.0, max_iter=500),
    # minibatches of 200, stopped when the training loss stalls (tol)
    "adam": dict(solver="adam", alpha=1e-3, learning_rate_init=1e-3, max_iter=300),
}
HIDDEN = (64,)
NOISE = 1.0


def friedman1(X: np.ndarray) -> np.ndarray:
    """The noise-free target of make_friedman1, shape (n_samples,)."""
    return (
        10 * np.sin(np.pi * X[:, 0] * X[:, 1])
        + 20 * (X[:, 2] - 0.5) ** 2
        + 10 * X[:, 3]
        + 5 * X[:, 4]
    )


def make_model(
    mlp_class: type, seed: int, settings: dict
) -> TransformedTargetRegressor:
    """Scale X, scale y, fit the MLP: the pipeline both implementations share."""
    mlp = mlp_class(hidden_layer_sizes=HIDDEN, random_state=seed, **settings)
    return TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(), mlp), transformer=StandardScaler()
    )


def fit_and_score(model, X_train, y_train, X_test, y_test) -> tuple[float, float]:
    """Test R^2 and fit seconds."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        # max_iter is a budget here, not an error: both report hitting it
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return model.score(X_test, y_test), seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0, 1, ...")
    parser.add_argument(
        "--n-samples", type=int, default=2000, help="train + test (75/25)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 seeds, 1000 samples (for CI)"
    )
    args = parser.parse_args(argv)
    n_seeds, n_samples = (2, 1000) if args.quick else (args.seeds, args.n_samples)
    start = time.perf_counter()

    print(
        f"make_friedman1: {n_samples} samples (75% train, 25% test), noise {NOISE}; "
        f"MLP {HIDDEN}, relu; X and y standardised\n"
    )
    print(
        f"{'solver':<7}{'seed':>5}{'R2 skmlp':>10}{'R2 sklearn':>12}{'diff':>9}"
        f"{'s skmlp':>9}{'s sklearn':>11}{'ceiling':>9}"
    )
    diffs, ratios = [], []
    r2 = {name: {"skmlp": [], "sklearn": []} for name in SOLVERS}
    for name, settings in SOLVERS.items():
        for seed in range(n_seeds):
            X, y = make_friedman1(n_samples=n_samples, noise=NOISE, random_state=seed)
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, random_state=seed
            )
            models = {
                "skmlp": make_model(NumpyMLPRegressor, seed, settings),
                "sklearn": make_model(MLPRegressor, seed, settings),
            }
            # alternate who goes first, so that neither always gets the
            # warmer caches or the quieter moment of a shared machine
            order = list(models) if seed % 2 == 0 else list(models)[::-1]
            result = {
                key: fit_and_score(models[key], X_train, y_train, X_test, y_test)
                for key in order
            }
            r2_ours, s_ours = result["skmlp"]
            r2_theirs, s_theirs = result["sklearn"]
            # the best any model can do: the true function, missing only the noise
            residual = y_test - friedman1(X_test)
            ceiling = 1 - residual @ residual / ((y_test - y_test.mean()) ** 2).sum()
            print(
                f"{name:<7}{seed:>5}{r2_ours:>10.4f}{r2_theirs:>12.4f}"
                f"{r2_ours - r2_theirs:>+9.4f}{s_ours:>9.2f}{s_theirs:>11.2f}"
                f"{ceiling:>9.4f}",
                flush=True,
            )
            r2[name]["skmlp"].append(r2_ours)
            r2[name]["sklearn"].append(r2_theirs)
            diffs.append(r2_ours - r2_theirs)
            ratios.append(s_ours / s_theirs)

    print()
    for name in SOLVERS:
        ours, theirs = np.mean(r2[name]["skmlp"]), np.mean(r2[name]["sklearn"])
        print(
            f"{name}: mean R2 over {n_seeds} seeds: skmlp {ours:.4f}, "
            f"scikit-learn {theirs:.4f}"
        )
    print(
        f"fit time skmlp / scikit-learn: median {np.median(ratios):.2f} "
        "(one run, interleaved; absolute times depend on the machine's load)"
    )
    print(f"time: {time.perf_counter() - start:.1f} s")
    largest = float(np.max(np.abs(diffs)))
    verdict = "within" if largest <= 0.02 else "NOT within"
    print(
        f"largest |R2 skmlp - R2 scikit-learn| over {len(diffs)} fits: "
        f"{largest:.4f} ({verdict} 0.02)"
    )


if __name__ == "__main__":
    main()

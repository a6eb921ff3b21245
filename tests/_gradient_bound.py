"""How far a correct gradient may lie from its finite difference, argued.

``check_gradients`` compares backprop's g with n = (L(w + h) - L(w - h)) / 2h,
computed in float64. For a correct g the two differ by

* truncation, h**2 / 6 * L''': relative to g about 1e-13 * |L''' / L'| for
  h = 1e-6, far below RTOL = 1e-6 for any network in these tests;
* round-off: each evaluation of L is off by some ulps of |L| and the
  difference of two of them is divided by 2h, so each entry of n is off by up
  to ULPS * u * |L| / h (u = 2.2e-16), and an array of k entries by sqrt(k)
  times that in the 2-norm. Near a minimum the truncation, h**2 / 6 times an
  L''' of the order of |L|, stays far below this term too.

ULPS: the losses are means of non-negative terms (plus the L2 penalty), each
as sensitive to the output pre-activations z as e**z is (cross-entropy near a
fit, Poisson) or 1/2 r**2 with |r| not small: a term's relative rounding is
about that of z's dot product over the d hidden units, which adds up like a
random walk, sqrt(d) * u * max |w a|: with d = 16 and terms |w a| up to 170
(test_features' fitted lbfgs classifiers), about 700 ulps; ULPS = 1024.
Measured, ||g - n|| / (sqrt(k) u |L| / h): up to 20 (the fitted lbfgs
classifiers, |L| = 2e-3; 60 for the largest single entry), the same on NumPy
1.24 and 2.4, with and without AVX2, with OpenBLAS's Haswell, Sandybridge,
Nehalem and Prescott kernels, 1 and 2 threads, and over 20 hypothesis seeds
of test_trust.test_properties. It is round-off: it grows 4 times when h
shrinks 4 times (truncation would shrink 16 times).

The round-off term is what a relative bound alone misses: a model fitted
until its gradient is 1e-5 has relative errors of 1e-7 to 1e-6 that are
rounding over rounding, and a bound of 1e-6 fails on one CPU and not on
another (issue 18: 1.0086e-6 on an AVX-512 machine).

A derivative that is wrong by a fraction f gives a relative error of about
f / 2, so the bound must stay below that for the check to mean anything:
``detects=0.01`` (the default) makes the assertion fail if a 1 % error in an
array's gradient could pass unseen.
"""

from __future__ import annotations

import numpy as np

U = np.finfo(np.float64).eps
RTOL = 1e-6  # truncation, relative: see above
ULPS = 1024  # round-off of one loss evaluation, in ulps of |L|: see above


def relative_bound(analytic, numeric, loss: float, eps: float = 1e-6) -> float:
    """The largest ||g - n|| / (||g|| + ||n||) a correct gradient can give."""
    g, n = np.ravel(analytic), np.ravel(numeric)
    scale = np.linalg.norm(g) + np.linalg.norm(n)
    roundoff = np.sqrt(g.size) * ULPS * U * abs(loss) / eps
    return RTOL + (roundoff / scale if scale > 0 else np.inf)


def assert_gradients_agree(result, eps: float = 1e-6, detects: float | None = 0.01):
    """Every array of a check_gradients result within its bound.

    ``detects``: the fraction by which a wrong derivative must be seen
    (each array's bound below detects / 2); None skips that requirement,
    for random problems whose gradients may vanish.
    """
    assert np.isfinite(result.loss), result.loss
    for name in result.names:
        g, n = result.analytic[name], result.numeric[name]
        if not (g.any() or n.any()):
            continue  # both exactly 0 (a dead unit's weights): they agree
        error, bound = result.errors[name], relative_bound(g, n, result.loss, eps)
        assert error <= bound, (
            f"{name}: relative error {error:.3e} above the bound {bound:.3e} "
            f"(loss {result.loss:.3e}, |g| {np.linalg.norm(g):.3e}, k {g.size})"
        )
        if detects is not None:
            assert bound < detects / 2, (
                f"{name}: bound {bound:.3e} too loose to see a {detects:.0%} error "
                f"in the gradient (|g| {np.linalg.norm(g):.3e}, loss {result.loss:.3e})"
            )

"""The stochastic optimizers against textbook references and scikit-learn's.

The steps are written for speed (in place, constants folded into scalars,
Adam's moments stored rescaled); these tests hold them to the plain formulas
in float64, over many steps, up to float rounding.
"""

import math
import pickle

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from skmlp._optimizers import SGD, Adam

N_STEPS = 300
SEEDS = range(8)


def gradients(seed: int, n: int = 257, n_steps: int = N_STEPS, dtype=np.float64):
    """Gradients with a drift, noise over several scales, and exact zeros."""
    rng = np.random.RandomState(seed)
    drift = rng.standard_normal(n)
    scale = 10.0 ** rng.uniform(-6, 1, size=n)
    for t in range(n_steps):
        g = (drift * math.cos(t / 50) + rng.standard_normal(n)) * scale
        g[rng.rand(n) < 0.1] = 0.0
        yield g.astype(dtype)


def reference_adam(w, grads, lr, b1, b2, eps):
    """Adam as written in Kingma & Ba (2014), Algorithm 1, with lr_t folded."""
    w = w.copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        w = w - lr_t * m / (np.sqrt(v) + eps)
    return w, m, v


def reference_sgd(w, grads, lr, mu, nesterov):
    w, vel = w.copy(), np.zeros_like(w)
    for g in grads:
        vel = mu * vel - lr * g
        w = w + (mu * vel - lr * g if nesterov else vel)
    return w, vel


ADAM_SETTINGS = [
    (1e-3, 0.9, 0.999, 1e-8),
    (0.05, 0.5, 0.9, 1e-4),
    (1e-2, 0.0, 0.0, 1e-7),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("lr, b1, b2, eps", ADAM_SETTINGS)
def test_adam_matches_reference_float64(seed, lr, b1, b2, eps):
    w0 = np.random.RandomState(100 + seed).standard_normal(257)
    grads = list(gradients(seed))
    expected, m, v = reference_adam(w0, grads, lr, b1, b2, eps)
    opt, w = Adam(w0.size, np.float64, lr, b1, b2, eps), w0.copy()
    for g in grads:
        opt.step(w, g)
    # 300 steps of rounding at 1e-16 each, well inside 1e-12
    np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opt.m * (1 - b1), m, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(opt.v * (1 - b2), v, rtol=1e-12, atol=1e-300)
    assert opt.n_steps == N_STEPS


@pytest.mark.parametrize("seed", SEEDS)
def test_adam_matches_scikit_learn(seed):
    rng = np.random.RandomState(seed)
    shapes = [(7, 5), (5,), (5, 3), (3,)]
    params = [rng.standard_normal(s) for s in shapes]
    flat = np.concatenate([p.ravel() for p in params])
    sk = AdamOptimizer([p.copy() for p in params], 1e-3, 0.9, 0.999, 1e-8)
    sk_params = [p.copy() for p in params]
    opt = Adam(flat.size, np.float64, 1e-3)
    for g in gradients(seed, n=flat.size):
        parts = np.split(g, np.cumsum([math.prod(s) for s in shapes])[:-1])
        sk.update_params(sk_params, [q.reshape(s) for q, s in zip(parts, shapes)])
        opt.step(flat, g)
    expected = np.concatenate([p.ravel() for p in sk_params])
    np.testing.assert_allclose(flat, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_adam_float32_tracks_float64(seed):
    w0 = np.random.RandomState(seed).standard_normal(257)
    grads = list(gradients(seed))
    expected, _, _ = reference_adam(w0, grads, 1e-3, 0.9, 0.999, 1e-8)
    opt, w = Adam(w0.size, np.float32, 1e-3), w0.astype(np.float32)
    for g in grads:
        opt.step(w, g.astype(np.float32))
    assert w.dtype == np.float32 and opt.m.dtype == np.float32
    # each step moves a weight by at most about lr; float32 rounding of the
    # moments perturbs that step relatively by ~1e-6, and the weights carry
    # their own rounding of ~1e-7 (|w| ~ 1) per step: 300 steps stay < 1e-4
    np.testing.assert_allclose(w, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("lr, mu", [(0.1, 0.9), (0.01, 0.0), (0.5, 0.99)])
def test_sgd_matches_reference_and_scikit_learn(seed, nesterov, lr, mu):
    w0 = np.random.RandomState(100 + seed).standard_normal(257)
    grads = list(gradients(seed, n_steps=100))
    expected, vel = reference_sgd(w0, grads, lr, mu, nesterov)
    opt, w = SGD(w0.size, np.float64, lr, momentum=mu, nesterov=nesterov), w0.copy()
    sk_w = [w0.copy()]
    sk = SGDOptimizer([w0.copy()], lr, "constant", mu, nesterov)
    for g in grads:
        opt.step(w, g)
        sk.update_params(sk_w, [g])
    # 100 steps with |g| up to ~30 and lr up to 0.5: w reaches ~1e3
    np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w, sk_w[0], rtol=1e-12, atol=1e-12)
    # with Nesterov momentum the velocity is stored times the momentum
    stored = mu * vel if nesterov else vel
    np.testing.assert_allclose(opt.velocity, stored, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("schedule", ["constant", "invscaling", "cosine"])
def test_sgd_step_on_a_prescaled_gradient_is_the_plain_step(seed, nesterov, schedule):
    """The training loop hands SGD ``gradient_scale() * g`` (the learning rate
    times g, taken on the output delta) and says so with ``scaled=True``;
    with the L2 term and a schedule that moves the rate, that is the step on g
    up to rounding, and the same steps as the reference formulas."""
    w0 = np.random.RandomState(200 + seed).standard_normal(257)
    grads = list(gradients(seed, n_steps=100))
    decay, n_coef = 0.01, 200
    plain, w_plain = SGD(257, np.float64, 0.1, schedule, 0.9, nesterov), w0.copy()
    fold, w_fold = SGD(257, np.float64, 0.1, schedule, 0.9, nesterov), w0.copy()
    for t, g in enumerate(grads):
        plain.step(w_plain, g.copy(), decay=decay, n_coef=n_coef)
        scale = fold.gradient_scale()
        assert scale == fold.learning_rate
        fold.step(w_fold, scale * g, decay=decay, n_coef=n_coef, scaled=True)
        if t % 10 == 9:  # an "epoch": the schedule moves both rates alike
            plain.epoch_ends(10 * (t + 1), t // 10 + 1)
            fold.epoch_ends(10 * (t + 1), t // 10 + 1)
    assert fold.learning_rate == plain.learning_rate
    if schedule != "constant":
        assert fold.learning_rate < 0.1  # the rate did move
    np.testing.assert_allclose(w_fold, w_plain, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fold.velocity, plain.velocity, rtol=1e-12, atol=1e-12)
    assert not np.array_equal(w_fold, w0)


def test_adam_takes_its_gradient_unscaled():
    """Adam's gradient_scale is 1, so scaled=True is the plain step, bit for bit."""
    grads = list(gradients(3, n_steps=20))
    a, w_a = Adam(257, np.float64, 1e-3), np.ones(257)
    b, w_b = Adam(257, np.float64, 1e-3), np.ones(257)
    assert b.gradient_scale() == 1.0
    for g in grads:
        a.step(w_a, g.copy(), decay=0.01, n_coef=200)
        b.step(w_b, g.copy(), decay=0.01, n_coef=200, scaled=True)
    np.testing.assert_array_equal(w_a, w_b)


def test_adam_old_pickle_continues_exactly():
    """A pickle holding the plain moments (skmlp 0.1.0) is rescaled on load."""
    grads = list(gradients(0))
    w_ref = np.random.RandomState(1).standard_normal(257)
    opt = Adam(w_ref.size, np.float64, 1e-3)
    for g in grads[:150]:
        opt.step(w_ref, g)
    w_old = w_ref.copy()
    old_state = {k: v for k, v in vars(opt).items() if k != "moments_scaled"}
    old_state["m"] = opt.m * (1 - opt.beta_1)  # what the old code stored
    old_state["v"] = opt.v * (1 - opt.beta_2)
    old = Adam.__new__(Adam)
    old.__setstate__(old_state)
    new = pickle.loads(pickle.dumps(opt))
    w_new = w_old.copy()
    for g in grads[150:]:
        opt.step(w_ref, g)
    for g in grads[150:]:
        old.step(w_old, g)
        new.step(w_new, g)
    np.testing.assert_allclose(w_old, w_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(w_new, w_ref)


def six_pass_nesterov(w, grads, lr, mu, dtype):
    """skmlp's Nesterov step before issue 20 (velocity stored as such)."""
    w, v = w.astype(dtype), np.zeros(w.size, dtype)
    for g in grads:
        g = g.astype(dtype)
        s = g * dtype(lr)
        v *= dtype(mu)
        v -= s
        w -= s
        w += v * dtype(mu)
    return w, v


def test_sgd_classical_momentum_is_bit_identical_to_its_formula():
    """The classical step's operations are unchanged: the same bits."""
    w0 = np.random.RandomState(3).standard_normal(257).astype(np.float32)
    opt, w = SGD(w0.size, np.float32, 0.05, momentum=0.9, nesterov=False), w0.copy()
    w_ref, v_ref = w0.copy(), np.zeros_like(w0)
    for g in gradients(3, n_steps=100, dtype=np.float32):
        opt.step(w, g)
        s = g * np.float32(0.05)
        v_ref *= np.float32(0.9)
        v_ref -= s
        w_ref += v_ref
        if opt.n_steps % SGD.FLUSH_EVERY == 0:
            v_ref[np.abs(v_ref) < np.finfo(np.float32).tiny] = 0
    np.testing.assert_array_equal(w, w_ref)
    np.testing.assert_array_equal(opt.velocity, v_ref)
    assert opt.velocity_scaled is False


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("lr, mu", [(0.05, 0.9), (0.5, 0.99), (0.01, 0.0)])
def test_sgd_nesterov_float32_tracks_float64(seed, lr, mu):
    """The 5-pass Nesterov step rounds differently from the 6-pass one it
    replaced; both stay as close to the exact (float64) trajectory.

    Each form rounds 3 operations on the way to w per step (relative
    2**-24 ~ 6e-8 each), an error of about 2e-7 of the scale S (the largest
    |w| plus the largest step). Errors of random sign add up like a random
    walk: over 100 steps about 10 * 2e-7 = 2e-6 * S (worst seen: 7e-7 * S
    for both forms); 1e-5 * S leaves a margin and still fails a step that is
    wrong by more than rounding. Both forms are held to the same bound.
    """
    w0 = np.random.RandomState(100 + seed).standard_normal(257)
    grads = list(gradients(seed, n_steps=100))
    expected, vel = reference_sgd(w0, grads, lr, mu, True)
    opt, w = SGD(w0.size, np.float32, lr, momentum=mu), w0.astype(np.float32)
    for g in grads:
        opt.step(w, g.astype(np.float32))
    old_w, old_v = six_pass_nesterov(w0, grads, lr, mu, np.float32)
    scale = np.abs(expected).max() + lr * max(np.abs(g).max() for g in grads)
    for got in (w, old_w):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(opt.velocity, mu * vel, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(opt.velocity, mu * old_v, rtol=0, atol=1e-5 * scale)


def test_sgd_one_nesterov_step_within_a_few_ulps_of_the_six_pass_step():
    """From the same state, the two forms of one step differ by rounding only."""
    rng = np.random.RandomState(5)
    w0 = rng.standard_normal(10_000).astype(np.float32)
    v0 = rng.standard_normal(10_000).astype(np.float32) * np.float32(0.01)
    g = rng.standard_normal(10_000).astype(np.float32)
    lr, mu = 0.05, 0.9
    opt, w = SGD(w0.size, np.float32, lr, momentum=mu), w0.copy()
    opt.velocity[...] = v0 * np.float32(mu)  # the stored u = mu * v
    opt.step(w, g)
    s = g * np.float32(lr)
    v = v0 * np.float32(mu) - s
    w_old = (w0 - s) + v * np.float32(mu)
    exact = w0.astype(np.float64) + mu * (mu * v0.astype(np.float64) - lr * g) - lr * g
    # each form rounds 3 operations on the way to w: within 4 ulps of the
    # largest term, |w|, |mu v| or |lr g|
    terms = np.abs(w0) + np.abs(mu * v0) + np.abs(lr * g)
    bound = 4 * np.spacing(terms.astype(np.float32)).astype(np.float64)
    assert (np.abs(w - exact) <= bound).all()
    assert (np.abs(w_old - exact) <= bound).all()


def test_sgd_old_pickle_continues():
    """A pickle holding the plain velocity (before issue 20) is scaled on load."""
    grads = list(gradients(0, n_steps=60))
    w_ref = np.random.RandomState(1).standard_normal(257)
    opt = SGD(w_ref.size, np.float64, 0.05, momentum=0.9)
    for g in grads[:30]:
        opt.step(w_ref, g)
    w_old = w_ref.copy()
    old_state = {k: v for k, v in vars(opt).items() if k != "velocity_scaled"}
    old_state["velocity"] = opt.velocity / 0.9  # what the old code stored
    old_state.pop("_scratch")
    old = SGD.__new__(SGD)
    old.__setstate__(old_state)  # what unpickling does
    assert old.velocity_scaled
    new = pickle.loads(pickle.dumps(opt))
    w_new = w_old.copy()
    for g in grads[30:]:
        opt.step(w_ref, g)
        old.step(w_old, g)
        new.step(w_new, g)
    np.testing.assert_allclose(w_old, w_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(w_new, w_ref)

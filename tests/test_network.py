"""The network's math: losses, backprop with any activation, dropout.

Every gradient is checked against centered finite differences of the loss,
in float64, on the pure functions of skmlp._network.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.neural_network._base as sklearn_losses

from skmlp import _network
from skmlp._activations import ACTIVATION_NAMES, get_activation
from skmlp._network import (
    CROSS_ENTROPY,
    LOSSES,
    Workspace,
    draw_dropout_masks,
    forward,
    glorot_uniform,
    loss_and_gradient,
)


def scaled_tanh(Z):
    return 1.7159 * np.tanh(2 * Z / 3)


def scaled_tanh_derivative(Z):
    return 1.7159 * 2 / 3 * (1 - np.tanh(2 * Z / 3) ** 2)


CUSTOM = (scaled_tanh, scaled_tanh_derivative)
ACTIVATION_SPECS = sorted(ACTIVATION_NAMES) + [CUSTOM]
OUTPUTS = ["softmax", "logistic", "identity", "exp"]
UNITS = [4, 5, 3, 3]  # two hidden layers, three outputs


def spec_id(spec) -> str:
    return spec if isinstance(spec, str) else "custom"


def make_problem(out_activation: str, seed: int, n: int = 7, units=UNITS):
    """A batch X, targets T that suit the loss, sample weights, parameters."""
    rng = np.random.RandomState(seed)
    K = units[-1]
    X = rng.normal(size=(n, units[0]))
    if out_activation == "softmax":
        T = np.eye(K)[rng.randint(K, size=n)]
    elif out_activation == "logistic":
        T = rng.randint(2, size=(n, K)).astype(float)
    elif out_activation == "identity":
        T = rng.normal(size=(n, K))
    else:  # counts, zeros included
        T = rng.poisson(1.5, size=(n, K)).astype(float)
    sample_weight = rng.uniform(0.2, 2.0, size=n)
    params = glorot_uniform(units, rng, np.float64)
    # non-zero biases: no pre-activation should sit exactly on a kink
    params[-sum(units[1:]) :] = rng.normal(scale=0.3, size=sum(units[1:]))
    return X, T, sample_weight, params


def numeric_gradient(loss, params: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    grad = np.empty_like(params)
    for j in range(params.size):
        saved = params[j]
        params[j] = saved + eps
        plus = loss(params)
        params[j] = saved - eps
        minus = loss(params)
        params[j] = saved
        grad[j] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


def gradient_error(
    activation,
    out_activation,
    sample_weight,
    alpha,
    X,
    T,
    params,
    units=UNITS,
    dropout_masks=None,
    ws=None,
):
    """Relative error of backprop's gradient against finite differences."""
    ws = Workspace(units, X.shape[0], np.float64) if ws is None else ws

    def loss(theta):
        return loss_and_gradient(
            theta,
            units,
            X,
            T,
            sample_weight,
            activation,
            out_activation,
            alpha,
            ws,
            dropout_masks=dropout_masks,
        )

    loss(params)
    analytic = ws.grad.copy()
    return relative_error(analytic, numeric_gradient(loss, params))


# Centered differences with eps = 1e-6 in float64 agree with a right gradient
# to about 1e-9 (truncation ~eps^2, rounding ~1e-16/eps); a wrong derivative
# gives errors of 1e-2 and more.
TOLERANCE = 1e-6


@pytest.mark.parametrize("alpha", [0.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("out_activation", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATION_SPECS, ids=spec_id)
def test_gradient_matches_finite_differences(
    activation, out_activation, weighted, alpha
):
    X, T, sw, params = make_problem(out_activation, seed=0)
    error = gradient_error(
        activation, out_activation, sw if weighted else None, alpha, X, T, params
    )
    assert error < TOLERANCE


@pytest.mark.parametrize("out_activation", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATION_SPECS, ids=spec_id)
@pytest.mark.parametrize("seed", range(3))
def test_gradient_with_dropout_matches_finite_differences(
    activation, out_activation, seed
):
    # A fixed mask makes the loss a deterministic function of the weights,
    # which finite differences can check; one layer dropped, one not, too.
    X, T, sw, params = make_problem(out_activation, seed)
    rng = np.random.RandomState(seed)
    for rates in ([0.5, 0.3], [0.0, 0.4]):
        masks = draw_dropout_masks(rng, X.shape[0], rates, UNITS[1:-1])
        error = gradient_error(
            activation, out_activation, sw, 0.1, X, T, params, dropout_masks=masks
        )
        assert error < TOLERANCE


@pytest.mark.parametrize(
    "activation", ["relu", "logistic", "gelu", CUSTOM], ids=spec_id
)
def test_gradient_of_a_deeper_net_with_sparse_input(activation):
    units = [6, 5, 4, 3, 2]
    X, T, sw, params = make_problem("softmax", seed=3, n=9, units=units)
    X[np.abs(X) < 0.8] = 0
    masks = draw_dropout_masks(
        np.random.RandomState(0), 9, [0.2, 0.5, 0.3], units[1:-1]
    )
    for Xs in (X, sp.csr_matrix(X)):
        error = gradient_error(
            activation, "softmax", sw, 0.3, Xs, T, params, units, dropout_masks=masks
        )
        assert error < TOLERANCE


def test_a_wrong_derivative_is_detected():
    wrong = (np.tanh, lambda Z: 1 - np.tanh(Z))  # forgot the square
    X, T, sw, params = make_problem("softmax", seed=0)
    assert gradient_error("tanh", "softmax", sw, 0.0, X, T, params) < TOLERANCE
    assert gradient_error(wrong, "softmax", sw, 0.0, X, T, params) > 1e-2


@pytest.mark.parametrize("activation", ACTIVATION_SPECS, ids=spec_id)
def test_prepared_workspace_gives_the_same_result(activation):
    # Workspace(activation=..., dropout=True) allocates up front what
    # loss_and_gradient otherwise allocates on first use
    X, T, sw, params = make_problem("identity", seed=5)
    n = X.shape[0]
    masks = draw_dropout_masks(np.random.RandomState(1), n, [0.5, 0.5], UNITS[1:-1])
    plain = Workspace(UNITS, n, np.float64)
    loss_plain = loss_and_gradient(
        params, UNITS, X, T, sw, activation, "identity", 0.1, plain, dropout_masks=masks
    )
    ready = Workspace(UNITS, 2 * n, np.float64, activation=activation, dropout=True)
    assert ready.derivative_inputs is not None and ready.dropout_masks is not None
    loss_ready = loss_and_gradient(
        params, UNITS, X, T, sw, activation, "identity", 0.1, ready, dropout_masks=masks
    )
    assert loss_ready == loss_plain
    np.testing.assert_array_equal(ready.grad, plain.grad)


def test_workspace_allocates_only_what_is_needed():
    ws = Workspace(UNITS, 8, np.float32)
    assert ws.derivative_inputs is None and ws.dropout_masks is None
    ws = Workspace(UNITS, 8, np.float32, activation="relu")
    assert ws.derivative_inputs is None
    for activation in ("gelu", CUSTOM, get_activation(CUSTOM)):
        ws = Workspace(UNITS, 8, np.float32, activation=activation)
        assert [k.shape for k in ws.derivative_inputs] == [(8, 5), (8, 3)]
        assert all(k.dtype == np.float32 for k in ws.derivative_inputs)
        assert ws.dropout_masks is None
    ws = Workspace(UNITS, 8, np.float32, dropout=True)
    assert [M.shape for M in ws.dropout_masks] == [(8, 5), (8, 3)]


# --- dropout ------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATION_SPECS, ids=spec_id)
@pytest.mark.parametrize("out_activation", OUTPUTS)
def test_dropout_rate_zero_is_exactly_no_dropout(activation, out_activation):
    X, T, sw, params = make_problem(out_activation, seed=1)
    n = X.shape[0]
    results = []
    for rates in (None, [0.0, 0.0]):
        ws = Workspace(UNITS, n, np.float64)
        masks = None
        if rates is not None:
            masks = draw_dropout_masks(np.random.RandomState(0), n, rates, ws)
            assert masks == [None, None]
        loss = loss_and_gradient(
            params, UNITS, X, T, sw, activation, out_activation, 0.2, ws,
            dropout_masks=masks,
        )  # fmt: skip
        results.append((loss, ws.grad.copy(), ws.activations[-1].copy()))
    (loss0, grad0, P0), (loss1, grad1, P1) = results
    assert loss0 == loss1
    np.testing.assert_array_equal(grad0, grad1)
    np.testing.assert_array_equal(P0, P1)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masks_are_inverted_dropout_and_reproducible(seed, dtype):
    rates = [0.5, 0.0, 0.2, 0.9]
    widths = [300, 10, 200, 100]
    masks = draw_dropout_masks(np.random.RandomState(seed), 500, rates, widths, dtype)
    again = draw_dropout_masks(np.random.RandomState(seed), 500, rates, widths, dtype)
    other = draw_dropout_masks(
        np.random.RandomState(seed + 1), 500, rates, widths, dtype
    )
    assert masks[1] is None and again[1] is None
    for p, w, M, M2, M3 in zip(rates, widths, masks, again, other):
        if p == 0:
            continue
        assert M.shape == (500, w) and M.dtype == dtype
        np.testing.assert_array_equal(M, M2)
        assert not np.array_equal(M, M3)
        scale = dtype(1 / (1 - p))
        assert set(np.unique(M)) <= {0, scale}
        # 500 * w draws of a Bernoulli(1 - p): the kept fraction's standard
        # deviation is at most 0.5 / sqrt(500 * 100) = 0.0022; allow 5 of them
        assert abs((M > 0).mean() - (1 - p)) < 0.012
        # inverted dropout: every unit keeps its expected output
        assert abs(M.mean() - 1) < 0.012 / (1 - p)


def test_masks_into_a_workspace_equal_new_arrays():
    ws = Workspace(UNITS, 10, np.float32, dropout=True)
    into = draw_dropout_masks(np.random.RandomState(3), 6, [0.5, 0.25], ws)
    new = draw_dropout_masks(
        np.random.RandomState(3), 6, [0.5, 0.25], UNITS[1:-1], np.float32
    )
    for M, M_new, buffer in zip(into, new, ws.dropout_masks):
        assert M.shape == (6, M_new.shape[1]) and np.shares_memory(M, buffer)
        np.testing.assert_array_equal(M, M_new)
    # a workspace made without dropout gets its buffers on first use
    ws = Workspace(UNITS, 10, np.float32)
    masks = draw_dropout_masks(np.random.RandomState(3), 6, [0.5, 0.25], ws)
    assert ws.dropout_masks is not None
    np.testing.assert_array_equal(masks[0], new[0])


def test_wrong_number_of_rates():
    with pytest.raises(ValueError, match=r"^dropout needs one rate per hidden layer"):
        draw_dropout_masks(np.random.RandomState(0), 4, [0.5], UNITS[1:-1])


@pytest.mark.parametrize("activation", ["logistic", "softplus", "gelu"])
def test_forward_masks_the_activation_and_keeps_what_the_derivative_needs(
    activation,
):
    X, T, sw, params = make_problem("softmax", seed=2)
    n = X.shape[0]
    coefs, intercepts = _network.split_parameters(params, UNITS)
    masks = draw_dropout_masks(np.random.RandomState(0), n, [0.5, 0.5], UNITS[1:-1])
    plain = [X] + [np.empty((n, u)) for u in UNITS[1:]]
    forward(X, coefs, intercepts, activation, plain)
    dropped = [X] + [np.empty((n, u)) for u in UNITS[1:]]
    kept = [np.empty((n, u)) for u in UNITS[1:-1]]
    forward(
        X, coefs, intercepts, activation, dropped,
        derivative_inputs=kept, dropout_masks=masks,
    )  # fmt: skip
    # layer 1 sees the same input both times: A_1 = f(Z_1) * M_1
    np.testing.assert_array_equal(dropped[1], plain[1] * masks[0])
    if activation == "gelu":  # f' reads Z_1 = X W_1 + b_1
        np.testing.assert_allclose(kept[0], X @ coefs[0] + intercepts[0], rtol=1e-14)
    else:  # f' reads the un-masked f(Z_1)
        np.testing.assert_array_equal(kept[0], plain[1])


def test_no_mask_at_predict_time_keeps_the_expected_output():
    # Inverted dropout: averaged over masks, a hidden unit's output is its
    # output without dropout, so prediction needs no rescaling.
    X, T, sw, params = make_problem("identity", seed=4, n=3)
    coefs, intercepts = _network.split_parameters(params, UNITS)
    H = np.maximum(X @ coefs[0] + intercepts[0], 0)
    rng = np.random.RandomState(0)
    total = np.zeros_like(H)
    for _ in range(2000):
        (M,) = draw_dropout_masks(rng, 3, [0.5], [5])
        total += H * M
    np.testing.assert_allclose(total / 2000, H, rtol=0.1, atol=1e-12)


# --- the losses -----------------------------------------------------------------


def test_loss_dict_and_its_old_name():
    assert set(LOSSES) == set(OUTPUTS)
    assert CROSS_ENTROPY["softmax"] is _network.softmax_cross_entropy
    assert CROSS_ENTROPY["logistic"] is _network.sigmoid_cross_entropy


def logits_and_targets(out_activation, seed, K=3, n=20):
    _, T, _, _ = make_problem(out_activation, seed, n=n, units=[1, K])
    Z = np.random.RandomState(seed).normal(scale=2, size=(n, K))
    return Z, T


@pytest.mark.parametrize("seed", range(5))
def test_each_loss_against_its_textbook_formula(seed):
    Z, T = logits_and_targets("softmax", seed)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    expected = {"softmax": -(T * np.log(P)).sum(axis=1)}
    Zl, Tl = logits_and_targets("logistic", seed)
    Pl = 1 / (1 + np.exp(-Zl))
    expected["logistic"] = -(Tl * np.log(Pl) + (1 - Tl) * np.log(1 - Pl)).sum(axis=1)
    Zi, Ti = logits_and_targets("identity", seed)
    expected["identity"] = 0.5 * ((Zi - Ti) ** 2).sum(axis=1)
    Ze, Te = logits_and_targets("exp", seed)
    Pe = np.exp(Ze)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_log_t = np.where(Te > 0, Te * np.log(Te), 0)
    expected["exp"] = (t_log_t - Te * Ze - Te + Pe).sum(axis=1)
    predictions = {"softmax": P, "logistic": Pl, "identity": Zi, "exp": Pe}
    inputs = {"softmax": (Z, T), "logistic": (Zl, Tl), "identity": (Zi, Ti)}
    inputs["exp"] = (Ze, Te)
    for name, (Zn, Tn) in inputs.items():
        out = Zn.copy()
        per_sample = LOSSES[name](out, Tn)
        assert per_sample.shape == (Zn.shape[0],)
        np.testing.assert_allclose(per_sample, expected[name], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out, predictions[name], rtol=1e-14)


def test_softmax_loss_uses_the_softmax_of_the_output_layer():
    # One softmax in the code: the cross-entropy's P is the predicted P.
    from skmlp._activations import OUTPUT_ACTIVATIONS

    Z, T = logits_and_targets("softmax", 0)
    P_loss, P_out = Z.copy(), Z.copy()
    LOSSES["softmax"](P_loss, T)
    OUTPUT_ACTIVATIONS["softmax"](P_out)
    np.testing.assert_array_equal(P_loss, P_out)


def test_losses_do_not_overflow_on_huge_logits():
    Z = np.array([[800.0, -800.0, 0.0]])
    T = np.array([[0.0, 1.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert LOSSES["softmax"](Z.copy(), T)[0] == pytest.approx(1600)
        assert LOSSES["logistic"](Z.copy(), T)[0] == pytest.approx(1600 + np.log(2))


def regression_loss(out_activation, T, Z, sw=None):
    """skmlp's loss at alpha = 0 for output logits Z (a 0-hidden-layer net)."""
    n, K = Z.shape
    # a net without hidden layers and X = identity, so Z_L = W (+ b = 0)
    units = [n, K]
    params = np.concatenate([Z.ravel(), np.zeros(K)])
    ws = Workspace(units, n, np.float64)
    return loss_and_gradient(
        params, units, np.eye(n), T, sw, "relu", out_activation, 0.0, ws
    )


def sklearn_loss(name: str):
    """scikit-learn's private loss function, where this version has it with
    sample weights (1.7 and newer); the tests that compare with it skip
    otherwise (only the oldest-versions pass of CI runs such a version)."""
    import inspect

    function = getattr(sklearn_losses, name, None)
    if (
        function is None
        or "sample_weight" not in inspect.signature(function).parameters
    ):
        pytest.skip(f"this scikit-learn has no {name} with sample weights")
    return function


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("weighted", [False, True])
def test_poisson_loss_equals_scikit_learns(seed, weighted):
    rng = np.random.RandomState(seed)
    T = rng.poisson(2.0, size=(30, 1)).astype(float)  # zeros included
    Z = rng.normal(size=(30, 1))
    sw = rng.uniform(0.1, 3, size=30) if weighted else None
    ours = regression_loss("exp", T, Z, sw)
    assert ours == pytest.approx(
        sklearn_loss("poisson_loss")(T, np.exp(Z), sw), rel=1e-12
    )


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_squared_error_is_n_outputs_times_scikit_learns(K, weighted):
    rng = np.random.RandomState(K)
    T = rng.normal(size=(25, K))
    Z = rng.normal(size=(25, K))
    sw = rng.uniform(0.1, 3, size=25) if weighted else None
    ours = regression_loss("identity", T, Z, sw)
    # scikit-learn averages over the outputs what its gradient sums over
    reference = sklearn_loss("squared_loss")(T, Z, sw)
    assert ours == pytest.approx(K * reference, rel=1e-12)


@pytest.mark.parametrize("out_activation", ["identity", "exp"])
def test_regression_gradients_equal_scikit_learns_backprop(out_activation):
    # Same gradient, so the same training dynamics as MLPRegressor's (its
    # private _backprop; skipped if that changes).
    from sklearn.neural_network import MLPRegressor

    loss = "poisson" if out_activation == "exp" else "squared_error"
    X, T, sw, params = make_problem(out_activation, seed=6)
    reg = MLPRegressor(hidden_layer_sizes=UNITS[1:-1], activation="tanh", alpha=0.3)
    reg.loss = loss
    reg.out_activation_ = out_activation
    reg.n_layers_ = len(UNITS)
    coefs, intercepts = _network.split_parameters(params, UNITS)
    reg.coefs_ = [W.copy() for W in coefs]
    reg.intercepts_ = [b.copy() for b in intercepts]
    n = X.shape[0]
    try:
        sk_loss, sk_W, sk_b = reg._backprop(
            X, T, sw,
            [X] + [np.empty((n, u)) for u in UNITS[1:]],
            [np.empty((n, u)) for u in UNITS[1:]],
            [np.empty_like(W) for W in coefs],
            [np.empty_like(b) for b in intercepts],
        )  # fmt: skip
    except (AttributeError, TypeError) as exc:  # pragma: no cover
        pytest.skip(f"scikit-learn's private _backprop changed: {exc}")
    ws = Workspace(UNITS, n, np.float64)
    ours = loss_and_gradient(params, UNITS, X, T, sw, "tanh", out_activation, 0.3, ws)
    for ours_g, sk_g in zip(ws.grad_coefs + ws.grad_intercepts, sk_W + sk_b):
        np.testing.assert_allclose(ours_g, sk_g, rtol=1e-12, atol=1e-15)
    if out_activation == "exp":
        assert ours == pytest.approx(sk_loss, rel=1e-12)
    else:  # scikit-learn's loss averages the 3 outputs; its L2 term does not
        l2 = 0.5 * 0.3 * sum(float((W**2).sum()) for W in coefs) / sw.sum()
        assert ours - l2 == pytest.approx(3 * (sk_loss - l2), rel=1e-12)


# --- float32 and the activation's forms ---------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATION_SPECS, ids=spec_id)
def test_float32_agrees_with_float64(activation):
    X, T, sw, params = make_problem("softmax", seed=7, n=32)
    n = X.shape[0]
    results = {}
    for dtype in (np.float32, np.float64):
        ws = Workspace(UNITS, n, dtype, activation=activation, dropout=True)
        masks = draw_dropout_masks(np.random.RandomState(0), n, [0.3, 0.3], ws)
        loss = loss_and_gradient(
            params.astype(dtype), UNITS, X.astype(dtype), T.astype(dtype),
            sw.astype(dtype), activation, "softmax", 0.1, ws, dropout_masks=masks,
        )  # fmt: skip
        assert ws.grad.dtype == dtype
        results[dtype] = (loss, ws.grad.astype(np.float64))
    (loss32, grad32), (loss64, grad64) = results[np.float32], results[np.float64]
    # a handful of float32 roundings (2**-24 each) per entry
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    assert relative_error(grad32, grad64) < 1e-5


def test_name_pair_and_activation_give_the_same_pass():
    X, T, sw, params = make_problem("identity", seed=8)
    pair = (np.tanh, lambda Z: 1 - np.tanh(Z) ** 2)
    grads = []
    for spec in ("tanh", pair, get_activation("tanh"), get_activation(pair)):
        ws = Workspace(UNITS, X.shape[0], np.float64)
        loss_and_gradient(params, UNITS, X, T, sw, spec, "identity", 0.1, ws)
        grads.append(ws.grad.copy())
    for grad in grads[1:]:
        np.testing.assert_allclose(grad, grads[0], rtol=1e-13, atol=1e-16)


def test_workspace_keeps_the_views_of_one_parameter_vector():
    """loss_and_gradient takes the views of the vector it is given, made
    again for a new vector (or new layer sizes), never one left over."""
    units = [3, 4, 2]
    ws = Workspace(units, 5, np.float64)
    first = np.arange(sum(_network.n_parameters(units)), dtype=np.float64)
    coefs, intercepts, n_coef = ws.parameter_views(first, units)
    assert n_coef == 3 * 4 + 4 * 2 and coefs[1].base is first
    assert ws.parameter_views(first, tuple(units))[0] is coefs  # kept
    second = first.copy()
    coefs2, _, _ = ws.parameter_views(second, units)
    assert coefs2[0].base is second and np.shares_memory(coefs2[0], second)
    assert not np.shares_memory(coefs2[0], first)
    other = np.zeros(sum(_network.n_parameters([3, 2, 2])))
    assert ws.parameter_views(other, [3, 2, 2])[0][0].shape == (3, 2)


@pytest.mark.parametrize("out_activation", OUTPUTS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l2_gradient", [True, False])
@pytest.mark.parametrize("dropout", [False, True])
def test_gradient_scale_scales_the_gradient_not_the_loss(
    out_activation, weighted, l2_gradient, dropout
):
    """SGD asks for ``lr * g`` (gradient_scale=lr, taken on the output delta):
    every gradient is linear in that delta, so each entry is ``lr`` times the
    unscaled one up to rounding, the L2 term included; the loss and the
    reported loss are the unscaled ones, bit for bit. Scale 1 is the plain
    pass, bit for bit."""
    X, T, sw, params = make_problem(out_activation, seed=11)
    sw = sw if weighted else None
    masks = None
    if dropout:
        rng = np.random.RandomState(2)
        masks = draw_dropout_masks(rng, X.shape[0], [0.3, 0.3], UNITS[1:-1])
    results = {}
    for scale in (1.0, None, 0.037):
        ws = Workspace(UNITS, X.shape[0], np.float64)
        kwargs = {} if scale is None else {"gradient_scale": scale}
        loss = loss_and_gradient(
            params, UNITS, X, T, sw, "tanh", out_activation, 0.3, ws,
            dropout_masks=masks, l2_gradient=l2_gradient, **kwargs,
        )  # fmt: skip
        results[scale] = (loss, ws.reported_loss, ws.grad.copy())
    loss, reported, grad = results[None]
    assert results[1.0][:2] == (loss, reported)
    np.testing.assert_array_equal(results[1.0][2], grad)
    scaled_loss, scaled_reported, scaled = results[0.037]
    assert (scaled_loss, scaled_reported) == (loss, reported)
    # Each entry is a sum of a few products, rounded a few dozen times on
    # each side: off by some 1e-16 of the largest entry (6e-16 at worst over
    # 1,200 problems; relative to an entry that cancels, up to 2e-11).
    largest = np.abs(grad).max()
    assert largest > 1e-3  # a gradient to compare
    np.testing.assert_allclose(scaled, 0.037 * grad, rtol=0, atol=1e-13 * largest)

"""The hidden activations, their derivatives, and the custom-pair interface."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.special import erf, logsumexp

from skmlp import _activations
from skmlp._activations import (
    ACTIVATION_NAMES,
    ACTIVATIONS,
    DERIVATIVES,
    NEEDS_INPUT,
    Activation,
    check_activation,
    get_activation,
    softmax,
)

# float64 reference formulas, written the obvious way
REFERENCE = {
    "identity": lambda z: z,
    "logistic": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.where(z > 0, z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.exp(z) - 1),
    "gelu": lambda z: 0.5 * z * (1 + erf(z / np.sqrt(2))),
    "softplus": lambda z: np.log(1 + np.exp(z)),
}


def scaled_tanh(Z):
    """LeCun's 1.7159 tanh(2z/3): a custom activation for the tests."""
    return 1.7159 * np.tanh(2 * Z / 3)


def scaled_tanh_derivative(Z):
    return 1.7159 * 2 / 3 * (1 - np.tanh(2 * Z / 3) ** 2)


CUSTOM = (scaled_tanh, scaled_tanh_derivative)


def sample_inputs(seed: int) -> np.ndarray:
    """(6, 7) pre-activations in [-4, 4], none within 0.05 of relu's kink."""
    rng = np.random.RandomState(seed)
    Z = rng.uniform(0.05, 4, size=(6, 7))
    return Z * rng.choice([-1, 1], size=Z.shape)


def apply(spec, Z: np.ndarray) -> np.ndarray:
    out = Z.copy()
    get_activation(spec).forward(out)
    return out


def derivative(spec, Z: np.ndarray) -> np.ndarray:
    """f'(Z) through the Activation's interface: delta = 1 times f'."""
    act = get_activation(spec)
    delta = np.ones_like(Z)
    act.derivative(Z if act.needs_input else apply(spec, Z), delta)
    return delta


def test_the_eight_built_ins():
    assert ACTIVATION_NAMES == set(REFERENCE)
    assert set(ACTIVATIONS) == set(DERIVATIVES) == ACTIVATION_NAMES
    assert NEEDS_INPUT == {"gelu"}


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("seed", range(5))
def test_forward_matches_the_formula(name, seed):
    Z = sample_inputs(seed)
    np.testing.assert_allclose(
        apply(name, Z), REFERENCE[name](Z), rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize("spec", sorted(REFERENCE) + [CUSTOM], ids=str)
@pytest.mark.parametrize("seed", range(5))
def test_derivative_matches_centered_differences(spec, seed):
    Z = sample_inputs(seed)
    eps = 1e-6
    numeric = (apply(spec, Z + eps) - apply(spec, Z - eps)) / (2 * eps)
    # centered differences err by O(eps^2 f''') plus rounding O(1e-16 / eps)
    np.testing.assert_allclose(derivative(spec, Z), numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_float32_stays_float32_and_close_to_float64(name):
    Z = sample_inputs(0)
    Z32 = Z.astype(np.float32)
    A32 = apply(name, Z32)
    assert A32.dtype == np.float32
    # float32 has 24 bits: a few ulps of rounding per operation
    np.testing.assert_allclose(A32, apply(name, Z), rtol=1e-5, atol=1e-6)
    D32 = derivative(name, Z32)
    assert D32.dtype == np.float32
    np.testing.assert_allclose(D32, derivative(name, Z), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_overflow_for_huge_inputs(name, dtype):
    Z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        A = apply(name, Z)
        D = derivative(name, Z)
    assert np.isfinite(A).all() and np.isfinite(D).all()


def test_limits_of_the_new_activations():
    Z = np.array([[-1e4, -50.0, 50.0, 1e4]])
    np.testing.assert_allclose(apply("softplus", Z), [[0, np.exp(-50), 50, 1e4]])
    np.testing.assert_allclose(apply("elu", Z), [[-1, np.expm1(-50), 50, 1e4]])
    np.testing.assert_allclose(apply("gelu", Z), [[0, 0, 50, 1e4]], atol=1e-300)
    np.testing.assert_allclose(
        apply("leaky_relu", Z), [[-100, -0.5, 50, 1e4]], rtol=1e-15
    )
    # softplus's derivative, sigmoid(z), from a tiny a = log(1 + e^z)
    np.testing.assert_allclose(derivative("softplus", Z), [[0, np.exp(-50), 1, 1]])
    # the derivatives at the kinks: relu and leaky_relu take the left side
    # (scikit-learn's convention), elu's and gelu's are continuous there
    zero = np.zeros((1, 1))
    assert derivative("relu", zero)[0, 0] == 0
    assert derivative("leaky_relu", zero)[0, 0] == pytest.approx(0.01)
    assert derivative("elu", zero)[0, 0] == 1
    assert derivative("gelu", zero)[0, 0] == 0.5


def test_get_activation():
    for name in ACTIVATION_NAMES:
        act = get_activation(name)
        assert act.name == name and act.needs_input == (name == "gelu")
    act = get_activation(CUSTOM)
    assert act.name == "custom" and act.needs_input
    assert get_activation(list(CUSTOM)).name == "custom"
    assert get_activation(act) is act


def test_get_activation_sees_a_patched_derivative(monkeypatch):
    # examples/gradient_check.py breaks tanh's derivative this way
    def broken(A, delta):
        delta *= 1 - A

    monkeypatch.setitem(_activations.DERIVATIVES, "tanh", broken)
    assert get_activation("tanh").derivative is broken


@pytest.mark.parametrize(
    "spec",
    [
        "swish",
        "",
        None,
        3,
        np.tanh,
        (np.tanh,),
        (np.tanh, np.tanh, np.tanh),
        ("a", "b"),
    ],
    ids=repr,
)
def test_invalid_specs_list_the_valid_names(spec):
    for call in (get_activation, check_activation):
        with pytest.raises(ValueError, match=r"^activation must be one of") as info:
            call(spec)
        message = str(info.value)
        assert all(repr(name) in message for name in ACTIVATION_NAMES)
        assert "(function, derivative)" in message


def raises(Z):
    raise RuntimeError("boom")


def reduces(Z):
    return Z.sum(axis=1)


def logarithm(Z):
    return np.log(Z)  # -inf and nan on the sample's 0 and negatives


def returns_nothing(Z):
    np.tanh(Z, out=Z)


def returns_text(Z):
    return np.full(Z.shape, "x")


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ((raises, np.cos), r"activation function .* raised RuntimeError .*boom"),
        ((np.sin, raises), r"activation derivative .* raised RuntimeError .*boom"),
        ((reduces, np.cos), r"activation function .* shape \(2,\) .* \(2, 3\)"),
        ((np.sin, returns_nothing), r"activation derivative .* shape \(\) "),
        ((np.sin, returns_text), r"activation derivative .* not an array of numbers"),
        ((logarithm, np.cos), r"activation function .* non-finite"),
    ],
)
def test_check_activation_says_what_is_wrong(pair, message):
    with np.errstate(all="ignore"), pytest.raises(ValueError, match=message):
        check_activation(pair)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_activation_accepts_good_specs(dtype):
    for spec in [*ACTIVATION_NAMES, CUSTOM, (np.sin, np.cos), get_activation("relu")]:
        check_activation(spec, dtype)


def test_check_activation_calls_the_pair_on_a_copy():
    seen = []

    def in_place(Z):
        seen.append(Z)
        return np.tanh(Z, out=Z)  # works in place, and returns its input

    check_activation((in_place, in_place), np.float32)
    assert len(seen) == 2 and all(Z.dtype == np.float32 for Z in seen)
    assert seen[0] is not seen[1]


def test_activation_of_importable_functions_pickles():
    for spec in ["gelu", CUSTOM]:
        act = pickle.loads(pickle.dumps(get_activation(spec)))
        assert isinstance(act, Activation)
        Z = sample_inputs(1)
        np.testing.assert_array_equal(apply(act, Z), apply(spec, Z))
        np.testing.assert_array_equal(derivative(act, Z), derivative(spec, Z))


def test_custom_pair_equal_to_the_built_in_it_copies():
    pair = (np.tanh, lambda Z: 1 - np.tanh(Z) ** 2)
    Z = sample_inputs(2)
    np.testing.assert_allclose(apply(pair, Z), apply("tanh", Z), rtol=1e-15)
    np.testing.assert_allclose(derivative(pair, Z), derivative("tanh", Z), rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_returns_the_log_normaliser(dtype):
    Z = np.array([[1000.0, 999.0, -1000.0], [0.0, 0.0, 0.0], [-5.0, 2.0, 3.0]])
    P = Z.astype(dtype)
    with np.errstate(over="raise", invalid="raise"):
        log_norm = softmax(P)
    assert P.dtype == dtype
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(P, np.exp(Z - logsumexp(Z, axis=1)[:, None]), rtol=1e-6)
    np.testing.assert_allclose(log_norm, logsumexp(Z, axis=1), rtol=1e-6)


# --- the fast paths: the same numbers as the plain NumPy calls -------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (7, 5), (200, 100)])
def test_relu_family_matches_maximum_with_a_scalar(dtype, shape):
    """relu, elu and softplus take max(z, 0) against cached zeros: the same
    numbers as with the scalar 0, infinities and signed zeros bit for bit, NaN
    where NaN. Not a NaN's sign bit: IEEE 754 leaves it unspecified, and on
    the CI's CPU NumPy 1.24's loops set it for softplus's NaN on one path and
    not on the other (issue 20's CI run)."""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal(shape).astype(dtype) * 50
    if Z.size >= 6:
        Z.flat[:6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, -1e-45]
    for name in ("relu", "elu", "softplus"):
        A = Z.copy()
        ACTIVATIONS[name](A)
        plain = Z.copy()
        with np.errstate(all="ignore"):
            if name == "relu":
                np.maximum(plain, 0, out=plain)
            else:  # the same formula with the scalar 0
                monkey = _activations.zeros_for
                try:
                    _activations.zeros_for = lambda Z: 0
                    ACTIVATIONS[name](plain)
                finally:
                    _activations.zeros_for = monkey
        np.testing.assert_array_equal(A, plain, strict=True)  # NaN where NaN
        number = ~np.isnan(plain)
        assert np.array_equal(np.signbit(A[number]), np.signbit(plain[number]))


def test_zeros_for_gives_read_only_zeros_or_the_scalar():
    Z = np.ones((3, 4), dtype=np.float32)
    zeros = _activations.zeros_for(Z)
    assert zeros.shape == Z.shape and zeros.dtype == Z.dtype and not zeros.any()
    assert not zeros.flags.writeable  # shared between calls: never written
    bigger = np.ones((300, 400))  # grows the float64 vector
    assert not _activations.zeros_for(bigger).any()
    assert _activations.zeros_for(np.ones((4, 3)).T) == 0  # not C-contiguous
    huge = np.broadcast_to(np.float32(1), (_activations.ZEROS_MAX + 1,))
    assert _activations.zeros_for(huge) == 0
    assert _activations.zeros_for([[1.0]]) == 0  # not an ndarray


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (5, 1), (9, 10), (200, 3)])
def test_row_max_is_the_max_of_each_row(dtype, shape):
    from skmlp._array_api import row_max

    rng = np.random.default_rng(1)
    Z = rng.standard_normal(shape).astype(dtype)
    if Z.shape[0] >= 3 and Z.shape[1] >= 2:
        Z[0, 1] = np.nan  # a row with a NaN: its max is NaN
        Z[1, :] = -np.inf
        Z[2, -1] = np.inf
    for array in (Z, np.asfortranarray(Z), Z[::-1]):
        got = row_max(array)
        np.testing.assert_array_equal(got, np.max(array, axis=1), strict=True)

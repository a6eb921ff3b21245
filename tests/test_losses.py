"""The regressor's losses beyond squared error, Monte-Carlo dropout, and the
regressor defects of issue 18 (B5, B6, C6).

Losses: absolute error, Huber, quantile (one level, or several that never
cross), a custom (function, gradient) pair. Each is checked against its
textbook formula (scikit-learn's metrics where they exist), its gradient
against centered finite differences in float64, and with the options it
must meet: sample weights, float32, every solver, early stopping, warm
starts and partial_fit, sparse X, dropout, multi-output, pickling, skops,
ONNX.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _gradient_bound import ULPS, assert_gradients_agree
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_absolute_error, mean_pinball_loss
from sklearn.neural_network import MLPRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skmlp import NumpyMLPRegressor, _losses, _network, check_gradients
from skmlp._warnings import DivergenceWarning

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def log_cosh(y_true, y_pred):
    """A smooth robust loss: ~r**2/2 near 0, ~|r| far out. Module-level: pickles."""
    return np.log(np.cosh(y_pred - y_true))


def log_cosh_gradient(y_true, y_pred):
    return np.tanh(y_pred - y_true)


def log_cosh_wrong_gradient(y_true, y_pred):
    return 2 * np.tanh(y_pred - y_true)  # a factor too many


LOG_COSH = (log_cosh, log_cosh_gradient)

# Every loss configuration this file checks: (name, parameters).
LOSSES = {
    "absolute_error": dict(loss="absolute_error"),
    "huber": dict(loss="huber", huber_threshold=0.5),
    "quantile_one": dict(loss="quantile", quantile=0.8),
    "quantile_three": dict(loss="quantile", quantile=[0.1, 0.5, 0.9]),
    "custom": dict(loss=LOG_COSH),
}


def heteroscedastic(n, seed):
    """y = x sin x + noise whose scale grows with x, x in [0, 10]."""
    rng = np.random.RandomState(seed)
    x = rng.uniform(0, 10, size=n)
    y = x * np.sin(x) + rng.normal(scale=0.2 + 0.3 * x)
    return x[:, None] / 5 - 1, y / 3  # inputs and targets of order 1


def small_problem(seed=0, n=40, n_targets=1):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4)
    Y = np.column_stack([X[:, 0] - X[:, 1] ** 2, np.sin(X[:, 2])])[:, :n_targets]
    Y = Y + 0.3 * rng.randn(n, n_targets)
    return X, Y.ravel() if n_targets == 1 else Y


def fit_quietly(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


# --- the losses and their deltas, as functions --------------------------------


def loss_object(name, n_targets=1):
    params = dict(LOSSES[name])
    spec = params.pop("loss")
    return _losses.regression_loss(spec, n_targets=n_targets, **params)


def columns(name, n_targets):
    params = LOSSES[name]
    if params["loss"] != "quantile":
        return n_targets
    return n_targets * len(np.atleast_1d(params["quantile"]))


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("seed", range(5))
def test_each_delta_is_the_derivative_of_its_loss(name, n_targets, seed):
    # d(sum_i loss_i)/dZ against centered differences, straight on the loss
    # functions, in float64. Residuals are drawn away from 0 (the kinks of
    # |r| and of the pinball loss) by more than the step.
    rng = np.random.RandomState(seed)
    loss = loss_object(name, n_targets)
    K = columns(name, n_targets)
    n_quantiles = K // n_targets
    Z = rng.normal(scale=2, size=(7, K))
    T = np.repeat(rng.normal(scale=2, size=(7, n_targets)), n_quantiles, axis=1)

    def total(Z_):
        return loss.forward(Z_.copy(), T)[0].sum()

    P = Z.copy()
    _, cache = loss.forward(P, T)
    assert np.abs(P - T).min() > 1e-4  # no finite difference straddles a kink
    delta = np.empty_like(Z)
    loss.backward(P, T, cache, delta)
    numeric = np.empty_like(Z)
    eps = 1e-6
    for index in np.ndindex(Z.shape):
        step = np.zeros_like(Z)
        step[index] = eps
        numeric[index] = (total(Z + step) - total(Z - step)) / (2 * eps)
    # centered differences: truncation eps**2 / 6 |f'''| (relative 1e-6 at
    # most here), plus round-off of ULPS ulps of the sum per evaluation,
    # divided by eps (the argument of tests/_gradient_bound.py)
    roundoff = ULPS * np.finfo(np.float64).eps * abs(total(Z)) / eps
    np.testing.assert_allclose(delta, numeric, rtol=1e-6, atol=roundoff)


@pytest.mark.parametrize("seed", range(5))
def test_losses_against_their_textbook_formulas(seed):
    rng = np.random.RandomState(seed)
    P, T = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    absolute = _losses.regression_loss("absolute_error").forward(P.copy(), T)[0]
    assert absolute.mean() == pytest.approx(mean_absolute_error(T, P), rel=1e-12)
    huber = _losses.regression_loss("huber", huber_threshold=0.7)
    r = np.abs(P - T)
    expected = np.where(r <= 0.7, r**2 / 2, 0.7 * r - 0.7**2 / 2).mean(axis=1)
    np.testing.assert_allclose(huber.forward(P.copy(), T)[0], expected, rtol=1e-12)
    for q in (0.05, 0.5, 0.93):
        pinball = _losses.regression_loss("quantile", quantile=q, n_targets=2)
        ours = pinball.forward(P.copy(), T)[0].mean()
        assert ours == pytest.approx(mean_pinball_loss(T, P, alpha=q), rel=1e-12)
    # half the absolute error at the median
    median = _losses.regression_loss("quantile", quantile=0.5, n_targets=2)
    np.testing.assert_allclose(median.forward(P.copy(), T)[0], absolute / 2)
    # a huge threshold is the squared error (averaged over the outputs)
    wide = _losses.regression_loss("huber", huber_threshold=1e9)
    np.testing.assert_allclose(
        wide.forward(P.copy(), T)[0], 0.5 * ((P - T) ** 2).mean(axis=1), rtol=1e-12
    )


def test_subgradient_at_the_kinks_is_zero():
    T = np.array([[1.0, -2.0, 3.0]])
    for name in ("absolute_error", "quantile"):
        loss = _losses.regression_loss(name, quantile=0.3, n_targets=3)
        delta = np.full((1, 3), np.nan)
        loss.backward(T.copy(), T, None, delta)  # P == T: on the kink
        np.testing.assert_array_equal(delta, 0)


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        np.float64,
        (5, 2 * 4),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    ),
    st.sampled_from([np.float32, np.float64]),
)
def test_noncrossing_outputs_never_decrease(Z, dtype):
    # Any logits, huge ones included, in either precision: each target's
    # quantiles come out in order (adding a non-negative float never
    # decreases a float).
    Z = Z.astype(dtype)
    P = Z.copy()
    with np.errstate(over="ignore"):
        _losses.noncrossing(P, 4)
    P = P.reshape(5, 2, 4)
    assert np.isfinite(P).all()
    assert (np.diff(P, axis=2) >= 0).all()
    np.testing.assert_array_equal(P[:, :, 0], Z.reshape(5, 2, 4)[:, :, 0])


def test_median_weights():
    assert _losses.median_weights([0.5]) == (0, 0, 0.0)
    assert _losses.median_weights([0.9]) == (0, 0, 0.0)  # one level: itself
    assert _losses.median_weights([0.05, 0.5, 0.95]) == (1, 1, 0.0)
    assert _losses.median_weights([0.25, 0.75]) == (0, 1, 0.5)
    i, j, w = _losses.median_weights([0.1, 0.3, 0.9])
    assert (i, j) == (1, 2) and w == pytest.approx(1 / 3)
    assert _losses.median_weights([0.1, 0.2]) == (1, 1, 0.0)  # nearest
    assert _losses.median_weights([0.6, 0.7]) == (0, 0, 0.0)


# --- backprop through the whole network ---------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu"])
@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients(name, activation, n_targets, dtype):
    # Checked after a few epochs, off the kinks of relu and of the losses;
    # check_gradients works in float64 whatever the model's dtype.
    X, Y = small_problem(seed=1, n_targets=n_targets)
    sw = np.arange(len(X)) % 3  # zeros included
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(6, 5),
        activation=activation,
        alpha=0.1,
        max_iter=5,
        learning_rate_init=0.01,
        random_state=0,
        dtype=dtype,
        **LOSSES[name],
    )
    fit_quietly(reg, X, Y, sample_weight=sw)
    result = check_gradients(reg, X, Y, sample_weight=sw)
    assert_gradients_agree(result)  # tests/_gradient_bound.py


@pytest.mark.parametrize("name", ["quantile_three", "absolute_error"])
def test_gradients_with_dropout_and_sparse_input(name):
    X, y = small_problem(seed=2)
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(8,), dropout=0.3, random_state=0, **LOSSES[name]
    )
    result = check_gradients(reg, sp.csr_matrix(X), y, random_state=3)
    assert_gradients_agree(result)  # tests/_gradient_bound.py


def test_loss_is_the_metric_plus_the_penalty():
    # loss_ is the training loss of the final weights (lbfgs), that is the
    # metric of the training predictions plus alpha/2 ||W||^2 / n
    X, y = small_problem(seed=3, n=80)
    pinball_70 = lambda p: mean_pinball_loss(y, p, alpha=0.7)  # noqa: E731
    for params, metric in [
        (dict(loss="absolute_error"), lambda p: mean_absolute_error(y, p)),
        (dict(loss="quantile", quantile=0.7), pinball_70),
    ]:
        reg = NumpyMLPRegressor(
            hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.2, max_iter=30, **params
        )
        fit_quietly(reg, X, y)
        penalty = 0.5 * 0.2 * sum((W**2).sum() for W in reg.coefs_) / len(X)
        assert reg.loss_ == pytest.approx(metric(reg.predict(X)) + penalty, rel=1e-9)
    levels = [0.1, 0.5, 0.9]
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(8,), activation="tanh", loss="quantile", quantile=levels
    )
    fit_quietly(reg.set_params(solver="lbfgs", alpha=0.2, max_iter=30), X, y)
    bands = reg.predict_quantiles(X)
    pinball = np.mean(
        [mean_pinball_loss(y, bands[:, j], alpha=q) for j, q in enumerate(levels)]
    )
    penalty = 0.5 * 0.2 * sum((W**2).sum() for W in reg.coefs_) / len(X)
    assert reg.loss_ == pytest.approx(pinball + penalty, rel=1e-9)


# --- the quantile regressor ---------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_quantiles_cover_their_levels_and_never_cross(seed):
    X, y = heteroscedastic(3000, seed)
    X_test, y_test = heteroscedastic(5000, seed + 100)
    levels = [0.05, 0.5, 0.95]
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(32, 32),
        activation="tanh",
        loss="quantile",
        quantile=levels,
        solver="lbfgs",
        max_iter=300,
        alpha=1e-3,
        random_state=seed,
    )
    fit_quietly(reg, X, y)
    bands = reg.predict_quantiles(X_test)
    assert bands.shape == (5000, 3)
    # never cross: on the test points, and far outside the training range
    assert (np.diff(bands, axis=1) >= 0).all()
    far = reg.predict_quantiles(np.linspace(-1000, 1000, 2001)[:, None])
    assert (np.diff(far, axis=1) >= 0).all()
    # the share of targets below each predicted quantile is its level: the
    # sampling error alone is sqrt(q (1 - q) / 5000) <= 0.007; measured
    # within 0.030 for seeds 0-9 (the fit's own error adds to it)
    below = (y_test[:, None] < bands).mean(axis=0)
    np.testing.assert_allclose(below, levels, atol=0.04)
    # predict is the fitted median
    np.testing.assert_array_equal(reg.predict(X_test), bands[:, 1])
    # the interval widens with the noise (its scale grows 16x over x;
    # measured: 4.6x or more between the two ends, seeds 0-9)
    width = bands[:, 2] - bands[:, 0]
    x = X_test[:, 0]
    assert width[x > 0.5].mean() > 2 * width[x < -0.5].mean()


def test_predict_interpolates_the_median_and_multi_output_quantiles():
    X, Y = small_problem(seed=4, n=60, n_targets=2)
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(8,), loss="quantile", quantile=[0.25, 0.75]
    )
    fit_quietly(reg.set_params(max_iter=20, random_state=0), X, Y)
    assert reg.n_outputs_ == 2 and reg.out_activation_ == "noncrossing"
    assert reg.intercepts_[-1].shape == (4,)  # 2 targets x 2 levels
    bands = reg.predict_quantiles(X)
    assert bands.shape == (60, 2, 2)
    assert (bands[:, :, 1] >= bands[:, :, 0]).all()
    np.testing.assert_allclose(reg.predict(X), bands.mean(axis=2), rtol=1e-12)
    assert reg.predict(X).shape == (60, 2)
    np.testing.assert_array_equal(reg.quantiles_, [0.25, 0.75])
    # a single level is its own prediction
    one = fit_quietly(clone(reg).set_params(quantile=0.9), X, Y)
    assert one.out_activation_ == "identity"
    np.testing.assert_array_equal(one.predict_quantiles(X)[:, :, 0], one.predict(X))
    # and no quantiles without the quantile loss
    plain = fit_quietly(NumpyMLPRegressor(hidden_layer_sizes=(4,), max_iter=2), X, Y)
    assert not hasattr(plain, "predict_quantiles")
    assert not hasattr(plain, "quantiles_")
    assert not hasattr(NumpyMLPRegressor(), "predict_quantiles")
    # refitting a quantile model with another loss removes quantiles_
    fit_quietly(one.set_params(loss="huber"), X, Y)
    assert not hasattr(one, "quantiles_") and not hasattr(one, "predict_quantiles")


@pytest.mark.parametrize(
    ("quantile", "message"),
    [
        (None, "needs the quantile level"),
        ([0.9, 0.1], "strictly increasing"),
        ([0.5, 0.5], "strictly increasing"),
        ([0.1, 1.2], r"open interval \(0, 1\)"),
        ([[0.1, 0.2]], "one-dimensional"),
        ([], "one-dimensional"),
    ],
)
def test_bad_quantile_levels_are_refused(quantile, message):
    X, y = small_problem()
    reg = NumpyMLPRegressor(loss="quantile", quantile=quantile)
    with pytest.raises(ValueError, match=message):
        reg.fit(X, y)
    assert not hasattr(reg, "coefs_")


def test_bad_parameters_are_refused_with_scikit_learns_error():
    X, y = small_problem()
    for params in (
        dict(loss="quantile", quantile=1.0),
        dict(loss="huber", huber_threshold=0.0),
        dict(loss="pinball"),
    ):
        with pytest.raises(InvalidParameterError):
            NumpyMLPRegressor(**params).fit(X, y)


# --- robust losses ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_robust_losses_resist_outliers(seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(400, 2))
    truth = np.sin(X[:, 0]) + 0.5 * X[:, 1]
    y = truth + 0.1 * rng.randn(400)
    outliers = rng.choice(400, 40, replace=False)  # 10% far off
    y[outliers] += rng.choice([-1, 1], 40) * rng.uniform(5, 10, 40)
    errors = {}
    for loss in ("squared_error", "huber", "absolute_error"):
        reg = NumpyMLPRegressor(
            hidden_layer_sizes=(16,),
            activation="tanh",
            loss=loss,
            solver="lbfgs",
            alpha=1e-2,
            random_state=seed,
        )
        fit_quietly(reg, X, y)
        errors[loss] = np.sqrt(np.mean((reg.predict(X) - truth) ** 2))
    # measured over seeds 0-9, RMS distance from the clean function: squared
    # error 0.80-1.19, Huber 0.06-0.12, absolute error 0.02-0.04
    assert errors["huber"] < errors["squared_error"] / 2, errors
    assert errors["absolute_error"] < errors["squared_error"] / 2, errors


# --- a loss of your own -------------------------------------------------------


def test_custom_loss_trains_and_equals_its_builtin_twin():
    # (r**2 / 2, r) is the squared error of one output: the same training
    def half_square(y_true, y_pred):
        return 0.5 * (y_pred - y_true) ** 2

    def residual(y_true, y_pred):
        return y_pred - y_true

    X, y = small_problem(seed=5, n=60)
    kw = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=40, random_state=0)
    ours = fit_quietly(NumpyMLPRegressor(loss=(half_square, residual), **kw), X, y)
    builtin = fit_quietly(NumpyMLPRegressor(**kw), X, y)
    np.testing.assert_allclose(ours.predict(X), builtin.predict(X), rtol=1e-9)
    assert ours.loss_ == pytest.approx(builtin.loss_, rel=1e-9)


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ((log_cosh, log_cosh_wrong_gradient), "does not match the derivative"),
        ((log_cosh, lambda t, p: np.tanh(p - t).sum()), "shape"),
        ((lambda t, p: p / 0 * t, log_cosh_gradient), "non-finite"),
        ((log_cosh, lambda t, p: 1 / None), "raised TypeError"),
        ((log_cosh, lambda t, p: "no"), "not an array of numbers"),
        ((log_cosh,), "pair"),
        ((log_cosh, 3), "pair"),
    ],
)
def test_custom_loss_checked_at_fit_time(pair, message):
    X, y = small_problem()
    reg = fit_quietly(
        NumpyMLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0), X, y
    )
    before = [W.copy() for W in reg.coefs_]
    reg.set_params(loss=pair, warm_start=True)
    with pytest.raises(ValueError, match=message), np.errstate(all="ignore"):
        reg.fit(X, y)
    for W, W0 in zip(reg.coefs_, before):  # the failed call changed nothing
        np.testing.assert_array_equal(W, W0)
    assert reg.n_iter_ == 3


def test_custom_loss_pickles_and_skops_names_it(tmp_path):
    X, y = small_problem()
    reg = fit_quietly(
        NumpyMLPRegressor(hidden_layer_sizes=(4,), loss=LOG_COSH, max_iter=3), X, y
    )
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "reg.skops"
    sio.dump(reg, path)
    untrusted = set(sio.get_untrusted_types(file=path))
    assert f"{__name__}.log_cosh" in untrusted
    assert f"{__name__}.log_cosh_gradient" in untrusted
    loaded = sio.load(path, trusted=sorted(untrusted))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


@pytest.mark.parametrize(
    "name", ["absolute_error", "huber", "quantile_one", "quantile_three"]
)
def test_builtin_losses_load_with_skops_trusting_only_skmlp(name, tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y = small_problem()
    reg = fit_quietly(
        NumpyMLPRegressor(hidden_layer_sizes=(4,), max_iter=3, **LOSSES[name]), X, y
    )
    path = tmp_path / "reg.skops"
    sio.dump(reg, path)
    untrusted = set(sio.get_untrusted_types(file=path))
    assert untrusted == {"skmlp._regressor.NumpyMLPRegressor", "skmlp._optimizers.Adam"}
    loaded = sio.load(path, trusted=sorted(untrusted))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    if name == "quantile_three":
        np.testing.assert_array_equal(
            loaded.predict_quantiles(X), reg.predict_quantiles(X)
        )


# --- the options every loss meets ---------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_every_solver_learns_in_both_precisions(name, solver):
    X, y = small_problem(seed=6, n=120)
    fits = {}
    for dtype in ("float32", "float64"):
        reg = NumpyMLPRegressor(
            hidden_layer_sizes=(16,),
            activation="tanh",
            solver=solver,
            max_iter=60,
            learning_rate_init=0.01,
            random_state=0,
            dtype=dtype,
            **LOSSES[name],
        )
        fits[dtype] = fit_quietly(reg, X, y)
        assert reg.coefs_[0].dtype == dtype and reg.predict(X).dtype == dtype
        assert reg.loss_curve_[-1] < reg.loss_curve_[0]
        assert len(reg.history_["loss"]) == reg.n_iter_
    # the same training in float32 as in float64, within float32's rounding
    # amplified by the epochs (measured: within 1e-3 after 60 epochs)
    if solver != "lbfgs":  # lbfgs's line searches branch on round-off
        np.testing.assert_allclose(
            fits["float32"].predict(X), fits["float64"].predict(X), atol=0.05
        )


@pytest.mark.parametrize("name", list(LOSSES))
def test_sample_weight_is_repetition(name):
    # full batches, no shuffling: a weight of 2 is the row twice, to round-off
    X, y = small_problem(seed=7, n=30)
    sw = np.arange(30) % 3
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", shuffle=False, max_iter=20)
    kw.update(learning_rate_init=0.05, random_state=0)  # batches: all 30 rows
    weighted = fit_quietly(
        NumpyMLPRegressor(**kw, **LOSSES[name]), X, y, sample_weight=sw
    )
    repeated = fit_quietly(
        NumpyMLPRegressor(**kw, **LOSSES[name]),
        np.repeat(X, sw, axis=0),
        np.repeat(y, sw),
    )
    np.testing.assert_allclose(
        weighted.predict(X), repeated.predict(X), rtol=1e-7, atol=1e-9
    )


@pytest.mark.parametrize("name", list(LOSSES))
def test_early_stopping_watches_the_validation_loss(name):
    X, y = small_problem(seed=8, n=300)
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(16,),
        early_stopping=True,
        max_iter=300,
        random_state=0,
        learning_rate_init=0.01,
        **LOSSES[name],
    )
    fit_quietly(reg, X, y)
    history = reg.history_
    # the default score of these losses is minus the validation loss, not R^2
    np.testing.assert_array_equal(
        history["val_score"], -np.asarray(history["val_loss"])
    )
    assert reg.validation_scores_ == history["val_score"]
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert len(history["val_r2"]) == reg.n_iter_ < 300
    # an explicit validation set, scored the same way, and R^2 on request
    X_val, y_val = small_problem(seed=9, n=50)
    r2 = clone(reg).set_params(scoring="r2")
    fit_quietly(r2, X, y, X_val=X_val, y_val=y_val)
    assert r2.history_["val_score"] == r2.history_["val_r2"]


def test_squared_error_and_poisson_keep_r2_for_early_stopping():
    X, y = small_problem(seed=8, n=200)
    reg = fit_quietly(
        NumpyMLPRegressor(hidden_layer_sizes=(8,), early_stopping=True, random_state=0),
        X,
        y,
    )
    assert reg.history_["val_score"] == reg.history_["val_r2"]


@pytest.mark.parametrize("name", list(LOSSES))
def test_warm_start_partial_fit_sparse_dropout_pickle(name):
    X, y = small_problem(seed=10, n=80)
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(8,), dropout=0.2, max_iter=5, random_state=0, **LOSSES[name]
    )
    fit_quietly(reg, sp.csr_matrix(X), y)
    dense = fit_quietly(clone(reg), X, y)
    np.testing.assert_allclose(reg.predict(X), dense.predict(X), rtol=1e-5)
    reg.set_params(warm_start=True)
    fit_quietly(reg, X, y)
    assert len(reg.loss_curve_) == 10
    losses = [reg.partial_fit(X, y).loss_ for _ in range(5)]
    assert reg.n_iter_ == 1 and np.isfinite(losses).all()
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))
    # partial_fit continues identically after a pickle round trip
    np.testing.assert_array_equal(
        restored.partial_fit(X, y).predict(X), reg.partial_fit(X, y).predict(X)
    )


def test_a_warm_start_cannot_change_the_outputs():
    X, Y = small_problem(seed=11, n=40, n_targets=2)
    reg = fit_quietly(
        NumpyMLPRegressor(
            hidden_layer_sizes=(4,), loss="quantile", quantile=[0.2, 0.8], max_iter=3
        ),
        X,
        Y,
    )
    before = [W.copy() for W in reg.coefs_]
    for params, message in [
        (dict(quantile=0.5), "needs the output activation 'identity'"),
        (dict(loss="poisson"), "needs the output activation 'exp'"),
    ]:
        with pytest.raises(ValueError, match=message):
            clone(reg).set_params(**params)  # unfitted: no complaint
            reg.set_params(warm_start=True, **params).fit(X, np.abs(Y))
        reg.set_params(loss="quantile", quantile=[0.2, 0.8])
    # 2 targets x 2 levels = 4 units, as 1 target x 4 levels: refused too
    with pytest.raises(ValueError, match="y has 1 outputs"):
        reg.set_params(quantile=[0.1, 0.2, 0.8, 0.9]).partial_fit(X, Y[:, 0])
    for W, W0 in zip(reg.coefs_, before):
        np.testing.assert_array_equal(W, W0)
    # new levels, same count: training goes on with them
    reg.set_params(quantile=[0.3, 0.7]).partial_fit(X, Y)
    np.testing.assert_array_equal(reg.quantiles_, [0.3, 0.7])


# --- ONNX ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["absolute_error", "huber", "quantile_one", "custom"])
def test_onnx_identity_outputs_convert(name):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort
    import skl2onnx

    import skmlp.onnx  # noqa: F401

    X, y = small_problem(seed=12, n=50)
    reg = fit_quietly(
        NumpyMLPRegressor(
            hidden_layer_sizes=(8,), max_iter=20, random_state=0, **LOSSES[name]
        ),
        X,
        y,
    )
    X32 = X.astype(np.float32)
    onx = skl2onnx.to_onnx(reg, X32[:1])
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    got = session.run(None, {session.get_inputs()[0].name: X32})[0]
    np.testing.assert_allclose(got.ravel(), reg.predict(X), rtol=1e-4, atol=1e-5)


def test_onnx_refuses_several_quantiles():
    pytest.importorskip("skl2onnx")
    import skl2onnx

    import skmlp.onnx  # noqa: F401

    X, y = small_problem(seed=12, n=50)
    reg = fit_quietly(
        NumpyMLPRegressor(
            hidden_layer_sizes=(4,), max_iter=3, **LOSSES["quantile_three"]
        ),
        X,
        y,
    )
    with pytest.raises(ValueError, match="several quantile levels"):
        skl2onnx.to_onnx(reg, X[:1].astype(np.float32))


# --- Monte-Carlo dropout ------------------------------------------------------


@pytest.fixture(scope="module")
def dropout_model():
    X, y = heteroscedastic(500, 0)
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(32, 32),
        dropout=[0.2, 0.1],
        max_iter=100,
        learning_rate_init=0.01,
        random_state=0,
    )
    return fit_quietly(reg, X, y), X


def test_return_std_is_the_spread_of_dropout_passes(dropout_model):
    reg, X = dropout_model
    mean, std = reg.predict(X[:50], return_std=True, n_passes=30, random_state=7)
    np.testing.assert_array_equal(mean, reg.predict(X[:50]))
    # the same passes, drawn by hand
    rng = np.random.RandomState(7)
    passes = []
    for _ in range(30):
        buffers = [X[:50]] + [np.empty((50, len(b))) for b in reg.intercepts_]
        masks = _network.draw_dropout_masks(rng, 50, [0.2, 0.1], [32, 32])
        passes.append(
            _network.forward(X[:50], reg.coefs_, reg.intercepts_, "relu", buffers,
                             dropout_masks=masks).ravel()
        )  # fmt: skip
    np.testing.assert_allclose(std, np.std(passes, axis=0, ddof=1), rtol=1e-9)
    assert (std > 0).all()


@pytest.mark.parametrize("seed", range(5))
def test_return_std_is_reproducible_and_leaves_the_model_alone(dropout_model, seed):
    reg, X = dropout_model
    state = reg._rng.get_state()[1].copy()
    first = reg.predict(X, return_std=True, random_state=seed)[1]
    again = reg.predict(X, return_std=True, random_state=seed)[1]
    np.testing.assert_array_equal(first, again)
    other = reg.predict(X, return_std=True, random_state=seed + 10)[1]
    assert not np.array_equal(first, other)
    # 100 passes: the two estimates differ by sampling error, about
    # 1/sqrt(2 * 99) = 7% of the spread each
    assert np.median(np.abs(first - other) / first) < 0.25
    np.testing.assert_array_equal(reg._rng.get_state()[1], state)


def test_return_std_for_quantile_and_multi_output_models():
    X, Y = small_problem(seed=13, n=80, n_targets=2)
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(16,), dropout=0.3, max_iter=20, random_state=0
    )
    reg.set_params(**LOSSES["quantile_three"])
    fit_quietly(reg, X, Y)
    mean, std = reg.predict(X, return_std=True, n_passes=5)
    assert mean.shape == std.shape == (80, 2)
    np.testing.assert_array_equal(mean, reg.predict(X))


def test_return_std_errors(dropout_model):
    reg, X = dropout_model
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="n_passes"):
            reg.predict(X, return_std=True, n_passes=bad)
    plain = fit_quietly(
        NumpyMLPRegressor(hidden_layer_sizes=(4,), max_iter=2), X, X[:, 0]
    )
    with pytest.raises(ValueError, match="must be trained with dropout > 0"):
        plain.predict(X, return_std=True)


# --- issue 18: B5, B6, C6 -----------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("seed", range(3))
def test_multi_output_stops_where_scikit_learn_stops(solver, seed):
    # B5. From identical weights, full batches in order (no randomness left),
    # skmlp and MLPRegressor take the same steps; stopping on the same
    # reported loss (averaged over the outputs), they stop at the same epoch.
    # Before the fix skmlp's loss_ was 4x scikit-learn's here: 817 vs 349
    # epochs (adam, seed 0).
    rng = np.random.RandomState(seed)
    X = rng.uniform(size=(300, 5))
    y = 10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 5 * X[:, 3]
    Y = np.column_stack([y, -y, 0.5 * y, y**2 / 20]) + rng.normal(size=(300, 4))
    Y = (Y - Y.mean(axis=0)) / Y.std(axis=0)
    kw = dict(hidden_layer_sizes=(16,), solver=solver, shuffle=False, batch_size=300)
    rate = 0.01 if solver == "adam" else 0.1  # both stop well before max_iter
    kw.update(learning_rate_init=rate, warm_start=True, random_state=seed, alpha=1e-3)
    ours = fit_quietly(NumpyMLPRegressor(max_iter=1, **kw), X, Y)
    theirs = fit_quietly(MLPRegressor(max_iter=1, **kw), X, Y)
    theirs.coefs_ = [W.copy() for W in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    for model in (ours, theirs):
        model.best_loss_, model._no_improvement_count, model.loss_curve_ = np.inf, 0, []
        fit_quietly(model.set_params(max_iter=1000), X, Y)
    assert 10 < ours.n_iter_ == theirs.n_iter_ < 1000
    # the same numbers, to the round-off of a few hundred epochs
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "poisson"])
def test_none_in_y_is_nan(loss):
    # B6: None in an object y becomes NaN on conversion, after scikit-learn's
    # finiteness check; it was a DivergenceWarning and an untrained model
    X, y = small_problem()
    y_object = np.abs(y).astype(object)
    y_object[3] = None
    reg = NumpyMLPRegressor(hidden_layer_sizes=(4,), loss=loss, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        with pytest.raises(ValueError, match="^Input y contains NaN.$"):
            reg.fit(X, y_object)
        assert not hasattr(reg, "coefs_")
        with pytest.raises(ValueError, match="^Input y contains NaN.$"):
            reg.fit(X, list(y_object))
        fit_quietly(reg, X, np.abs(y))
        before = reg.coefs_[0].copy()
        with pytest.raises(ValueError, match="^Input y_val contains NaN.$"):
            reg.fit(X, np.abs(y), X_val=X, y_val=y_object)
        np.testing.assert_array_equal(reg.coefs_[0], before)


def test_y_beyond_float32_is_refused_in_a_float32_fit():
    X, y = small_problem()
    y_big = y.copy()
    y_big[0] = 1e39  # finite in float64, inf in float32
    reg = NumpyMLPRegressor(hidden_layer_sizes=(4,), dtype="float32", max_iter=3)
    with pytest.raises(ValueError, match="too large for float32"):
        reg.fit(X, y_big)
    assert not hasattr(reg, "coefs_")
    fit_quietly(reg.set_params(dtype="float64"), X, y_big)  # float64 holds it


@pytest.mark.parametrize("loss", ["poisson", "squared_error", "quantile"])
def test_string_targets(loss):
    # C6: y < 0 ran before conversion (numpy's UFuncTypeError for Poisson).
    # Strings that parse as numbers are converted, as Ridge and
    # HistGradientBoostingRegressor do; others are refused with a clear error
    # (MLPRegressor fails with numpy's UFuncTypeError on both).
    X, y = small_problem()
    y = np.round(np.abs(y), 3)
    kw = dict(hidden_layer_sizes=(4,), loss=loss, max_iter=3, random_state=0)
    if loss == "quantile":
        kw["quantile"] = [0.2, 0.8]
    numbers = fit_quietly(NumpyMLPRegressor(**kw), X, y)
    strings = fit_quietly(NumpyMLPRegressor(**kw), X, y.astype(str))
    np.testing.assert_array_equal(strings.predict(X), numbers.predict(X))
    words = y.astype(str)
    words[5] = "five"
    with pytest.raises(ValueError, match="y must hold numbers.*'five'"):
        NumpyMLPRegressor(**kw).fit(X, words)
    if loss == "poisson":
        with pytest.raises(ValueError, match="negative which is not allowed"):
            NumpyMLPRegressor(**kw).fit(X, (-y).astype(str))

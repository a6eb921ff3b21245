"""Drop-in fidelity: where code relies on scikit-learn's MLP behaviour, skmlp
behaves the same, and training never loses or skews what was trained.

Each test here failed on the version before the fix it guards.
"""

from __future__ import annotations

import os
import signal
import warnings

import numpy as np
import pytest
from _gradient_bound import assert_gradients_agree
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.utils import estimator_checks

import skmlp._base
from skmlp import (
    DivergenceWarning,
    NumpyMLPClassifier,
    NumpyMLPRegressor,
    TrainingInterrupted,
    check_gradients,
)
from skmlp._optimizers import SGD


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


# --------------------------------------------------------------------------
# 1. warm_start: n_iter_ counts the epochs of each call, as in scikit-learn
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("Estimator", [MLPClassifier, NumpyMLPClassifier])
def test_warm_start_n_iter_counts_each_call(digits, solver, Estimator):
    X, y = digits
    clf = Estimator(
        (10,),
        solver=solver,
        max_iter=3,
        warm_start=True,
        n_iter_no_change=np.inf if solver != "lbfgs" else 10,
        tol=0,
        random_state=0,
    )
    for max_iter in (3, 3, 20):
        clf.set_params(max_iter=max_iter)
        with pytest.warns(ConvergenceWarning):  # every call, not only the first
            clf.fit(X, y)
        assert clf.n_iter_ == max_iter


def test_partial_fit_n_iter_is_one_per_call_as_in_sklearn(digits):
    X, y = digits
    ours, theirs = NumpyMLPClassifier((10,)), MLPClassifier((10,))
    for clf in (ours, theirs):
        clf.partial_fit(X, y, classes=np.unique(y))
        clf.partial_fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 1
    assert ours.t_ == theirs.t_ == 2 * len(X)
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 2


def test_cosine_schedule_restarts_with_each_warm_fit(digits):
    X, y = digits
    clf = NumpyMLPClassifier(
        (10,),
        solver="sgd",
        learning_rate="cosine",
        learning_rate_init=0.1,
        max_iter=3,
        n_iter_no_change=np.inf,
        warm_start=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        clf.fit(X, y)
    np.testing.assert_allclose(
        clf.history_["learning_rate"], [0.1, 0.075, 0.025] * 2, rtol=1e-12
    )


def test_cosine_schedule_follows_partial_fit_calls(digits):
    X, y = digits
    clf = NumpyMLPClassifier(
        (10,), solver="sgd", learning_rate="cosine", learning_rate_init=0.1, max_iter=4
    )
    for _ in range(4):
        clf.partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_allclose(
        clf.history_["learning_rate"],
        [0.1 * 0.5 * (1 + np.cos(np.pi * k / 4)) for k in range(4)],
        rtol=1e-12,
    )


# --------------------------------------------------------------------------
# 2. partial_fit refuses other classes than the first call's
# --------------------------------------------------------------------------


def test_partial_fit_with_other_classes_raises(digits):
    X, y = digits
    clf = NumpyMLPClassifier((10,)).partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="is not the same as on last call"):
        clf.partial_fit(X, y, classes=np.arange(11))
    clf.partial_fit(X, y, classes=np.arange(10))  # the same classes: fine
    with pytest.raises(ValueError, match="is not the same as on last call"):
        MLPClassifier((10,)).partial_fit(X, y, classes=np.arange(10)).partial_fit(
            X, y, classes=np.arange(11)
        )


# --------------------------------------------------------------------------
# 3. warm_start with early_stopping: one split, no call's work thrown away
# --------------------------------------------------------------------------


def test_warm_fits_validate_on_the_same_rows(digits, monkeypatch):
    X, y = digits
    splits = []
    original = skmlp._base.validation_split

    def recording_split(*args, **kwargs):
        splits.append(original(*args, **kwargs))
        return splits[-1]

    monkeypatch.setattr(skmlp._base, "validation_split", recording_split)
    clf = NumpyMLPClassifier(
        (10,), early_stopping=True, warm_start=True, max_iter=3, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        clf.fit(X, y)
    (train_1, val_1), (train_2, val_2) = splits
    np.testing.assert_array_equal(val_1, val_2)
    assert not np.intersect1d(train_1, val_2).size


def test_warm_fit_keeps_its_own_work(digits):
    X, y = digits
    clf = NumpyMLPClassifier(
        (20,),
        early_stopping=True,
        warm_start=True,
        max_iter=30,
        learning_rate_init=0.01,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        first = [W.copy() for W in clf.coefs_]
        # epochs so small that they cannot beat the first call's best score
        clf.set_params(learning_rate_init=1e-7, max_iter=2)
        clf.fit(X, y)
    assert not all(np.array_equal(a, b) for a, b in zip(first, clf.coefs_))
    assert clf.best_validation_score_ == max(clf.validation_scores_[-2:])


# --------------------------------------------------------------------------
# 4. sample weights of zero: no crash, and such rows count for nothing
# --------------------------------------------------------------------------


def test_minibatch_of_zero_weight_is_skipped(digits):
    X, y = digits[0][:10], np.array([0, 1] * 5)
    weighted = NumpyMLPClassifier(
        (5,), solver="sgd", batch_size=5, shuffle=False, max_iter=1, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted.fit(X, y, sample_weight=[1] * 5 + [0] * 5)
        alone = NumpyMLPClassifier(
            (5,), solver="sgd", batch_size=5, shuffle=False, max_iter=1, random_state=0
        ).fit(X[:5], y[:5])
    for a, b in zip(
        weighted.coefs_ + weighted.intercepts_, alone.coefs_ + alone.intercepts_
    ):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(weighted.loss_)


def test_validation_split_of_zero_weight_falls_back_on_the_loss():
    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.array([0, 1] * 5)
    sample_weight = np.zeros(10)
    sample_weight[:2] = 1  # whatever is held out, most likely weighs nothing
    for seed in range(20):
        clf = NumpyMLPClassifier(
            (3,),
            early_stopping=True,
            validation_fraction=0.1,
            max_iter=5,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            clf.fit(X, y, sample_weight=sample_weight)
        assert np.isfinite(clf.loss_)
        assert all(np.isfinite(clf.history_["val_loss"]))


RANDOMNESS_SENSITIVE_CHECKS = [
    "check_classifiers_one_label_sample_weights",
    "check_sample_weights_list",
    "check_sample_weights_shape",
    "check_sample_weights_not_overwritten",
    "check_sample_weights_not_an_array",
    "check_classifiers_train",
    "check_classifiers_classes",
    "check_fit_idempotent",
    "check_fit2d_1sample",
    "check_fit2d_1feature",
    "check_classifiers_one_label",
]


@pytest.mark.parametrize("seed", range(20))
def test_common_checks_with_early_stopping_under_many_seeds(seed):
    estimator = NumpyMLPClassifier(early_stopping=True, random_state=seed)
    for name in RANDOMNESS_SENSITIVE_CHECKS:
        check = getattr(estimator_checks, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(type(estimator).__name__, estimator)


# --------------------------------------------------------------------------
# 5. Ctrl-C: stops everything the user started; the model keeps its work
# --------------------------------------------------------------------------


def _needs_default_sigint():
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("something else handles SIGINT here")


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_reaches_the_caller_and_keeps_the_batches(digits, monkeypatch, presses):
    _needs_default_sigint()
    X, y = digits
    steps, weights = [], []
    original_step = SGD.step

    def step_then_ctrl_c(self, params, grad, **l2):
        original_step(self, params, grad, **l2)
        steps.append(1)
        weights.append(params.copy())
        if len(steps) == 5:
            for _ in range(presses):  # a second press changes nothing
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(SGD, "step", step_then_ctrl_c)
    clf = NumpyMLPClassifier((8,), solver="sgd", batch_size=50, max_iter=10)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert len(steps) == 5  # stopped right after the batch it was in
    np.testing.assert_array_equal(clf._params, weights[-1])  # nothing rolled back
    assert clf.n_iter_ == 0  # the 6-batch epoch never finished
    assert np.isfinite(clf.predict_proba(X)).all()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # and training can go on from there
    monkeypatch.setattr(SGD, "step", original_step)
    clf.partial_fit(X, y)


def test_ctrl_c_with_early_stopping_keeps_the_best_epoch(digits, monkeypatch):
    _needs_default_sigint()
    X, y = digits
    original_step = SGD.step

    def step_then_ctrl_c(self, params, grad, **l2):
        original_step(self, params, grad, **l2)
        if self.n_steps == 20:  # in the third epoch of 8 batches
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(SGD, "step", step_then_ctrl_c)
    clf = NumpyMLPClassifier(
        (8,), solver="sgd", batch_size=25, early_stopping=True, max_iter=10,
        random_state=0,
    )  # fmt: skip
    with pytest.raises(TrainingInterrupted, match="best epoch"):
        clf.fit(X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    assert clf.n_iter_ == 2
    assert clf.best_validation_score_ == pytest.approx(clf.score(X[200:], y[200:]))


def test_one_ctrl_c_stops_a_grid_search(digits, monkeypatch):
    _needs_default_sigint()
    X, y = digits
    fits = []
    original_step = SGD.step

    def step_then_ctrl_c(self, params, grad, **l2):
        original_step(self, params, grad, **l2)
        if self.n_steps == 1:
            fits.append(1)
            if len(fits) == 2:
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(SGD, "step", step_then_ctrl_c)
    search = GridSearchCV(
        NumpyMLPClassifier((8,), solver="sgd", max_iter=3),
        {"alpha": [1e-4, 1e-3, 1e-2]},
        cv=3,
    )
    with pytest.raises(KeyboardInterrupt):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X, y)
    assert len(fits) == 2  # the search stopped in its second fit, of nine


def test_ctrl_c_during_lbfgs(digits, monkeypatch):
    _needs_default_sigint()
    X, y = digits
    calls = []
    import skmlp._training as training

    original = training._network.loss_and_gradient

    def loss_then_ctrl_c(*args, **kwargs):
        calls.append(1)
        if len(calls) == 6:
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(training._network, "loss_and_gradient", loss_then_ctrl_c)
    clf = NumpyMLPClassifier((8,), solver="lbfgs", max_iter=50, random_state=0)
    with pytest.raises(TrainingInterrupted):
        clf.fit(X, y)
    assert 0 < clf.n_iter_ < 50
    assert len(clf.loss_curve_) == clf.n_iter_
    assert np.isfinite(clf.predict_proba(X)).all()


# --------------------------------------------------------------------------
# 6. predict_log_proba from the logits
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_log_proba_is_finite_where_proba_rounds_to_zero(digits, n_classes):
    X, y = digits
    mask = y < n_classes
    clf = NumpyMLPClassifier((10,), solver="lbfgs", random_state=0, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[mask], y[mask])
    far = X[mask][:20] * 1e4  # saturates the outputs
    log_p = clf.predict_log_proba(far)
    assert np.isfinite(log_p).all()
    assert log_p.min() < -30  # saturated: where softmax underflows to 0
    near = X[mask][:20]
    np.testing.assert_allclose(
        np.exp(clf.predict_log_proba(near)),
        clf.predict_proba(near),
        rtol=1e-9,
        atol=1e-15,
    )


# --------------------------------------------------------------------------
# 7. L-BFGS on a par with the stochastic solvers
# --------------------------------------------------------------------------


def test_lbfgs_fills_the_history_and_leaves_t_at_zero(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = NumpyMLPClassifier((10,), solver="lbfgs", max_iter=15).fit(X, y)
    assert clf.t_ == 0 == MLPClassifier((10,), solver="lbfgs", max_iter=1).fit(X, y).t_
    for key in ("loss", "accuracy", "learning_rate", "time"):
        assert len(clf.history_[key]) == clf.n_iter_ == 15, key
    assert np.all(np.diff(clf.history_["time"]) >= 0)
    # recorded at the accepted weights of each iteration: the last is the model's
    assert clf.history_["accuracy"][-1] == pytest.approx(clf.score(X, y))
    assert clf.history_["loss"][-1] == pytest.approx(clf.loss_)


def test_lbfgs_divergence_warns_and_keeps_finite_weights():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3) * 1e150  # the loss overflows at once
    y = rng.randint(2, size=40)
    clf = NumpyMLPClassifier((4,), solver="lbfgs", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow leaks
        with pytest.warns(DivergenceWarning, match="diverged"):
            clf.fit(X, y)
    assert all(np.isfinite(W).all() for W in clf.coefs_ + clf.intercepts_)


def test_lbfgs_stopped_by_a_callback_does_not_warn(digits):
    callback = pytest.importorskip("sklearn.callback")
    X, y = digits

    class StopAfterTwo:
        def setup(self, estimator, context):
            self.epochs = 0

        def teardown(self, estimator, context):
            pass

        def on_fit_task_begin(self, estimator, context):
            pass

        def on_fit_task_end(self, estimator, context, **kwargs):
            if context.task_name == "epoch":
                self.epochs += 1
            return self.epochs >= 2

    assert callback  # the API exists
    clf = NumpyMLPClassifier((10,), solver="lbfgs", max_iter=50)
    clf.set_callbacks(StopAfterTwo())
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == 2


# --------------------------------------------------------------------------
# 8. callbacks: each epoch's model has its own state
# --------------------------------------------------------------------------


def test_epoch_models_do_not_share_state_with_the_live_model(digits):
    pytest.importorskip("sklearn.callback")
    X, y = digits
    models = []

    class Keep:
        def setup(self, estimator, context):
            pass

        def teardown(self, estimator, context):
            pass

        def on_fit_task_begin(self, estimator, context):
            pass

        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, **kw):
            if context.task_name == "epoch":
                models.append(fitted_estimator)

    clf = NumpyMLPClassifier((10,), max_iter=3, random_state=0)
    clf.set_callbacks(Keep())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert [len(m.loss_curve_) for m in models] == [1, 2, 3]
    assert [len(m.history_["loss"]) for m in models] == [1, 2, 3]
    assert models[0]._optimizer is not clf._optimizer
    assert not np.array_equal(models[0].coefs_[0], clf.coefs_[0])
    models[0].partial_fit(X, y)  # the copy trains on its own weights
    assert len(clf.loss_curve_) == 3


# --------------------------------------------------------------------------
# 9. smaller: check_gradients on subsets, warnings point at the caller
# --------------------------------------------------------------------------


def test_check_gradients_on_a_subset_lacking_a_class(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = NumpyMLPClassifier((6,), max_iter=5, random_state=0).fit(X, y)
    subset = y[:30] != 3
    result = check_gradients(clf, X[:30][subset], y[:30][subset])
    assert_gradients_agree(result)  # tests/_gradient_bound.py


@pytest.mark.parametrize(
    ("make", "category"),
    [
        (lambda: NumpyMLPClassifier((5,), max_iter=2), ConvergenceWarning),
        (lambda: NumpyMLPClassifier((5,), max_iter=2, batch_size=10**6), UserWarning),
        (
            lambda: NumpyMLPRegressor(hidden_layer_sizes=(5,), max_iter=2),
            ConvergenceWarning,
        ),
        (
            lambda: NumpyMLPClassifier((5,), solver="lbfgs", max_iter=2),
            ConvergenceWarning,
        ),
    ],
)
def test_warnings_point_at_the_callers_line(digits, make, category):
    X, y = digits
    with pytest.warns(category) as record:
        make().fit(X, y)
    assert {os.path.basename(w.filename) for w in record} == {"test_fidelity.py"}

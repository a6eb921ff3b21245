"""Where options meet: the defects of issue 18 (B-D), one test or more each.

Each test here failed before its fix: a wrong model trained without an error,
a crash on legitimate input, or an error found only after training began.
Errors must come before training, and leave the model as it was.
"""

from __future__ import annotations

import signal
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score

from skmlp import DivergenceWarning, NumpyMLPClassifier, NumpyMLPRegressor
from skmlp._data import validation_split

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(n_class=3, return_X_y=True)
    return X[:180] / 16.0, y[:180]


def fitted_state(est) -> dict:
    """What a failed call must leave as it was."""
    if not hasattr(est, "coefs_"):
        return {"fitted": False}
    return {
        "params": [p.tobytes() for p in est.coefs_ + est.intercepts_],
        "n_iter_": est.n_iter_,
        "loss_curve_": list(est.loss_curve_),
        "history_": {k: list(v) for k, v in est.history_.items()},
    }


def assert_refused_before_training(est, call, error=ValueError, match=None):
    before = fitted_state(est)
    with pytest.raises(error, match=match):
        call()
    assert fitted_state(est) == before


# --------------------------------------------------------------------------
# B1. partial_fit's first call checks y against classes
# --------------------------------------------------------------------------


def test_first_partial_fit_refuses_labels_not_in_classes(digits):
    X, y = digits
    clf = NumpyMLPClassifier((5,))
    assert_refused_before_training(
        clf,
        lambda: clf.partial_fit(X[:60], [0, 1, 3] * 20, classes=[0, 1, 2]),
        match="classes not in `classes`",
    )
    # binary: an unknown label used to train as classes[0]
    assert_refused_before_training(
        clf, lambda: clf.partial_fit(X[:4], [0, 2, 0, 2], classes=[0, 1])
    )
    clf.partial_fit(X[:60], [0, 1, 1] * 20, classes=[0, 1, 2])  # a subset is fine
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])


def test_sample_weight_passed_third_positionally_is_refused(digits):
    # scikit-learn 1.9's MLPClassifier.partial_fit(X, y, sample_weight, classes);
    # skmlp keeps SGDClassifier's (X, y, classes, sample_weight): weights
    # passed third are caught, whether their values look like labels or not
    X, y = digits
    n = 30
    for weights in (np.linspace(0.5, 2, n), np.tile([0.0, 1.0, 2.0], n // 3)):
        clf = NumpyMLPClassifier((5,))
        assert_refused_before_training(
            clf,
            lambda c=clf, w=weights: c.partial_fit(X[:n], y[:n], w),
            match="classes",
        )
    clf = NumpyMLPClassifier((5,)).partial_fit(X[:n], y[:n], [0, 1, 2])
    clf.partial_fit(X[:n], y[:n], sample_weight=np.ones(n))


# --------------------------------------------------------------------------
# B2. class_weight="balanced" counts classes by their sample weight
# --------------------------------------------------------------------------


@pytest.mark.parametrize("multilabel", [False, True])
def test_balanced_class_weight_weighs_a_row_as_its_repetitions(digits, multilabel):
    X, y = digits
    rng = np.random.RandomState(0)
    if multilabel:
        X, y = make_multilabel_classification(90, 6, n_classes=3, random_state=0)
        X = X / X.max()
    X, y = X[:90], y[:90]
    counts = rng.randint(0, 4, size=len(y))  # 0: left out, 2: twice, ...
    counts[:6] = 1  # every label value stays present
    repeated = np.repeat(np.arange(len(y)), counts)
    # one full batch, no shuffling: the two fits sum the same rows, in
    # another order, so they agree to round-off (float64, 5 steps)
    kw = dict(
        hidden_layer_sizes=(6,), solver="sgd", batch_size=1000, shuffle=False,
        max_iter=5, random_state=0, class_weight="balanced", dtype="float64",
    )  # fmt: skip
    weighted = NumpyMLPClassifier(**kw).fit(X, y, sample_weight=counts.astype(float))
    copies = NumpyMLPClassifier(**kw).fit(X[repeated], y[repeated])
    for a, b in zip(weighted.coefs_, copies.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_balanced_class_weight_without_weights_is_scikit_learns(digits):
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = digits
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", max_iter=3, random_state=0)
    balanced = NumpyMLPClassifier(class_weight="balanced", **kw).fit(X, y)
    by_sample = NumpyMLPClassifier(**kw).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y)
    )
    for a, b in zip(balanced.coefs_, by_sample.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# --------------------------------------------------------------------------
# B3. class_weight values are checked as sample_weight is
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({0: -1.0, 1: 1.0, 2: 1.0}, "finite and non-negative"),
        ({0: np.nan, 1: 1.0, 2: 1.0}, "finite and non-negative"),
        ({0: np.inf, 1: 1.0, 2: 1.0}, "finite and non-negative"),
        ({0: "heavy", 1: 1.0, 2: 1.0}, "finite and non-negative"),
        ({0: 0.0, 1: 0.0, 2: 0.0}, "every sample with weight 0"),
    ],
)
def test_bad_class_weight_values_are_refused(digits, class_weight, match):
    X, y = digits
    clf = NumpyMLPClassifier((5,), max_iter=2, class_weight=class_weight)
    assert_refused_before_training(clf, lambda: clf.fit(X, y), match=match)


def test_class_weight_zero_where_the_weighted_rows_are(digits):
    X, y = digits
    sw = (y == 0).astype(float)  # only class 0 weighs, and class 0 weighs 0
    clf = NumpyMLPClassifier((5,), max_iter=2, class_weight={0: 0, 1: 1, 2: 1})
    assert_refused_before_training(
        clf, lambda: clf.fit(X, y, sample_weight=sw), match="weight 0"
    )


# --------------------------------------------------------------------------
# B4. One criterion: the internal split scores as the same rows given as X_val
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_internal_split_and_x_val_score_alike_with_class_weight(digits, seed):
    X, y = digits
    kw = dict(
        hidden_layer_sizes=(6,), max_iter=8, random_state=seed, early_stopping=True,
        class_weight={0: 5.0, 1: 1.0, 2: 0.5}, n_iter_no_change=100,
    )  # fmt: skip
    split = NumpyMLPClassifier(**kw).fit(X, y)
    train, val = validation_split(y, len(y), 0.1, split._split_seed, True)
    given = NumpyMLPClassifier(**kw).fit(X[train], y[train], X_val=X[val], y_val=y[val])
    # the same rows train in the same order and validate with the same
    # weights: the same scores (round-off of one sum order at most)
    np.testing.assert_allclose(split.validation_scores_, given.validation_scores_)
    # and the score is the class-weighted accuracy of the kept weights
    weights = np.array([5.0, 1.0, 0.5])[y[val]]
    expected = accuracy_score(y[val], given.predict(X[val]), sample_weight=weights)
    assert given.best_validation_score_ == pytest.approx(expected)


# --------------------------------------------------------------------------
# C1. partial_fit on multilabel y with classes=
# --------------------------------------------------------------------------


def test_multilabel_partial_fit_with_classes():
    X, Y = make_multilabel_classification(60, 5, n_classes=5, random_state=0)
    clf = NumpyMLPClassifier((8,), random_state=0)
    for _ in range(3):
        clf.partial_fit(X, Y, classes=[0, 1, 2, 3, 4])
    assert clf.predict(X).shape == Y.shape
    np.testing.assert_array_equal(clf.classes_, np.arange(5))
    other = NumpyMLPClassifier((8,))
    assert_refused_before_training(
        other, lambda: other.partial_fit(X, Y, classes=[0, 1, 2]), match="column"
    )


# --------------------------------------------------------------------------
# C2. A regressor that diverges with early stopping
# --------------------------------------------------------------------------


@pytest.mark.parametrize("scoring", [None, "neg_mean_squared_error", "loss"])
def test_divergence_with_early_stopping_warns_and_keeps_finite_weights(scoring):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=100, activation="identity", solver="sgd",
        learning_rate_init=1, max_iter=20, early_stopping=True, random_state=0,
        scoring=scoring,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow leaks
        with pytest.warns(DivergenceWarning):
            reg.fit(X, y)
    assert all(np.isfinite(W).all() for W in reg.coefs_ + reg.intercepts_)
    assert len(reg.validation_scores_) == reg.n_iter_ == len(reg.loss_curve_)
    assert np.isfinite(reg.validation_scores_).all()


# --------------------------------------------------------------------------
# C3. Scorers get the weights only where they take them; names checked first
# --------------------------------------------------------------------------


def unweighted_scorer(estimator, X, y):
    return estimator.score(X, y)


def test_scorers_without_sample_weight_work_with_weights(digits):
    X, y = digits
    sw = np.linspace(0.5, 1.5, len(y))
    clf = NumpyMLPClassifier(
        (5,), max_iter=3, early_stopping=True, scoring=unweighted_scorer
    )
    with pytest.warns(UserWarning, match="takes no sample_weight"):
        clf.fit(X, y, sample_weight=sw)
    assert len(clf.validation_scores_) == 3
    reg = NumpyMLPRegressor(hidden_layer_sizes=(5,), max_iter=3, early_stopping=True)
    reg.set_params(scoring="neg_max_error")
    with pytest.warns(UserWarning, match="takes no sample_weight"):
        reg.fit(X, y.astype(float), sample_weight=sw)
    assert len(reg.validation_scores_) == 3
    # class weights are weights too
    clf.set_params(class_weight="balanced")
    with pytest.warns(UserWarning, match="takes no sample_weight"):
        clf.fit(X, y)


def test_a_scorer_that_takes_weights_gets_them(digits):
    X, y = digits
    received = []

    def weighted_scorer(estimator, X, y, sample_weight=None):
        received.append(sample_weight)
        return estimator.score(X, y, sample_weight=sample_weight)

    sw_val = np.linspace(1, 2, 30)
    clf = NumpyMLPClassifier((5,), max_iter=2, scoring=weighted_scorer)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*takes no sample_weight")
        clf.fit(X[30:], y[30:], X_val=X[:30], y_val=y[:30], sample_weight_val=sw_val)
    assert len(received) == 3  # once before training (a trial), once an epoch
    for weights in received:
        np.testing.assert_array_equal(weights, sw_val)


def test_an_unknown_scorer_name_is_refused_before_training(digits):
    X, y = digits
    clf = NumpyMLPClassifier((5,), max_iter=2, early_stopping=True, scoring="nope")
    assert_refused_before_training(clf, lambda: clf.fit(X, y), match="nope")


def test_undefined_metric_warnings_are_not_silenced(digits):
    from sklearn.exceptions import UndefinedMetricWarning

    X, y = digits
    # a model that predicts one class on the validation rows: precision of
    # the others is undefined, and scikit-learn says so
    clf = NumpyMLPClassifier(
        (2,), max_iter=1, learning_rate_init=1e-9, scoring="precision_macro",
        random_state=0,
    )  # fmt: skip
    with pytest.warns(UndefinedMetricWarning):
        clf.fit(X[30:], y[30:], X_val=X[:30], y_val=y[:30])


# --------------------------------------------------------------------------
# C4. Warm start after set_params changed the solver or early stopping
# --------------------------------------------------------------------------


def test_warm_start_from_early_stopped_adam_to_lbfgs(digits):
    X, y = digits
    clf = NumpyMLPClassifier((5,), max_iter=3, early_stopping=True, warm_start=True)
    clf.fit(X, y)
    clf.set_params(solver="lbfgs")
    clf.fit(X, y)
    assert clf.n_iter_ == 3 and np.isfinite(clf.best_loss_)


def test_warm_start_turning_early_stopping_on_and_off(digits):
    X, y = digits
    clf = NumpyMLPClassifier((5,), max_iter=3, warm_start=True, n_iter_no_change=50)
    clf.fit(X, y)
    clf.set_params(early_stopping=True)
    clf.fit(X, y)
    assert len(clf.validation_scores_) == 3
    assert np.isfinite(clf.best_validation_score_)
    clf.set_params(early_stopping=False)
    clf.fit(X, y)
    assert np.isfinite(clf.best_loss_) and clf.n_iter_ == 3
    clf.partial_fit(X, y)  # and partial_fit after all that
    assert len(clf.loss_curve_) == 10


# --------------------------------------------------------------------------
# C5. A single class is fitted and predicted, as MLPClassifier does
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_single_class_is_fitted(digits, solver):
    X, _ = digits
    y = np.full(len(X), "only")
    clf = NumpyMLPClassifier((5,), max_iter=3, solver=solver).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["only"])
    np.testing.assert_array_equal(clf.predict(X[:5]), ["only"] * 5)
    np.testing.assert_array_equal(clf.predict_proba(X[:5]), np.ones((5, 1)))
    np.testing.assert_array_equal(clf.predict_log_proba(X[:5]), np.zeros((5, 1)))
    assert clf.score(X, y) == 1.0


# --------------------------------------------------------------------------
# C7. Parameters set between partial_fit calls are checked
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{"batch_size": 0}, {"batch_size": -1}, {"learning_rate_init": -1.0}]
)
def test_bad_parameters_between_partial_fit_calls(digits, params):
    X, y = digits
    clf = NumpyMLPClassifier((5,)).partial_fit(X, y, classes=[0, 1, 2])
    clf.set_params(**params)
    assert_refused_before_training(
        clf, lambda: clf.partial_fit(X, y), match="parameter of NumpyMLPClassifier"
    )


# --------------------------------------------------------------------------
# D1, D2. Validation sets that cannot be scored are refused before training
# --------------------------------------------------------------------------


def test_y_val_with_another_number_of_outputs(digits):
    X, y = digits
    reg = NumpyMLPRegressor(hidden_layer_sizes=(5,), max_iter=2)
    y2 = np.c_[y, y].astype(float)
    assert_refused_before_training(
        reg,
        lambda: reg.fit(X[:10], y[:10] * 1.0, X_val=X[10:20], y_val=y2[10:20]),
        match="y_val has 2 outputs",
    )
    Xm, Ym = make_multilabel_classification(40, 5, n_classes=4, random_state=0)
    clf = NumpyMLPClassifier((5,), max_iter=2)
    assert_refused_before_training(
        clf,
        lambda: clf.fit(Xm[:30], Ym[:30], X_val=Xm[30:], y_val=Ym[30:, :3]),
        match="y_val has 3 labels",
    )
    assert_refused_before_training(
        clf,
        lambda: clf.fit(Xm[:30], Ym[:30], X_val=Xm[30:], y_val=Ym[30:, 0]),
        match="same kind",
    )


def test_sparse_multilabel_y_and_y_val():
    X, Y = make_multilabel_classification(60, 5, n_classes=4, random_state=0)
    kw = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    dense = NumpyMLPClassifier(**kw).fit(X[:50], Y[:50], X_val=X[50:], y_val=Y[50:])
    sparse = NumpyMLPClassifier(**kw).fit(
        X[:50], sp.csr_matrix(Y[:50]), X_val=X[50:], y_val=sp.csr_matrix(Y[50:])
    )
    assert sparse.history_["val_accuracy"] == dense.history_["val_accuracy"]
    assert len(sparse.history_["val_accuracy"]) == 3


# --------------------------------------------------------------------------
# D3. A divergence in the first epoch still sets loss_
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_divergence_in_the_first_epoch_sets_loss(solver):
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3), rng.randn(40)
    huge = X * 1e200  # the squared error overflows at the first batch
    reg = NumpyMLPRegressor(hidden_layer_sizes=(4,), solver=solver, random_state=0)
    with pytest.warns(DivergenceWarning):
        reg.fit(huge, y)
    # no epoch recorded: loss_ is the loss of the weights kept, the first ones
    assert reg.n_iter_ == 0 and reg.loss_curve_ == []
    assert reg.loss_ == np.inf
    # a refit that diverges does not keep the previous fit's loss either
    reg.set_params(max_iter=3).fit(X, y)
    assert np.isfinite(reg.loss_)
    with pytest.warns(DivergenceWarning):
        reg.fit(huge, y)
    assert reg.loss_ == np.inf


# --------------------------------------------------------------------------
# D4. Ctrl-C without skmlp's handler, during validation scoring
# --------------------------------------------------------------------------


def test_ctrl_c_during_validation_with_another_handler(digits, monkeypatch):
    X, y = digits
    calls = []
    original = NumpyMLPClassifier._validation_metrics

    def scoring_then_ctrl_c(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # as another SIGINT handler would
        return original(self, *args, **kwargs)

    def someone_elses_handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, someone_elses_handler)
    try:
        monkeypatch.setattr(
            NumpyMLPClassifier, "_validation_metrics", scoring_then_ctrl_c
        )
        clf = NumpyMLPClassifier(
            (6,), max_iter=10, early_stopping=True, random_state=0,
            n_iter_no_change=100,
        )  # fmt: skip
        with pytest.raises(KeyboardInterrupt):
            clf.fit(X[30:], y[30:], X_val=X[:30], y_val=y[:30])
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.undo()
    # the fourth epoch is undone as a whole
    assert clf.n_iter_ == 3
    assert len(clf.validation_scores_) == len(clf.loss_curve_) == 3
    assert all(len(v) == 3 for v in clf.history_.values())
    # and the weights kept are the best epoch's
    assert clf.best_validation_score_ == pytest.approx(clf.score(X[:30], y[:30]))
    assert clf.best_validation_score_ == max(clf.validation_scores_)


# --------------------------------------------------------------------------
# D6. Records in step; callbacks see n_iter_ during L-BFGS; tiny splits
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_validation_history_stays_in_step_with_the_epochs(digits, solver):
    X, y = digits
    val = dict(X_val=X[:30], y_val=y[:30])
    clf = NumpyMLPClassifier((5,), max_iter=2, warm_start=True, solver=solver)
    clf.fit(X[30:], y[30:])  # no validation set: no validation records
    assert clf.history_["val_loss"] == []
    clf.fit(X[30:], y[30:], **val)
    clf.fit(X[30:], y[30:])
    clf.fit(X[30:], y[30:], **val)
    n = len(clf.loss_curve_)
    assert n == 8
    for key, values in clf.history_.items():
        assert len(values) == n, key
    val_loss = np.array(clf.history_["val_loss"])
    np.testing.assert_array_equal(np.isnan(val_loss), [1, 1, 0, 0, 1, 1, 0, 0])


def test_callbacks_see_n_iter_during_lbfgs(digits):
    pytest.importorskip("sklearn.callback")  # scikit-learn >= 1.9
    X, y = digits
    seen = []

    class Record:
        def setup(self, estimator, context):
            pass

        def teardown(self, estimator, context):
            pass

        def on_fit_task_begin(self, estimator, context):
            pass

        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, **kw):
            if context.task_name == "epoch" and fitted_estimator is not None:
                seen.append(fitted_estimator.n_iter_)
            return False

    clf = NumpyMLPClassifier((5,), solver="lbfgs", max_iter=4, random_state=0)
    clf.set_callbacks(Record()).fit(X, y)
    assert seen == [1, 2, 3, 4]


def test_a_one_row_validation_split_is_not_used(digits):
    X, y = digits
    clf = NumpyMLPClassifier((5,), max_iter=2, early_stopping=True)
    with pytest.warns(UserWarning, match="no usable validation set"):
        clf.fit(X[:12], y[:12])  # ceil(0.1 * 12) = 2 rows: used
        clf.set_params(validation_fraction=0.05)
        clf.fit(X[:12], y[:12])  # 1 row: the training loss is watched
    assert clf.validation_scores_ == []


def test_divergence_in_validation_is_not_a_scorer_crash():
    # finite weights whose validation outputs overflow: the epoch diverged
    rng = np.random.RandomState(0)
    X, y = rng.randn(60, 3), rng.randn(60)
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(4,), max_iter=5, early_stopping=True, random_state=0
    )
    X_val = X[:10] * 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(DivergenceWarning):
            reg.fit(X, y, X_val=X_val, y_val=y[:10])
    assert reg.n_iter_ == 0 and reg.validation_scores_ == []


# --------------------------------------------------------------------------
# Found by the fuzzer (tests/test_fuzz.py)
# --------------------------------------------------------------------------


def test_the_last_update_of_a_call_is_checked():
    # finite weights after the last step whose outputs overflow: the loss of
    # that step never saw them, so the call checks one batch at its end
    rng = np.random.RandomState(0)
    X = rng.normal(size=(25, 2)) * 100
    y = rng.poisson(1.0, size=25).astype(float)
    reg = NumpyMLPRegressor(
        loss="poisson", hidden_layer_sizes=(3,), activation="gelu", alpha=0.5,
        solver="sgd", learning_rate_init=1.0, random_state=1,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.warns(DivergenceWarning):
            reg.partial_fit(X, y)
    assert reg.n_iter_ == 0 and reg.loss_curve_ == []
    assert all(np.isfinite(W).all() for W in reg.coefs_ + reg.intercepts_)

    rng = np.random.RandomState(64)
    X = (rng.normal(size=(30, 3)) * 100).astype(np.float32)
    clf = NumpyMLPClassifier(
        hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=50.0,
        max_iter=5, random_state=0,
    )  # fmt: skip
    with pytest.warns(DivergenceWarning):
        clf.fit(X, np.arange(30) % 3)
    assert np.isfinite(clf.predict_proba(X)).all()
    assert len(clf.loss_curve_) == clf.n_iter_ < 5


@pytest.mark.parametrize(
    "make_estimator, y",
    [
        (
            lambda: NumpyMLPRegressor(
                hidden_layer_sizes=(3,), scoring="neg_max_error", early_stopping=True
            ),
            np.random.RandomState(0).rand(30, 2),  # max_error: one output only
        ),
        (
            lambda: NumpyMLPClassifier(
                (3,), scoring="balanced_accuracy", early_stopping=True
            ),
            np.random.RandomState(0).randint(0, 2, (30, 2)),  # not multilabel
        ),
        (
            lambda: NumpyMLPClassifier(
                (3,), scoring="neg_log_loss", early_stopping=True
            ),
            np.zeros(30, dtype=int),  # log loss needs two classes
        ),
    ],
)
def test_a_scorer_that_cannot_score_is_refused_before_training(make_estimator, y):
    X = np.random.RandomState(0).normal(size=(30, 3))
    est = make_estimator()
    assert_refused_before_training(
        est, lambda: est.fit(X, y), match="cannot score this validation set"
    )


def test_log_loss_on_a_validation_set_without_every_class():
    X = np.random.RandomState(0).normal(size=(30, 3))
    clf = NumpyMLPClassifier((3,), scoring="neg_log_loss", max_iter=2)
    assert_refused_before_training(
        clf,
        lambda: clf.fit(X, np.arange(30) % 3, X_val=X[:4], y_val=[0, 1, 0, 1]),
        match="cannot score",
    )


def test_a_failed_first_call_leaves_a_given_random_state_as_it_was():
    X = np.random.RandomState(0).normal(size=(30, 3))
    rng = np.random.RandomState(7)
    before = rng.get_state()[1].copy()
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(3,), scoring="neg_max_error", early_stopping=True,
        random_state=rng,
    )  # fmt: skip
    with pytest.raises(ValueError, match="cannot score"):
        reg.fit(X, np.random.RandomState(0).rand(30, 2))
    np.testing.assert_array_equal(rng.get_state()[1], before)

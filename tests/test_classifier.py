"""Behaviour of NumpyMLPClassifier: the contract beyond scikit-learn's checks."""

import pickle
import threading
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import NumpyMLPClassifier, NumpyMLPRegressor
from skmlp._optimizers import SGD

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_learns_digits(digits):
    X, y = digits
    clf = NumpyMLPClassifier(max_iter=60, random_state=0).fit(X[:1400], y[:1400])
    assert clf.score(X[1400:], y[1400:]) > 0.88  # the last writers are harder
    proba = clf.predict_proba(X[1400:])
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X[1400:]))
    np.testing.assert_allclose(clf.predict_log_proba(X[1400:1405]), np.log(proba[:5]))


def test_fitted_attributes_match_mlpclassifier(digits):
    X, y = digits
    ours = NumpyMLPClassifier((20, 10), max_iter=3, random_state=0).fit(X, y)
    theirs = MLPClassifier((20, 10), max_iter=3, random_state=0).fit(X, y)
    for name in [
        "classes_",
        "n_features_in_",
        "n_layers_",
        "n_outputs_",
        "out_activation_",
        "n_iter_",
        "t_",
    ]:
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name))
    # the losses mean the same in both: one entry per epoch, the last one,
    # and the lowest (the values differ: the initialisations differ)
    for clf in (ours, theirs):
        assert len(clf.loss_curve_) == clf.n_iter_
        assert clf.loss_ == clf.loss_curve_[-1]
        assert clf.best_loss_ == min(clf.loss_curve_)
        assert isinstance(clf.loss_, float)
    assert ours.validation_scores_ is theirs.validation_scores_ is None
    assert [W.shape for W in ours.coefs_] == [W.shape for W in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    # the parameters shared with MLPClassifier have the same defaults
    shared = set(MLPClassifier().get_params()) & set(NumpyMLPClassifier().get_params())
    assert shared == set(MLPClassifier().get_params())
    for name in shared:
        assert (
            NumpyMLPClassifier().get_params()[name]
            == MLPClassifier().get_params()[name]
        )


def test_xavier_initialisation_bounds():
    X = np.random.RandomState(0).rand(50, 30)
    y = np.arange(50) % 5
    clf = NumpyMLPClassifier((40,), max_iter=1, learning_rate_init=1e-12)
    clf.fit(X, y)
    for W in clf.coefs_:
        bound = np.sqrt(6 / sum(W.shape))
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.9 * bound  # uniform over the whole range


@pytest.mark.parametrize(
    ("y_kind", "names"),
    [
        ("binary", np.array([False, True])),
        ("binary", np.array(["even", "odd"])),
        ("multiclass", np.array([-3.0, 0.0, 1.0, 2.0, 40.0])),
        ("strings", np.array(["c0", "c1", "c2", "c3", "c4"])),
    ],
)
def test_label_types(digits, y_kind, names):
    # Labels of any type are only names for the classes 0..k-1 in sorted
    # order: the same labels renamed (order kept) give the same network,
    # hence the same predictions, renamed, on held-out data.
    X, y = digits
    codes = y % len(names)
    labels = names[codes]
    train, test = slice(0, 1400), slice(1400, None)
    ints = NumpyMLPClassifier((30,), max_iter=30, random_state=0)
    ints.fit(X[train], codes[train])
    clf = NumpyMLPClassifier((30,), max_iter=30, random_state=0)
    clf.fit(X[train], labels[train])
    np.testing.assert_array_equal(clf.classes_, names)
    predicted = clf.predict(X[test])
    assert predicted.dtype == names.dtype
    np.testing.assert_array_equal(predicted, names[ints.predict(X[test])])
    P = clf.predict_proba(X[test])
    np.testing.assert_array_equal(P, ints.predict_proba(X[test]))
    # held out: it learned, as well as scikit-learn's MLPClassifier (within
    # 0.05), far above chance (0.5 at most)
    score = clf.score(X[test], labels[test])
    theirs = MLPClassifier((30,), max_iter=30, random_state=0)
    theirs_score = theirs.fit(X[train], labels[train]).score(X[test], labels[test])
    assert score > max(0.75, theirs_score - 0.05), (score, theirs_score)


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=400, n_classes=4, random_state=0)
    X = X / X.max()
    train, test = slice(0, 300), slice(300, None)
    params = dict(hidden_layer_sizes=(30,), max_iter=300, random_state=0)
    clf = NumpyMLPClassifier(**params).fit(X[train], Y[train])
    assert clf.out_activation_ == "logistic"
    np.testing.assert_array_equal(clf.classes_, np.arange(4))
    P = clf.predict_proba(X[test])
    np.testing.assert_array_equal(clf.predict(X[test]), (P > 0.5).astype(int))
    # held out, per label: as good as scikit-learn's MLPClassifier (within
    # 0.03), and far better than predicting each label's majority value
    accuracy = (clf.predict(X[test]) == Y[test]).mean()
    theirs = MLPClassifier(**params).fit(X[train], Y[train])
    theirs_accuracy = (theirs.predict(X[test]) == Y[test]).mean()
    majority = (Y[train].mean(axis=0) > 0.5).astype(int)
    baseline = (Y[test] == majority).mean()
    assert accuracy > theirs_accuracy - 0.03, (accuracy, theirs_accuracy)
    assert accuracy > baseline + 0.15, (accuracy, baseline)
    P = clf.predict_proba(X * 1e3)  # saturated outputs stay inside (0, 1)
    assert (P > 0).all() and (P < 1).all()


def test_sparse_input_gives_same_model_as_dense(digits):
    X, y = digits
    dense = NumpyMLPClassifier((16,), max_iter=5, random_state=0, dtype="float64")
    sparse = NumpyMLPClassifier((16,), max_iter=5, random_state=0, dtype="float64")
    dense.fit(X, y)
    for container in (sp.csr_matrix, sp.csc_matrix):
        sparse.fit(container(X), y)
        for W1, W2 in zip(dense.coefs_, sparse.coefs_):
            np.testing.assert_allclose(W1, W2, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            dense.predict_proba(X), sparse.predict_proba(container(X)), atol=1e-10
        )


def test_dataframe_feature_names(digits):
    pd = pytest.importorskip("pandas")
    X, y = digits
    df = pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])])
    clf = NumpyMLPClassifier((10,), max_iter=3).fit(df, y)
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df.rename(columns={"px0": "other"}))


@pytest.mark.parametrize(
    ("X_dtype", "expected"),
    [
        (np.float64, np.float64),
        (np.float32, np.float32),
        (np.uint8, np.float32),
        (np.int64, np.float64),
    ],
)
def test_dtype_auto_follows_input(digits, X_dtype, expected):
    X, y = digits
    X = (X * 16).astype(X_dtype)
    clf = NumpyMLPClassifier((8,), max_iter=2).fit(X, y)
    assert clf.coefs_[0].dtype == expected
    assert clf.predict_proba(X).dtype == expected
    forced = NumpyMLPClassifier((8,), max_iter=2, dtype="float32").fit(X, y)
    assert forced.coefs_[0].dtype == np.float32


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("X_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("Estimator", [NumpyMLPClassifier, NumpyMLPRegressor])
def test_dtype_auto_follows_sparse_input(digits, fmt, X_dtype, Estimator):
    # found by tests/test_fuzz.py: the dtype of a sparse matrix was read
    # through np.asarray (an object array), so float32 CSR trained in float64
    X, y = digits
    X = sp.csr_matrix(X[:200], dtype=X_dtype).asformat(fmt)
    est = Estimator(hidden_layer_sizes=(8,), max_iter=2).fit(X, y[:200])
    assert est.coefs_[0].dtype == X_dtype
    is_classifier = Estimator is NumpyMLPClassifier
    assert est.predict(X).dtype == (y.dtype if is_classifier else X_dtype)


def test_partial_fit_contract(digits):
    X, y = digits
    clf = NumpyMLPClassifier((20,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:50], y[:50])
    clf.partial_fit(X[:50], y[:50], classes=np.arange(10))
    assert clf.n_iter_ == 1
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        clf.partial_fit(X[:5], np.array([0, 1, 2, 3, 11]))
    # later calls continue from the current state, optimizer included
    steps = clf._optimizer.n_steps
    clf.partial_fit(X[50:100], y[50:100])
    assert clf.n_iter_ == 1  # counts the epochs of this call, as scikit-learn
    assert clf.t_ == 100
    assert clf._optimizer.n_steps == steps + 1
    # y need not contain every class
    clf.partial_fit(X[y < 3][:20], y[y < 3][:20])
    with pytest.raises(AttributeError, match="partial_fit"):
        NumpyMLPClassifier(solver="lbfgs").partial_fit(X, y, classes=np.unique(y))


def test_partial_fit_equals_fit_one_epoch_at_a_time(digits):
    X, y = digits
    a = NumpyMLPClassifier((20,), solver="sgd", random_state=0, max_iter=1)
    a.fit(X, y)
    b = NumpyMLPClassifier((20,), solver="sgd", random_state=0)
    b.partial_fit(X, y, classes=np.unique(y))
    for W1, W2 in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(W1, W2)
    assert a.loss_curve_ == b.loss_curve_
    assert a.t_ == b.t_ == len(X)


def test_warm_start_continues(digits):
    X, y = digits
    clf = NumpyMLPClassifier((20,), max_iter=3, warm_start=True, random_state=0)
    clf.fit(X, y)
    W = clf.coefs_[0].copy()
    clf.fit(X, y)
    # as scikit-learn: n_iter_ counts this call's epochs, the curve and the
    # samples seen go on
    assert clf.n_iter_ == 3
    assert len(clf.loss_curve_) == 6
    assert clf.t_ == 6 * len(X)
    assert not np.array_equal(W, clf.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 5], y[y < 5])
    cold = NumpyMLPClassifier((20,), max_iter=3, random_state=0).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 3


def test_early_stopping_restores_best_weights(digits):
    X, y = digits
    clf = NumpyMLPClassifier(
        (30,),
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=200,
        learning_rate_init=0.05,
        random_state=0,
    ).fit(X, y)
    assert clf.n_iter_ < 200
    assert clf.best_loss_ is None
    best = int(np.argmax(clf.validation_scores_))
    assert clf.best_validation_score_ == clf.validation_scores_[best]
    assert len(clf.history_["val_loss"]) == clf.n_iter_
    assert best < clf.n_iter_ - 1  # it did go on after the best epoch
    # the kept weights are the best epoch's, not the last one's: run the same
    # fit for exactly best + 1 epochs without early stopping's restore
    same = NumpyMLPClassifier(**{**clf.get_params(), "max_iter": best + 1})
    same.fit(X, y)
    for W1, W2 in zip(clf.coefs_, same.coefs_):
        np.testing.assert_array_equal(W1, W2)


def test_early_stopping_on_tiny_data_still_works():
    # one validation row makes no score (scikit-learn raises "The validation
    # set is too small"): the training loss is watched instead, with a warning
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1])
    for fraction in (0.1, 0.0):
        clf = NumpyMLPClassifier(
            early_stopping=True, validation_fraction=fraction, max_iter=5
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with pytest.warns(UserWarning, match="training loss instead"):
                clf.fit(X, y)
        assert clf.n_iter_ >= 1 and np.isfinite(clf.loss_)
        assert clf.validation_scores_ == []
        assert set(clf.predict(X)) <= {0, 1}
    # two held-out rows are enough
    clf.set_params(validation_fraction=0.5, n_iter_no_change=100)
    X4, y4 = np.vstack([X, X]), np.concatenate([y, y])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X4, y4)
    assert len(clf.validation_scores_) == clf.n_iter_ == 5


def test_same_random_state_bit_identical(digits):
    X, y = digits
    a = NumpyMLPClassifier((20,), max_iter=3, random_state=7).fit(X, y)
    b = NumpyMLPClassifier((20,), max_iter=3, random_state=7).fit(X, y)
    c = NumpyMLPClassifier((20,), max_iter=3, random_state=8).fit(X, y)
    for W1, W2 in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(W1, W2)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_verbose_prints_one_line_per_epoch(digits, capsys):
    X, y = digits
    NumpyMLPClassifier((10,), max_iter=4, verbose=True).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("Iteration 1, loss = ")
    NumpyMLPClassifier((10,), max_iter=3, verbose=True, early_stopping=True).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert "validation accuracy" in lines[0]


def test_history(digits):
    X, y = digits
    clf = NumpyMLPClassifier((10,), max_iter=4, early_stopping=True).fit(X, y)
    h = clf.history_
    assert h["loss"] == clf.loss_curve_
    assert h["val_accuracy"] == clf.validation_scores_
    for key in ("accuracy", "val_loss", "learning_rate", "time"):
        assert len(h[key]) == 4
    assert all(0 <= a <= 1 for a in h["accuracy"])
    assert h["time"] == sorted(h["time"])


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive", "cosine"])
def test_sgd_schedules(digits, schedule):
    X, y = digits
    clf = NumpyMLPClassifier(
        (20,),
        solver="sgd",
        learning_rate=schedule,
        learning_rate_init=0.1,
        max_iter=10,
        random_state=0,
    ).fit(X, y)
    # invscaling divides by sqrt(samples seen): 0.1 / sqrt(1797) after one
    # epoch, too small to learn much in 10 epochs (as in scikit-learn)
    assert clf.score(X, y) > (0.5 if schedule == "invscaling" else 0.85)
    rates = clf.history_["learning_rate"]
    if schedule == "constant":
        assert set(rates) == {0.1}
    elif schedule == "cosine":
        # the rate each epoch used: lr0 / 2 * (1 + cos(pi * epoch / max_iter))
        expected = [0.05 * (1 + np.cos(np.pi * k / 10)) for k in range(10)]
        np.testing.assert_allclose(rates, expected)
    elif schedule == "invscaling":
        assert rates == sorted(rates, reverse=True) and rates[-1] < 0.1


def test_lbfgs(digits):
    X, y = digits
    clf = NumpyMLPClassifier((20,), solver="lbfgs", max_iter=100, random_state=0)
    clf.fit(X, y)
    assert clf.score(X, y) > 0.97
    assert 0 < clf.n_iter_ <= 100
    assert clf.loss_ == pytest.approx(clf.loss_curve_[-1], rel=1e-6)


def test_pipeline_gridsearch_cross_val(digits):
    X, y = digits
    pipe = make_pipeline(
        StandardScaler(), NumpyMLPClassifier(max_iter=20, random_state=0)
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.9
    # one candidate far worse than the other: a search that did not pass the
    # parameter on (set_params, clone) would tie and pick the first
    grid = {"numpymlpclassifier__hidden_layer_sizes": [(1,), (30,)]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert search.best_params_ == {"numpymlpclassifier__hidden_layer_sizes": (30,)}
    # each candidate's scores are those of a plain cross-validation
    for params, mean in zip(
        search.cv_results_["params"], search.cv_results_["mean_test_score"]
    ):
        alone = cross_val_score(clone(pipe).set_params(**params), X, y, cv=2)
        assert mean == alone.mean()
    # the refit best model is a fresh fit on all the data
    best = clone(pipe).set_params(**search.best_params_).fit(X, y)
    np.testing.assert_array_equal(
        search.best_estimator_.predict_proba(X), best.predict_proba(X)
    )


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_joblib_and_pickle_round_trip(digits, tmp_path, solver):
    X, y = digits
    clf = NumpyMLPClassifier((20,), solver=solver, max_iter=5, random_state=0)
    clf.fit(X, y)
    joblib.dump(clf, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(clf.predict_proba(X), loaded.predict_proba(X))
    # the views into the flat parameter vector are re-linked after loading
    assert loaded._parameters_linked()
    loaded.coefs_[0][...] = 0
    assert not np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    if solver != "lbfgs":
        # a loaded model continues exactly like the original
        original = pickle.loads(pickle.dumps(clf))
        clf.partial_fit(X[:100], y[:100])
        original.partial_fit(X[:100], y[:100])
        for W1, W2 in zip(clf.coefs_, original.coefs_):
            np.testing.assert_array_equal(W1, W2)


def test_writing_coefs_changes_the_model(digits):
    X, y = digits
    clf = NumpyMLPClassifier((10,), max_iter=3, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    clf.intercepts_[-1][...] += 5.0 * (np.arange(10) == 3)
    assert (clf.predict(X) == clf.classes_[3]).mean() > 0.9
    # replacing a whole array works too, also for further training
    clf.coefs_[1] = np.zeros_like(clf.coefs_[1])
    clf.intercepts_[-1][...] = 0
    np.testing.assert_allclose(clf.predict_proba(X), 0.1, rtol=1e-5)
    assert not np.allclose(before, clf.predict_proba(X))
    clf.partial_fit(X, y)
    assert clf._parameters_linked()
    assert not np.allclose(clf.coefs_[1], 0)


def test_sample_weight_zero_equals_removing(digits):
    X, y = digits
    X, y = X[:150], y[:150]  # one batch: the weighted and the cut data agree
    sw = np.ones(150)
    sw[100:] = 0
    a = NumpyMLPClassifier((10,), max_iter=20, dtype="float64", random_state=0)
    b = NumpyMLPClassifier((10,), max_iter=20, dtype="float64", random_state=0)
    a.fit(X, y, sample_weight=sw)
    b.fit(X[:100], y[:100])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-7)


def test_early_stopping_fallback_stops_on_training_loss():
    # too small to hold out a validation set: the training loss is watched
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1])
    clf = NumpyMLPClassifier(
        (4,),
        early_stopping=True,
        validation_fraction=0.0,
        tol=1e9,  # no epoch counts as an improvement after the first
        n_iter_no_change=2,
        max_iter=50,
    )
    with pytest.warns(UserWarning, match="training loss instead"):
        clf.fit(X, y)
    assert clf.n_iter_ == 4  # epoch 1 sets the best, then 3 epochs without
    assert clf.best_loss_ == min(clf.loss_curve_)


def test_adaptive_divides_the_rate_by_5_and_stops_below_1e_6(digits):
    # tol=1e9: no epoch after the first counts as an improvement, so every
    # n_iter_no_change + 1 = 3 epochs training stalls: the rate is divided by
    # 5, until a stall finds it at or below 1e-6. From 0.1 that takes 8
    # divisions (0.1 / 5**8 = 2.56e-7), and the 9th stall, at the end of
    # epoch 1 + 9 * 3 = 28, stops training.
    X, y = digits
    X, y = X[:300], y[:300]
    params = dict(
        hidden_layer_sizes=(8,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.1,
        tol=1e9,
        n_iter_no_change=2,
        max_iter=100,
        random_state=0,
    )
    clf = NumpyMLPClassifier(**params).fit(X, y)
    assert clf.n_iter_ == 28
    expected = [0.1 / 5 ** max(0, (epoch - 2) // 3) for epoch in range(1, 29)]
    np.testing.assert_allclose(clf.history_["learning_rate"], expected, rtol=1e-12)
    theirs = MLPClassifier(**params).fit(X, y)
    assert theirs.n_iter_ == clf.n_iter_
    assert theirs._optimizer.learning_rate == pytest.approx(expected[-1], rel=1e-12)


@pytest.mark.parametrize("power_t", [0.5, 0.25])
def test_invscaling_rates_are_exact(digits, power_t):
    # the rate of epoch k + 1 is lr0 / (t + 1) ** power_t, t the number of
    # samples seen after k epochs, as in scikit-learn
    X, y = digits
    X, y = X[:300], y[:300]
    params = dict(
        hidden_layer_sizes=(8,),
        solver="sgd",
        learning_rate="invscaling",
        learning_rate_init=0.1,
        power_t=power_t,
        max_iter=4,
        random_state=0,
    )
    clf = NumpyMLPClassifier(**params).fit(X, y)
    expected = [0.1] + [0.1 / (300 * k + 1) ** power_t for k in range(1, 4)]
    np.testing.assert_allclose(clf.history_["learning_rate"], expected, rtol=1e-12)
    # partial_fit goes on counting the samples seen
    clf.partial_fit(X[:100], y[:100])
    next_rate = 0.1 / (300 * 4 + 1) ** power_t
    assert clf.history_["learning_rate"][-1] == pytest.approx(next_rate, rel=1e-12)
    # scikit-learn's optimizer ends the same fit at the rate for t = 4 * 300
    theirs = MLPClassifier(**params).fit(X, y)
    assert theirs._optimizer.learning_rate == pytest.approx(next_rate, rel=1e-12)


def test_interrupt_without_a_signal_handler_goes_back_to_the_epoch_start(
    digits, monkeypatch
):
    # Outside the main thread no SIGINT handler can be installed, so a
    # KeyboardInterrupt can arrive in the middle of an update. Simulated here:
    # in the third epoch, an update is half applied (garbage in half of the
    # parameters) when the interrupt comes. The model must go back to the
    # weights the epoch started from: exactly those of a 2-epoch fit.
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), solver="sgd", batch_size=200)
    two_epochs = NumpyMLPClassifier(max_iter=2, random_state=0, **params).fit(X, y)
    n_batches = -(-len(X) // 200)
    steps = []
    original_step = SGD.step

    def step_interrupted_halfway(self, params, grad, **l2):
        steps.append(1)
        if len(steps) == 2 * n_batches + 3:
            params[: params.size // 2] = 1e3
            raise KeyboardInterrupt
        original_step(self, params, grad, **l2)

    monkeypatch.setattr(SGD, "step", step_interrupted_halfway)
    clf = NumpyMLPClassifier(max_iter=10, random_state=0, **params)
    outcome = {}

    def fit_in_a_thread():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                clf.fit(X, y)
            except KeyboardInterrupt as exc:
                outcome["raised"] = exc
        outcome["warnings"] = [str(w.message) for w in caught]

    thread = threading.Thread(target=fit_in_a_thread)
    thread.start()
    thread.join()
    # the interrupt is not lost: it reaches the caller, or at least a warning
    # says so (which of the two is the Ctrl-C tests' business)
    assert "raised" in outcome or any(
        "interrupted" in message for message in outcome["warnings"]
    ), outcome
    assert len(steps) == 2 * n_batches + 3  # no batch ran after it
    assert clf.n_iter_ == 2
    for a, b in zip(
        clf.coefs_ + clf.intercepts_, two_epochs.coefs_ + two_epochs.intercepts_
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(clf.predict(X), two_epochs.predict(X))


@pytest.mark.parametrize("seed", range(5))
def test_batch_score_counts_the_rows_whose_argmax_is_the_label(seed):
    """The training accuracy of each batch (softmax): T's entry at P's
    argmax, summed, is the count of P.argmax == T.argmax, ties and NaN
    rows included."""
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 4, 40)
    clf = NumpyMLPClassifier(hidden_layer_sizes=(3,), max_iter=1).fit(X, y)
    for dtype in (np.float32, np.float64):
        P = rng.integers(0, 3, (50, 4)).astype(dtype)  # many ties
        P[0] = np.nan
        T = np.eye(4, dtype=dtype)[rng.integers(0, 4, 50)]
        expected = float((P.argmax(axis=1) == T.argmax(axis=1)).sum())
        assert clf._batch_score(P, T) == expected

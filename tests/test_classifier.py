"""Behaviour of NumpyMLPClassifier: the contract beyond scikit-learn's checks."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import NumpyMLPClassifier

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
    for name in ["loss_", "best_loss_", "loss_curve_"]:
        assert np.shape(getattr(ours, name)) == np.shape(getattr(theirs, name))
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


@pytest.mark.parametrize("y_kind", ["binary", "multiclass", "strings"])
def test_label_types(digits, y_kind):
    X, y = digits
    if y_kind == "binary":
        y = y % 2
    elif y_kind == "strings":
        y = np.array(["zero", "one", "two", "three", "four"])[y % 5]
    clf = NumpyMLPClassifier((30,), max_iter=30, random_state=0).fit(X, y)
    assert set(clf.classes_) == set(np.unique(y))
    assert clf.predict(X).dtype == clf.classes_.dtype
    assert clf.score(X, y) > 0.9
    assert clf.predict_proba(X).shape == (len(X), len(clf.classes_))


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    clf = NumpyMLPClassifier((30,), max_iter=200, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic"
    assert clf.predict(X).shape == Y.shape
    P = clf.predict_proba(X * 1e3)  # saturated outputs stay inside (0, 1)
    assert (P > 0).all() and (P < 1).all()
    assert clf.score(X, Y) > 0.5


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
    assert clf.n_iter_ == 2
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
    for W1, W2 in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(W1, W2)


def test_warm_start_continues(digits):
    X, y = digits
    clf = NumpyMLPClassifier((20,), max_iter=3, warm_start=True, random_state=0)
    clf.fit(X, y)
    W = clf.coefs_[0].copy()
    clf.fit(X, y)
    assert clf.n_iter_ == 6
    assert len(clf.loss_curve_) == 6
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
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1])
    clf = NumpyMLPClassifier(early_stopping=True, validation_fraction=0.1, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)  # 1 validation sample, 1 training sample
    assert clf.predict(X).shape == (2,)
    clf.set_params(validation_fraction=0.0)
    with pytest.warns(UserWarning, match="training loss instead"):
        clf.fit(X, y)
    assert np.isfinite(clf.loss_)


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
    search = GridSearchCV(
        pipe,
        {"numpymlpclassifier__hidden_layer_sizes": [(10,), (30,)]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["numpymlpclassifier__hidden_layer_sizes"] in [
        (10,),
        (30,),
    ]


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

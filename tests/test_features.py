"""What scikit-learn's MLP refused: class weights, an explicit validation set,
early stopping on any score, transform(), dropout and more activations."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from _gradient_bound import assert_gradients_agree
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, get_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skmlp import NumpyMLPClassifier, NumpyMLPRegressor, check_gradients

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


def params(model):
    return [p.copy() for p in model.coefs_ + model.intercepts_]


def assert_same_params(a, b, **kw):
    for p, q in zip(params(a), params(b)):
        np.testing.assert_allclose(p, q, **kw)


# --------------------------------------------------------------------------
# class_weight
# --------------------------------------------------------------------------

SGD = dict(hidden_layer_sizes=(8,), solver="sgd", max_iter=5, random_state=0)


def test_class_weight_dict_is_the_matching_sample_weight(digits):
    X, y = digits
    weights = {c: 1.0 + c for c in range(10)}
    by_class = NumpyMLPClassifier(class_weight=weights, **SGD).fit(X, y)
    by_sample = NumpyMLPClassifier(**SGD).fit(X, y, sample_weight=1.0 + y)
    assert_same_params(by_class, by_sample, rtol=1e-12)


def test_class_weight_combines_with_sample_weight_by_product(digits):
    X, y = digits
    sw = np.random.RandomState(0).uniform(0.5, 2, size=len(y))
    both = NumpyMLPClassifier(class_weight="balanced", **SGD).fit(
        X, y, sample_weight=sw
    )
    # "balanced" counts each class by its total sample weight, so that a
    # weight of 2 is the same as the row twice: W / (n_classes * W_c)
    classes = np.unique(y)
    by_class = {c: sw.sum() / (len(classes) * sw[y == c].sum()) for c in classes}
    product = sw * np.array([by_class[c] for c in y])
    alone = NumpyMLPClassifier(**SGD).fit(X, y, sample_weight=product)
    assert_same_params(both, alone, rtol=1e-12)


def test_balanced_class_weight_lifts_the_minority_class():
    scores = {}
    for seed in range(5):
        X, y = make_classification(
            n_samples=600,
            weights=[0.93, 0.07],
            flip_y=0,
            class_sep=0.8,
            random_state=seed,
        )
        X_test, y_test = X[400:], y[400:]
        for cw in (None, "balanced"):
            clf = NumpyMLPClassifier(
                (16,), class_weight=cw, max_iter=300, random_state=seed
            ).fit(X[:400], y[:400])
            recall = (clf.predict(X_test)[y_test == 1] == 1).mean()
            scores.setdefault(cw, []).append(recall)
    assert np.mean(scores["balanced"]) > np.mean(scores[None]) + 0.1


def test_class_weight_for_multilabel_is_the_product_over_labels():
    X = np.random.RandomState(0).randn(20, 3)
    Y = np.array([[0, 1], [1, 0], [1, 1], [0, 0], [0, 0]] * 4)
    kw = dict(hidden_layer_sizes=(4,), solver="sgd", max_iter=3, random_state=0)
    weights = [{0: 1.0, 1: 3.0}, {0: 2.0, 1: 0.5}]
    by_class = NumpyMLPClassifier(class_weight=weights, **kw).fit(X, Y)
    product = np.where(Y[:, 0], 3.0, 1.0) * np.where(Y[:, 1], 0.5, 2.0)
    by_sample = NumpyMLPClassifier(**kw).fit(X, Y, sample_weight=product)
    assert_same_params(by_class, by_sample, rtol=1e-12)
    with pytest.raises(ValueError, match="class_weight"):
        NumpyMLPClassifier(class_weight={0: 1.0, 1: 2.0}, **kw).fit(X, Y)


# --------------------------------------------------------------------------
# an explicit validation set
# --------------------------------------------------------------------------


def test_explicit_validation_set_trains_on_all_of_X(digits, monkeypatch):
    X, y = digits
    X_val, y_val = X[300:], y[300:]
    clf = NumpyMLPClassifier((16,), early_stopping=True, max_iter=50, random_state=0)
    clf.fit(X[:300], y[:300], X_val=X_val, y_val=y_val)
    assert clf.t_ == 300 * clf.n_iter_  # every row trained, none held out
    assert clf.validation_scores_ == clf.history_["val_accuracy"]
    # the weights kept are those of the best epoch, scored on X_val
    assert clf.best_validation_score_ == pytest.approx(clf.score(X_val, y_val))
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_validation_set_without_early_stopping_fills_the_history(digits):
    X, y = digits
    clf = NumpyMLPClassifier((16,), max_iter=4, random_state=0)
    clf.fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])
    assert len(clf.history_["val_loss"]) == len(clf.history_["val_accuracy"]) == 4
    assert clf.validation_scores_ is None
    assert clf.history_["val_accuracy"][-1] == pytest.approx(
        clf.score(X[300:], y[300:])
    )
    reg = NumpyMLPRegressor(hidden_layer_sizes=(8,), max_iter=3).fit(
        X[:300], y[:300], X_val=X[300:], y_val=y[300:]
    )
    assert reg.history_["val_r2"][-1] == pytest.approx(reg.score(X[300:], y[300:]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (lambda X, y: dict(y_val=y), "X_val and y_val must be given together"),
        (lambda X, y: dict(X_val=X), "X_val and y_val must be given together"),
        (lambda X, y: dict(X_val=X[:, :5], y_val=y), "features"),
        (lambda X, y: dict(X_val=X, y_val=y + 20), "labels not seen in y"),
        (lambda X, y: dict(sample_weight_val=np.ones(len(y))), "without X_val"),
        (lambda X, y: dict(X_val=X, y_val=y[:-1]), "inconsistent numbers of samples"),
    ],
)
def test_bad_validation_sets(digits, kwargs, message):
    X, y = digits
    clf = NumpyMLPClassifier((4,), max_iter=2).fit(X, y)
    before = params(clf)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y, **kwargs(X, y))
    for p, q in zip(before, params(clf)):  # the failed call changed nothing
        np.testing.assert_array_equal(p, q)


# --------------------------------------------------------------------------
# scoring for early stopping
# --------------------------------------------------------------------------


def test_scoring_loss_holds_minus_the_validation_loss(digits):
    X, y = digits
    clf = NumpyMLPClassifier(
        (16,), early_stopping=True, scoring="loss", max_iter=30, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(
        clf.validation_scores_, -np.array(clf.history_["val_loss"])
    )
    assert clf.best_validation_score_ == max(clf.validation_scores_)


@pytest.mark.parametrize(
    "scoring", ["balanced_accuracy", get_scorer("f1_macro"), "neg_log_loss"]
)
def test_scoring_any_scorer(digits, scoring):
    X, y = digits
    X_val, y_val = X[300:], y[300:]
    clf = NumpyMLPClassifier(
        (16,), early_stopping=True, scoring=scoring, max_iter=30, random_state=0
    )
    clf.fit(X[:300], y[:300], X_val=X_val, y_val=y_val)
    scorer = get_scorer(scoring) if isinstance(scoring, str) else scoring
    # the score of the weights that are kept
    assert clf.best_validation_score_ == pytest.approx(scorer(clf, X_val, y_val))


def test_regressor_scoring_default_is_r2(digits):
    X, y = digits
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(8,), early_stopping=True, max_iter=20, random_state=0
    ).fit(X, y)
    assert reg.validation_scores_ == reg.history_["val_r2"]


# --------------------------------------------------------------------------
# transform: the network as a feature extractor
# --------------------------------------------------------------------------


def test_transform_is_the_last_hidden_layer(digits):
    X, y = digits
    clf = NumpyMLPClassifier((12, 7), max_iter=5, random_state=0).fit(X, y)
    H = clf.transform(X)
    assert H.shape == (len(X), 7)
    assert (H >= 0).all()  # relu
    # the output layer applied to it gives the logits predict_proba softmaxes
    logits = H @ clf.coefs_[-1] + clf.intercepts_[-1]
    np.testing.assert_allclose(
        clf.predict_log_proba(X),
        logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)),
        rtol=1e-6,
        atol=1e-9,
    )
    names = clf.get_feature_names_out()
    assert list(names) == [f"numpymlpclassifier{i}" for i in range(7)]


def test_transform_in_a_pipeline(digits):
    X, y = digits
    pipe = Pipeline(
        [
            ("mlp", NumpyMLPClassifier((32,), max_iter=30, random_state=0)),
            ("lr", LogisticRegression(max_iter=500)),
        ]
    )
    assert pipe.fit(X[:300], y[:300]).score(X[300:], y[300:]) > 0.8
    assert pipe[:-1].get_feature_names_out().shape == (32,)


def test_no_transform_without_a_hidden_layer(digits):
    X, y = digits
    clf = NumpyMLPClassifier(())
    assert not hasattr(clf, "transform")  # before fitting too: no transformer
    clf.fit(X, y)
    for method in ("transform", "fit_transform", "get_feature_names_out"):
        assert not hasattr(clf, method)
    with pytest.raises(AttributeError, match="has no attribute 'transform'") as info:
        clf.transform(X)
    assert "at least one hidden layer" in str(info.value.__cause__)
    assert NumpyMLPClassifier().__sklearn_tags__().transformer_tags is not None
    assert clf.__sklearn_tags__().transformer_tags is None


# --------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", [NumpyMLPClassifier, NumpyMLPRegressor])
def test_dropout_reproducible_across_calls_and_pickles(digits, Estimator):
    X, y = digits

    def make():
        return Estimator(
            hidden_layer_sizes=(16, 8),
            dropout=[0.3, 0.1],
            random_state=3,
        )

    kwargs = {"classes": np.arange(10)} if Estimator is NumpyMLPClassifier else {}
    a, b = make(), make()
    for model in (a, b):
        model.partial_fit(X, y, **kwargs)
    b = pickle.loads(pickle.dumps(b))  # mid-training
    for model in (a, b):
        model.partial_fit(X, y)
        model.partial_fit(X, y)
    assert_same_params(a, b, rtol=0)
    c = make().set_params(dropout=0.0)
    c.partial_fit(X, y, **kwargs)
    assert not np.array_equal(c.coefs_[0], a.coefs_[0])


def test_dropout_changes_training_not_prediction(digits):
    X, y = digits
    clf = NumpyMLPClassifier((16,), dropout=0.5, max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    plain = NumpyMLPClassifier((16,), max_iter=5, random_state=0).fit(X, y)
    assert not np.array_equal(clf.coefs_[0], plain.coefs_[0])
    zero = NumpyMLPClassifier((16,), dropout=0.0, max_iter=5, random_state=0).fit(X, y)
    assert_same_params(zero, plain, rtol=0)


@pytest.mark.parametrize(
    ("dropout", "sizes"),
    [(1.0, (5,)), (-0.1, (5,)), ([0.1, 0.2], (5,)), ([0.1], (5, 5)), ("high", (5,))],
)
def test_bad_dropout(digits, dropout, sizes):
    X, y = digits
    with pytest.raises(ValueError, match="dropout"):
        NumpyMLPClassifier(sizes, dropout=dropout, max_iter=2).fit(X, y)


def test_dropout_refused_with_lbfgs(digits):
    X, y = digits
    with pytest.raises(
        ValueError, match="dropout is not supported with solver='lbfgs'"
    ):
        NumpyMLPClassifier((5,), dropout=0.2, solver="lbfgs").fit(X, y)


@pytest.mark.parametrize("seed", range(3))
def test_check_gradients_with_dropout(digits, seed):
    # tanh: with ReLU, a unit whose inputs were all dropped sits on the kink
    # at 0 (its bias stays exactly 0 while it is dead), where no finite
    # difference measures a derivative
    X, y = digits
    clf = NumpyMLPClassifier(
        (6, 5), activation="tanh", dropout=[0.5, 0.2], max_iter=3, random_state=seed
    ).fit(X, y)
    result = check_gradients(clf, X[:30], y[:30], random_state=seed)
    assert_gradients_agree(result)  # tests/_gradient_bound.py
    # the masks are fixed for the check: without dropout the gradient differs
    plain = check_gradients(clf.set_params(dropout=0.0), X[:30], y[:30])
    assert not np.allclose(plain.analytic["coefs_[0]"], result.analytic["coefs_[0]"])


# --------------------------------------------------------------------------
# activations, built in and your own
# --------------------------------------------------------------------------


def scaled_tanh(Z):
    return 1.7159 * np.tanh(2 / 3 * Z)


def scaled_tanh_derivative(Z):
    return 1.7159 * 2 / 3 * (1 - np.tanh(2 / 3 * Z) ** 2)


CUSTOM = (scaled_tanh, scaled_tanh_derivative)


@pytest.mark.parametrize(
    "activation", ["leaky_relu", "elu", "gelu", "softplus", CUSTOM]
)
@pytest.mark.parametrize("Estimator", [NumpyMLPClassifier, NumpyMLPRegressor])
def test_activations_learn_and_check(digits, activation, Estimator):
    X, y = digits
    model = Estimator(
        hidden_layer_sizes=(16,),
        activation=activation,
        solver="lbfgs",
        max_iter=100,
        random_state=0,
    ).fit(X, y)
    assert model.score(X, y) > 0.8
    # fitted until the gradient is ~1e-5: relative errors of ~1e-6 are round-off
    # (1.0086e-6 on one AVX-512 CPU), which the bound takes from the loss
    assert_gradients_agree(check_gradients(model, X[:30], y[:30]))


def test_custom_activation_clone_pickle_grid_search(digits):
    X, y = digits
    clf = NumpyMLPClassifier((8,), activation=CUSTOM, max_iter=5, random_state=0)
    assert clone(clf).activation == CUSTOM
    fitted = clf.fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    search = GridSearchCV(clf, {"activation": ["relu", CUSTOM]}, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    with pytest.raises(Exception, match="lambda|pickle|attribute"):
        pickle.dumps(
            clf.set_params(activation=(lambda z: z, lambda z: 1 + 0 * z)).fit(X, y)
        )


@pytest.mark.parametrize(
    ("activation", "message"),
    [
        ((np.tanh,), "pair"),
        ((np.tanh, "not callable"), "callable"),
        ((lambda z: z[:, :1], lambda z: z), "shape"),
        ((lambda z: np.log(z), lambda z: 1 / z), "finite"),
        ((lambda z: 1 / 0, lambda z: z), "activation"),
    ],
)
def test_bad_custom_activation(digits, activation, message):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises((ValueError, TypeError), match=message):
            NumpyMLPClassifier((4,), activation=activation, max_iter=2).fit(X, y)


def test_balanced_accuracy_scoring_beats_plain_on_imbalanced():
    results = {"plain": [], "balanced": []}
    for seed in range(4):
        X, y = make_classification(
            n_samples=800, weights=[0.9, 0.1], class_sep=0.7, random_state=seed
        )
        for name, kw in [
            ("plain", {}),
            ("balanced", dict(class_weight="balanced", scoring="balanced_accuracy")),
        ]:
            clf = NumpyMLPClassifier(
                (16,), early_stopping=True, max_iter=200, random_state=seed, **kw
            ).fit(X[:600], y[:600])
            results[name].append(balanced_accuracy_score(y[600:], clf.predict(X[600:])))
    assert np.mean(results["balanced"]) > np.mean(results["plain"])

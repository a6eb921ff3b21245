"""NumpyMLPRegressor: a drop-in for scikit-learn's MLPRegressor."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _gradient_bound import assert_gradients_agree
from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import NumpyMLPRegressor, check_gradients

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=400, noise=0.1, random_state=0)
    return X, y


def test_same_parameters_and_attributes_as_mlpregressor(friedman):
    X, y = friedman
    ours = NumpyMLPRegressor(hidden_layer_sizes=(20,), max_iter=30, random_state=0)
    theirs = MLPRegressor(hidden_layer_sizes=(20,), max_iter=30, random_state=0)
    assert set(theirs.get_params()) <= set(ours.get_params())
    ours.fit(X, y)
    theirs.fit(X, y)
    for name in (
        "coefs_",
        "intercepts_",
        "n_iter_",
        "n_layers_",
        "n_outputs_",
        "out_activation_",
        "loss_",
        "best_loss_",
        "loss_curve_",
        "t_",
        "n_features_in_",
        "validation_scores_",
        "best_validation_score_",
    ):
        assert hasattr(ours, name), name
        assert type(getattr(ours, name)) is type(getattr(theirs, name)) or name in (
            "loss_",
            "best_loss_",
        ), name
    assert ours.out_activation_ == theirs.out_activation_ == "identity"
    assert ours.predict(X).shape == theirs.predict(X).shape == (len(X),)


def test_learns_as_well_as_mlpregressor(friedman):
    X, y = friedman
    X_train, X_test, y_train, y_test = X[:300], X[300:], y[:300], y[300:]
    scores = {}
    for Estimator in (NumpyMLPRegressor, MLPRegressor):
        model = make_pipeline(
            StandardScaler(),
            Estimator(
                hidden_layer_sizes=(50,), solver="lbfgs", max_iter=500, random_state=0
            ),
        )
        scores[Estimator] = model.fit(X_train, y_train).score(X_test, y_test)
    assert scores[NumpyMLPRegressor] > 0.85
    assert abs(scores[NumpyMLPRegressor] - scores[MLPRegressor]) < 0.05


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_multi_output(friedman, solver):
    X, y = friedman
    Y = np.column_stack([y, -2 * y, y**2 / 10])
    model = make_pipeline(
        StandardScaler(),
        NumpyMLPRegressor(
            hidden_layer_sizes=(30,),
            solver=solver,
            max_iter=300,
            learning_rate_init=0.01 if solver != "lbfgs" else 1e-3,
            random_state=0,
        ),
    )
    model.fit(X[:300], Y[:300] / Y[:300].std(axis=0))
    pred = model.predict(X[300:])
    assert pred.shape == (100, 3)
    assert r2_score(Y[300:] / Y[:300].std(axis=0), pred) > 0.6


def test_multi_output_loss_is_reported_as_scikit_learn_does(friedman):
    """loss_ = 1/2 mean_i mean_k (p_ik - t_ik)^2 + penalty, scikit-learn's
    report; the gradient (checked) is that of the sum over the outputs."""
    X, y = friedman
    Y = np.column_stack([y, -y, 0.5 * y])[:60]
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(5,), solver="lbfgs", max_iter=20, alpha=0.3, random_state=0
    ).fit(X[:60], Y)
    residual = reg.predict(X[:60]) - Y
    penalty = 0.5 * 0.3 * sum((W**2).sum() for W in reg.coefs_) / 60
    reported = 0.5 * (residual**2).mean() + penalty
    assert reg.loss_ == pytest.approx(reported, rel=1e-9)
    assert reg.loss_curve_[-1] == pytest.approx(reported, rel=1e-9)
    result = check_gradients(reg, X[:60], Y)
    objective = 0.5 * (residual**2).sum(axis=1).mean() + penalty
    assert result.loss == pytest.approx(objective, rel=1e-9)
    assert_gradients_agree(result)  # tests/_gradient_bound.py


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_gradients(friedman, loss, activation):
    X, y = friedman
    reg = NumpyMLPRegressor(loss, (6,), activation, alpha=0.1, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X[:40], y[:40])
    result = check_gradients(reg, X[:40], y[:40], sample_weight=np.arange(40) % 3)
    assert_gradients_agree(result)


@pytest.mark.parametrize("seed", range(3))
def test_poisson(friedman, seed):
    X, _ = friedman
    rng = np.random.RandomState(seed)
    rate = np.exp(3 * X[:, 0] + 2 * X[:, 1] - 1)  # 0.4 to 55
    y = rng.poisson(rate)
    kw = dict(solver="lbfgs", alpha=1.0, max_iter=500, random_state=seed)
    reg = NumpyMLPRegressor("poisson", (20,), **kw).fit(X, y)
    assert reg.out_activation_ == "exp"
    assert (reg.predict(X) > 0).all()
    ours_corr = np.corrcoef(reg.predict(X), rate)[0, 1]
    assert ours_corr > 0.95  # measured 0.97-0.98 for seeds 0-2, as scikit-learn's
    if "loss" in MLPRegressor().get_params():  # scikit-learn >= 1.7
        theirs = MLPRegressor("poisson", (20,), **kw).fit(X, y)
        assert ours_corr > np.corrcoef(theirs.predict(X), rate)[0, 1] - 0.02
    with pytest.raises(ValueError, match="negative which is not allowed for Poisson"):
        NumpyMLPRegressor("poisson").fit(X, y - 1.0)


def test_sparse_sample_weight_partial_fit_warm_start(friedman):
    X, y = friedman
    dense = NumpyMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    sparse = clone(dense)
    dense.fit(X, y)
    sparse.fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(dense.predict(X), sparse.predict(X), rtol=1e-10)
    # a weight of 2 is the same as the row twice (no shuffling, whole batches)
    kw = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30, random_state=0)
    weighted = NumpyMLPRegressor(**kw).fit(X[:50], y[:50], sample_weight=[2] * 50)
    doubled = NumpyMLPRegressor(**kw).fit(
        np.vstack([X[:50]] * 2), np.r_[y[:50], y[:50]]
    )
    np.testing.assert_allclose(weighted.predict(X), doubled.predict(X), rtol=1e-6)
    # partial_fit goes on from the current state
    reg = NumpyMLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    losses = [reg.partial_fit(X, y).loss_ for _ in range(5)]
    assert losses[-1] < losses[0]
    assert reg.n_iter_ == 1 and reg.t_ == 5 * len(X)
    warm = NumpyMLPRegressor(hidden_layer_sizes=(8,), max_iter=3, warm_start=True)
    warm.fit(X, y)
    first = warm.coefs_[0].copy()
    warm.fit(X, y)
    assert warm.n_iter_ == 3 and len(warm.loss_curve_) == 6
    assert not np.array_equal(first, warm.coefs_[0])


def test_early_stopping_on_r2(friedman):
    X, y = friedman
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(20,),
        early_stopping=True,
        learning_rate_init=0.01,
        max_iter=200,
        random_state=0,
    )
    reg.fit(X, (y - y.mean()) / y.std())
    assert reg.validation_scores_ == reg.history_["val_r2"]
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.n_iter_ < 200
    # the tiny-data fall-back of the classifier works here too
    with pytest.warns(UserWarning, match="stopping on the training loss"):
        NumpyMLPRegressor(early_stopping=True, max_iter=5).fit(X[:1], y[:1])


def test_pipeline_search_pickle(friedman):
    X, y = friedman
    model = make_pipeline(
        StandardScaler(), NumpyMLPRegressor(max_iter=20, random_state=0)
    )
    search = GridSearchCV(model, {"numpymlpregressor__alpha": [1e-4, 1e-1]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["numpymlpregressor__alpha"] in (1e-4, 1e-1)
    assert cross_val_score(model, X, y, cv=2).shape == (2,)
    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_array_equal(restored.predict(X), search.predict(X))


def test_skops_trusts_only_skmlp_types(friedman, tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y = friedman
    reg = NumpyMLPRegressor(hidden_layer_sizes=(5,), max_iter=3).fit(X, y)
    path = tmp_path / "reg.skops"
    sio.dump(reg, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert set(untrusted) == {
        "skmlp._regressor.NumpyMLPRegressor",
        "skmlp._optimizers.Adam",
    }
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_callbacks_see_each_epoch(friedman):
    callback = pytest.importorskip("sklearn.callback")  # scikit-learn >= 1.9
    X, y = friedman
    monitor = callback.ScoringMonitor(scoring="r2")
    reg = NumpyMLPRegressor(hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    reg.set_callbacks(monitor).fit(X, y)
    epochs = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
    assert len(epochs) == 4
    assert epochs[-1]["r2"] == pytest.approx(reg.score(X, y))

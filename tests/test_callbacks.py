"""scikit-learn's callback API: what the callbacks receive, epoch by epoch."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import NumpyMLPClassifier

callback = pytest.importorskip("sklearn.callback")  # scikit-learn >= 1.9

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


class Recorder:
    """A FitCallback that writes down every hook call."""

    def __init__(self, stop_after=None):
        self.calls, self.stop_after = [], stop_after

    def setup(self, estimator, context):
        self.calls.append(("setup", None, None))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", None, None))

    def on_fit_task_begin(self, estimator, context):
        self.calls.append(("begin", context.task_name, None))

    def on_fit_task_end(
        self, estimator, context, *, X=None, y=None, fitted_estimator=None
    ):
        self.calls.append(("end", context.task_name, fitted_estimator))
        epochs = sum(1 for c in self.calls if c[:2] == ("end", "epoch"))
        return self.stop_after is not None and epochs >= self.stop_after


def epoch_models(recorder):
    return [
        est for kind, name, est in recorder.calls if (kind, name) == ("end", "epoch")
    ]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_each_epoch_is_a_task_with_its_model(digits, solver):
    X, y = digits
    rec = Recorder()
    clf = NumpyMLPClassifier((10,), solver=solver, max_iter=3, random_state=0)
    clf.set_callbacks(rec).fit(X, y)
    kinds = [(kind, name) for kind, name, _ in rec.calls]
    assert kinds == [
        ("setup", None),
        ("begin", "fit"),
        *[("begin", "epoch"), ("end", "epoch")] * 3,
        ("end", "fit"),
        ("teardown", None),
    ]
    models = epoch_models(rec)
    assert [m.n_iter_ for m in models] == [1, 2, 3]
    # each is the model after that epoch: the last one is the final model
    np.testing.assert_array_equal(models[-1].predict_proba(X), clf.predict_proba(X))
    assert not np.array_equal(models[0].coefs_[0], models[-1].coefs_[0])
    # the callbacks' copies are the model's, not views of the live weights
    assert not np.shares_memory(models[-1].coefs_[0], clf.coefs_[0])


def test_a_callback_can_stop_training(digits):
    X, y = digits
    clf = NumpyMLPClassifier((10,), max_iter=20, random_state=0)
    clf.set_callbacks(Recorder(stop_after=2)).fit(X, y)
    assert clf.n_iter_ == 2


def test_lbfgs_iterations_are_tasks(digits):
    X, y = digits
    rec = Recorder()
    clf = NumpyMLPClassifier((10,), solver="lbfgs", max_iter=5, random_state=0)
    clf.set_callbacks(rec).fit(X, y)
    models = epoch_models(rec)
    assert len(models) >= clf.n_iter_ == 5
    np.testing.assert_allclose(
        models[clf.n_iter_ - 1].predict_proba(X), clf.predict_proba(X), rtol=1e-6
    )
    stopped = NumpyMLPClassifier((10,), solver="lbfgs", max_iter=50, random_state=0)
    stopped.set_callbacks(Recorder(stop_after=3)).fit(X, y)
    assert stopped.n_iter_ == 3


def test_partial_fit_is_one_epoch(digits):
    X, y = digits
    rec = Recorder()
    clf = NumpyMLPClassifier((10,), random_state=0).set_callbacks(rec)
    clf.partial_fit(X, y, classes=np.arange(10))
    assert len(epoch_models(rec)) == 1


def test_scoring_monitor_records_every_epoch(digits):
    X, y = digits
    monitor = callback.ScoringMonitor(scoring="accuracy")
    clf = NumpyMLPClassifier((10,), max_iter=4, random_state=0)
    clf.set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [r for r in rows if r["task_name"] == "epoch"]
    assert len(epochs) == 4
    assert all(0 <= r["accuracy"] <= 1 for r in epochs)
    assert epochs[-1]["accuracy"] == pytest.approx(clf.score(X, y))


def test_progress_bar_in_pipeline_and_grid_search(digits, capsys):
    pytest.importorskip("rich")
    X, y = digits
    pipe = make_pipeline(StandardScaler(), NumpyMLPClassifier((8,), max_iter=2))
    search = GridSearchCV(pipe, {"numpymlpclassifier__alpha": [1e-4, 1e-2]}, cv=2)
    search.set_callbacks(callback.ProgressBar())
    search.fit(X, y)
    assert hasattr(search, "best_estimator_")


def test_failed_fit_keeps_callbacks_and_tears_them_down(digits, monkeypatch):
    from skmlp._optimizers import SGD

    X, y = digits
    rec = Recorder()
    clf = NumpyMLPClassifier((10,), solver="sgd", max_iter=2).set_callbacks(rec)
    with pytest.raises(ValueError):
        clf.fit(X, np.full(len(y), 0.5))  # refused before any callback is set up
    assert rec.calls == []

    def failing_step(self, params, grad, **l2):
        raise MemoryError("simulated")

    monkeypatch.setattr(SGD, "step", failing_step)
    with pytest.raises(MemoryError):
        clf.fit(X, y)
    assert clf._skl_callbacks == [rec]
    assert rec.calls[0][0] == "setup" and rec.calls[-1][0] == "teardown"
    assert not hasattr(clf, "coefs_")  # the failed first fit left nothing

"""Tests for skmlp.plotting: the Displays, and matplotlib as an optional import."""

from __future__ import annotations

import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skmlp import NumpyMLPClassifier
from skmlp.plotting import TrainingCurvesDisplay, WeightImagesDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # no display needed, and no window opens
import matplotlib.pyplot as plt  # noqa: E402

N_EPOCHS = 4
N_HIDDEN = 12


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16, y[:600]


def _net(**params) -> NumpyMLPClassifier:
    defaults = dict(
        hidden_layer_sizes=(N_HIDDEN,),
        solver="sgd",
        learning_rate_init=0.1,
        max_iter=N_EPOCHS,
        random_state=0,
        n_iter_no_change=100,  # run every epoch, so the curves have N_EPOCHS points
    )
    return NumpyMLPClassifier(**{**defaults, **params})


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few epochs only
        return estimator.fit(X, y)


@pytest.fixture(scope="module")
def net_val(digits):
    return _fit(_net(early_stopping=True), *digits)


@pytest.fixture(scope="module")
def net_no_val(digits):
    return _fit(_net(), *digits)


@pytest.fixture(scope="module")
def pipeline(digits):
    X, y = digits
    return _fit(make_pipeline(MinMaxScaler(), _net(early_stopping=True)), X * 16, y)


# ---------------------------------------------------------------------------
# TrainingCurvesDisplay
# ---------------------------------------------------------------------------


def _n_lines(axis) -> int:
    return len(axis.get_lines())


def test_training_curves_with_validation(net_val):
    display = TrainingCurvesDisplay.from_estimator(net_val)
    assert set(display.lines_) == {"loss", "val_loss", "accuracy", "val_accuracy"}
    assert display.ax_.shape == (2,)
    assert [_n_lines(ax) for ax in display.ax_] == [2, 2]
    assert isinstance(display.figure_, matplotlib.figure.Figure)
    assert display.estimator_name == "NumpyMLPClassifier"
    for key, line in display.lines_.items():
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, N_EPOCHS + 1))
        np.testing.assert_allclose(line.get_ydata(), net_val.history_[key])
    # Each series is drawn on its own axes: losses left, accuracies right.
    assert display.lines_["val_loss"].axes is display.ax_[0]
    assert display.lines_["val_accuracy"].axes is display.ax_[1]


def test_training_curves_without_validation(net_no_val):
    display = TrainingCurvesDisplay.from_estimator(net_no_val)
    assert set(display.lines_) == {"loss", "accuracy"}
    assert [_n_lines(ax) for ax in display.ax_] == [1, 1]


def test_training_curves_from_pipeline_and_search(pipeline):
    display = TrainingCurvesDisplay.from_estimator(pipeline)
    net = pipeline[-1]
    assert len(display.lines_) == 4
    np.testing.assert_allclose(
        display.lines_["val_accuracy"].get_ydata(), net.history_["val_accuracy"]
    )
    # A fitted search is unwrapped to its best estimator, then to the net.
    search = types.SimpleNamespace(best_estimator_=pipeline)
    display = TrainingCurvesDisplay.from_estimator(search)
    np.testing.assert_allclose(display.lines_["loss"].get_ydata(), net.history_["loss"])


def test_training_curves_on_given_axes(net_val):
    fig, axes = plt.subplots(1, 2)
    display = TrainingCurvesDisplay.from_estimator(net_val, ax=axes)
    assert display.figure_ is fig
    assert list(display.ax_) == list(axes)
    with pytest.raises(ValueError, match="2 Axes"):
        TrainingCurvesDisplay.from_estimator(net_val, ax=axes[:1])


def test_training_curves_from_history_dict():
    history = {"loss": [1.0, 0.5, 0.3], "accuracy": [], "val_accuracy": []}
    display = TrainingCurvesDisplay(history).plot(line_kw={"color": "k"})
    assert set(display.lines_) == {"loss"}
    assert display.lines_["loss"].get_color() == "k"
    # The empty accuracy axes say so instead of staying blank.
    texts = [t.get_text() for t in display.ax_[1].texts]
    assert texts == ["no accuracy recorded"]


def test_training_curves_from_sklearn_mlp(digits):
    clf = _fit(
        MLPClassifier((N_HIDDEN,), max_iter=N_EPOCHS, early_stopping=True),
        *digits,
    )
    display = TrainingCurvesDisplay.from_estimator(clf)
    assert set(display.lines_) == {"loss", "val_accuracy"}


def test_training_curves_unfitted_estimator():
    with pytest.raises(TypeError, match="no training history"):
        TrainingCurvesDisplay.from_estimator(_net())


# ---------------------------------------------------------------------------
# WeightImagesDisplay
# ---------------------------------------------------------------------------


def test_weight_images_from_estimator(net_no_val):
    display = WeightImagesDisplay.from_estimator(
        net_no_val, image_shape=(8, 8), n_images=10
    )
    assert len(display.images_) == 10
    assert display.ax_.shape == (3, 4)  # ceil(sqrt(10)) columns, 2 slots empty
    assert sum(ax.axison for ax in display.ax_.flat) == 0
    W = net_no_val.coefs_[0]
    for k, image in enumerate(display.images_):
        np.testing.assert_array_equal(image.get_array(), W[:, k].reshape(8, 8))
        vmin, vmax = image.get_clim()
        assert vmin == -vmax  # zero weight at the colormap's centre
        assert vmax == pytest.approx(np.abs(W[:, k]).max())


def test_weight_images_all_units_and_pipeline(pipeline):
    # More images asked for than there are units: every unit, once.
    display = WeightImagesDisplay.from_estimator(
        pipeline, image_shape=(8, 8), n_images=100, shared_scale=True
    )
    assert len(display.images_) == N_HIDDEN
    clims = {image.get_clim() for image in display.images_}
    assert len(clims) == 1  # one colour scale for all
    assert "NumpyMLPClassifier" in display.figure_.get_suptitle()


def test_weight_images_on_given_axes_and_errors():
    W = np.arange(64 * 5, dtype=float).reshape(64, 5)
    fig, axes = plt.subplots(2, 3)
    display = WeightImagesDisplay(W, image_shape=(8, 8)).plot(ax=axes)
    assert display.figure_ is fig
    assert len(display.images_) == 5
    with pytest.raises(ValueError, match="3 Axes, fewer than the 5 images"):
        WeightImagesDisplay(W, image_shape=(8, 8), n_images=5).plot(ax=axes[0])
    with pytest.raises(ValueError, match="28 x 28 = 784"):
        WeightImagesDisplay(W).plot()
    with pytest.raises(ValueError, match="n_images"):
        WeightImagesDisplay(W, image_shape=(8, 8), n_images=0).plot()


def test_weight_images_unfitted_estimator():
    with pytest.raises(TypeError, match="no coefs_"):
        WeightImagesDisplay.from_estimator(_net())


# ---------------------------------------------------------------------------
# matplotlib is optional
# ---------------------------------------------------------------------------


def test_import_does_not_import_matplotlib():
    # A fresh interpreter: this one has imported matplotlib already.
    code = (
        "import sys, skmlp, skmlp.plotting; "
        "assert 'matplotlib' not in sys.modules, sorted("
        "m for m in sys.modules if m.startswith('matplotlib'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_error(monkeypatch, net_val):
    # None in sys.modules makes `import matplotlib` raise ImportError.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    calls = [
        lambda: TrainingCurvesDisplay({"loss": [1.0]}).plot(),
        lambda: TrainingCurvesDisplay.from_estimator(net_val),
        lambda: WeightImagesDisplay(np.zeros((784, 2))).plot(),
        lambda: WeightImagesDisplay.from_estimator(net_val, image_shape=(8, 8)),
    ]
    for call in calls:
        with pytest.raises(ImportError, match=r"pip install skmlp\[plot\]"):
            call()

"""Plots of a trained network, in the style of scikit-learn's Display objects.

* :class:`TrainingCurvesDisplay`: loss and accuracy per epoch, on the training
  data and (with ``early_stopping=True``) on the held-out validation data.
* :class:`WeightImagesDisplay`: the weights of first-layer units seen as
  images, one per hidden unit (the pixels each unit responds to).

Each Display keeps the data it shows as attributes, draws it with
``plot(ax=None, ...)`` (which returns the Display and sets ``ax_`` and
``figure_``), and is most easily built from a fitted estimator with the
``from_estimator`` class method, which also accepts a
:class:`~sklearn.pipeline.Pipeline` ending in the classifier, or a fitted
search such as :class:`~sklearn.model_selection.GridSearchCV`.

matplotlib is an optional dependency (``pip install skmlp[plot]``): it is
imported inside the methods that draw, so importing this module never needs
it.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from sklearn.datasets import load_digits
>>> from skmlp import NumpyMLPClassifier
>>> from skmlp.plotting import TrainingCurvesDisplay, WeightImagesDisplay
>>> X, y = load_digits(return_X_y=True)
>>> clf = NumpyMLPClassifier((16,), max_iter=5, early_stopping=True,
...                          random_state=0).fit(X / 16, y)  # doctest: +SKIP
>>> curves = TrainingCurvesDisplay.from_estimator(clf)  # doctest: +SKIP
>>> weights = WeightImagesDisplay.from_estimator(
...     clf, image_shape=(8, 8))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["TrainingCurvesDisplay", "WeightImagesDisplay"]

# The per-epoch series drawn, with their legend labels: (key, label, axis).
_SERIES = (
    ("loss", "training", 0),
    ("val_loss", "validation", 0),
    ("accuracy", "training", 1),
    ("val_accuracy", "validation", 1),
)


def _require_matplotlib(caller: str) -> None:
    """Raise an ImportError that says how to get matplotlib, if it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install it "
            "with `pip install skmlp[plot]` (or `pip install matplotlib`)."
        ) from exc


def _final_estimator(estimator: Any) -> Any:
    """The fitted network inside ``estimator``.

    Unwraps a fitted search (``best_estimator_``) and then a Pipeline (its last
    step), so that the Displays work on what one usually has at hand.
    """
    if hasattr(estimator, "best_estimator_"):
        estimator = estimator.best_estimator_
    if hasattr(estimator, "steps"):  # Pipeline: the classifier is the last step
        estimator = estimator.steps[-1][1]
    return estimator


def _history_of(estimator: Any) -> dict[str, list[float]]:
    """Per-epoch history of a fitted NumpyMLPClassifier (or MLPClassifier)."""
    net = _final_estimator(estimator)
    history = getattr(net, "history_", None)
    if history is not None:
        return {key: list(values) for key, values in history.items()}
    # scikit-learn's MLPClassifier keeps the training loss and, with
    # early_stopping, the validation accuracy: show what there is.
    loss_curve = getattr(net, "loss_curve_", None)
    if loss_curve is not None:
        val = getattr(net, "validation_scores_", None)
        return {"loss": list(loss_curve), "val_accuracy": list(val or [])}
    raise TypeError(
        f"{type(net).__name__} has no training history: expected a fitted "
        "NumpyMLPClassifier (or a Pipeline or search ending in one); call fit "
        "first."
    )


def _first_layer_weights(estimator: Any) -> np.ndarray:
    net = _final_estimator(estimator)
    coefs = getattr(net, "coefs_", None)
    if coefs is None:
        raise TypeError(
            f"{type(net).__name__} has no coefs_: expected a fitted "
            "NumpyMLPClassifier (or a Pipeline or search ending in one); call fit "
            "first."
        )
    return np.asarray(coefs[0])


def _estimator_name(estimator: Any) -> str:
    return type(_final_estimator(estimator)).__name__


class TrainingCurvesDisplay:
    """Loss and accuracy per epoch, training and validation, side by side.

    Build it with :meth:`from_estimator`, or from a history dict and call
    :meth:`plot`. All parameters are stored as attributes.

    Parameters
    ----------
    history : mapping of str to sequence of float
        Per-epoch values, as in ``NumpyMLPClassifier.history_``: ``"loss"``,
        ``"accuracy"``, ``"val_loss"``, ``"val_accuracy"``. Missing or empty
        series are not drawn (the validation ones are empty until a call
        had a validation set, ``early_stopping``'s split or ``X_val``; then
        NaN for the epochs of calls without one, which leave a gap).
    estimator_name : str, default=None
        Shown in the figure title, if given.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The drawn lines, keyed like ``history`` (only the non-empty series).
    ax_ : ndarray of shape (2,) of matplotlib Axes
        The loss axes and the accuracy axes.
    figure_ : matplotlib Figure
        The figure holding both axes.

    See Also
    --------
    WeightImagesDisplay : The first-layer weights as images.

    Notes
    -----
    NumpyMLPClassifier's training loss and accuracy are averages over the
    batches of each epoch, each measured just before its update, while the
    validation values are measured after the epoch: early on, when the weights
    change much within an epoch, the training curves lag behind and can lie
    below the validation ones.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skmlp.plotting import TrainingCurvesDisplay
    >>> history = {"loss": [0.9, 0.5, 0.4], "accuracy": [0.7, 0.85, 0.9]}
    >>> display = TrainingCurvesDisplay(history).plot()
    >>> sorted(display.lines_)
    ['accuracy', 'loss']
    """

    def __init__(
        self,
        history: Mapping[str, Sequence[float]],
        *,
        estimator_name: str | None = None,
    ) -> None:
        self.history = history
        self.estimator_name = estimator_name

    def plot(
        self,
        ax: Any = None,
        *,
        line_kw: Mapping[str, Any] | None = None,
    ) -> TrainingCurvesDisplay:
        """Draw the curves.

        Parameters
        ----------
        ax : sequence of two matplotlib Axes, default=None
            Axes for the loss and for the accuracy. If None, a new figure with
            two axes side by side is created.
        line_kw : mapping, default=None
            Keyword arguments passed to every ``Axes.plot`` call.

        Returns
        -------
        display : TrainingCurvesDisplay
            ``self``, with ``lines_``, ``ax_`` and ``figure_`` set.
        """
        _require_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
        else:
            axes = np.asarray(ax, dtype=object).ravel()
            if axes.size != 2:
                raise ValueError(
                    f"ax must hold 2 Axes (loss, accuracy); got {axes.size}."
                )
            fig = axes[0].figure
        axes = np.asarray(axes, dtype=object)

        self.lines_ = {}
        for key, label, i in _SERIES:
            values = list(self.history.get(key, ()))
            if not values:
                continue
            # Epochs are counted from 1: the value after the first epoch.
            epochs = np.arange(1, len(values) + 1)
            style = {"marker": "o", "markersize": 3} if len(values) < 30 else {}
            if key.startswith("val_"):
                style["linestyle"] = "--"
            style.update(line_kw or {})
            (self.lines_[key],) = axes[i].plot(epochs, values, label=label, **style)

        for i, (what, ylabel) in enumerate(
            (("Loss", "loss"), ("Accuracy", "accuracy"))
        ):
            axis = axes[i]
            axis.set(title=what, xlabel="epoch", ylabel=ylabel)
            # Integer epochs only on the x axis.
            axis.xaxis.get_major_locator().set_params(integer=True)
            if axis.get_lines():
                axis.legend()
                axis.grid(True, alpha=0.3)
            else:
                axis.text(
                    0.5,
                    0.5,
                    f"no {ylabel} recorded",
                    ha="center",
                    va="center",
                    transform=axis.transAxes,
                )
        if self.estimator_name:
            fig.suptitle(self.estimator_name)

        self.ax_ = axes
        self.figure_ = fig
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        *,
        ax: Any = None,
        line_kw: Mapping[str, Any] | None = None,
    ) -> TrainingCurvesDisplay:
        """Plot the training curves of a fitted estimator.

        Parameters
        ----------
        estimator : estimator
            A fitted NumpyMLPClassifier, a Pipeline whose last step is one, or
            a fitted search (``best_estimator_``) over either. scikit-learn's
            MLPClassifier works too, with the series it keeps (training loss,
            validation accuracy).
        ax : sequence of two matplotlib Axes, default=None
            See :meth:`plot`.
        line_kw : mapping, default=None
            See :meth:`plot`.

        Returns
        -------
        display : TrainingCurvesDisplay
        """
        _require_matplotlib(f"{cls.__name__}.from_estimator")
        display = cls(_history_of(estimator), estimator_name=_estimator_name(estimator))
        return display.plot(ax=ax, line_kw=line_kw)


class WeightImagesDisplay:
    """First-layer weights as a grid of images, one per hidden unit.

    The weights from the input pixels to one hidden unit, reshaped to the
    image's shape, show which pixels excite (red) or inhibit (blue) the unit.
    All parameters are stored as attributes.

    Parameters
    ----------
    coefs : array-like of shape (n_features, n_units)
        First-layer weight matrix, ``coefs_[0]`` of the estimator.
    image_shape : tuple of int, default=(28, 28)
        Shape of one input image; its product must be ``n_features``.
    n_images : int, default=64
        How many units to show: the first ``n_images`` (all of them if there
        are fewer).
    estimator_name : str, default=None
        Shown in the figure title, if given.

    Attributes
    ----------
    images_ : list of matplotlib AxesImage
        One image per unit shown.
    ax_ : ndarray of matplotlib Axes
        The grid of axes (those beyond the last image are turned off).
    figure_ : matplotlib Figure
        The figure holding the grid.

    See Also
    --------
    TrainingCurvesDisplay : Loss and accuracy per epoch.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skmlp.plotting import WeightImagesDisplay
    >>> W = np.random.default_rng(0).normal(size=(64, 10))
    >>> display = WeightImagesDisplay(W, image_shape=(8, 8)).plot()
    >>> len(display.images_)
    10
    """

    def __init__(
        self,
        coefs: Any,
        *,
        image_shape: tuple[int, int] = (28, 28),
        n_images: int = 64,
        estimator_name: str | None = None,
    ) -> None:
        self.coefs = coefs
        self.image_shape = image_shape
        self.n_images = n_images
        self.estimator_name = estimator_name

    def plot(
        self,
        ax: Any = None,
        *,
        n_cols: int | None = None,
        cmap: str = "RdBu_r",
        shared_scale: bool = False,
    ) -> WeightImagesDisplay:
        """Draw the grid.

        Parameters
        ----------
        ax : array-like of matplotlib Axes, default=None
            At least as many Axes as images; extra ones are turned off. If
            None, a new figure with a square-ish grid is created.
        n_cols : int, default=None
            Columns of the new grid; ``ceil(sqrt(n_images))`` if None.
        cmap : str or matplotlib Colormap, default="RdBu_r"
            A diverging colormap, centred on a zero weight.
        shared_scale : bool, default=False
            If False, each image has its own colour scale (symmetric about
            zero), so that weak units are readable too; if True, all images
            share one, so that units can be compared.

        Returns
        -------
        display : WeightImagesDisplay
            ``self``, with ``images_``, ``ax_`` and ``figure_`` set.
        """
        _require_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        W = np.asarray(self.coefs)
        shape = tuple(int(s) for s in self.image_shape)
        if W.ndim != 2 or W.shape[0] != math.prod(shape):
            raise ValueError(
                f"coefs must have shape (n_features, n_units) with n_features = "
                f"{' x '.join(map(str, shape))} = {math.prod(shape)} (image_shape);"
                f" got shape {W.shape}."
            )
        if self.n_images < 1:
            raise ValueError(f"n_images must be at least 1; got {self.n_images}.")
        n = min(int(self.n_images), W.shape[1])

        if ax is None:
            cols = n_cols or math.ceil(math.sqrt(n))
            rows = math.ceil(n / cols)
            fig, axes = plt.subplots(
                rows,
                cols,
                figsize=(1.2 * cols, 1.2 * rows),
                squeeze=False,
                layout="constrained",
            )
        else:
            axes = np.asarray(ax, dtype=object)
            if axes.size < n:
                raise ValueError(
                    f"ax holds {axes.size} Axes, fewer than the {n} images to draw."
                )
            fig = axes.flat[0].figure

        # Symmetric limits put a zero weight at the colormap's centre.
        shared_limit = float(np.abs(W[:, :n]).max()) if shared_scale else None
        self.images_ = []
        for k, axis in enumerate(np.ravel(axes)):
            axis.set_axis_off()  # no ticks on the images, none on empty slots
            if k >= n:
                continue
            image = W[:, k].reshape(shape)
            limit = shared_limit or float(np.abs(image).max()) or 1.0
            self.images_.append(axis.imshow(image, cmap=cmap, vmin=-limit, vmax=limit))
        title = f"First-layer weights of {n} of {W.shape[1]} units"
        if self.estimator_name:
            title = f"{self.estimator_name}: {title[0].lower()}{title[1:]}"
        fig.suptitle(title)

        self.ax_ = axes
        self.figure_ = fig
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        *,
        image_shape: tuple[int, int] = (28, 28),
        n_images: int = 64,
        ax: Any = None,
        n_cols: int | None = None,
        cmap: str = "RdBu_r",
        shared_scale: bool = False,
    ) -> WeightImagesDisplay:
        """Plot the first-layer weights of a fitted estimator.

        Parameters
        ----------
        estimator : estimator
            A fitted NumpyMLPClassifier (or scikit-learn MLPClassifier), a
            Pipeline whose last step is one, or a fitted search over either.
            In a Pipeline, the weights apply to the transformed features (for
            a pixel scaler, still one per pixel).
        image_shape : tuple of int, default=(28, 28)
            Shape of one input image.
        n_images : int, default=64
            How many units to show.
        ax, n_cols, cmap, shared_scale
            See :meth:`plot`.

        Returns
        -------
        display : WeightImagesDisplay
        """
        _require_matplotlib(f"{cls.__name__}.from_estimator")
        display = cls(
            _first_layer_weights(estimator),
            image_shape=image_shape,
            n_images=n_images,
            estimator_name=_estimator_name(estimator),
        )
        return display.plot(ax=ax, n_cols=n_cols, cmap=cmap, shared_scale=shared_scale)

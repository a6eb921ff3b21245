"""Export skmlp's estimators to ONNX with skl2onnx's own MLP converters.

Importing this module registers :class:`~skmlp.NumpyMLPClassifier` (and
``NumpyMLPRegressor``) with skl2onnx, after which ``skl2onnx.to_onnx``
converts a fitted model on its own or as a step of a scikit-learn
``Pipeline``::

    import numpy as np
    import skl2onnx
    import skmlp.onnx  # noqa: F401  (registers the converters)

    onx = skl2onnx.to_onnx(clf, X[:1].astype(np.float32))

skmlp's estimators have the fitted attributes of scikit-learn's
``MLPClassifier`` and ``MLPRegressor`` (``coefs_``, ``intercepts_``,
``n_layers_``, ``activation``, ``out_activation_``, ``classes_``), so
skl2onnx's converters and shape calculators for those two serve as they are,
with the same options (``zipmap``, ``output_class_labels``, ``nocl``). What
this module adds, each measured against onnxruntime in ``tests/test_onnx.py``:

- a clear error, at conversion time, for what those converters cannot write:
  activations other than ``"identity"``, ``"logistic"``, ``"tanh"`` and
  ``"relu"``, a custom ``(function, derivative)`` pair, the ``"exp"`` output
  of a Poisson regressor, the non-crossing outputs of a regressor of several
  quantile levels (one level, absolute error, Huber and custom losses have
  identity outputs and convert), and integer class labels beyond int32 (skl2onnx
  stores labels as int32: they would come back wrong); an unfitted model
  raises scikit-learn's ``NotFittedError``;
- ``nocl=True`` (labels replaced by their indices in ``classes_``), which
  skl2onnx declares for ``MLPClassifier`` but whose converter ignores;
- multilabel models: the labels' declared shape ``[N, n_labels]`` (skl2onnx
  declares ``[N]``), and a refusal of ``zipmap``, which expects one label per
  row;
- multi-output regressors: skl2onnx's converter reshapes the prediction to a
  single column, right for one output only; it is reshaped back to
  ``[N, n_outputs_]``.

One difference from ``predict_proba`` remains: skmlp keeps logistic outputs
within ``[eps, 1 - eps]`` and softmax outputs above the smallest normal
float (so that their logarithms stay finite) and the graph does not, a
difference of at most one float32 ``eps`` (1.2e-7) that changes no label.

This module needs the ``onnx`` extra (``pip install "skmlp[onnx]"``:
skl2onnx, onnx, onnxruntime); ``import skmlp`` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

try:
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import Int64TensorType
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from skl2onnx.operator_converters.multilayer_perceptron import (
        convert_sklearn_mlp_classifier,
        convert_sklearn_mlp_regressor,
    )
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        'skmlp.onnx needs skl2onnx, onnx and onnxruntime: pip install "skmlp[onnx]"'
    ) from exc

from sklearn.utils.validation import check_is_fitted

import skmlp
from skmlp import _array_api

try:
    # skl2onnx's parser for classifiers (it adds the ZipMap); private, so
    # guarded: without it, registering the "zipmap" option installs the same
    # parser, and an unfitted model fails with skl2onnx's error instead of
    # NotFittedError.
    from skl2onnx._parse import _parse_sklearn_classifier
except ImportError:  # pragma: no cover - a later skl2onnx may move it
    _parse_sklearn_classifier = None

if TYPE_CHECKING:  # skl2onnx's internal classes, for the annotations only
    from skl2onnx.common._container import ModelComponentContainer
    from skl2onnx.common._topology import Operator, Scope

__all__ = ["ALIAS", "REGRESSOR_ALIAS", "register"]

#: The names under which skl2onnx knows the converters.
ALIAS = "SkmlpNumpyMLPClassifier"
REGRESSOR_ALIAS = "SkmlpNumpyMLPRegressor"

# The hidden activations skl2onnx's MLP converter writes (Identity, Sigmoid,
# Tanh, Relu).
_CONVERTIBLE = ("identity", "logistic", "tanh", "relu")
_INT32 = np.iinfo(np.int32)

_registered = False


def _check_convertible(model: Any) -> None:
    """Raise if skl2onnx's MLP converters cannot write ``model`` exactly."""
    check_is_fitted(model)
    if not _array_api.is_numpy(model.coefs_[0]):
        raise ValueError(
            "skmlp.onnx: this model was fitted on "
            f"{_array_api.namespace(model.coefs_[0]).__name__} arrays; ONNX is "
            "written from NumPy weights. Move it to NumPy first: "
            "skmlp.move_to(model, numpy)."
        )
    activation = model.activation
    if not isinstance(activation, str):
        raise ValueError(
            "skmlp.onnx: a custom activation (function, derivative) cannot be "
            "converted to ONNX; skl2onnx's MLP converter writes only the "
            f"activations {', '.join(map(repr, _CONVERTIBLE))}."
        )
    if activation not in _CONVERTIBLE:
        raise ValueError(
            f"skmlp.onnx: activation={activation!r} cannot be converted; "
            "skl2onnx's MLP converter writes only the activations "
            f"{', '.join(map(repr, _CONVERTIBLE))}."
        )
    if model.out_activation_ == "exp":
        raise ValueError(
            "skmlp.onnx: a regressor with loss='poisson' (output activation "
            "'exp') cannot be converted; skl2onnx's MLP converter writes only "
            "an identity output for regressors."
        )
    if model.out_activation_ == "noncrossing":
        raise ValueError(
            "skmlp.onnx: a regressor with several quantile levels (output "
            "activation 'noncrossing': each level the one below plus a softplus "
            "gap) cannot be converted; skl2onnx's MLP converter writes only an "
            "identity output for regressors. A model of one level "
            "(quantile=0.9, say) converts, as do loss='absolute_error', "
            "'huber' and a custom loss (identity outputs)."
        )


def _is_multilabel(model: Any) -> bool:
    return model._label_binarizer.y_type_ == "multilabel-indicator"


def _nocl(scope: Scope, model: Any) -> bool:
    return bool(scope.get_options(model, dict(nocl=False))["nocl"])


class _LabelsAsIndices:
    """``model`` with ``classes_`` replaced by their indices (option ``nocl``).

    skl2onnx's MLP converter reads ``classes_`` directly, where its other
    classifier converters honour ``nocl``; everything else is the model's.
    """

    def __init__(self, model: Any) -> None:
        self._model = model
        self.classes_ = np.arange(len(model.classes_))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class _RenamedOutput:
    """``operator``, with its output replaced by the variable ``name``."""

    def __init__(self, operator: Operator, name: str) -> None:
        self._operator = operator
        self.output_full_names = [name]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._operator, name)


def _classifier_parser(
    scope: Scope, model: Any, inputs: list, custom_parsers: Any = None
) -> list:
    """skl2onnx's parser for classifiers, after checking that model is fitted.

    skl2onnx's parser reads ``classes_`` first, and on an unfitted model fails
    with an obscure RuntimeError; raise scikit-learn's NotFittedError.
    """
    check_is_fitted(model)
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers)


def _classifier_shapes(operator: Operator) -> None:
    """skl2onnx's label and probability types, checked and fixed for skmlp."""
    model = operator.raw_operator
    _check_convertible(model)
    scope = operator.scope_inst
    classes = np.asarray(model.classes_)
    if (
        classes.dtype.kind in "iuf"
        and not _nocl(scope, model)
        and (classes.min() < _INT32.min or classes.max() > _INT32.max)
    ):
        raise ValueError(
            "skmlp.onnx: skl2onnx stores integer class labels as int32, and "
            f"these go beyond it ({classes.min()} to {classes.max()}); convert "
            "with options={'nocl': True} (labels as indices in classes_) or "
            "train on smaller or string labels."
        )
    calculate_linear_classifier_output_shapes(operator)
    if _is_multilabel(model):
        if scope.get_options(model, dict(zipmap=True))["zipmap"] is not False:
            raise NotImplementedError(
                "skmlp.onnx: a multilabel classifier can only be exported with "
                "options={'zipmap': False} (labels: an int64 indicator matrix, "
                "probabilities: one column per label); ZipMap expects one "
                "label per row."
            )
        # a row of 0/1 indicators per sample, not one label
        n_rows = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = Int64TensorType([n_rows, len(classes)])


def _convert_classifier(
    scope: Scope, operator: Operator, container: ModelComponentContainer
) -> None:
    """skl2onnx's MLPClassifier converter, with ``nocl`` honoured."""
    model = operator.raw_operator
    if not _nocl(scope, model):
        convert_sklearn_mlp_classifier(scope, operator, container)
        return
    operator.raw_operator = _LabelsAsIndices(model)
    try:
        convert_sklearn_mlp_classifier(scope, operator, container)
    finally:
        operator.raw_operator = model


def _regressor_shapes(operator: Operator) -> None:
    """skl2onnx's prediction type, ``[N, n_outputs_]`` wide."""
    model = operator.raw_operator
    _check_convertible(model)
    calculate_linear_regressor_output_shapes(operator)  # [N, 1]
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type.shape = [n_rows, model.n_outputs_]


def _convert_regressor(
    scope: Scope, operator: Operator, container: ModelComponentContainer
) -> None:
    """skl2onnx's MLPRegressor converter, multi-output included.

    skl2onnx's converter ends in ``Reshape(prediction, [-1, 1])``: right for
    one output, and for more a single column of N * n_outputs values in
    row-major order. Let it write that column, then reshape it back.
    """
    n_outputs = operator.raw_operator.n_outputs_
    if n_outputs == 1:
        convert_sklearn_mlp_regressor(scope, operator, container)
        return
    column = scope.get_unique_variable_name("column")
    convert_sklearn_mlp_regressor(scope, _RenamedOutput(operator, column), container)
    shape = scope.get_unique_variable_name("shape")
    container.add_initializer(shape, TensorProto.INT64, [2], [-1, n_outputs])
    container.add_node(
        "Reshape",
        [column, shape],
        operator.outputs[0].full_name,
        name=scope.get_unique_operator_name("Reshape"),
    )


def register() -> None:
    """Register skmlp's estimators with skl2onnx.

    Called when :mod:`skmlp.onnx` is imported; calling it again does nothing.
    The classifier takes the options skl2onnx registers for
    ``MLPClassifier``: ``zipmap`` (``True``: probabilities as a list of
    dicts, the default; ``False``: a tensor; ``"columns"``: one output per
    class), ``output_class_labels`` (an extra output with ``classes_``, with
    ``zipmap=False``) and ``nocl`` (labels replaced by their indices in
    ``classes_``).
    """
    global _registered
    if _registered:
        return
    update_registered_converter(
        skmlp.NumpyMLPClassifier,
        ALIAS,
        _classifier_shapes,
        _convert_classifier,
        parser=None if _parse_sklearn_classifier is None else _classifier_parser,
        options={
            "zipmap": [True, False, "columns"],
            "output_class_labels": [False, True],
            "nocl": [True, False],
        },
    )
    # The regressor is registered when this version of skmlp has one.
    regressor = getattr(skmlp, "NumpyMLPRegressor", None)
    if regressor is not None:
        update_registered_converter(
            regressor, REGRESSOR_ALIAS, _regressor_shapes, _convert_regressor
        )
    _registered = True


register()

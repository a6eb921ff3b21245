"""Export :class:`~skmlp.NumpyMLPClassifier` to ONNX, through skl2onnx.

Importing this module registers a converter with skl2onnx, after which
``skl2onnx.to_onnx`` converts a fitted classifier on its own or as a step
of a scikit-learn ``Pipeline``::

    import numpy as np
    import skl2onnx
    import skmlp.onnx  # noqa: F401  (registers the converter)

    onx = skl2onnx.to_onnx(clf, X[:1].astype(np.float32))

The graph is the forward pass written out as ONNX operators: per layer a
``MatMul`` and an ``Add``, then the hidden activation (``Relu``, ``Tanh``,
``Sigmoid``, or nothing for ``"identity"``); the output layer ends in
``Softmax`` (multiclass) or ``Sigmoid`` (binary, multilabel). Like
``predict_proba``, a binary model's single output unit P(classes_[1]) is
stacked as ``[1 - p, p]``. Labels are ``ArgMax`` looked up in ``classes_``
(int64 or string tensors), or for multilabel models every probability
thresholded at 0.5 (an int64 indicator matrix; multilabel models need
``options={"zipmap": False}``, since ZipMap expects one label per row).

The weights are stored in the precision of the graph's input: float32 for a
float32 input (the usual choice; a float64 model's weights are cast), float64
for a double input. Integer and boolean inputs are cast to float32.

This module needs the ``onnx`` extra (``pip install "skmlp[onnx]"``:
skl2onnx, onnx, onnxruntime); ``import skmlp`` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

try:
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )
    from skl2onnx.common.utils import (
        check_input_and_output_numbers,
        check_input_and_output_types,
    )
    from skl2onnx.common.utils_classifier import get_label_classes
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        'skmlp.onnx needs skl2onnx, onnx and onnxruntime: pip install "skmlp[onnx]"'
    ) from exc

from sklearn.utils.validation import check_is_fitted

try:
    # skl2onnx's parser for classifiers (it adds the ZipMap); private, so
    # guarded: without it, skl2onnx falls back on the same parser, and an
    # unfitted model fails with skl2onnx's error instead of NotFittedError.
    from skl2onnx._parse import _parse_sklearn_classifier
except ImportError:  # pragma: no cover - a later skl2onnx may move it
    _parse_sklearn_classifier = None

from ._classifier import NumpyMLPClassifier

if TYPE_CHECKING:  # skl2onnx's internal classes, for the annotations only
    from skl2onnx.common._container import ModelComponentContainer
    from skl2onnx.common._topology import Operator, Scope

__all__ = ["ALIAS", "register"]

#: The name under which skl2onnx knows the converter.
ALIAS = "SkmlpNumpyMLPClassifier"

# ONNX operator of each hidden activation; None: nothing to apply.
_HIDDEN_ACTIVATIONS = {
    "identity": None,
    "logistic": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
}

_registered = False


def _is_multilabel(model: NumpyMLPClassifier) -> bool:
    # A binary model has a single (logistic) output unit, a multiclass one a
    # softmax: more than one logistic unit can only be multilabel.
    return model.out_activation_ == "logistic" and model.n_outputs_ > 1


def _export_dtype(operator: Operator) -> tuple[int, np.dtype]:
    """ONNX and NumPy element type of the graph's arithmetic.

    Follows the input as skl2onnx's own converters do: double in, double
    weights; anything else computes in float32.
    """
    if isinstance(operator.inputs[0].type, DoubleTensorType):
        return TensorProto.DOUBLE, np.dtype(np.float64)
    return TensorProto.FLOAT, np.dtype(np.float32)


def _label_classes(scope: Scope, model: NumpyMLPClassifier) -> np.ndarray:
    """The class labels as the graph stores them: int64 or str.

    ``get_label_classes`` applies the ``nocl`` option (labels replaced by
    their indices). Float labels are stored as int64, as skl2onnx does for
    scikit-learn's classifiers, when they are whole numbers.
    """
    classes = np.asarray(get_label_classes(scope, model))
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        as_int = classes.astype(np.int64)
        if not np.array_equal(as_int, classes):
            raise NotImplementedError(
                "ONNX export needs integer or string class labels; got the "
                f"non-integral float labels {classes!r}."
            )
        return as_int
    return np.array([str(c) for c in classes], dtype=object)


def _parser(scope: Scope, model: NumpyMLPClassifier, inputs: list, custom_parsers=None):
    """skl2onnx's parser for classifiers, after checking that model is fitted.

    skl2onnx's own parser reads ``classes_`` first, and on an unfitted model
    fails with an obscure RuntimeError; raise scikit-learn's NotFittedError.
    """
    check_is_fitted(model)
    return _parse_sklearn_classifier(
        scope, model, inputs, custom_parsers=custom_parsers
    )


def _shape_calculator(operator: Operator) -> None:
    """Set the types and shapes of the label and probability outputs."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    check_input_and_output_types(
        operator,
        good_input_types=[
            FloatTensorType,
            DoubleTensorType,
            Int64TensorType,
            BooleanTensorType,
        ],
    )
    model = operator.raw_operator
    check_is_fitted(model)
    n_rows = operator.inputs[0].get_first_dimension()
    classes = _label_classes(operator.scope_inst, model)
    multilabel = _is_multilabel(model)
    if multilabel:
        options = operator.scope_inst.get_options(model, dict(zipmap=True))
        if options["zipmap"] is not False:
            # ZipMap pairs one label per row with a dict of probabilities;
            # a multilabel prediction is a row of indicators instead.
            raise NotImplementedError(
                "A multilabel NumpyMLPClassifier can only be exported with "
                "options={'zipmap': False} (labels: an int64 indicator matrix, "
                "probabilities: one column per label)."
            )
        label_type = Int64TensorType(shape=[n_rows, len(classes)])
    elif classes.dtype == object:
        label_type = StringTensorType(shape=[n_rows])
    else:
        label_type = Int64TensorType(shape=[n_rows])
    operator.outputs[0].set_type(label_type)
    double = _export_dtype(operator)[0] == TensorProto.DOUBLE
    proba_type = DoubleTensorType if double else FloatTensorType
    operator.outputs[1].set_type(proba_type(shape=[n_rows, len(classes)]))


def _converter(
    scope: Scope, operator: Operator, container: ModelComponentContainer
) -> None:
    """Write the forward pass, the probabilities and the labels as ONNX nodes."""
    model = operator.raw_operator
    proto_dtype, dtype = _export_dtype(operator)
    label_name, proba_name = (v.full_name for v in operator.outputs)

    def constant(name: str, value: np.ndarray, proto: int = proto_dtype) -> str:
        unique = scope.get_unique_variable_name(name)
        value = np.asarray(value)
        content = value.ravel()
        if proto == TensorProto.STRING:
            content = [s.encode("utf-8") for s in content]
        container.add_initializer(unique, proto, list(value.shape), content)
        return unique

    def node(op_type: str, inputs: list[str], output: str | None = None, **kw) -> str:
        output = output or scope.get_unique_variable_name(op_type.lower())
        container.add_node(
            op_type,
            inputs,
            output,
            name=scope.get_unique_operator_name(op_type),
            **kw,
        )
        return output

    x = operator.inputs[0].full_name
    if not isinstance(operator.inputs[0].type, (FloatTensorType, DoubleTensorType)):
        x = node("Cast", [x], to=proto_dtype)

    # --- forward pass: A_l = f(A_{l-1} @ W_l + b_l) -------------------------
    n_layers = len(model.coefs_)
    hidden_op = _HIDDEN_ACTIVATIONS[model.activation]
    a = x
    for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        W_name = constant(f"coef_{i}", np.asarray(W, dtype=dtype))
        b_name = constant(f"intercept_{i}", np.asarray(b, dtype=dtype))
        z = node("Add", [node("MatMul", [a, W_name]), b_name])
        last = i == n_layers - 1
        a = z if last or hidden_op is None else node(hidden_op, [z])

    # --- output activation, as predict_proba computes it --------------------
    multilabel = _is_multilabel(model)
    if model.out_activation_ == "softmax":
        node("Softmax", [a], proba_name, axis=1)
    else:
        p = node("Sigmoid", [a])
        # predict_proba clips logistic outputs to [eps, 1 - eps] (so that
        # predict_log_proba stays finite): do the same.
        eps = np.finfo(dtype).eps
        p = node("Max", [p, constant("eps", np.array(eps, dtype))])
        one_minus_eps = constant("one_minus_eps", np.array(1 - eps, dtype))
        if multilabel:
            node("Min", [p, one_minus_eps], proba_name)
        else:
            # binary: one unit, P(classes_[1]); predict_proba stacks [1-p, p]
            p = node("Min", [p, one_minus_eps])
            q = node("Sub", [constant("one", np.array(1, dtype)), p])
            node("Concat", [q, p], proba_name, axis=1)

    # --- labels ---------------------------------------------------------------
    if multilabel:
        # predict: LabelBinarizer.inverse_transform, i.e. (P > 0.5) as int
        above = node("Greater", [proba_name, constant("half", np.array(0.5, dtype))])
        node("Cast", [above], label_name, to=TensorProto.INT64)
        return
    classes = _label_classes(scope, model)
    if classes.dtype == object:
        classes_name = constant("classes", classes, TensorProto.STRING)
    else:
        classes_name = constant("classes", classes, TensorProto.INT64)
    # ArgMax keeps the first maximum, as numpy's argmax does, so ties (a
    # binary p of exactly 0.5) resolve to the same class as predict.
    index = node("ArgMax", [proba_name], axis=1)
    picked = node(
        "ArrayFeatureExtractor", [classes_name, index], op_domain="ai.onnx.ml"
    )
    node(
        "Reshape",
        [picked, constant("flat", np.array([-1], np.int64), TensorProto.INT64)],
        label_name,
    )


def register() -> None:
    """Register the NumpyMLPClassifier converter with skl2onnx.

    Called when :mod:`skmlp.onnx` is imported; calling it again does nothing.
    The converter takes skl2onnx's usual classifier options: ``zipmap``
    (``True``: probabilities as a list of dicts, the default; ``False``: a
    tensor; ``"columns"``: one output per class) and ``nocl`` (labels replaced
    by their indices in ``classes_``).
    """
    global _registered
    if _registered:
        return
    update_registered_converter(
        NumpyMLPClassifier,
        ALIAS,
        _shape_calculator,
        _converter,
        parser=None if _parse_sklearn_classifier is None else _parser,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )
    _registered = True


register()

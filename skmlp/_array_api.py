"""Array API support: the namespace the math runs in, and moving arrays to it.

The math of :mod:`skmlp._network`, :mod:`skmlp._activations` and
:mod:`skmlp._optimizers` is written once, against a namespace ``xp`` taken
from the arrays it works on (:func:`namespace`). For NumPy arrays ``xp`` is
:data:`NUMPY`: NumPy itself plus the three SciPy special functions the
network uses (``expit``, ``ndtr``, ``xlogy``), so every call is the NumPy
call it always was, ``out=`` buffers and in-place updates included: they
are what makes the NumPy path fast. For PyTorch, CuPy or array-api-strict
arrays ``xp`` is a :class:`BufferNamespace`: the standard's functions, plus
NumPy's ``out=`` spelled as an assignment into the buffer (``out[...] =
result``), which the standard has.

What lies outside the standard gets one answer each:

* ``out=`` and in-place updates: kept (in-place operators and ``x[...] =``
  are in the standard; ``out=`` is emulated as above).
* The gather of a minibatch: ``xp.take`` with the epoch's row order moved to
  the device once per epoch (:func:`skmlp._data.minibatches`).
* Random numbers (initialisation, shuffling, dropout masks, validation
  splits): drawn by the model's NumPy ``RandomState`` on the host and moved
  to the device, so a fit on PyTorch starts from, and shuffles like, the
  NumPy fit of the same ``random_state``. Dropout masks are drawn per batch
  on the host and copied to the device: reproducibility costs that copy.
* SciPy's special functions: ``expit`` and ``xlogy`` are written with the
  standard's functions; ``ndtr`` (GELU) is SciPy's, which dispatches to the
  array library when ``SCIPY_ARRAY_API=1`` (scikit-learn requires it for
  array API dispatch anyway).
* Sparse X: NumPy only. A sparse matrix has no namespace; scikit-learn's
  helpers treat it as NumPy, and a model fitted on another namespace refuses
  it (:func:`check_same_namespace`).
* L-BFGS: scipy's L-BFGS-B works on a float64 NumPy vector on the host; each
  evaluation moves the parameters to the device, computes loss and gradient
  there and moves the gradient back, as scikit-learn's ``LogisticRegression``
  does.

Estimator-level decisions (which inputs take this path, what is refused)
are :func:`input_namespace` and :func:`refuse_unsupported`.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, ndtr, xlogy
from sklearn import get_config

try:  # scikit-learn vendors array-api-compat since 1.4
    from sklearn.externals import array_api_compat
except ImportError:  # pragma: no cover
    array_api_compat = None

NUMPY = types.SimpleNamespace(**vars(np))
"""NumPy as the math sees it: ``np`` itself, plus ``expit``, ``ndtr`` and
``xlogy`` from :mod:`scipy.special`. A plain object whose attributes are
NumPy's own functions, so a lookup costs what ``np.<name>`` costs."""
NUMPY.expit, NUMPY.ndtr, NUMPY.xlogy = expit, ndtr, xlogy
# The reductions as the ufuncs' own, which the ndarray methods call: np.sum
# and np.max add a microsecond of Python dispatch per call, 5% of a small
# network's batch. Their axis defaults to 0, not None: the math always
# passes axis= for arrays of more than one axis.
NUMPY.sum, NUMPY.max = np.add.reduce, np.maximum.reduce
NUMPY.is_numpy = True


def _is_array(value: Any) -> bool:
    return hasattr(value, "__array_namespace__") or hasattr(value, "__dlpack__")


def is_array(value: Any) -> bool:
    """Whether ``value`` is an array (NumPy, or of an array API namespace)."""
    return isinstance(value, np.ndarray) or (
        _is_array(value) and not isinstance(value, (np.generic, type))
    )


class BufferNamespace:
    """An array API namespace with the NumPy spellings skmlp's math uses.

    Each function that takes ``out=`` in NumPy takes it here too: the
    result is computed by the standard's function and assigned into the
    buffer. Python scalars are accepted where NumPy accepts them. Every
    other name is the wrapped namespace's own (``xp.sum``, ``xp.float32``).
    """

    is_numpy = False

    def __init__(self, xp) -> None:
        self.xp = xp
        self.__name__ = xp.__name__
        self._torch = None
        if "torch" in xp.__name__:
            import torch

            self._torch = torch

    def __getattr__(self, name: str):
        return getattr(self.xp, name)

    def __reduce__(self):
        # the namespace is found again from the arrays after unpickling
        return (_namespace_by_name, (self.__name__,))

    # --- helpers -------------------------------------------------------------

    def _array(self, value, like):
        if _is_array(value):
            return value
        return self.xp.asarray(value, dtype=like.dtype, device=device(like))

    def _operand(self, x, dtype, a, b):
        like = a if _is_array(a) else b
        if not _is_array(x):
            return self.xp.asarray(x, dtype=dtype, device=device(like))
        if dtype is not None and x.dtype != dtype:
            return self.xp.astype(x, dtype)
        return x

    @staticmethod
    def _into(result, out):
        if out is None:
            return result
        out[...] = result
        return out

    def _unary(name):  # noqa: N805 - builds the methods below
        def function(self, x, out=None):
            return self._into(getattr(self.xp, name)(x), out)

        function.__name__ = name
        return function

    def _binary(name):  # noqa: N805
        def function(self, a, b, out=None, dtype=None):
            # NumPy's promotion: scalars and boolean masks take the float
            # dtype of the other operand (or of dtype=, or of out)
            xp = self.xp
            if dtype is None:
                floats = [x.dtype for x in (a, b, out) if _is_array(x)]
                floats = [d for d in floats if d != xp.bool]
                dtype = floats[0] if floats else None
            a, b = (self._operand(x, dtype, a, b) for x in (a, b))
            return self._into(getattr(xp, name)(a, b), out)

        function.__name__ = name
        return function

    exp = _unary("exp")
    expm1 = _unary("expm1")
    log1p = _unary("log1p")
    tanh = _unary("tanh")
    abs = _unary("abs")
    negative = _unary("negative")
    sign = _unary("sign")
    sqrt = _unary("sqrt")
    maximum = _binary("maximum")
    minimum = _binary("minimum")
    multiply = _binary("multiply")
    subtract = _binary("subtract")
    divide = _binary("divide")
    logaddexp = _binary("logaddexp")
    del _unary, _binary

    def matmul(self, a, b, out=None):
        if out is not None and self._torch is not None:
            # PyTorch writes a product into its buffer itself: no extra copy
            return self._torch.matmul(a, b, out=out)
        return self._into(a @ b, out)

    def sum(self, x, axis=None, out=None, keepdims=False):
        return self._into(self.xp.sum(x, axis=axis, keepdims=keepdims), out)

    def copyto(self, dst, src, where=None):
        if where is None:
            dst[...] = src
        else:
            dst[...] = self.xp.where(where, self._array(src, dst), dst)

    def einsum(self, subscripts: str, a, b):
        # the only contraction the math uses: a row-wise dot product
        if subscripts != "ij,ij->i":
            raise NotImplementedError(subscripts)
        return self.xp.vecdot(a, b, axis=-1)

    def clip(self, x, min=None, max=None, out=None):  # noqa: A002 - NumPy's names
        return self._into(self.xp.clip(x, min=min, max=max), out)

    def expit(self, x, out=None):
        """1 / (1 + exp(-x)) without overflow: exp only sees -|x|."""
        e = self.xp.exp(-self.xp.abs(x))
        positive = 1 / (1 + e)
        return self._into(self.xp.where(x >= 0, positive, e * positive), out)

    def ndtr(self, x):
        """The standard normal CDF (GELU), which the standard lacks (no erf).

        SciPy computes it in PyTorch, CuPy and JAX themselves when
        ``SCIPY_ARRAY_API=1``; for any other namespace it goes through NumPy
        on the host, and back.
        """
        if any(lib in self.__name__ for lib in ("torch", "cupy", "jax")):
            return ndtr(x)
        return move(ndtr(to_numpy(x)), self, device(x))

    def xlogy(self, x, y):
        """x log y, 0 where x == 0 (also where y == 0 there)."""
        safe_y = self.xp.where(x == 0, self.xp.ones_like(y), y)
        return x * self.xp.log(safe_y)


_BY_TYPE: dict[type, Any] = {}
_BY_NAME: dict[str, BufferNamespace] = {}


def _namespace_by_name(name: str) -> BufferNamespace:
    return _BY_NAME[name]


def namespace(array) -> Any:
    """The namespace the math uses for ``array``: :data:`NUMPY` or a BufferNamespace.

    One dictionary lookup per call once a type has been seen; a NumPy array
    (or a scipy sparse matrix, or anything else NumPy can take) is
    :data:`NUMPY`.
    """
    kind = type(array)
    xp = _BY_TYPE.get(kind)
    if xp is None:
        xp = _BY_TYPE[kind] = _namespace_for_type(array)
    return xp


def _namespace_for_type(array) -> Any:
    if isinstance(array, np.ndarray) or sp.issparse(array) or not _is_array(array):
        return NUMPY
    xp = array_api_compat.array_namespace(array)
    if xp.__name__ in ("numpy", "array_api_compat.numpy") or xp.__name__.endswith(
        "array_api_compat.numpy"
    ):
        return NUMPY
    if xp.__name__ not in _BY_NAME:
        _BY_NAME[xp.__name__] = BufferNamespace(xp)
    return _BY_NAME[xp.__name__]


def is_numpy(array) -> bool:
    """Whether ``array`` (or a list of them: the first) takes the NumPy path."""
    return namespace(array) is NUMPY


def row_max(Z):
    """The largest entry of each row of the 2-D array Z, shape (n,).

    In NumPy, as the ``argmax`` of each row taken out of Z: its ``argmax``
    along a short last axis runs a vector loop where its ``max`` does not,
    and the two together took 0.4x the time of ``np.max(Z, axis=1)`` for
    10 or 100 columns (AMD EPYC, NumPy 2.4). The same numbers: ``argmax``
    picks a NaN where the row has one, as ``max`` returns it.
    """
    xp = namespace(Z)
    if xp is not NUMPY:
        return xp.max(Z, axis=1)
    n, k = Z.shape
    return Z.reshape(-1).take(Z.argmax(axis=1) + np.arange(0, n * k, k))


def device(array):
    """The array's device, None for NumPy arrays."""
    if namespace(array) is NUMPY:
        return None
    return array_api_compat.device(array)


def input_namespace(X) -> tuple[Any, Any]:
    """``(xp, device)`` of an input under ``array_api_dispatch=True``.

    ``(None, None)`` where the NumPy path applies: dispatch off, a NumPy
    array, a sparse matrix, a list or a DataFrame.
    """
    if not get_config().get("array_api_dispatch", False):
        return None, None
    xp = namespace(X)
    if xp is NUMPY:
        return None, None
    return xp, device(X)


def to_numpy(array) -> np.ndarray:
    """``array`` as a NumPy array on the host (a no-op for NumPy arrays)."""
    if array is None or namespace(array) is NUMPY:
        return array
    name = namespace(array).__name__
    if "torch" in name:
        return array.detach().cpu().numpy()
    if "cupy" in name:  # pragma: no cover - needs a GPU
        return array.get()
    if "array_api_strict" in name:
        xp = namespace(array).xp
        return np.asarray(xp.asarray(array, device=xp.Device("CPU_DEVICE")))
    return np.asarray(array)


def move(array, xp, dev):
    """A NumPy (or any) array in namespace ``xp`` on device ``dev``.

    ``xp`` None means NumPy on the host. Arrays already there are returned
    as they are.
    """
    if array is None:
        return None
    if xp is None or xp is NUMPY:
        return to_numpy(array)
    if namespace(array) is xp and device(array) == dev:
        return array
    return xp.asarray(np.ascontiguousarray(to_numpy(array)), device=dev)


def xp_dtype(xp, dtype):
    """NumPy dtype ``dtype`` as a dtype of ``xp`` (itself for NumPy)."""
    if xp is None or xp is NUMPY:
        return np.dtype(dtype)
    return getattr(xp, np.dtype(dtype).name)


def numpy_dtype(array) -> np.dtype:
    """The NumPy dtype matching ``array``'s dtype, for any namespace."""
    xp = namespace(array)
    if xp is NUMPY:  # an ndarray or a sparse matrix has its dtype; a list not
        dtype = getattr(array, "dtype", None)
        return np.asarray(array).dtype if dtype is None else np.dtype(dtype)
    for name in _DTYPE_NAMES:
        if getattr(xp, name, None) == array.dtype:
            return np.dtype(name)
    raise TypeError(f"{xp.__name__} dtype {array.dtype} has no NumPy equivalent.")


_DTYPE_NAMES = (
    "float32", "float64", "float16", "int64", "int32", "int16", "int8",
    "uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128",
)  # fmt: skip


def empty(shape, dtype, like=None):
    """An uninitialised array of ``like``'s namespace and device (NumPy if None)."""
    if like is None or namespace(like) is NUMPY:
        return np.empty(shape, dtype=dtype)
    return namespace(like).empty(shape, dtype=dtype, device=device(like))


def zeros_like(array):
    if namespace(array) is NUMPY:
        return np.zeros_like(array)
    return namespace(array).zeros_like(array)


def copy(array):
    """A copy of ``array`` in its namespace and on its device."""
    if namespace(array) is NUMPY:
        return array.copy()
    return namespace(array).asarray(array, copy=True)


def copy_into(dst, src) -> None:
    """``dst[...] = src``; NumPy's copyto for NumPy arrays."""
    if namespace(dst) is NUMPY:
        np.copyto(dst, src)
    else:
        dst[...] = src


def shares_memory(view, flat) -> bool:
    """Whether ``view`` is a view of ``flat`` (array API arrays)."""
    base = getattr(view, "_base", None)  # PyTorch
    if base is not None or hasattr(view, "untyped_storage"):
        return base is flat
    inner = getattr(view, "_array", None)  # array-api-strict wraps NumPy
    if inner is not None:
        return inner.base is getattr(flat, "_array", None)
    return getattr(view, "base", None) is flat  # CuPy


def assign_from_host(array, values: np.ndarray) -> None:
    """``array[...] = values`` for NumPy ``values`` (L-BFGS's float64 iterate)."""
    if namespace(array) is NUMPY:
        array[...] = values
    else:
        host = np.asarray(values, dtype=numpy_dtype(array))
        array[...] = move(host, namespace(array), device(array))


def ravel(array):
    if namespace(array) is NUMPY:
        return array.ravel()
    return namespace(array).reshape(array, (-1,))


def all_finite(array) -> bool:
    xp = namespace(array)
    return bool(xp.all(xp.isfinite(array)))


def any_nonzero(array) -> bool:
    if namespace(array) is NUMPY:
        return bool(array.any())
    return bool(namespace(array).any(array != 0))


def total(array) -> float:
    """The sum of ``array`` as a Python float."""
    if namespace(array) is NUMPY:
        return float(array.sum())
    return float(namespace(array).sum(array))


def take_rows(array, rows):
    """``array[rows]`` for a slice or integer index array (NumPy's on the host)."""
    if isinstance(rows, slice) or namespace(array) is NUMPY:
        return array[rows, ...]
    xp = namespace(array)
    return xp.take(array, move(np.asarray(rows), xp, device(array)), axis=0)


# ---------------------------------------------------------------------------
# the estimators' decisions
# ---------------------------------------------------------------------------


def model_namespace(estimator):
    """The namespace of a fitted model's parameters (:data:`NUMPY` or other)."""
    params = getattr(estimator, "_params", None)
    if params is None:
        coefs = getattr(estimator, "coefs_", None)
        params = coefs[0] if coefs else None
    return NUMPY if params is None else namespace(params)


def check_same_namespace(X, estimator, method: str) -> None:
    """Refuse ``X`` from another namespace or device than the model's weights.

    The message has scikit-learn's words (its ``check_same_namespace``,
    1.8+), and says how to move the model.
    """
    model_xp = model_namespace(estimator)
    dispatch = get_config().get("array_api_dispatch", False)
    X_xp = namespace(X) if dispatch else NUMPY
    params = estimator._params
    if model_xp is X_xp and (X_xp is NUMPY or device(X) == device(params)):
        return
    fitted = "numpy" if model_xp is NUMPY else model_xp.__name__
    if not dispatch:
        detail = (
            f"The model was fitted on {fitted} arrays: call {method} under "
            "sklearn.config_context(array_api_dispatch=True) with X of that "
            "namespace and device"
        )
    elif X_xp is not model_xp:
        detail = (
            f"Array namespaces used during fit ({fitted}) and {method} "
            f"({'numpy' if X_xp is NUMPY else X_xp.__name__}) differ"
        )
    else:
        detail = (
            f"Devices used during fit ({device(params)}) and {method} "
            f"({device(X)}) differ"
        )
    raise ValueError(
        f"Inputs passed to {type(estimator).__name__}.{method}() must use the "
        f"same namespace and the same device as those passed to fit(). {detail}. "
        "Move the model first: skmlp.move_to(model, xp, device) (e.g. "
        "skmlp.move_to(model, numpy) for NumPy on the host)."
    )


def numpy_only_options(estimator) -> str | None:
    """Why the model's options need NumPy arrays, or None if they do not."""
    if not isinstance(estimator.activation, str):
        return "a custom activation (function, derivative) is NumPy-only"
    loss = getattr(estimator, "loss", None)
    if loss is not None and (
        not isinstance(loss, str) or loss not in ("squared_error", "poisson")
    ):
        return f"loss={loss!r} is NumPy-only"
    return None


def refuse_unsupported(estimator, xp) -> None:
    """Refuse, before training, the options that work on NumPy arrays only."""
    name = xp.__name__
    activation = estimator.activation
    if not isinstance(activation, str):
        raise ValueError(
            f"A custom activation (function, derivative) is NumPy-only: its "
            f"functions are called on NumPy arrays, and X is a {name} array. "
            "Use a built-in activation, or fit on NumPy arrays."
        )
    loss = getattr(estimator, "loss", None)
    if loss is not None and (
        not isinstance(loss, str) or loss not in ("squared_error", "poisson")
    ):
        raise ValueError(
            f"loss={loss!r} is NumPy-only for now: with array API inputs "
            f"({name}) the regressor trains on 'squared_error' or 'poisson'. "
            "Fit on NumPy arrays for the other losses."
        )


def move_model(estimator, xp=None, dev=None):
    """A copy of a fitted model whose arrays live in ``xp`` on ``dev``."""
    import copy as _copy

    from . import _parameters

    target = None if xp is None or xp is np or xp is NUMPY else xp
    if target is not None and not isinstance(target, BufferNamespace):
        probe = xp.asarray([0.0], device=dev) if dev is not None else xp.asarray([0.0])
        target = namespace(probe)
        dev = device(probe) if dev is None else dev
    moved = _copy.copy(estimator)
    state = dict(vars(estimator))
    state.pop("_backup", None)
    state.pop("_params", None)
    coefs = [move(W, target, dev) for W in estimator.coefs_]
    intercepts = [move(b, target, dev) for b in estimator.intercepts_]
    vars(moved).clear()
    vars(moved).update(state)
    moved._params, moved.coefs_, moved.intercepts_ = _parameters.link(coefs, intercepts)
    optimizer = state.get("_optimizer")
    if optimizer is not None:
        optimizer = _copy.copy(optimizer)
        for key, value in vars(optimizer).items():
            if _is_array(value) or isinstance(value, np.ndarray):
                setattr(optimizer, key, move(value, target, dev))
        moved._optimizer = optimizer
    return moved


def move_to(estimator, xp=None, device=None):
    """A copy of a fitted skmlp model with its arrays in namespace ``xp`` on ``device``.

    For deployment without the training library (a model fitted on PyTorch
    or CuPy, moved to NumPy on the host: ``skmlp.move_to(model, numpy)``,
    which pickles and exports to ONNX as a NumPy-fitted model does), or to
    go on training or predicting on another device. The weights, the
    optimizer's state and the views between them are moved together;
    scikit-learn's ``move_estimator_to`` (1.8+) does the same through this
    function.

    Parameters
    ----------
    estimator : NumpyMLPClassifier or NumpyMLPRegressor
        A fitted model; it is not changed.
    xp : module, default=None
        The target namespace: ``numpy`` (or None) for NumPy on the host, or
        an array library such as ``torch`` or ``cupy``.
    device : device or str, default=None
        The target device (``"cuda"``, ``"cpu"``, ...); None: the
        namespace's default. Ignored for NumPy.

    Returns
    -------
    moved : estimator
        A new model of the same class and state.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    return move_model(estimator, xp, device)

"""Dataset loaders for skmlp: the MNIST handwritten digits.

:func:`load_mnist` returns the canonical MNIST split (60000 training and 10000
test images of 28x28 pixels, flattened to 784 features).  It reads, in this order:

1. the four original IDX files (``train-images-idx3-ubyte``,
   ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
   ``t10k-labels-idx1-ubyte``, each either gzip-compressed with a ``.gz`` suffix or
   uncompressed) from a folder given as ``data_dir`` or by the environment variable
   ``SKMLP_DATA_DIR``;
2. otherwise OpenML's ``mnist_784`` through :func:`sklearn.datasets.fetch_openml`,
   whose 70000 rows are the same images in the same order (the first 60000 are the
   training set).  The converted arrays are then saved as
   ``skmlp_mnist.npz`` in scikit-learn's data home, so that later calls, in this
   process or another, neither download nor parse the ARFF file again.

:func:`read_idx` reads a single IDX file of unsigned bytes into a NumPy array.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import math
import os
import tempfile
import warnings
import zipfile
import zlib
from http.client import HTTPException
from pathlib import Path

import numpy as np
from sklearn.datasets import fetch_openml, get_data_home
from sklearn.utils import Bunch

__all__ = ["load_mnist", "read_idx"]

#: Environment variable naming a folder with the four MNIST IDX files.
DATA_DIR_ENV = "SKMLP_DATA_DIR"

#: Base names of the four IDX files, keyed by the array each one holds.
IDX_FILES = {
    "X_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

_OPENML_NAME = "mnist_784"
_OPENML_VERSION = 1
_NPZ_NAME = "skmlp_mnist.npz"
_KEYS = ("X_train", "X_test", "y_train", "y_test")

# Sizes of the canonical split of OpenML's 70000 rows (module constants so that
# tests can shrink them).
_N_TRAIN = 60000
_N_TEST = 10000

_IMAGE_SHAPE = (28, 28)
_N_FEATURES = _IMAGE_SHAPE[0] * _IMAGE_SHAPE[1]
_N_CLASSES = 10

# IDX type codes; MNIST only uses 0x08.
_IDX_TYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short (int16)",
    0x0C: "int (int32)",
    0x0D: "float (float32)",
    0x0E: "double (float64)",
}

# In-process cache: source key -> (dict of the four arrays, source description).
# Cached arrays are read-only; load_mnist hands out copies.
_CACHE: dict[tuple, tuple[dict[str, np.ndarray], str]] = {}

_DESCR = """\
MNIST handwritten digits
========================

70000 grey-scale images of the digits 0..9, 28x28 pixels each (Y. LeCun,
C. Cortes, C. J. C. Burges), in the canonical split: 60000 training images
(X_train, y_train) followed by 10000 test images (X_test, y_test).  Each image
is flattened row by row to 784 features; pixels are uint8 values 0..255
(0 = background), or float32 values in [0, 1] when loaded with scale=True.
Labels are int64 values 0..9.

Source: {source}
"""


def _read_bytes(path: Path) -> bytes:
    """Return the content of ``path``, gunzipped when its name ends in ``.gz``."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(
            f"Cannot decompress {str(path)!r}: the gzip data is corrupt or "
            f"truncated ({type(exc).__name__}: {exc}). Download the file again."
        ) from exc


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Parse IDX ``data`` read from ``path``; the result is a read-only view."""
    where = repr(str(path))
    if len(data) < 4:
        raise ValueError(
            f"{where} is not an IDX file: it holds {len(data)} bytes, fewer than "
            "the 4-byte magic number."
        )
    if data[0] != 0 or data[1] != 0:
        hint = ""
        if data[:2] == b"\x1f\x8b":
            hint = " It looks gzip-compressed: give it a '.gz' suffix."
        raise ValueError(
            f"{where} is not an IDX file: its magic number must start with two "
            f"zero bytes, found {data[:2].hex(' ')}.{hint}"
        )
    type_code, ndim = data[2], data[3]
    if type_code != 0x08:
        name = _IDX_TYPE_NAMES.get(type_code, "unknown")
        raise ValueError(
            f"{where} has IDX data type 0x{type_code:02X} ({name}); only 0x08 "
            "(unsigned byte), the type of the MNIST files, is supported."
        )
    if ndim == 0:
        raise ValueError(f"{where} declares 0 dimensions in its IDX header.")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{where} is truncated: its IDX header declares {ndim} dimensions, "
            f"which needs {header_size} header bytes, but the file holds "
            f"{len(data)} bytes."
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(dims)
    actual = len(data) - header_size
    if actual != expected:
        problem = "is truncated" if actual < expected else "has trailing bytes"
        raise ValueError(
            f"{where} {problem}: its IDX header declares shape {dims}, i.e. "
            f"{expected} data bytes, but {actual} bytes follow the header."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes, such as one of the MNIST files.

    Parameters
    ----------
    path : str or os.PathLike
        The file.  A name ending in ``.gz`` is decompressed with gzip; any other
        file is read as is.

    Returns
    -------
    array : ndarray of dtype uint8
        A new (writeable) array with the shape declared in the file's header.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a well-formed IDX file of unsigned bytes: corrupt
        gzip data, wrong magic number, a data type other than 0x08, or a data
        length that does not match the declared shape.  The message names the file.

    Notes
    -----
    The IDX format is a big-endian header (two zero bytes, a type byte, a byte
    holding the number of dimensions ``ndim``, then ``ndim`` 4-byte sizes) followed
    by the data in C order.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path).copy()


def _env_data_dir() -> str | None:
    value = os.environ.get(DATA_DIR_ENV)
    return value if value else None


def _folder_hint() -> str:
    return (
        f"point {DATA_DIR_ENV} (or the data_dir argument) at a folder holding "
        f"the 4 MNIST IDX files ({', '.join(IDX_FILES.values())}; each either "
        ".gz or uncompressed)"
    )


def _fix_hint() -> str:
    return (
        f"To fix it, {_folder_hint()}, or unset {DATA_DIR_ENV} and pass no "
        "data_dir to download MNIST from OpenML instead."
    )


def _find_idx_files(folder: Path, origin: str) -> dict[str, Path]:
    """Locate the four IDX files in ``folder`` (uncompressed preferred)."""
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise FileNotFoundError(
            f"MNIST data folder {str(folder)!r} ({origin}) {what}. {_fix_hint()}"
        )
    found: dict[str, Path] = {}
    missing: list[str] = []
    for key, base in IDX_FILES.items():
        for name in (base, base + ".gz"):
            candidate = folder / name
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            missing.append(f"{base} (or {base}.gz)")
    if missing:
        raise FileNotFoundError(
            f"MNIST IDX files missing in folder {str(folder)!r} ({origin}): "
            f"found neither name of {', '.join(missing)}. {_fix_hint()}"
        )
    return found


def _load_idx_folder(files: dict[str, Path]) -> dict[str, np.ndarray]:
    """Read and validate the four IDX files; arrays are read-only."""
    arrays: dict[str, np.ndarray] = {}
    for key, path in files.items():
        arr = _parse_idx(_read_bytes(path), path)
        is_images = key.startswith("X")
        want_ndim = 3 if is_images else 1
        if arr.ndim != want_ndim:
            kind = "images" if is_images else "labels"
            raise ValueError(
                f"{str(path)!r} has {arr.ndim} dimensions (shape {arr.shape}); "
                f"an MNIST {kind} file has {want_ndim}."
            )
        if is_images:
            if arr.shape[1:] != _IMAGE_SHAPE:
                raise ValueError(
                    f"{str(path)!r} holds images of {arr.shape[1]}x{arr.shape[2]} "
                    "pixels; MNIST images are 28x28."
                )
            arr = arr.reshape(arr.shape[0], _N_FEATURES)
        else:
            if arr.size and int(arr.max()) >= _N_CLASSES:
                raise ValueError(
                    f"{str(path)!r} holds label {int(arr.max())}; MNIST labels "
                    "are 0..9."
                )
            arr = arr.astype(np.int64)
            arr.flags.writeable = False
        arrays[key] = arr
    for split in ("train", "test"):
        n_images = arrays[f"X_{split}"].shape[0]
        n_labels = arrays[f"y_{split}"].shape[0]
        if n_images != n_labels:
            raise ValueError(
                f"{str(files[f'X_{split}'])!r} holds {n_images} images but "
                f"{str(files[f'y_{split}'])!r} holds {n_labels} labels; the "
                "counts must match."
            )
    return arrays


def _pandas_available() -> bool:
    return importlib.util.find_spec("pandas") is not None


def _convert_openml(data, target) -> dict[str, np.ndarray]:
    """Turn fetch_openml's float pixels and string labels into the split arrays."""
    if hasattr(data, "toarray"):  # sparse matrix
        data = data.toarray()
    X = np.asarray(data)
    y = np.asarray(target)
    n_total = _N_TRAIN + _N_TEST
    if X.shape != (n_total, _N_FEATURES) or y.shape != (n_total,):
        raise ValueError(
            f"OpenML {_OPENML_NAME!r} returned data of shape {X.shape} and target "
            f"of shape {y.shape}; expected ({n_total}, {_N_FEATURES}) and "
            f"({n_total},)."
        )
    lo, hi = X.min(), X.max()
    if lo < 0 or hi > 255:
        raise ValueError(
            f"OpenML {_OPENML_NAME!r} returned pixel values in [{lo}, {hi}]; "
            "expected 0..255."
        )
    X = X.astype(np.uint8)
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= _N_CLASSES:
        raise ValueError(
            f"OpenML {_OPENML_NAME!r} returned labels outside 0..9 "
            f"(min {y.min()}, max {y.max()})."
        )
    return {
        "X_train": X[:_N_TRAIN],
        "X_test": X[_N_TRAIN:],
        "y_train": y[:_N_TRAIN],
        "y_test": y[_N_TRAIN:],
    }


def _read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Load the skmlp npz cache; None (with a warning) if it is unusable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in _KEYS}
        ok = (
            all(arrays[k].ndim == 2 for k in ("X_train", "X_test"))
            and all(arrays[k].ndim == 1 for k in ("y_train", "y_test"))
            and arrays["X_train"].shape[0] == arrays["y_train"].shape[0]
            and arrays["X_test"].shape[0] == arrays["y_test"].shape[0]
            and arrays["X_train"].shape[1] == _N_FEATURES
            and arrays["X_test"].shape[1] == _N_FEATURES
        )
        if not ok:
            raise ValueError("unexpected array shapes")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(
            f"Ignoring unreadable MNIST cache {str(path)!r} "
            f"({type(exc).__name__}: {exc}); fetching from OpenML again.",
            RuntimeWarning,
            stacklevel=4,
        )
        return None
    arrays["X_train"] = arrays["X_train"].astype(np.uint8, copy=False)
    arrays["X_test"] = arrays["X_test"].astype(np.uint8, copy=False)
    arrays["y_train"] = arrays["y_train"].astype(np.int64, copy=False)
    arrays["y_test"] = arrays["y_test"].astype(np.int64, copy=False)
    return arrays


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save ``arrays`` to ``path`` atomically; warn (only) if that fails."""
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=path.name, suffix=".tmp", delete=False
        ) as f:
            tmp_name = f.name
            np.savez(f, **arrays)
        os.replace(tmp_name, path)
    except OSError as exc:
        warnings.warn(
            f"Could not save the MNIST cache {str(path)!r} ({exc}); later calls "
            "will fetch from OpenML's cache again.",
            RuntimeWarning,
            stacklevel=4,
        )
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp_name)


def _load_openml(data_home) -> tuple[dict[str, np.ndarray], str]:
    """Load MNIST via the npz cache or fetch_openml; return (arrays, source)."""
    home = Path(get_data_home(data_home))
    npz_path = home / _NPZ_NAME
    source = (
        f"OpenML {_OPENML_NAME!r} (version {_OPENML_VERSION}), "
        f"cached as {str(npz_path)!r}"
    )
    if npz_path.is_file():
        arrays = _read_npz(npz_path)
        if arrays is not None:
            return arrays, source
    parser = "auto" if _pandas_available() else "liac-arff"
    try:
        bunch = fetch_openml(
            _OPENML_NAME,
            version=_OPENML_VERSION,
            data_home=data_home,
            as_frame=False,
            parser=parser,
        )
    except (OSError, HTTPException, ValueError) as exc:
        raise OSError(
            f"Cannot load MNIST: {DATA_DIR_ENV} is unset and no data_dir was "
            f"given, so no local IDX files were looked for; there is no cache "
            f"at {str(npz_path)!r}; and downloading {_OPENML_NAME!r} from OpenML "
            f"failed ({type(exc).__name__}: {exc}). To fix it, check the network "
            f"connection and try again, or {_folder_hint()}."
        ) from exc
    arrays = _convert_openml(bunch.data, bunch.target)
    _write_npz(npz_path, arrays)
    return arrays, source


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    data_home: str | os.PathLike | None = None,
    scale: bool = False,
    return_bunch: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | Bunch:
    """Load the MNIST handwritten digits in their canonical train/test split.

    Parameters
    ----------
    data_dir : str or os.PathLike, default=None
        Folder holding the four original IDX files ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte``, each either uncompressed or gzip-compressed
        with a ``.gz`` suffix (the uncompressed one is used if both exist).  When
        None, the environment variable ``SKMLP_DATA_DIR`` is used if it is set and
        non-empty; otherwise the data come from OpenML (see Notes).  A folder
        given either way must hold the files: there is no fallback to the
        network.
    data_home : str or os.PathLike, default=None
        scikit-learn's data home for the OpenML download and for skmlp's
        ``skmlp_mnist.npz`` cache (see :func:`sklearn.datasets.get_data_home`).
        Unused when the IDX files are read.
    scale : bool, default=False
        If True, return the pixels as float32 values in [0, 1] (divided by 255)
        instead of uint8 values 0..255.
    return_bunch : bool, default=False
        If True, return a :class:`~sklearn.utils.Bunch` instead of a tuple.

    Returns
    -------
    X_train, X_test, y_train, y_test : tuple of ndarrays
        Returned when ``return_bunch=False``.  ``X_train`` has shape
        (60000, 784) and ``X_test`` (10000, 784), with images flattened row by
        row, dtype uint8 (or float32 with ``scale=True``); ``y_train`` (60000,)
        and ``y_test`` (10000,) are int64 labels 0..9.  (IDX files holding other
        numbers of images are read as they are.)
    bunch : sklearn.utils.Bunch
        Returned when ``return_bunch=True``, with the attributes ``X_train``,
        ``X_test``, ``y_train``, ``y_test``, ``source`` (a one-line description
        of where the data came from) and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If a folder is given (``data_dir`` or ``SKMLP_DATA_DIR``) but does not
        hold the four files; the message names the folder and the missing files.
    ValueError
        If an IDX file is malformed (corrupt gzip, bad header, truncated data,
        images not 28x28, labels outside 0..9, image and label counts that
        differ); the message names the file.
    OSError
        If no folder is given, there is no skmlp cache and the download from
        OpenML fails (the original exception is chained).

    Notes
    -----
    OpenML's ``mnist_784`` holds the same 70000 images in the same order as the
    IDX files, with pixels as floats and labels as strings; they are converted to
    uint8 and int64 and split into the first 60000 (train) and last 10000 (test)
    rows.  The result is saved as an uncompressed ``skmlp_mnist.npz`` in the data
    home and read from there by later calls.  ``fetch_openml`` is called with
    ``as_frame=False`` and ``parser="auto"``, or ``parser="liac-arff"`` when
    pandas is not installed.

    Within a process, the arrays of each source are cached (about 55 MB), and
    every call returns fresh copies of them, so modifying the returned arrays
    in place is safe and a repeated call costs only the copy.

    Examples
    --------
    >>> from skmlp.datasets import load_mnist
    >>> X_train, X_test, y_train, y_test = load_mnist(scale=True)  # doctest: +SKIP
    >>> X_train.shape, X_train.dtype, y_train[:5]  # doctest: +SKIP
    ((60000, 784), dtype('float32'), array([5, 0, 4, 1, 9]))
    """
    if data_dir is not None:
        folder, origin = Path(data_dir).expanduser(), "given as data_dir"
    else:
        env = _env_data_dir()
        folder = Path(env).expanduser() if env is not None else None
        origin = f"from the environment variable {DATA_DIR_ENV}"

    if folder is not None:
        files = _find_idx_files(folder, origin)
        # Keyed by the files' paths, sizes and modification times, so that files
        # replaced on disk are read again.
        stats = [(str(p.resolve()), p.stat()) for p in files.values()]
        key: tuple = ("idx", *((p, st.st_size, st.st_mtime_ns) for p, st in stats))
        if key not in _CACHE:
            arrays = _load_idx_folder(files)
            source = f"IDX files in {str(folder.resolve())!r}"
            _CACHE[key] = (arrays, source)
    else:
        home = Path(get_data_home(data_home)).resolve()
        key = ("openml", str(home / _NPZ_NAME))
        if key not in _CACHE:
            arrays, source = _load_openml(data_home)
            for arr in arrays.values():
                arr.flags.writeable = False
            _CACHE[key] = (arrays, source)

    cached, source = _CACHE[key]
    out = {}
    for name in _KEYS:
        arr = cached[name]
        if scale and name.startswith("X"):
            out[name] = np.divide(arr, np.float32(255), dtype=np.float32)
        else:
            out[name] = arr.copy()
    if return_bunch:
        return Bunch(**out, source=source, DESCR=_DESCR.format(source=source))
    return out["X_train"], out["X_test"], out["y_train"], out["y_test"]

"""Tests for skmlp.datasets: IDX parsing, load_mnist sources, caches and errors.

No test touches the network: ``fetch_openml`` is replaced in every test, by a fake
that fails loudly unless a test installs its own.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
from sklearn.utils import Bunch

from skmlp import datasets
from skmlp.datasets import load_mnist, read_idx

REAL_DIR = Path(
    os.environ.get("SKMLP_DATA_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
)

# MD5 of the uncompressed original files.
REAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

NAMES = {
    "X_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


# ---------------------------------------------------------------------------
# helpers and fixtures


def idx_bytes(arr: np.ndarray, type_code: int = 0x08) -> bytes:
    """Encode a uint8 array in the IDX format."""
    header = bytes([0, 0, type_code, arr.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def write(path: Path, data: bytes) -> Path:
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def tiny_arrays(n_train: int = 5, n_test: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "X_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "X_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_tiny(folder: Path, arrays=None, gz: bool = True) -> dict[str, np.ndarray]:
    arrays = tiny_arrays() if arrays is None else arrays
    folder.mkdir(parents=True, exist_ok=True)
    for key, base in NAMES.items():
        write(folder / (base + (".gz" if gz else "")), idx_bytes(arrays[key]))
    return arrays


def check_tiny(result, arrays) -> None:
    X_train, X_test, y_train, y_test = result
    np.testing.assert_array_equal(X_train, arrays["X_train"].reshape(-1, 784))
    np.testing.assert_array_equal(X_test, arrays["X_test"].reshape(-1, 784))
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    assert X_train.dtype == X_test.dtype == np.uint8
    assert y_train.dtype == y_test.dtype == np.int64


class FakeFetch:
    """Stand-in for fetch_openml that records its calls."""

    def __init__(self, data=None, target=None, exc: BaseException | None = None):
        self.data, self.target, self.exc = data, target, exc
        self.calls: list[tuple[tuple, dict]] = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        if self.exc is not None:
            raise self.exc
        return Bunch(data=self.data, target=self.target)


def no_network(*args, **kwargs):
    raise AssertionError("test tried to call fetch_openml (network access)")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch):
    """No network, no SKMLP_DATA_DIR from the environment."""
    monkeypatch.setattr(datasets, "fetch_openml", no_network)
    monkeypatch.delenv("SKMLP_DATA_DIR", raising=False)


@pytest.fixture
def fresh_cache(monkeypatch):
    """An empty in-process cache for this test (the shared one is restored)."""
    cache: dict = {}
    monkeypatch.setattr(datasets, "_CACHE", cache)
    return cache


@pytest.fixture
def small_split(monkeypatch):
    """Shrink the canonical OpenML split to 5 + 3 rows; return a matching fake."""
    monkeypatch.setattr(datasets, "_N_TRAIN", 5)
    monkeypatch.setattr(datasets, "_N_TEST", 3)
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (8, 784)).astype(np.float64)
    labels = np.array([str(i % 10) for i in range(8)], dtype=object)
    fake = FakeFetch(pixels, labels)
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    return fake


# ---------------------------------------------------------------------------
# IDX files


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_idx_round_trip(tmp_path, gz):
    arrays = write_tiny(tmp_path, gz=gz)
    check_tiny(load_mnist(tmp_path), arrays)
    check_tiny(load_mnist(str(tmp_path)), arrays)


def test_uncompressed_preferred_over_gz(tmp_path):
    arrays = write_tiny(tmp_path, gz=False)
    # A broken .gz next to each raw file must not be read.
    for base in NAMES.values():
        (tmp_path / (base + ".gz")).write_bytes(b"garbage")
    check_tiny(load_mnist(tmp_path), arrays)


def test_read_idx(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        out = read_idx(write(tmp_path / name, idx_bytes(arr)))
        np.testing.assert_array_equal(out, arr)
        assert out.dtype == np.uint8
        assert out.flags.writeable


def test_scale(tmp_path):
    arrays = tiny_arrays()
    arrays["X_train"][0, 0, :2] = [0, 255]
    write_tiny(tmp_path, arrays)
    X_train, X_test, y_train, _ = load_mnist(tmp_path, scale=True)
    assert X_train.dtype == X_test.dtype == np.float32
    assert X_train.min() >= 0 and X_train.max() <= 1
    assert X_train[0, 0] == 0 and X_train[0, 1] == 1
    np.testing.assert_allclose(X_train * 255, arrays["X_train"].reshape(-1, 784))
    assert y_train.dtype == np.int64


def test_return_bunch(tmp_path):
    arrays = write_tiny(tmp_path)
    bunch = load_mnist(tmp_path, return_bunch=True)
    assert isinstance(bunch, Bunch)
    check_tiny((bunch.X_train, bunch.X_test, bunch.y_train, bunch.y_test), arrays)
    assert str(tmp_path.resolve()) in bunch.source
    assert "IDX" in bunch.source
    assert "MNIST" in bunch.DESCR and bunch.source in bunch.DESCR


def test_env_var_honoured(tmp_path, monkeypatch):
    arrays = write_tiny(tmp_path)
    monkeypatch.setenv("SKMLP_DATA_DIR", str(tmp_path))
    check_tiny(load_mnist(), arrays)


def test_argument_overrides_env_var(tmp_path, monkeypatch):
    arrays = write_tiny(tmp_path / "arg")
    monkeypatch.setenv("SKMLP_DATA_DIR", str(tmp_path / "nonexistent"))
    check_tiny(load_mnist(tmp_path / "arg"), arrays)


def test_returned_arrays_are_independent_copies(tmp_path):
    arrays = write_tiny(tmp_path)
    X_train, _, y_train, _ = load_mnist(tmp_path)
    assert X_train.flags.writeable and y_train.flags.writeable
    X_train[:] = 0
    y_train[:] = 0
    check_tiny(load_mnist(tmp_path), arrays)


def test_in_process_cache_sees_replaced_files(tmp_path):
    write_tiny(tmp_path)
    load_mnist(tmp_path)
    new = tiny_arrays(n_train=4, n_test=2)
    write_tiny(tmp_path, new)  # different sizes, hence a different cache key
    check_tiny(load_mnist(tmp_path), new)


# ---------------------------------------------------------------------------
# IDX errors


def test_missing_folder(tmp_path):
    folder = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=r"nowhere.*does not exist"):
        load_mnist(folder)


def test_missing_file_names_folder_and_file(tmp_path):
    write_tiny(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    msg = str(info.value)
    assert str(tmp_path) in msg
    assert "t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz)" in msg
    missing = msg.split("found neither name of")[1].split(". To fix")[0]
    assert missing.strip() == "t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz)"
    assert "SKMLP_DATA_DIR" in msg and "OpenML" in msg


def test_env_folder_missing_files_does_not_download(tmp_path, monkeypatch):
    fake = FakeFetch(exc=AssertionError("must not download"))
    monkeypatch.setattr(datasets, "fetch_openml", fake)
    monkeypatch.setenv("SKMLP_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"SKMLP_DATA_DIR") as info:
        load_mnist()
    assert str(tmp_path) in str(info.value)
    assert "train-images-idx3-ubyte" in str(info.value)
    assert fake.calls == []


def test_truncated_file(tmp_path):
    write_tiny(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    expected = 5 * 28 * 28
    with pytest.raises(
        ValueError,
        match=rf"train-images-idx3-ubyte.*truncated.*{expected} data bytes.*"
        rf"{expected - 10} bytes",
    ):
        load_mnist(tmp_path)


def test_trailing_bytes(tmp_path):
    path = write(tmp_path / "x.idx", idx_bytes(np.zeros(3, np.uint8)) + b"\0")
    with pytest.raises(ValueError, match=r"x\.idx.*trailing bytes"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = write(tmp_path / "x.idx", idx_bytes(np.zeros((2, 2), np.uint8))[:6])
    with pytest.raises(ValueError, match=r"x\.idx.*truncated.*header"):
        read_idx(path)
    path = write(tmp_path / "y.idx", b"\0\0")
    with pytest.raises(ValueError, match=r"y\.idx.*not an IDX file"):
        read_idx(path)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "not_gzip_raw"])
def test_corrupt_gzip(tmp_path, damage):
    write_tiny(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    if damage == "garbage":
        path.write_bytes(b"this is not gzip data at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-12])
    else:  # raw IDX bytes under a .gz name
        path.write_bytes(idx_bytes(tiny_arrays()["y_train"]))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz.*gzip"):
        load_mnist(tmp_path)


def test_gzip_data_without_gz_suffix(tmp_path):
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8))))
    with pytest.raises(ValueError, match=r"x\.idx.*magic.*'\.gz' suffix"):
        read_idx(path)


def test_wrong_magic(tmp_path):
    write_tiny(tmp_path)
    data = b"\x01\x00" + idx_bytes(tiny_arrays()["X_test"])[2:]
    write(tmp_path / "t10k-images-idx3-ubyte.gz", data)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz.*magic"):
        load_mnist(tmp_path)


def test_wrong_type_byte(tmp_path):
    write_tiny(tmp_path)
    write(
        tmp_path / "train-labels-idx1-ubyte.gz",
        idx_bytes(np.zeros(5, np.uint8), type_code=0x0D),
    )
    with pytest.raises(
        ValueError, match=r"train-labels-idx1-ubyte\.gz.*0x0D.*only 0x08"
    ):
        load_mnist(tmp_path)


@pytest.mark.parametrize(
    ("key", "bad", "match"),
    [
        ("X_train", np.zeros((5, 784), np.uint8), r"2 dimensions.*has 3"),
        ("y_test", np.zeros((3, 1), np.uint8), r"2 dimensions.*has 1"),
        ("X_test", np.zeros((3, 28, 27), np.uint8), r"28x27.*28x28"),
        ("y_train", np.array([0, 1, 2, 3, 10], np.uint8), r"label 10.*0\.\.9"),
    ],
    ids=["images-ndim", "labels-ndim", "image-size", "label-range"],
)
def test_wrong_shape_or_content(tmp_path, key, bad, match):
    write_tiny(tmp_path)
    write(tmp_path / (NAMES[key] + ".gz"), idx_bytes(bad))
    with pytest.raises(ValueError, match=NAMES[key] + r"\.gz.*" + match):
        load_mnist(tmp_path)


def test_mismatched_counts(tmp_path):
    arrays = tiny_arrays()
    arrays["y_test"] = arrays["y_test"][:2]
    write_tiny(tmp_path, arrays)
    with pytest.raises(
        ValueError, match=r"t10k-images.*3 images.*t10k-labels.*2 labels"
    ):
        load_mnist(tmp_path)


# ---------------------------------------------------------------------------
# OpenML (always faked)


def test_openml_canonical_split_and_npz_cache(tmp_path, monkeypatch, fresh_cache):
    # Full-size fake: a broadcast row costs no memory; labels encode the row index.
    n = 70000
    row = np.arange(784, dtype=np.float64) % 256
    pixels = np.broadcast_to(row, (n, 784))
    labels = (np.arange(n) % 10).astype(str).astype(object)
    fake = FakeFetch(pixels, labels)
    monkeypatch.setattr(datasets, "fetch_openml", fake)

    X_train, X_test, y_train, y_test = load_mnist(data_home=tmp_path)
    assert len(fake.calls) == 1
    args, kwargs = fake.calls[0]
    assert args == ("mnist_784",) or kwargs.get("name") == "mnist_784"
    assert kwargs["version"] == 1
    assert kwargs["as_frame"] is False
    pandas = importlib.util.find_spec("pandas") is not None
    assert kwargs["parser"] == ("auto" if pandas else "liac-arff")
    assert Path(kwargs["data_home"]) == tmp_path

    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == X_test.dtype == np.uint8
    assert y_train.dtype == y_test.dtype == np.int64
    np.testing.assert_array_equal(y_train, np.arange(60000) % 10)
    np.testing.assert_array_equal(y_test, np.arange(60000, 70000) % 10)
    np.testing.assert_array_equal(X_test[-1], row.astype(np.uint8))

    npz_path = tmp_path / "skmlp_mnist.npz"
    assert npz_path.is_file()
    assert list(tmp_path.glob("*.tmp")) == []

    # Same process: in-process cache.
    load_mnist(data_home=tmp_path)
    assert len(fake.calls) == 1
    # "New process": empty in-process cache, the npz is read.
    fresh_cache.clear()
    bunch = load_mnist(data_home=tmp_path, return_bunch=True)
    assert len(fake.calls) == 1
    np.testing.assert_array_equal(bunch.y_train, y_train)
    np.testing.assert_array_equal(bunch.X_test, X_test)
    assert bunch.X_train.dtype == np.uint8 and bunch.y_test.dtype == np.int64
    assert "OpenML" in bunch.source and str(npz_path) in bunch.source


def test_openml_conversion_small(tmp_path, small_split, fresh_cache):
    X_train, X_test, y_train, y_test = load_mnist(data_home=tmp_path)
    np.testing.assert_array_equal(X_train, small_split.data[:5].astype(np.uint8))
    np.testing.assert_array_equal(X_test, small_split.data[5:].astype(np.uint8))
    np.testing.assert_array_equal(y_train, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(y_test, [5, 6, 7])
    assert y_train.dtype == np.int64 and X_train.dtype == np.uint8
    Xs = load_mnist(data_home=tmp_path, scale=True)[0]
    assert Xs.dtype == np.float32
    np.testing.assert_allclose(Xs, small_split.data[:5] / 255, rtol=1e-6)
    assert len(small_split.calls) == 1


def test_openml_string_dtype_labels(tmp_path, small_split, fresh_cache):
    small_split.target = small_split.target.astype(str)  # '<U1' instead of object
    y_test = load_mnist(data_home=tmp_path)[3]
    np.testing.assert_array_equal(y_test, [5, 6, 7])


def test_openml_parser_without_pandas(tmp_path, monkeypatch, small_split, fresh_cache):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    load_mnist(data_home=tmp_path)
    assert small_split.calls[0][1]["parser"] == "liac-arff"
    assert small_split.calls[0][1]["as_frame"] is False


@pytest.mark.parametrize(
    "exc", [URLError("no network"), OSError("unreachable"), TimeoutError("slow")]
)
def test_openml_download_failure(tmp_path, monkeypatch, fresh_cache, exc):
    monkeypatch.setattr(datasets, "fetch_openml", FakeFetch(exc=exc))
    with pytest.raises(OSError, match=r"SKMLP_DATA_DIR is unset") as info:
        load_mnist(data_home=tmp_path)
    msg = str(info.value)
    assert "OpenML" in msg and "failed" in msg
    assert str(tmp_path / "skmlp_mnist.npz") in msg
    assert "point SKMLP_DATA_DIR" in msg and "network" in msg
    assert info.value.__cause__ is exc
    assert not (tmp_path / "skmlp_mnist.npz").exists()


def test_openml_wrong_row_count(tmp_path, monkeypatch, small_split, fresh_cache):
    small_split.data = small_split.data[:7]
    small_split.target = small_split.target[:7]
    with pytest.raises(ValueError, match=r"shape \(7, 784\).*expected \(8, 784\)"):
        load_mnist(data_home=tmp_path)


def test_openml_corrupt_npz_is_refetched(tmp_path, small_split, fresh_cache):
    (tmp_path / "skmlp_mnist.npz").write_bytes(b"not a zip file")
    with pytest.warns(RuntimeWarning, match="unreadable MNIST cache"):
        y_train = load_mnist(data_home=tmp_path)[2]
    np.testing.assert_array_equal(y_train, [0, 1, 2, 3, 4])
    assert len(small_split.calls) == 1
    # The cache was rewritten and is now good.
    fresh_cache.clear()
    load_mnist(data_home=tmp_path)
    assert len(small_split.calls) == 1


def test_empty_env_var_means_unset(tmp_path, monkeypatch, small_split, fresh_cache):
    monkeypatch.setenv("SKMLP_DATA_DIR", "")
    load_mnist(data_home=tmp_path)
    assert len(small_split.calls) == 1


# ---------------------------------------------------------------------------
# the real MNIST files (skipped when absent)

needs_real = pytest.mark.skipif(
    not all(
        (REAL_DIR / b).is_file() or (REAL_DIR / (b + ".gz")).is_file()
        for b in NAMES.values()
    ),
    reason=f"real MNIST IDX files not found in {REAL_DIR}",
)


@pytest.fixture(scope="module")
def real_bunch():
    return load_mnist(REAL_DIR, return_bunch=True)


@needs_real
def test_real_shapes_and_dtypes(real_bunch):
    b = real_bunch
    assert b.X_train.shape == (60000, 784) and b.X_test.shape == (10000, 784)
    assert b.y_train.shape == (60000,) and b.y_test.shape == (10000,)
    assert b.X_train.dtype == b.X_test.dtype == np.uint8
    assert b.y_train.dtype == b.y_test.dtype == np.int64
    assert b.X_train.max() == 255 and b.X_train.min() == 0
    np.testing.assert_array_equal(b.y_train[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])


@needs_real
def test_real_label_counts(real_bunch):
    train = np.bincount(real_bunch.y_train, minlength=10)
    test = np.bincount(real_bunch.y_test, minlength=10)
    assert train.sum() == 60000 and test.sum() == 10000
    assert len(train) == len(test) == 10
    assert train[1] == 6742 and test[1] == 1135


@needs_real
def test_real_checksums(real_bunch):
    # Rebuild each uncompressed file from the arrays; compare with the known MD5.
    originals = {
        "X_train": real_bunch.X_train.reshape(-1, 28, 28),
        "X_test": real_bunch.X_test.reshape(-1, 28, 28),
        "y_train": real_bunch.y_train.astype(np.uint8),
        "y_test": real_bunch.y_test.astype(np.uint8),
    }
    for key, arr in originals.items():
        digest = hashlib.md5(idx_bytes(arr)).hexdigest()
        assert digest == REAL_MD5[NAMES[key]], key


@needs_real
def test_real_second_call_reads_no_file(real_bunch, monkeypatch):
    # The promise is that a second call does not read and parse the files
    # again: counted, rather than timed (a busy machine makes any time limit
    # flaky).
    load_mnist(REAL_DIR)  # cached (the fixture may have run in another order)
    reads = []

    def counting_read(path):
        reads.append(path)
        return original_read(path)

    original_read = datasets._read_bytes
    monkeypatch.setattr(datasets, "_read_bytes", counting_read)
    X_train, _, _, y_test = load_mnist(REAL_DIR)
    assert reads == []
    np.testing.assert_array_equal(X_train, real_bunch.X_train)
    np.testing.assert_array_equal(y_test, real_bunch.y_test)
    # the count is real: with the cache a new process starts with (empty),
    # all four files are read
    monkeypatch.setattr(datasets, "_CACHE", {})
    load_mnist(REAL_DIR)
    assert len(reads) == 4


@needs_real
def test_real_scaled(real_bunch):
    X_test = load_mnist(REAL_DIR, scale=True)[1]
    assert X_test.dtype == np.float32
    assert X_test.min() == 0.0 and X_test.max() == 1.0
    np.testing.assert_array_equal(X_test * np.float32(255), real_bunch.X_test)


def test_openml_unwritable_npz_warns(tmp_path, small_split, fresh_cache):
    (tmp_path / "skmlp_mnist.npz").mkdir()  # a folder where the file should go
    with pytest.warns(RuntimeWarning, match="Could not save the MNIST cache"):
        y_test = load_mnist(data_home=tmp_path)[3]
    np.testing.assert_array_equal(y_test, [5, 6, 7])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["skmlp_mnist.npz"]

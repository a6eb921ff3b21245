"""Out-of-core training: ``partial_fit`` on chunks of a memory-mapped file.
========================================================================

What it shows
-------------
A data set too large for memory stays on disk as an ``np.memmap``; training
reads it a chunk of rows at a time and calls ``partial_fit`` on each chunk
(one pass over the chunk per call), so memory holds one chunk and the
network, whatever the size of the file.

1. It writes the training images to a uint8 memmap, streamed a chunk at a
   time: MNIST's IDX files when ``--data-dir`` (or ``SKMLP_DATA_DIR``) names
   a folder holding them (read straight from the .gz files, never whole in
   memory), else MNIST-shaped synthetic digits.
2. It trains ``--epochs`` passes over the file, chunk by chunk, each chunk
   scaled to [0, 1] in float32 on the way (``/ 255``), and reports the
   accuracy on the test images and tracemalloc's peak of the memory allocated
   during training, next to the size of the file.
3. With ``--dask`` (needs ``pip install "skmlp[dask]"``) it trains again with
   dask-ml's ``Incremental`` over a Dask array made from the same memmap
   (``shuffle_blocks=False``: the same chunks in the same order) and checks
   that the weights are those of the plain loop, bit for bit.

How to run
----------
    python examples/out_of_core_memmap.py                       # synthetic, ~25 s
    SKMLP_DATA_DIR=../shared/data/mnist python examples/out_of_core_memmap.py
    python examples/out_of_core_memmap.py --dask --epochs 2
"""

from __future__ import annotations

import argparse
import gzip
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from skmlp import NumpyMLPClassifier
from skmlp.datasets import DATA_DIR_ENV, read_idx

N_PIXELS = 28 * 28
N_CLASSES = 10


def _open_idx(folder: Path, name: str):
    """Open an IDX file, gzip-compressed or not, as a binary stream."""
    for path, opener in ((folder / f"{name}.gz", gzip.open), (folder / name, open)):
        if path.exists():
            return opener(path, "rb"), path
    raise FileNotFoundError(f"no {name}[.gz] in {folder}")


def mnist_to_memmap(
    folder: Path, split: str, out: Path, chunk: int
) -> tuple[np.memmap, np.ndarray]:
    """Stream MNIST's ``split`` ("train" or "t10k") images into a uint8 memmap.

    The images are copied ``chunk`` rows at a time, so memory never holds
    the whole file; the labels (one byte per image) are read at once.
    """
    stream, path = _open_idx(folder, f"{split}-images-idx3-ubyte")
    with stream:
        header = np.frombuffer(stream.read(16), dtype=">u4")
        magic, n_images, n_rows, n_cols = (int(v) for v in header)
        if magic != 0x803 or n_rows * n_cols != N_PIXELS:
            raise ValueError(f"{path} is not an IDX file of 28x28 uint8 images")
        X = np.memmap(out, dtype=np.uint8, mode="w+", shape=(n_images, N_PIXELS))
        for start in range(0, n_images, chunk):
            n = min(chunk, n_images - start)
            X[start : start + n] = np.frombuffer(
                stream.read(n * N_PIXELS), dtype=np.uint8
            ).reshape(n, N_PIXELS)
        X.flush()
    _, label_path = _open_idx(folder, f"{split}-labels-idx1-ubyte")
    y = read_idx(label_path).astype(np.int64)
    return np.memmap(out, dtype=np.uint8, mode="r", shape=X.shape), y


def synthetic_to_memmap(
    n_images: int, out: Path, chunk: int, seed: int
) -> tuple[np.memmap, np.ndarray]:
    """MNIST-shaped stand-in: each class a random stroke pattern, plus noise."""
    prototypes = np.random.default_rng(0).random((N_CLASSES, N_PIXELS)) < 0.15
    rng = np.random.default_rng(seed)
    y = rng.integers(N_CLASSES, size=n_images)
    X = np.memmap(out, dtype=np.uint8, mode="w+", shape=(n_images, N_PIXELS))
    for start in range(0, n_images, chunk):
        rows = slice(start, min(start + chunk, n_images))
        n = rows.stop - rows.start
        kept = rng.random((n, N_PIXELS)) < 0.6
        noise = rng.random((n, N_PIXELS)) * 0.5
        X[rows] = np.clip(prototypes[y[rows]] * kept + noise, 0, 1) * 255
    X.flush()
    return np.memmap(out, dtype=np.uint8, mode="r", shape=X.shape), y


def scaled(X_chunk: np.ndarray) -> np.ndarray:
    """Pixels 0..255 as float32 in [0, 1]: one chunk-sized array."""
    out = X_chunk.astype(np.float32)
    out /= 255  # in place: no second chunk-sized temporary
    return out


def make_model() -> NumpyMLPClassifier:
    return NumpyMLPClassifier(
        hidden_layer_sizes=(128,), learning_rate_init=1e-3, random_state=0
    )


def train_chunked(X, y, chunk: int, epochs: int) -> NumpyMLPClassifier:
    """The out-of-core loop: one partial_fit call per chunk, ``epochs`` times."""
    clf = make_model()
    classes = np.arange(N_CLASSES)  # every class, known before any chunk
    for _ in range(epochs):
        for start in range(0, X.shape[0], chunk):
            stop = start + chunk
            clf.partial_fit(scaled(X[start:stop]), y[start:stop], classes=classes)
    return clf


def score_chunked(clf: NumpyMLPClassifier, X, y, chunk: int) -> float:
    n_correct = 0
    for start in range(0, X.shape[0], chunk):
        stop = start + chunk
        n_correct += int((clf.predict(scaled(X[start:stop])) == y[start:stop]).sum())
    return n_correct / X.shape[0]


def train_incremental(X, y, chunk: int, epochs: int) -> NumpyMLPClassifier:
    """The same training through dask-ml's Incremental over a Dask array."""
    import dask.array as da
    from dask_ml.wrappers import Incremental

    # The memmap is wrapped, not read: each block is read from disk (and
    # scaled) only when the task that needs it runs.
    X_dask = da.from_array(X, chunks=(chunk, N_PIXELS)).map_blocks(
        scaled, dtype=np.float32
    )
    y_dask = da.from_array(y, chunks=chunk)
    inc = Incremental(make_model(), shuffle_blocks=False)
    for _ in range(epochs):
        inc.partial_fit(X_dask, y_dask, classes=np.arange(N_CLASSES))
    return inc.estimator_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(DATA_DIR_ENV),
        help=f"folder with MNIST's IDX files (default: ${DATA_DIR_ENV}); "
        "synthetic data without it",
    )
    parser.add_argument("--n-synthetic", type=int, default=60_000)
    parser.add_argument("--chunk", type=int, default=5_000, help="rows per chunk")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dask", action="store_true", help="also dask-ml")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.data_dir:
            folder = Path(args.data_dir)
            X_train, y_train = mnist_to_memmap(
                folder, "train", tmp / "train.u8", args.chunk
            )
            X_test, y_test = mnist_to_memmap(
                folder, "t10k", tmp / "test.u8", args.chunk
            )
            source = f"MNIST from {folder}"
        else:
            X_train, y_train = synthetic_to_memmap(
                args.n_synthetic, tmp / "train.u8", args.chunk, seed=1
            )
            X_test, y_test = synthetic_to_memmap(10_000, tmp / "test.u8", args.chunk, 2)
            source = "synthetic MNIST-shaped digits"
        print(
            f"{source}: {X_train.shape[0]} training images, "
            f"{X_train.nbytes / 1e6:.0f} MB on disk as uint8 "
            f"({X_train.shape[0] * N_PIXELS * 4 / 1e6:.0f} MB as float32)"
        )

        tracemalloc.start()
        start = time.perf_counter()
        clf = train_chunked(X_train, y_train, args.chunk, args.epochs)
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"chunked partial_fit: {args.epochs} epochs in {seconds:.1f} s, "
            f"peak memory allocated while training {peak / 1e6:.1f} MB "
            f"(one float32 chunk: {args.chunk * N_PIXELS * 4 / 1e6:.1f} MB)"
        )
        accuracy = score_chunked(clf, X_test, y_test, args.chunk)
        print(f"test accuracy: {accuracy:.4f}")

        if args.dask:
            start = time.perf_counter()
            est = train_incremental(X_train, y_train, args.chunk, args.epochs)
            seconds = time.perf_counter() - start
            same = all(
                np.array_equal(a, b)
                for a, b in zip(
                    est.coefs_ + est.intercepts_, clf.coefs_ + clf.intercepts_
                )
            )
            print(
                f"dask-ml Incremental: {seconds:.1f} s, "
                f"weights identical to the loop: {same}"
            )
        del X_train, X_test  # close the memmaps before the folder goes


if __name__ == "__main__":
    main()

"""The MNIST examples run end to end in their reduced modes, so they cannot rot.

Each example runs as a script (``sys.executable``, as a user would) on small
subsets for 1-2 epochs, writing into a temporary folder; the tests check the
exit status, the last line of output and the files written. They need the real
MNIST IDX files (``SKMLP_DATA_DIR``, or ``../shared/data/mnist`` next to the
repository) and are skipped without them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

pytest.importorskip("matplotlib")  # train_mnist.py draws figures

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MNIST_DIR = Path(
    os.environ.get("SKMLP_DATA_DIR") or ROOT.parent / "shared" / "data" / "mnist"
)
LAST_LINE = re.compile(r"test accuracy: 0\.\d{4}")

pytestmark = pytest.mark.skipif(
    not MNIST_DIR.is_dir(), reason=f"no MNIST folder at {MNIST_DIR}"
)


def run_example(name: str, *args: str, cwd: Path) -> str:
    """Run ``examples/<name>`` with ``args`` and return its output.

    stdout and stderr are read together, interleaved as on a terminal, so that
    "the last line" means what a user sees last, warnings included. A failed
    run fails the test with that output.
    """
    # Unbuffered, so that every line lands in the order it was written.
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    env.pop("SKMLP_DATA_DIR", None)  # --data-dir is passed explicitly
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--data-dir", str(MNIST_DIR), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout
    return result.stdout


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


def test_train_mnist_reduced(tmp_path):
    out = tmp_path / "out"
    output = run_example(
        "train_mnist.py",
        "--n-train",
        "2000",
        "--n-test",
        "500",
        "--epochs",
        "2",
        "--hidden",
        "32,16",
        "--threads",
        "1",
        "--output-dir",
        str(out),
        cwd=tmp_path,
    )
    # Nothing, not even a warning, comes after the result line.
    assert LAST_LINE.fullmatch(last_line(output)), output
    # One progress line per epoch, with real validation numbers.
    epochs = re.findall(
        r"^epoch +\d+/2  loss [\d.]+  validation loss [\d.]+  "
        r"validation accuracy (0\.\d{4}|1\.0000)  learning rate [\d.]+  "
        r"time [\d.]+s$",
        output,
        flags=re.MULTILINE,
    )
    assert len(epochs) == 2, output
    assert "predicts the same 500 test labels" in output
    for name in ("training_curves", "first_layer_weights", "confusion_matrix"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    assert (out / "mnist_pipeline.joblib").is_file()


def test_train_mnist_plain_and_dropout(tmp_path):
    # The plain run (images as they are, no dropout) and a run with dropout
    # both train and report; the plain one says so.
    common = ("--n-train", "1000", "--n-test", "200", "--epochs", "1")
    common += ("--hidden", "16", "--threads", "1")
    plain = run_example(
        "train_mnist.py",
        *common,
        "--no-augmentation",
        "--dropout",
        "0",
        "--output-dir",
        str(tmp_path / "plain"),
        cwd=tmp_path,
    )
    assert "dropout 0.0, float32), images as they are" in plain, plain
    assert LAST_LINE.fullmatch(last_line(plain)), plain
    dropped = run_example(
        "train_mnist.py",
        *common,
        "--dropout",
        "0.3",
        "--output-dir",
        str(tmp_path / "dropout"),
        cwd=tmp_path,
    )
    assert "dropout 0.3, float32), images distorted anew each epoch" in dropped
    assert LAST_LINE.fullmatch(last_line(dropped)), dropped


def load_example(name: str):
    """Import ``examples/<name>`` as a module (its main() does not run)."""
    spec = importlib.util.spec_from_file_location(name[:-3], EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LargestDraws:
    """Stands in for a Generator: every ``uniform(low, high, size)`` is high."""

    def uniform(self, low, high, size):
        return np.full(size, high, dtype=float)


@pytest.fixture(scope="module")
def distort_images():
    return load_example("train_mnist.py").distort_images


def test_train_mnist_distort_nothing(distort_images):
    X = np.random.default_rng(0).integers(0, 256, size=(10, 784), dtype=np.uint8)
    still = dict(max_shift=0, max_rotation=0, max_scale=0, max_shear=0, elastic=0)
    assert distort_images(X, np.random.default_rng(0), **still) is X


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_train_mnist_distort_exact_maps(distort_images, dtype):
    # Maps that move pixel centres onto pixel centres are exact: the bilinear
    # weights are 0 and 1, and what comes from outside the image is 0.
    rng = np.random.default_rng(0)
    X = rng.integers(1, 256, size=(7, 784)).astype(dtype)  # no 0 pixel
    images = X.reshape(-1, 28, 28)
    still = dict(max_shift=0, max_rotation=0, max_scale=0, max_shear=0, elastic=0)

    moved = distort_images(X, LargestDraws(), **{**still, "max_shift": 2})
    assert moved.shape == X.shape and moved.dtype == X.dtype
    expected = np.zeros_like(images)
    expected[:, 2:, 2:] = images[:, :-2, :-2]  # down 2 rows, right 2 columns
    np.testing.assert_array_equal(moved.reshape(-1, 28, 28), expected)

    turned = distort_images(X, LargestDraws(), **{**still, "max_rotation": 90})
    # A quarter turn about the centre (13.5, 13.5) maps the grid onto itself.
    np.testing.assert_array_equal(
        turned.reshape(-1, 28, 28), np.rot90(images, k=-1, axes=(1, 2))
    )


def bilinear(image, q_row, q_col):
    """The image's value at (q_row, q_col), one pixel at a time; 0 outside."""
    r0, c0 = int(np.floor(q_row)), int(np.floor(q_col))
    value = 0.0
    for r, weight_r in ((r0, 1 - (q_row - r0)), (r0 + 1, q_row - r0)):
        for c, weight_c in ((c0, 1 - (q_col - c0)), (c0 + 1, q_col - c0)):
            if 0 <= r < 28 and 0 <= c < 28:
                value += weight_r * weight_c * float(image[r, c])
    return value


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_train_mnist_distort_all_at_once(distort_images, dtype):
    # Shift, rotation, zoom and shear together against the textbook formula:
    # output pixel p reads the input at q = A (p - centre) + centre - shift.
    X = np.random.default_rng(1).integers(0, 256, size=(3, 784)).astype(dtype)
    distorted = distort_images(
        X,
        LargestDraws(),
        max_shift=1.5,
        max_rotation=30,
        max_scale=0.2,
        max_shear=0.3,
        elastic=0,
    ).reshape(-1, 28, 28)
    angle, zoom, shear, shift = np.deg2rad(30), 1.2, 0.3, 1.5
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    )
    A = rotation / zoom @ np.array([[1, shear], [0, 1]])
    centre = 13.5
    for image, result in zip(X.reshape(-1, 28, 28), distorted):
        expected = np.empty((28, 28))
        for r in range(28):
            for c in range(28):
                q_row, q_col = A @ [r - centre, c - centre] + centre - shift
                expected[r, c] = bilinear(image, q_row, q_col)
        # float32 arithmetic on values up to 255; uint8 is rounded.
        atol = 0.5 + 1e-3 if dtype == np.uint8 else 1e-3
        np.testing.assert_allclose(result, expected, rtol=0, atol=atol)


def test_train_mnist_distort_elastic(distort_images):
    # Bilinear interpolation is exact on a ramp: an image whose pixels hold
    # their own row number comes out holding the row each output pixel read,
    # r + d_row(p), away from the border. So the displacement can be read off.
    ramp = np.repeat(np.arange(28.0, dtype=np.float32), 28)[None] + 100.0
    X = np.repeat(ramp, 4000, axis=0)  # (4000, 784), one map each
    still = dict(max_shift=0, max_rotation=0, max_scale=0, max_shear=0)
    rng = np.random.default_rng(0)
    out = distort_images(X, rng, **still, elastic=1.5).reshape(-1, 28, 28)
    d_row = out - ramp.reshape(28, 28)  # (4000, 28, 28)
    inside = d_row[:, 6:-6, 6:-6]  # 4.5 pixels of margin at least
    assert np.sqrt(np.mean(inside**2)) == pytest.approx(1.5, rel=0.15)
    # Smooth: neighbouring pixels move nearly together.
    step = np.abs(np.diff(inside, axis=2))
    assert step.mean() < 0.15 * np.abs(inside).mean()
    # Independent maps: the displacements of two images are uncorrelated.
    first, second = inside[::2].ravel(), inside[1::2].ravel()
    assert abs(np.corrcoef(first, second)[0, 1]) < 0.1


def test_train_mnist_distort_random(distort_images):
    # With a real generator every image gets its own map, anew at each call.
    X = (
        load_example("train_mnist.py")
        .load_mnist(MNIST_DIR, return_bunch=True)
        .X_train[:200]
    )
    rng = np.random.default_rng(0)
    first, second = distort_images(X, rng), distort_images(X, rng)
    assert first.dtype == X.dtype and first.shape == X.shape
    assert not np.array_equal(first, second)  # new maps at each call
    assert (first != X).any(axis=1).all()  # every image moved
    again = distort_images(X, np.random.default_rng(0))
    np.testing.assert_array_equal(again, first)  # reproducible from a seed


def test_train_mnist_help(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_mnist.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    options = ("--data-dir", "--epochs", "--hidden", "--output-dir", "--seed")
    options += ("--dropout", "--max-shift", "--max-rotation", "--elastic")
    for option in options + ("--no-augmentation", "--threads"):
        assert option in result.stdout


def test_grid_search_mnist_reduced(tmp_path):
    output = run_example(
        "grid_search_mnist.py", "--quick", "--n-jobs", "2", cwd=tmp_path
    )
    assert LAST_LINE.fullmatch(last_line(output)), output
    # The ranked table: one row per candidate of the quick grid, ranks 1 and 2.
    rows = re.findall(r"^\s+(\d+)\s+0\.\d{4}\s+0\.\d{4}\s", output, re.MULTILINE)
    assert sorted(rows) == ["1", "2"], output
    # 2 workers share the cores: each gets cpu_count // 2 BLAS threads.
    threads = max(1, joblib.cpu_count() // 2)
    seen = (
        f"BLAS threads seen inside the workers (threadpoolctl): [{threads}, {threads}]"
    )
    assert seen in output, output

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


def load_example(name: str):
    """Import ``examples/<name>`` as a module (its main() does not run)."""
    spec = importlib.util.spec_from_file_location(name[:-3], EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_mnist_shift_images():
    shift_images = load_example("train_mnist.py").shift_images
    rng = np.random.default_rng(0)
    X = rng.integers(1, 256, size=(500, 784), dtype=np.uint8)  # no zero pixel
    shifted = shift_images(X, 2, rng)
    assert shifted.shape == X.shape and shifted.dtype == X.dtype
    assert shift_images(X, 0, rng) is X  # no augmentation: the images as they are
    images, moved = X.reshape(-1, 28, 28), shifted.reshape(-1, 28, 28)
    offsets = set()
    for image, result in zip(images, moved):
        # The image moved by (dy, dx): the rows and columns it left are 0.
        dy = int((result[:, 14] == 0).sum()) * (1 if result[0, 14] == 0 else -1)
        dx = int((result[14, :] == 0).sum()) * (1 if result[14, 0] == 0 else -1)
        assert max(abs(dy), abs(dx)) <= 2
        expected = np.zeros_like(image)
        expected[max(dy, 0) : 28 + min(dy, 0), max(dx, 0) : 28 + min(dx, 0)] = image[
            max(-dy, 0) : 28 - max(dy, 0), max(-dx, 0) : 28 - max(dx, 0)
        ]
        np.testing.assert_array_equal(result, expected)
        offsets.add((dy, dx))
    assert len(offsets) == 25  # every offset of -2..2 x -2..2 occurs


def test_train_mnist_help(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_mnist.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    for option in ("--data-dir", "--epochs", "--hidden", "--output-dir", "--seed"):
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

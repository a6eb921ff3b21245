"""The learning examples run, in their reduced --quick mode, and show their point.

Each example is run as a user would run it (a separate Python process, so
that its argparse, its printing and its figure are exercised), with the
figure written to a temporary folder. Besides exit code 0 and the PNG, the
printed numbers must show what the example is about, e.g. a correct
gradient agrees with finite differences to 1e-6 and a broken one does not.

The MNIST examples are skipped only when the MNIST folder is missing
(``SKMLP_DATA_DIR``, else ``../shared/data/mnist`` next to the repository).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MNIST_DIR = Path(
    os.environ.get("SKMLP_DATA_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
)
# every example draws its figure (the ``plot`` extra)
pytest.importorskip("matplotlib")

needs_mnist = pytest.mark.skipif(
    not MNIST_DIR.is_dir(), reason=f"MNIST folder {MNIST_DIR} not found"
)


def run_example(name: str, output_dir: Path) -> str:
    """Run ``examples/<name> --quick``; return its standard output."""
    env = dict(os.environ, MPLBACKEND="Agg", SKMLP_DATA_DIR=str(MNIST_DIR))
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--quick", "--output-dir", output_dir],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def number_after(label: str, text: str) -> float:
    """The number printed right after ``label`` (e.g. '... derivative: 1.2e-09')."""
    match = re.search(re.escape(label) + r"\s*([-+0-9.eE]+)", text)
    assert match, f"{label!r} not found in the output:\n{text}"
    return float(match.group(1))


def table_rows(text: str, first_words: list[str]) -> dict[str, list[str]]:
    """Rows of a printed table, keyed by their first word(s): the other fields."""
    rows = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields or not re.fullmatch(r"[-+0-9.eE]+", fields[-1]):
            continue  # table rows end with a number; prose lines do not
        for key in first_words:
            n = len(key.split())
            if fields[:n] == key.split():
                rows[key] = fields[n:]
    missing = set(first_words) - set(rows)
    assert not missing, f"rows {missing} not found in the output:\n{text}"
    return rows


def test_gradient_check(tmp_path):
    out = run_example("gradient_check.py", tmp_path)
    assert (tmp_path / "gradient_check.png").is_file()
    correct = number_after("max relative error, correct derivative:", out)
    broken = number_after("max relative error, broken derivative:", out)
    assert correct < 1e-6
    assert broken > 1e-3
    assert broken > 1e4 * correct
    # per parameter array: name, shape (2 fields or 1), correct, broken
    rows = table_rows(out, ["coefs_[0]", "coefs_[2]", "intercepts_[2]"])
    assert float(rows["coefs_[0]"][-1]) > 1e-3  # below the broken tanh
    assert float(rows["coefs_[2]"][-1]) < 1e-6  # the output layer: unaffected
    assert float(rows["intercepts_[2]"][-1]) < 1e-6
    # every hidden activation's derivative is right
    for activation in ["identity", "logistic", "tanh", "relu"]:
        error = float(table_rows(out, [activation])[activation][0])
        assert error < 1e-6, (activation, error)


@pytest.mark.slow
@needs_mnist
def test_sigmoid_vs_relu(tmp_path):
    out = run_example("sigmoid_vs_relu.py", tmp_path)
    assert (tmp_path / "sigmoid_vs_relu.png").is_file()
    # columns: momentum, train loss, test accuracy, seconds
    rows = table_rows(out, ["logistic 0.0", "relu 0.0", "logistic 0.9", "relu 0.9"])
    loss = {key: float(fields[0]) for key, fields in rows.items()}
    accuracy = {key: float(fields[1]) for key, fields in rows.items()}
    # even 2 short epochs show the ordering: ReLU beats the sigmoid, and
    # momentum helps both, in test accuracy and in training loss
    assert accuracy["relu 0.9"] > accuracy["logistic 0.0"] + 0.1
    assert accuracy["relu 0.0"] > accuracy["logistic 0.0"]
    assert accuracy["logistic 0.9"] > accuracy["logistic 0.0"]
    assert loss["relu 0.0"] < loss["logistic 0.0"]
    assert loss["relu 0.9"] < loss["relu 0.0"]
    assert loss["logistic 0.9"] < loss["logistic 0.0"]


@pytest.mark.slow
@needs_mnist
def test_initialization(tmp_path):
    out = run_example("initialization.py", tmp_path)
    assert (tmp_path / "initialization.png").is_file()
    # columns: loss at epoch 1, last loss, test accuracy, spread across units
    rows = table_rows(out, ["xavier", "gaussian", "zeros"])
    last_loss = {key: float(fields[1]) for key, fields in rows.items()}
    spread = {key: float(fields[3]) for key, fields in rows.items()}
    assert last_loss["xavier"] < last_loss["zeros"]
    # zero init: all hidden units identical (up to float32 rounding)
    assert spread["zeros"] < 1e-6
    assert spread["xavier"] > 1e-3 and spread["gaussian"] > 1e-3
    # ReLU from zeros: no gradient reaches any weight
    assert number_after("largest |weight| =", out) == 0.0


@pytest.mark.slow
@needs_mnist
def test_first_layer_weights(tmp_path):
    out = run_example("first_layer_weights.py", tmp_path)
    assert (tmp_path / "first_layer_weights.png").is_file()
    # columns after the epoch: test accuracy, corr W, corr W - W0, ratio
    rows = table_rows(out, ["0", "1", "3"])
    assert abs(float(rows["0"][0])) < 0.1  # Xavier noise: no spatial structure
    # what training adds is a sum of digit images: smooth
    assert float(rows["1"][2]) > 0.5
    assert float(rows["3"][0]) > float(rows["1"][0])  # test accuracy improves
    # pixels that are 0 in every image: their weights get no gradient at all
    assert number_after("the largest change of their weights:", out) == 0.0

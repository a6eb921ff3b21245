"""Deploy without Python's scientific stack: export to ONNX, run with onnxruntime.
===============================================================================

What it shows
-------------
1. A ``Pipeline(StandardScaler, NumpyMLPClassifier)`` trained on scikit-learn's
   digits (or on MNIST, with ``--data-dir`` / ``SKMLP_DATA_DIR``).
2. ``import skmlp.onnx`` registers skl2onnx's own ``MLPClassifier`` converter
   for skmlp's estimators, and ``skl2onnx.to_onnx`` turns the whole pipeline
   into one ONNX graph: the scaler's ``(x - mean) / scale``, then per layer
   ``MatMul``, ``Add`` and the activation, then ``Softmax`` and the labels.
   It is saved to ``--output-dir`` (``model.onnx``).
3. onnxruntime loads the file and predicts; the labels are the pipeline's and
   the probabilities agree to float32 rounding. Both the default output
   (probabilities as a list of ``{label: probability}`` dicts, skl2onnx's
   ``zipmap``) and the plain-tensor one (``options={"zipmap": False}``) are
   shown, with the time each takes to predict the test set.

How to run (needs ``pip install "skmlp[onnx]"``)
-------------------------------------------------
    python examples/onnx_export.py                 # digits, a few seconds
    SKMLP_DATA_DIR=../shared/data/mnist python examples/onnx_export.py  # ~3 min
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import skl2onnx
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmlp.onnx  # noqa: F401  (registers the converters with skl2onnx)
from skmlp import NumpyMLPClassifier
from skmlp.datasets import DATA_DIR_ENV, load_mnist


def load_data(data_dir: str | None):
    if data_dir:
        return (*load_mnist(data_dir=data_dir), "MNIST")
    X, y = load_digits(return_X_y=True)
    return (*train_test_split(X, y, test_size=0.25, random_state=0), "digits")


def timed(function, repeat: int = 5) -> tuple[object, float]:
    """Result of ``function()`` and its best time in milliseconds."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get(DATA_DIR_ENV))
    parser.add_argument(
        "--output-dir", type=Path, default=None, help="default: a temporary folder"
    )
    args = parser.parse_args()
    output_dir = args.output_dir or Path(tempfile.mkdtemp(prefix="skmlp-onnx-"))
    output_dir.mkdir(parents=True, exist_ok=True)

    X_train, X_test, y_train, y_test, name = load_data(args.data_dir)
    # ONNX models usually take float32: train in float32 too, so that the
    # exported model is the trained one exactly (a float64 model's weights
    # are rounded to float32 on export).
    X_train = X_train.astype(np.float32)
    X_test = X_test.astype(np.float32)
    pipe = make_pipeline(
        StandardScaler(),
        NumpyMLPClassifier((128,), max_iter=30, random_state=0, dtype="float32"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X_train, y_train)
    print(f"{name}: test accuracy {pipe.score(X_test, y_test):.4f}")

    # X[:1] gives the input's type (float32) and width; the number of rows
    # stays free.
    onx = skl2onnx.to_onnx(pipe, X_train[:1])
    path = output_dir / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    print(f"saved {path} ({path.stat().st_size / 1e3:.0f} kB)")
    print("  nodes:", " ".join(node.op_type for node in onx.graph.node))

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    (labels, dicts), ms = timed(lambda: session.run(None, {input_name: X_test}))
    print(f"onnxruntime, zipmap output: {ms:.1f} ms for {len(X_test)} rows")
    print(f"  first row: label {labels[0]}, probabilities {dicts[0]}")

    expected_labels, ms = timed(lambda: pipe.predict(X_test))
    expected_proba = pipe.predict_proba(X_test)
    print(f"skmlp predict: {ms:.1f} ms")
    proba = np.array([[row[c] for c in pipe.classes_] for row in dicts])
    print(f"  same labels: {np.array_equal(labels, expected_labels)}")
    print(
        f"  largest probability difference: {np.abs(proba - expected_proba).max():.1e}"
    )

    # The tensor output (no ZipMap) is what most serving code wants, and faster.
    tensor = skl2onnx.to_onnx(
        pipe, X_train[:1], options={NumpyMLPClassifier: {"zipmap": False}}
    )
    session = ort.InferenceSession(
        tensor.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (labels, proba), ms = timed(lambda: session.run(None, {input_name: X_test}))
    print(f"onnxruntime, tensor output: {ms:.1f} ms; probabilities {proba.shape}")
    print(
        f"  same labels: {np.array_equal(labels, expected_labels)}; largest "
        f"probability difference: {np.abs(proba - expected_proba).max():.1e}"
    )


if __name__ == "__main__":
    main()

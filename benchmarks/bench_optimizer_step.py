"""One Adam step on the flat parameters of 784-512-256-10 (535,818 float32).

Interleaved in one process, medians: the textbook step (12 whole-vector
passes, skmlp before issue 15), skmlp's step (10 passes), and skmlp's step
split in two halves on two threads (NumPy releases the GIL in ufuncs)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_optimizer_step.py
"""

from __future__ import annotations

import math
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from skmlp._optimizers import Adam

N = 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10


class TextbookAdam(Adam):
    """The step as it was: moments stored as such, 12 passes."""

    def step(self, params, grad):
        b1, b2, m, v, s = self.beta_1, self.beta_2, self.m, self.v, self._scratch
        self.n_steps += 1
        t = self.n_steps
        m *= b1
        np.multiply(grad, 1 - b1, out=s)
        m += s
        v *= b2
        np.multiply(grad, grad, out=s)
        s *= 1 - b2
        v += s
        lr_t = self.learning_rate * math.sqrt(1 - b2**t) / (1 - b1**t)
        np.sqrt(v, out=s)
        s += self.epsilon
        np.divide(m, s, out=s)
        s *= lr_t
        params -= s


class TwoThreadAdam:
    """skmlp's step on each half of the vector, one half on a second thread."""

    def __init__(self, n, dtype, lr):
        h = n // 2
        self.halves = [Adam(h, dtype, lr), Adam(n - h, dtype, lr)]
        self.h = h
        self.pool = ThreadPoolExecutor(1)

    def step(self, params, grad):
        h = self.h
        other = self.pool.submit(self.halves[1].step, params[h:], grad[h:])
        self.halves[0].step(params[:h], grad[:h])
        other.result()


def main(repeats: int = 40, steps: int = 20) -> None:
    rng = np.random.default_rng(0)
    grad = (rng.standard_normal(N) * 1e-3).astype(np.float32)
    makers = {
        "textbook (12 passes)": lambda: TextbookAdam(N, np.float32, 1e-3),
        "skmlp (10 passes)": lambda: Adam(N, np.float32, 1e-3),
        "skmlp, two threads": lambda: TwoThreadAdam(N, np.float32, 1e-3),
    }
    runs = {name: (make(), np.zeros(N, np.float32)) for name, make in makers.items()}
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (opt, params) in runs.items():
            start = time.perf_counter()
            for _ in range(steps):
                opt.step(params, grad)
            times[name].append((time.perf_counter() - start) / steps)
    base = statistics.median(times["textbook (12 passes)"])
    for name, t in times.items():
        median = statistics.median(t)
        print(f"{name:22s} {median * 1e3:7.3f} ms/step  {median / base:.2f}x")


if __name__ == "__main__":
    main()

"""Training speed on MNIST: skmlp against JAX (a jax.jit step) and Keras 3 on JAX.

The fastest CPU peers of skmlp: a hand-written JAX training step compiled
with ``jax.jit`` (XLA fuses the elementwise work that NumPy runs pass by
pass), and Keras 3 on its JAX backend (``keras.Sequential`` +
``model.fit``). skmlp runs twice: as installed (NumPy's passes) and as
``skmlp-numba``, with ``SKMLP_KERNELS=numba`` (the fused update kernels of
skmlp/_fused.py; left out where numba is not installed). The same network
for all (784-512-256-10, ReLU, softmax cross-entropy, float32, Glorot-uniform
weights, zero biases), the same hyperparameters, the same number of epochs
over the same rows, shuffled each epoch:

* SGD: learning rate 0.05, Nesterov momentum 0.9, batch 128, L2 alpha 1e-4;
* Adam: scikit-learn's defaults (learning rate 1e-3, betas 0.9 and 0.999,
  epsilon 1e-8, ``batch_size="auto"``, that is 200), alpha 1e-4.

Each measurement is a fresh process (``subprocess``), either pinned to one
core (``taskset -c 0``) or free on all of them; the contenders take turns
(rotated each repeat: A B C, B C A, ...) so that a slow spell of a shared
machine hits them alike, and medians are reported. The figure per run is the
median seconds per epoch of epochs 2.. (epoch 1 holds JAX's compilation);
test accuracy is reported for each, so that speed is compared at equal
accuracy. The machine (CPU model, NumPy and its BLAS through threadpoolctl,
the library versions) and its load average are written with the figures to
``--json`` (default ``benchmarks/results_peers.json``).

JAX and Keras come with the optional ``bench`` extra; install it into a
virtualenv of its own so that the test environment stays as CI's::

    python3 -m venv .venv-bench && . .venv-bench/bin/activate
    pip install -e ".[bench]"
    SKMLP_DATA_DIR=../shared/data/mnist python benchmarks/bench_peers.py
    SKMLP_DATA_DIR=../shared/data/mnist python benchmarks/bench_peers.py --quick

``--quick`` (a smoke test, its figures mean nothing; it writes no JSON
unless ``--json`` is given): 1280 training rows, 2 epochs, one repeat, all
cores only, one process per contender. A contender whose library is missing
is left out with a note.

Where OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE are set in the environment (some
machines set them for older NumPy builds), a current NumPy runs another
kernel than its own choice: to benchmark it as users run it, unset both in
that command alone (``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python
...``); the kernel each run used (threadpoolctl's ``architecture``) is in the
JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HIDDEN = (512, 256)
ALPHA = 1e-4
SGD = {"learning_rate": 0.05, "momentum": 0.9, "batch_size": 128}
# scikit-learn's Adam defaults; batch_size="auto" is min(200, n_samples)
ADAM = {
    "learning_rate": 1e-3,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "epsilon": 1e-8,
    "batch_size": 200,
}
CONTENDERS = ("skmlp", "skmlp-numba", "jax", "keras")
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def settings(solver: str) -> dict:
    return dict(SGD if solver == "sgd" else ADAM)


# --------------------------------------------------------------------------
# the contenders; each runs in a worker process and returns the seconds of
# every epoch and the test accuracy
# --------------------------------------------------------------------------


def load_data(job: dict):
    import numpy as np

    from skmlp.datasets import load_mnist

    X_train, X_test, y_train, y_test = load_mnist(job["data_dir"], scale=True)
    rows, test_rows = job["rows"], job["test_rows"]
    if rows:
        X_train, y_train = X_train[:rows], y_train[:rows]
    if test_rows:
        X_test, y_test = X_test[:test_rows], y_test[:test_rows]
    as32 = np.ascontiguousarray
    return as32(X_train), as32(X_test), y_train, y_test


def run_skmlp(job, X, X_test, y, y_test):
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    from skmlp import NumpyMLPClassifier

    s, epochs = settings(job["solver"]), job["epochs"]
    if job["solver"] == "sgd":
        solver = dict(
            solver="sgd",
            learning_rate_init=s["learning_rate"],
            momentum=s["momentum"],
            nesterovs_momentum=True,
            batch_size=s["batch_size"],
        )
    else:
        solver = dict(
            solver="adam",
            learning_rate_init=s["learning_rate"],
            beta_1=s["beta_1"],
            beta_2=s["beta_2"],
            epsilon=s["epsilon"],
            batch_size="auto",
        )
    clf = NumpyMLPClassifier(
        HIDDEN,
        alpha=ALPHA,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,  # every epoch runs
        shuffle=True,
        random_state=job["seed"],
        dtype="float32",
        **solver,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    ends = clf.history_["time"]  # seconds since the fit began, at each epoch's end
    epoch_seconds = [b - a for a, b in zip([0.0, *ends[:-1]], ends)]
    accuracy = float(np.mean(clf.predict(X_test) == y_test))
    return epoch_seconds, accuracy, float(clf.loss_)


def run_jax(job, X, X_test, y, y_test):
    """The training step written by hand, as skmlp computes it, under jax.jit."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from skmlp._network import glorot_uniform, split_parameters

    s, solver = settings(job["solver"]), job["solver"]
    units = [X.shape[1], *HIDDEN, 10]
    rng = np.random.RandomState(job["seed"])
    coefs, intercepts = split_parameters(
        glorot_uniform(units, rng, np.float32), units
    )  # Glorot-uniform weights, zero biases, as skmlp draws them
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(coefs, intercepts)]

    def logits(params, A):
        for W, b in params[:-1]:
            A = jax.nn.relu(A @ W + b)
        W, b = params[-1]
        return A @ W + b

    def loss(params, Xb, Yb):
        # skmlp's: (sum_i ce_i + alpha/2 sum_l ||W_l||^2) / n
        Z = logits(params, Xb)
        ce = jax.nn.logsumexp(Z, axis=1) - jnp.sum(Yb * Z, axis=1)
        l2 = sum(jnp.sum(W * W) for W, _ in params)
        return (jnp.sum(ce) + 0.5 * ALPHA * l2) / Xb.shape[0]

    loss_and_grad = jax.value_and_grad(loss)
    tree_map = jax.tree_util.tree_map

    if solver == "sgd":
        lr, mu = s["learning_rate"], s["momentum"]

        def update(params, velocity, g, t):
            # skmlp's SGD, Nesterov: v <- mu v - lr g; w <- w + mu v - lr g
            velocity = tree_map(lambda v, g: mu * v - lr * g, velocity, g)
            params = tree_map(lambda w, v, g: w + mu * v - lr * g, params, velocity, g)
            return params, velocity

        state = tree_map(jnp.zeros_like, params)
    else:
        lr, b1, b2, eps = (
            s[k] for k in ("learning_rate", "beta_1", "beta_2", "epsilon")
        )

        def update(params, state, g, t):
            # skmlp's (and scikit-learn's) Adam, bias corrections in lr_t
            m, v = state
            m = tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
            v = tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
            lr_t = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)
            params = tree_map(
                lambda w, m, v: w - lr_t * m / (jnp.sqrt(v) + eps), params, m, v
            )
            return params, (m, v)

        state = (tree_map(jnp.zeros_like, params), tree_map(jnp.zeros_like, params))

    def step(params, state, X_all, Y_all, rows, t):
        # the batch is gathered inside the compiled step, as skmlp gathers it
        Xb, Yb = X_all[rows], Y_all[rows]
        value, g = loss_and_grad(params, Xb, Yb)
        return (*update(params, state, g, t), value)

    # params and optimizer state are donated: updated in place, as skmlp's
    step = jax.jit(step, donate_argnums=(0, 1))
    X_all = jnp.asarray(X)
    Y_all = jnp.asarray(np.eye(10, dtype=np.float32)[y])
    order_rng = np.random.RandomState(job["seed"] + 1)
    bs, n = s["batch_size"], X.shape[0]
    epoch_seconds, t = [], 0
    for _ in range(job["epochs"]):
        start = time.perf_counter()
        order = order_rng.permutation(n).astype(np.int32)
        losses = []  # device scalars, added up once the epoch is timed
        for first in range(0, n, bs):
            t += 1
            rows = order[first : first + bs]
            params, state, value = step(
                params, state, X_all, Y_all, rows, np.float32(t)
            )
            losses.append((value, len(rows)))
        jax.block_until_ready(params)
        epoch_seconds.append(time.perf_counter() - start)
    # the epoch's training loss as skmlp's loss_: batch losses weighted by rows
    epoch_loss = sum(float(v) * k for v, k in losses) / n
    predict = jax.jit(lambda params, A: jnp.argmax(logits(params, A), axis=1))
    accuracy = float(
        np.mean(np.asarray(predict(params, jnp.asarray(X_test))) == y_test)
    )
    return epoch_seconds, accuracy, epoch_loss


def run_keras(job, X, X_test, y, y_test):
    """keras.Sequential + model.fit, as a user of Keras writes it."""
    import keras
    import numpy as np

    s, solver = settings(job["solver"]), job["solver"]
    keras.utils.set_random_seed(job["seed"])
    # skmlp's loss on a batch of n rows is
    #     (sum_i ce_i + alpha/2 * sum_l ||W_l||^2) / n
    #   = mean_i ce_i + alpha / (2 n) * sum_l ||W_l||^2,
    # Keras's is mean_i ce_i + sum_l l2 * ||W_l||^2 (its L2 regularizer adds
    # l2 * sum(W**2) to the batch-mean loss), so l2 = alpha / (2 n) with n the
    # batch size: 1e-4 / 256 = 3.90625e-7 for SGD (batch 128) and
    # 1e-4 / 400 = 2.5e-7 for Adam (batch 200). Only the last, smaller batch
    # of an epoch (96 rows of 60000 at batch 128) differs: skmlp divides by
    # its own n there. Biases are not penalised in either.
    l2 = ALPHA / (2 * s["batch_size"])
    dense = dict(
        kernel_initializer="glorot_uniform",  # Keras's default, skmlp's scheme
        bias_initializer="zeros",
        kernel_regularizer=keras.regularizers.L2(l2),
    )
    model = keras.Sequential(
        [keras.Input((X.shape[1],))]
        + [keras.layers.Dense(u, activation="relu", **dense) for u in HIDDEN]
        + [keras.layers.Dense(10, **dense)]  # logits
    )
    if solver == "sgd":
        # Keras's Nesterov step is skmlp's: v <- mu v - lr g; w <- w + mu v - lr g
        optimizer = keras.optimizers.SGD(
            learning_rate=s["learning_rate"], momentum=s["momentum"], nesterov=True
        )
    else:
        optimizer = keras.optimizers.Adam(
            learning_rate=s["learning_rate"],
            beta_1=s["beta_1"],
            beta_2=s["beta_2"],
            epsilon=s["epsilon"],  # Keras's default is 1e-7
        )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    class EpochTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    timer = EpochTimes()
    history = model.fit(
        X,
        y,
        batch_size=s["batch_size"],
        epochs=job["epochs"],
        shuffle=True,
        verbose=0,
        callbacks=[timer],
    )
    Z = model.predict(X_test, batch_size=1000, verbose=0)
    accuracy = float(np.mean(np.argmax(Z, axis=1) == y_test))
    return timer.seconds, accuracy, float(history.history["loss"][-1])


RUNNERS = {
    "skmlp": run_skmlp,
    "skmlp-numba": run_skmlp,  # run with SKMLP_KERNELS=numba (see launch)
    "jax": run_jax,
    "keras": run_keras,
}


def library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("numpy", "scikit-learn", "scipy", "skmlp", "jax", "jaxlib", "keras"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def blas_info() -> list[dict]:
    import numpy  # noqa: F401  (threadpoolctl sees the BLAS that NumPy loaded)
    from threadpoolctl import threadpool_info

    keys = ("user_api", "internal_api", "version", "num_threads", "architecture")
    return [{k: i.get(k) for k in keys} for i in threadpool_info()]


def worker(jobs: list[dict]) -> None:
    """Run each job in this process; print one JSON line per job."""
    for job in jobs:
        load_average = os.getloadavg()
        X, X_test, y, y_test = load_data(job)
        start = time.perf_counter()
        epoch_seconds, accuracy, loss = RUNNERS[job["contender"]](
            job, X, X_test, y, y_test
        )
        timed = epoch_seconds[1:] or epoch_seconds  # epoch 1 holds compilation
        print(
            json.dumps(
                {
                    **job,
                    "epoch_seconds": epoch_seconds,
                    "seconds_per_epoch": statistics.median(timed),
                    "test_accuracy": accuracy,
                    "final_loss": loss,
                    "wall_seconds": time.perf_counter() - start,
                    "cores": sorted(os.sched_getaffinity(0)),
                    "load_average_at_start": load_average,
                    "blas": blas_info(),
                }
            ),
            flush=True,
        )


# --------------------------------------------------------------------------
# the driver: fresh processes, interleaved, medians
# --------------------------------------------------------------------------


def available(contender: str) -> str | None:
    """None if the contender can run in this interpreter, else why not."""
    module = {"skmlp": "skmlp", "skmlp-numba": "numba", "jax": "jax", "keras": "keras"}[
        contender
    ]
    from importlib.util import find_spec

    if find_spec(module) is None:
        return f"{module} is not installed here (pip install -e '.[bench]')"
    # (skmlp-numba: skmlp with SKMLP_KERNELS=numba, the fused update kernels)
    if contender == "keras" and find_spec("jax") is None:
        return "keras needs jax for its JAX backend"
    return None


def launch(jobs: list[dict], pin: bool) -> list[dict]:
    """Run jobs in one fresh process, pinned to core 0 if ``pin``."""
    env = {
        **os.environ,
        "SKMLP_KERNELS": "numba" if jobs[0]["contender"] == "skmlp-numba" else "numpy",
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    command = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(jobs)]
    preexec = None
    if pin:
        if shutil.which("taskset"):
            command = ["taskset", "-c", "0", *command]
        else:

            def preexec():
                os.sched_setaffinity(0, {0})

    out = subprocess.run(
        command, capture_output=True, text=True, env=env, preexec_fn=preexec
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise RuntimeError(f"worker failed: {jobs[0]['contender']}")
    return [
        json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")
    ]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("SKMLP_DATA_DIR"))
    parser.add_argument("--epochs", type=int, default=4, help="epochs 2.. are timed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=0, help="training rows (0: all)")
    parser.add_argument("--test-rows", type=int, default=0, help="0: all")
    parser.add_argument("--solvers", default="sgd,adam")
    parser.add_argument("--cores", default="1,2", help="1: taskset -c 0; 2: all")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json",
        default=None,
        help="default benchmarks/results_peers.json; none with --quick",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1280 rows, 2 epochs, 1 repeat, all cores only",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.test_rows, args.epochs, args.repeats = 1280, 1000, 2, 1
        args.cores = "2"
    elif args.json is None:
        args.json = "benchmarks/results_peers.json"
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return
    contenders, skipped = [], {}
    for name in args.contenders.split(","):
        why = available(name)
        if why is None:
            contenders.append(name)
        else:
            skipped[name] = why
            print(f"left out: {name}: {why}", file=sys.stderr)
    overrides = {k: os.environ[k] for k in OPENBLAS_OVERRIDES if k in os.environ}
    if overrides:
        print(
            f"note: {overrides} set: OpenBLAS runs the kernel they name, not its own "
            "choice (unset them in this command to benchmark a current NumPy)",
            file=sys.stderr,
        )
    results = {
        "machine": {
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "libraries": library_versions(),
            "blas": blas_info(),
            "openblas_overrides": overrides,
            "load_average_at_start": os.getloadavg(),
        },
        "settings": {
            "network": f"784-{'-'.join(map(str, HIDDEN))}-10",
            "alpha": ALPHA,
            "sgd": SGD,
            "adam": ADAM,
            **{k: v for k, v in vars(args).items() if k != "worker"},
        },
        "skipped": skipped,
        "runs": [],
        "summary": {},
    }
    started = time.perf_counter()
    for jobs, pin in plan(args, contenders):
        for run in launch(jobs, pin):
            results["runs"].append(run)
            report(run)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["wall_seconds"] = time.perf_counter() - started
    results["summary"] = summarise(results["runs"])
    print_tables(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nraw figures: {args.json}")


def plan(args, contenders: list[str]) -> list[tuple[list[dict], bool]]:
    """The processes to start, in order: (their jobs, pinned to core 0?).

    One measurement per process, contenders taking turns within each solver
    and cores setting (rotated each repeat: A B C, B C A, C A B). ``--quick``
    runs all its solvers in one process per contender: the imports of JAX
    and Keras take longer than its training.
    """

    def job(name, solver, cores, repeat):
        return {
            "contender": name,
            "solver": solver,
            "cores_setting": cores,
            "repeat": repeat,
            "epochs": args.epochs,
            "rows": args.rows,
            "test_rows": args.test_rows,
            "seed": args.seed,
            "data_dir": args.data_dir,
        }

    solvers = args.solvers.split(",")
    launches = []
    for cores in args.cores.split(","):
        pin = cores.strip() == "1"
        if args.quick:
            for name in contenders:
                launches.append(([job(name, s, cores, 0) for s in solvers], pin))
            continue
        for solver in solvers:
            for repeat in range(args.repeats):
                k = repeat % len(contenders)
                for name in contenders[k:] + contenders[:k]:
                    launches.append(([job(name, solver, cores, repeat)], pin))
    return launches


def report(run: dict) -> None:
    print(
        f"  {run['solver']} cores={run['cores_setting']} repeat {run['repeat'] + 1}: "
        f"{run['contender']}: {run['seconds_per_epoch']:.3f} s/epoch, test accuracy "
        f"{run['test_accuracy']:.4f}, load {run['load_average_at_start'][0]:.1f}",
        file=sys.stderr,
        flush=True,
    )


def summarise(runs: list[dict]) -> dict:
    """Medians per solver, cores setting and contender, and skmlp's ratio."""
    summary: dict = {}
    for run in runs:
        group = summary.setdefault(f"{run['solver']}, cores={run['cores_setting']}", {})
        entry = group.setdefault(
            run["contender"], {"seconds_per_epoch": [], "test_accuracy": []}
        )
        entry["seconds_per_epoch"].append(run["seconds_per_epoch"])
        entry["test_accuracy"].append(run["test_accuracy"])
    for group in summary.values():
        for entry in group.values():
            entry["median_seconds_per_epoch"] = statistics.median(
                entry["seconds_per_epoch"]
            )
            entry["median_test_accuracy"] = statistics.median(entry["test_accuracy"])
        peers = [group[p] for p in ("jax", "keras") if p in group]
        if peers:
            fastest = min(p["median_seconds_per_epoch"] for p in peers)
            for ours in ("skmlp", "skmlp-numba"):
                if ours in group:
                    group[ours]["vs_fastest_peer"] = (
                        group[ours]["median_seconds_per_epoch"] / fastest
                    )
    return summary


def print_tables(results: dict) -> None:
    m = results["machine"]
    blas = ", ".join(
        f"{b['internal_api']} {b['version']} ({b['architecture']}, "
        f"{b['num_threads']} threads)"
        for b in m["blas"]
        if b["user_api"] == "blas"
    )
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v)
    print(
        f"\nMachine: {m['cpu_model']}, {m['cpu_count']} CPUs; {blas}; {libs}; load "
        f"average {m['load_average_at_start'][0]:.2f} (start), "
        f"{m['load_average_at_end'][0]:.2f} (end)"
    )
    s = results["settings"]
    print(
        f"{s['network']}, float32, alpha {s['alpha']}; {s['epochs']} epochs "
        f"({'all' if not s['rows'] else s['rows']} rows), median s/epoch of epochs "
        f"2..{s['epochs']}, medians of {s['repeats']} interleaved fresh processes"
    )
    for group, rows in results["summary"].items():
        skmlp_acc = rows.get("skmlp", {}).get("median_test_accuracy")
        print(f"\n### {group}\n")
        print(
            "| contender | s/epoch | vs skmlp | test accuracy | accuracy - skmlp's "
            "(points) |"
        )
        print("| --- | ---: | ---: | ---: | ---: |")
        ours = rows.get("skmlp", {}).get("median_seconds_per_epoch")
        for name, r in rows.items():
            t, acc = r["median_seconds_per_epoch"], r["median_test_accuracy"]
            ratio = "" if ours is None else f"{t / ours:.2f}x"
            delta = "" if skmlp_acc is None else f"{100 * (acc - skmlp_acc):+.2f}"
            print(f"| {name} | {t:.3f} | {ratio} | {acc:.4f} | {delta} |")
        for ours in ("skmlp", "skmlp-numba"):
            if "vs_fastest_peer" in rows.get(ours, {}):
                print(
                    f"\n{ours} / the faster of JAX and Keras: "
                    f"{rows[ours]['vs_fastest_peer']:.2f}x (target <= 1.0)"
                )


if __name__ == "__main__":
    main()

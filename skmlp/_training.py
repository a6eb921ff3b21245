"""The training loops: minibatch epochs (SGD, Adam) and L-BFGS.

The per-batch path reads top to bottom in :func:`train_epoch`: gather the
batch, forward, loss, backward (both in :func:`skmlp._network.loss_and_gradient`),
step. Around it, :func:`fit_stochastic` runs the epochs and owns what happens
between them: bookkeeping, early stopping (:class:`EarlyStopping`), divergence
and Ctrl-C. :func:`fit_lbfgs` drives scipy's L-BFGS-B on the whole data set.

The functions work on an estimator built on :class:`skmlp._base.BaseMLP`: they
read its parameters and write its fitted attributes (``n_iter_``,
``loss_curve_``, ``history_``, ...).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.optimize import _check_optimize_result

from . import _array_api, _network
from ._data import batch_size_for, minibatches
from ._interrupt import deferred_keyboard_interrupt
from ._optimizers import minimize_lbfgs
from ._threads import blas_threads_for
from ._warnings import DivergenceWarning, warn


@dataclass
class TrainingData:
    """What one fit call trains on, in the training dtype.

    ``T`` is the target matrix the loss compares the outputs with (one-hot
    rows, label indicators, or the regression targets as columns).
    ``rows`` are the indices of the rows that train (None: all of them):
    held-out rows stay in X rather than X being copied without them.
    ``validation`` is ``(X, T, y, sample_weight)`` of the rows that early
    stopping (and ``history_``) scores the model on, or None. ``scorer`` is
    ``(scorer, takes_weights)`` for a ``scoring`` other than None or
    ``"loss"``, looked up before training.
    """

    X: object
    y: np.ndarray
    T: np.ndarray
    sample_weight: np.ndarray | None
    validation: tuple | None = None
    rows: np.ndarray | None = None
    scorer: tuple | None = None
    kernels: str = "numpy"  # of the optimizer steps: skmlp._fused.requested()

    def score(self, est) -> dict | None:
        """The validation metrics of est's current weights (None: diverged)."""
        return est._validation_metrics(*self.validation, scorer=self.scorer)


@dataclass
class EpochResult:
    """What one epoch's batches add up to."""

    loss_sum: float = 0.0  # sum over batches of loss * batch weight
    weight_sum: float = 0.0
    score_sum: float = 0.0  # e.g. the number of correctly classified rows
    n_rows: int = 0
    diverged_at: int | None = None  # index of the batch whose loss overflowed
    interrupted: bool = False


class EarlyStopping:
    """The patience rule: the best score, the count of epochs without progress.

    Higher scores are better (a training loss is watched as its negative).
    An epoch counts as progress when its score beats the best one by ``tol``;
    ``stalled`` says that ``n_iter_no_change`` epochs in a row did not. The
    state lives on the estimator (``best_loss_`` or ``best_validation_score_``
    and ``_no_improvement_count``) so that it carries over ``partial_fit``
    calls and pickles; ``best_params`` holds the weights of the best epoch
    when they are to be restored at the end (early stopping on a validation
    set). They are copied there when the next epoch begins (``keep_best``),
    not when the epoch is scored: until then they are the current weights,
    and an epoch that is rolled back never touched the copy.
    """

    def __init__(self, estimator, *, on_validation: bool, params: np.ndarray):
        self.est = estimator
        self.on_validation = on_validation
        self.best_params = _array_api.copy(params) if on_validation else None
        self.best_is_current = False  # the current weights are the best ones
        if on_validation:
            # Scores of another call's weights (or split) are not compared
            # with this call's: each fit keeps the best of its own epochs.
            estimator.best_validation_score_ = -np.inf
            estimator._no_improvement_count = 0

    def update(self, score: float, params: np.ndarray) -> None:
        """Record one epoch's score (a validation score, or minus the loss)."""
        est = self.est
        if self.on_validation:
            best = est.best_validation_score_
        else:
            best = -np.inf if est.best_loss_ is None else -est.best_loss_
        if score < best + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if score > best:
            if self.on_validation:
                est.best_validation_score_ = score
                self.best_is_current = True
            else:
                est.best_loss_ = -score

    def keep_best(self, params: np.ndarray) -> None:
        """Before the weights change again: keep them if they are the best."""
        if self.best_is_current:
            _array_api.copy_into(self.best_params, params)
            self.best_is_current = False

    @property
    def stalled(self) -> bool:
        return self.est._no_improvement_count > self.est.n_iter_no_change

    def restore_best(self, params: np.ndarray) -> None:
        if self.best_is_current:
            return  # training stopped right after its best epoch
        if self.best_params is not None and np.isfinite(
            self.est.best_validation_score_
        ):
            _array_api.copy_into(params, self.best_params)


_EPOCH_SCALARS = (
    "n_iter_",
    "t_",
    "loss_",
    "best_loss_",
    "best_validation_score_",
    "_no_improvement_count",
    "_optimizer_epochs",
    "_elapsed",
)


class EpochMark:
    """The fitted records as an epoch began, to roll the epoch back.

    Needed where no SIGINT handler could be installed: a KeyboardInterrupt
    can then arrive anywhere, between two appends to the records included.
    """

    def __init__(self, est, stopping: EarlyStopping) -> None:
        self.scalars = {k: vars(est)[k] for k in _EPOCH_SCALARS if k in vars(est)}
        self.lists = [est.loss_curve_, *est.history_.values()]
        if est.validation_scores_ is not None:
            self.lists.append(est.validation_scores_)
        self.lengths = [len(lst) for lst in self.lists]
        self.stopping, self.best_is_current = stopping, stopping.best_is_current

    def restore(self, est) -> None:
        for name in _EPOCH_SCALARS:
            vars(est).pop(name, None)
        vars(est).update(self.scalars)
        for lst, length in zip(self.lists, self.lengths):
            del lst[length:]
        self.stopping.best_is_current = self.best_is_current


def train_epoch(est, batches, ws, interrupt) -> EpochResult:
    """One pass of forward, backward and update over the batches.

    ``batches`` yields each minibatch already gathered into the workspace's
    buffers (see :func:`skmlp._data.minibatches`): ``X_b`` (n, n_features),
    ``T_b`` (n, n_outputs) and ``sw_b`` (n,) or None.
    """
    units, params, optimizer = est._units(), est._params, est._optimizer
    activation, rates = est._activation_function(), est._dropout
    loss_function = est._training_loss()
    n_coef = _network.n_parameters(units)[0]  # the weights come first in params
    result = EpochResult()
    for k, (X_b, T_b, sw_b) in enumerate(batches):
        if sw_b is not None and not _array_api.any_nonzero(sw_b):
            continue  # rows of weight zero carry no data: no step to take
        n = X_b.shape[0]
        masks = None  # one dropout mask (n, units[l]) per hidden layer
        if rates is not None:
            masks = _network.draw_dropout_masks(est._rng, n, rates, ws)
        # forward, loss and backward: the gradient lands in ws.grad
        loss = _network.loss_and_gradient(
            params,
            units,
            X_b,
            T_b,
            sw_b,
            activation,
            loss_function,
            est.alpha,
            ws,
            dropout_masks=masks,
            l2_gradient=False,  # the step adds it (fused with the update)
            gradient_scale=optimizer.gradient_scale(),  # SGD: lr * g, see its step
        )
        if not math.isfinite(loss):
            result.diverged_at = k
            return result
        weight = n if sw_b is None else _array_api.total(sw_b)
        # the update, in place, with the L2 penalty's alpha / sum(s) * W
        optimizer.step(
            params, ws.grad, decay=est.alpha / weight, n_coef=n_coef, scaled=True
        )
        # loss_ is the reported loss (for several squared-error outputs,
        # averaged over them as scikit-learn does), not the objective
        result.loss_sum += ws.reported_loss * weight
        result.weight_sum += weight
        outputs = ws.activations[-1][:n, ...]  # (n, n_outputs)
        result.score_sum += est._batch_score(outputs, T_b)
        result.n_rows += n
        if interrupt.raised:
            result.interrupted = True
            break
    return result


def fit_stochastic(est, data: TrainingData, incremental: bool, tasks) -> None:
    """Train ``est`` with its stochastic solver for up to ``max_iter`` epochs.

    ``incremental`` (``partial_fit``) runs one epoch and keeps the optimizer's
    state from the previous call.
    """
    if est._optimizer is None or not incremental:
        est._optimizer = est._make_optimizer()
        est._optimizer_epochs = 0  # schedules count their own epochs
    est._optimizer.use_kernels(data.kernels)  # SKMLP_KERNELS, read this call
    params = est._params
    X, T, sample_weight = data.X, data.T, data.sample_weight
    order_all = np.arange(X.shape[0]) if data.rows is None else data.rows
    n_samples = len(order_all)
    batch_size = batch_size_for(est.batch_size, n_samples)
    ws = est._workspace(batch_size)
    stopping = EarlyStopping(
        est,
        on_validation=est._watches_validation() and data.validation is not None,
        params=params,
    )
    # Weights to fall back on if the loss overflows: the ones the current
    # epoch started from, checked finite by its first batch's loss, and the
    # previous epoch's, for when that very first batch overflows.
    epoch_start, previous_start = _array_api.copy(params), _array_api.copy(params)
    start_time = time.perf_counter() - est._elapsed
    est.n_iter_ = 0  # counts the epochs of this call, as in scikit-learn
    interrupted = diverged = False

    # Overflow is detected below (a non-finite loss or weights) and reported
    # once, as a DivergenceWarning; NumPy's own warnings would only repeat it.
    errstate = np.errstate(over="ignore", invalid="ignore")
    # one BLAS thread where this network's matrices are too small to share
    threads = blas_threads_for(est._units(), batch_size)
    with deferred_keyboard_interrupt() as interrupt, errstate, threads:
        for _ in range(1 if incremental else est.max_iter):
            stopping.keep_best(params)  # the previous epoch's, if best
            epoch_start, previous_start = previous_start, epoch_start
            _array_api.copy_into(epoch_start, params)
            mark = EpochMark(est, stopping)
            tasks.begin_epoch()
            order = est._rng.permutation(order_all) if est.shuffle else order_all
            batches = minibatches(
                X,
                T,
                sample_weight,
                order,
                batch_size,
                not est.shuffle and data.rows is None,
                ws.activations[0],
            )
            try:
                epoch = train_epoch(est, batches, ws, interrupt)
                diverged = epoch.diverged_at is not None or not _array_api.all_finite(
                    params
                )
                metrics = None
                if not (diverged or epoch.interrupted) and data.validation:
                    metrics = data.score(est)
                    diverged = metrics is None  # finite weights, infinite outputs
                if diverged:
                    first = epoch.diverged_at == 0
                    diverged = True
                    _diverged(est, previous_start if first else epoch_start, data)
                    break
                if epoch.interrupted:
                    interrupted = True
                    break
                end_epoch(est, epoch, n_samples, metrics, stopping, start_time)
                stop_requested = tasks.end_epoch()  # a callback asked to stop
            except KeyboardInterrupt:
                # No handler could be installed (not the main thread, or
                # another handler): the interrupt may have come mid-update or
                # between two records, so the epoch is undone as a whole.
                mark.restore(est)
                _array_api.copy_into(params, epoch_start)
                est._optimizer = est._make_optimizer()
                interrupted = True
                break
            if stop_requested:
                break
            if stopping.stalled:
                # stop, or (adaptive schedule) lower the rate and go on
                if est._optimizer.stalled(est.verbose):
                    if est.verbose:
                        print(
                            f"{stopping_reason(est, stopping)} did not improve "
                            f"more than tol={est.tol:f} for "
                            f"{est.n_iter_no_change} consecutive epochs. Stopping."
                        )
                    break
                est._no_improvement_count = 0
            if not incremental and est.n_iter_ == est.max_iter:
                warn(
                    f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) "
                    "reached and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                )

    if est.n_iter_ and not (interrupted or diverged):
        # The last update's outputs were never seen by a loss: weights can
        # be finite and still overflow the outputs (exp, softmax). A sample
        # of the training rows, one batch, is run through them once per call.
        rows = slice(batch_size) if data.rows is None else data.rows[:batch_size]
        if not outputs_finite(est, data, rows):
            mark.restore(est)  # that epoch did not happen
            _diverged(est, epoch_start, data)
    if not incremental:
        stopping.restore_best(params)  # with early stopping: the best epoch's
    if interrupted:
        kept = (
            "the best epoch's weights"
            if stopping.on_validation and np.isfinite(est.best_validation_score_)
            else "the weights of the last whole batch"
        )
        raise KeyboardInterrupt(
            f"Training interrupted by user after {est.n_iter_} whole epochs; the "
            f"model keeps {kept}."
        )


def stopping_reason(est, stopping: EarlyStopping) -> str:
    return "Validation score" if stopping.on_validation else "Training loss"


def end_epoch(
    est, epoch: EpochResult, n_samples: int, metrics, stopping, start_time
) -> None:
    """Record one epoch in the fitted attributes and the history.

    ``metrics`` are the validation metrics of the epoch's weights, or None
    without a validation set.
    """
    est.n_iter_ += 1
    est._optimizer_epochs += 1
    est.t_ += n_samples
    est.loss_ = epoch.loss_sum / epoch.weight_sum if epoch.weight_sum else 0.0
    est.loss_curve_.append(est.loss_)
    history = est.history_
    message = f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}"
    if metrics is not None:
        message += f", validation loss = {metrics['val_loss']:.6f}"
        if est.scoring != "loss":
            message += f", validation {est._score_name()} = {metrics['val_score']:.4f}"
    _record_validation(history, metrics)
    history["loss"].append(est.loss_)
    if "accuracy" in history:
        history["accuracy"].append(epoch.score_sum / max(epoch.n_rows, 1))
    history["learning_rate"].append(est._optimizer.learning_rate)
    if stopping.on_validation:
        est.validation_scores_.append(metrics["val_score"])
        stopping.update(metrics["val_score"], est._params)
    else:
        stopping.update(-est.loss_, est._params)
    # time since the first fit of this history, pauses between calls excluded
    est._elapsed = time.perf_counter() - start_time
    history["time"].append(est._elapsed)
    if est.verbose:
        print(f"{message}, time = {est._elapsed:.1f}s", flush=True)
    est._optimizer.epoch_ends(est.t_, est._optimizer_epochs)


def _record_validation(history: dict, metrics: dict | None) -> None:
    """Append an epoch's validation metrics, keeping them in step with "loss".

    Called before the epoch's "loss" is appended. The validation lists stay
    empty while no call had a validation set; once one has, every epoch gets
    an entry, NaN for epochs without one, so that entry i is epoch i's
    whatever the calls in between had.
    """
    keys = [key for key in history if key.startswith("val_")]
    n_epochs = len(history["loss"])
    if metrics is None and not history[keys[0]]:
        return
    for key in keys:
        column = history[key]
        column.extend([np.nan] * (n_epochs - len(column)))  # earlier epochs
        column.append(np.nan if metrics is None else metrics[key])


def outputs_finite(est, data: TrainingData, rows) -> bool:
    """Whether the current weights give finite outputs and loss on ``rows``."""
    take = _array_api.take_rows
    sw = None if data.sample_weight is None else take(data.sample_weight, rows)
    with np.errstate(all="ignore"):
        loss, outputs = est._mean_loss(take(data.X, rows), take(data.T, rows), sw)
    return math.isfinite(loss) and _array_api.all_finite(outputs)


def loss_at_current_weights(est, data: TrainingData) -> float:
    """The training objective (loss plus penalty) of the current weights.

    For a call that stopped before it recorded an epoch (a divergence in its
    first epoch): ``loss_`` is then this, the loss of the weights kept.
    """
    rows = slice(None) if data.rows is None else data.rows
    take = _array_api.take_rows
    sw = None if data.sample_weight is None else take(data.sample_weight, rows)
    X = take(data.X, rows)
    with np.errstate(all="ignore"):
        loss, _ = est._mean_loss(X, take(data.T, rows), sw)
        total = X.shape[0] if sw is None else _array_api.total(sw)
        W = est._params[: _network.n_parameters(est._units())[0]]
        return float(loss + 0.5 * est.alpha * float(W @ W) / total)


def _diverged(est, last_good_params: np.ndarray, data: TrainingData) -> None:
    _array_api.copy_into(est._params, last_good_params)
    est._optimizer = est._make_optimizer()  # its state is not finite either
    est._optimizer_epochs = 0
    if est.n_iter_ == 0:  # no epoch of this call recorded a loss
        est.loss_ = loss_at_current_weights(est, data)
    warn(
        "Training diverged: the loss became infinite or NaN at epoch "
        f"{est.n_iter_ + 1}, so training stopped and the weights from the "
        "start of that epoch were kept. The learning rate "
        f"(learning_rate_init={est.learning_rate_init}) is probably too "
        "large, or the inputs need scaling (e.g. StandardScaler).",
        DivergenceWarning,
    )


class _StopLBFGS(Exception):
    """Raised inside scipy's loop to end L-BFGS early."""


def fit_lbfgs(est, data: TrainingData, tasks) -> None:
    """Train ``est`` with scipy's L-BFGS-B on the whole data set.

    Each accepted iteration is an entry of ``loss_curve_`` and ``history_``
    and a callback task. A loss that overflows stops training with a
    DivergenceWarning and the last accepted (finite) weights; Ctrl-C stops
    after the current loss evaluation, keeps the last accepted weights and
    raises KeyboardInterrupt, as the stochastic solvers do.
    """
    units, params = est._units(), est._params
    X, T, sample_weight = data.X, data.T, data.sample_weight
    ws = est._workspace(X.shape[0])
    activation = est._activation_function()
    loss_function = est._training_loss()
    # scipy's L-BFGS-B works on the host, in float64; with an array API
    # input each evaluation sets the parameters on the device from theta and
    # hands the gradient back (as scikit-learn's LogisticRegression does)
    accepted = _array_api.copy(params)  # the last iterate scipy accepted
    # of the last evaluation: scipy minimises "loss" (the objective), loss_
    # reports "reported" (they differ for several squared-error outputs)
    last = {"theta": None, "loss": np.nan, "reported": np.nan}
    at_start = {"reported": None}  # the reported loss at the first iterate
    state = {"diverged": False, "interrupted": False, "stopped": False}
    n_iter = [0]
    start_time = time.perf_counter() - est._elapsed

    def loss_and_gradient(theta):
        if interrupt.raised:
            state["interrupted"] = True
            raise _StopLBFGS
        _array_api.assign_from_host(params, theta)
        loss = _network.loss_and_gradient(
            params,
            units,
            X,
            T,
            sample_weight,
            activation,
            loss_function,
            est.alpha,
            ws,
        )
        if not math.isfinite(loss):
            state["diverged"] = True
            raise _StopLBFGS
        last.update(theta=theta.copy(), loss=loss, reported=ws.reported_loss)
        if at_start["reported"] is None:
            at_start["reported"] = ws.reported_loss
        return loss, _array_api.to_numpy(ws.grad).astype(np.float64)

    def end_of_iteration(theta):
        n_iter[0] += 1
        est.n_iter_ = n_iter[0]  # what a callback's copy of the model reads
        _array_api.assign_from_host(accepted, theta)
        if last["theta"] is None or not np.array_equal(theta, last["theta"]):
            loss_and_gradient(theta)  # the last evaluation was a trial point
        est.loss_curve_.append(last["reported"])
        history = est.history_
        # the outputs of that evaluation are in ws; score them before
        # validation runs its own forward pass
        if "accuracy" in history:
            score = est._batch_score(ws.activations[-1], T) / max(X.shape[0], 1)
            history["accuracy"].append(score)
        # params hold theta: it was just evaluated; non-finite outputs on the
        # validation rows are recorded as NaN (L-BFGS does not stop on them)
        metrics = data.score(est) if data.validation is not None else None
        if metrics is None and data.validation is not None:
            metrics = {k: np.nan for k in history if k.startswith("val_")}
        _record_validation(history, metrics)
        history["loss"].append(last["reported"])
        history["learning_rate"].append(np.nan)  # L-BFGS has no learning rate
        est._elapsed = time.perf_counter() - start_time
        history["time"].append(est._elapsed)
        if est.verbose:
            print(f"Iteration {n_iter[0]}, loss = {last['reported']:.8f}", flush=True)
        if tasks.end_epoch():
            state["stopped"] = True
            raise StopIteration  # a callback asked to stop; scipy stops
        tasks.begin_epoch()

    errstate = np.errstate(over="ignore", invalid="ignore")
    threads = blas_threads_for(units, X.shape[0])  # every evaluation: all rows
    with deferred_keyboard_interrupt() as interrupt, errstate, threads:
        tasks.begin_epoch()
        result = None
        try:
            result = minimize_lbfgs(
                loss_and_gradient,
                _array_api.to_numpy(params),
                max_iter=est.max_iter,
                max_fun=est.max_fun,
                tol=est.tol,
                callback=end_of_iteration,
            )
        except _StopLBFGS:
            pass
        except KeyboardInterrupt:
            state["interrupted"] = True  # no handler: it came from anywhere
    est.n_iter_ = n_iter[0]
    if result is not None and np.isfinite(result.x).all() and not state["stopped"]:
        _array_api.assign_from_host(params, result.x)
        # result.x is the last iterate accepted (its reported loss was the
        # last one recorded), or the start when none was
        est.loss_ = float(est.loss_curve_[-1] if n_iter[0] else at_start["reported"])
        if not state["interrupted"]:
            _check_lbfgs_result(est, result)
    else:
        _array_api.copy_into(params, accepted)
        if est.loss_curve_ and n_iter[0]:
            est.loss_ = float(est.loss_curve_[-1])
        else:  # no iterate accepted: the loss of the starting weights
            est.loss_ = loss_at_current_weights(est, data)
        if result is not None and not state["stopped"]:
            state["diverged"] = True
    if math.isfinite(est.loss_):
        best = np.inf if est.best_loss_ is None else est.best_loss_
        est.best_loss_ = min(best, est.loss_)
    if state["diverged"]:
        warn(
            "Training diverged: the loss or the weights became infinite or NaN "
            f"at L-BFGS iteration {est.n_iter_ + 1}, so training stopped and "
            "the last finite weights were kept. The inputs probably need "
            "scaling (e.g. StandardScaler).",
            DivergenceWarning,
        )
    if state["interrupted"]:
        raise KeyboardInterrupt(
            f"Training interrupted by user after {est.n_iter_} L-BFGS "
            "iterations; the model keeps the last accepted weights."
        )


def _check_lbfgs_result(est, result) -> None:
    """Warn as scikit-learn does when L-BFGS stopped without converging.

    scikit-learn's own check words the warning; it is re-issued so that it
    points at the user's line rather than at this module.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _check_optimize_result("lbfgs", result, est.max_iter)
    for w in caught:
        warn(str(w.message), w.category)

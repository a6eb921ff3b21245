"""scikit-learn's callback API (scikit-learn 1.9 and newer), epoch by epoch.

A fit is the root task; each epoch (each L-BFGS iteration) is one subtask.
When a subtask ends, callbacks such as ``sklearn.callback.ProgressBar`` and
``ScoringMonitor`` are told, and may ask for the model as it stands: the
weights are copied only then. On older scikit-learn the estimator works the
same, without callbacks.
"""

from __future__ import annotations

import copy

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9

    class CallbackSupportMixin:  # type: ignore[no-redef]
        """Stand-in: this scikit-learn has no callback API."""


# Attributes the callback machinery keeps on the estimator: live objects
# (listeners, contexts) that must be neither deep-copied nor restored.
CALLBACK_ATTRIBUTES = frozenset(
    {
        "_skl_callbacks",
        "_skl_callbacks_to_teardown",
        "_callback_fit_ctx",
        "_parent_callback_ctx",
    }
)


class EpochTasks:
    """Report a fit and each of its epochs to the estimator's callbacks."""

    def __init__(self, estimator, X, y, sample_weight, max_subtasks: int) -> None:
        self.estimator, self.X, self.y = estimator, X, y
        self.metadata = (
            None if sample_weight is None else {"sample_weight": sample_weight}
        )
        init = getattr(estimator, "_init_callback_context", None)
        self.root = None if init is None else init(max_subtasks=max_subtasks)
        self.epoch = None
        self._call(self.root, "call_on_fit_task_begin")

    def _fitted_state(self) -> dict:
        # Called by the callback machinery only if a callback wants the model:
        # it makes a shallow copy of the estimator and sets these attributes,
        # so everything that training goes on changing is copied here (the
        # weights, the records, the optimizer's state), and the copy gets
        # parameters of its own (linked again on its first use).
        est = self.estimator
        state = {
            key: copy.deepcopy(value)
            for key, value in vars(est).items()
            if key.endswith("_")
            and not key.startswith("__")
            or key in ("_optimizer", "_rng", "_no_improvement_count")
        }
        for key in CALLBACK_ATTRIBUTES:
            state.pop(key, None)
        state["_params"] = None
        return state

    def _call(self, context, hook: str) -> bool:
        if context is None:
            return False
        return getattr(context, hook)(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes=self._fitted_state,
        )

    def begin_epoch(self) -> None:
        if self.root is not None:
            self.epoch = self.root.subcontext(task_name="epoch")
            self._call(self.epoch, "call_on_fit_task_begin")

    def end_epoch(self) -> bool:
        """End the current epoch's task; True if a callback asks to stop."""
        stop = self._call(self.epoch, "call_on_fit_task_end")
        self.epoch = None
        return stop

    def close(self) -> None:
        if self.epoch is not None:  # an epoch cut short (divergence, Ctrl-C)
            self.epoch.call_on_fit_task_end(estimator=self.estimator)
        self._call(self.root, "call_on_fit_task_end")

"""Ctrl-C during training: finish the current batch, then stop everything.

A KeyboardInterrupt raised in the middle of an in-place parameter update would
leave some parameters updated and others not. While training runs, SIGINT
therefore only sets a flag that the training loop checks after each batch
(one batch takes milliseconds); the loop then records what it has, and raises
KeyboardInterrupt itself, so that the interrupt reaches the caller: a
``GridSearchCV`` or ``cross_val_score`` stops as a whole, and the model keeps
what it learned up to the last whole batch.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class InterruptFlag:
    """Whether Ctrl-C was pressed since training started."""

    def __init__(self) -> None:
        self.raised = False
        # False where no handler could be installed (not the main thread, or
        # someone else handles SIGINT): a KeyboardInterrupt may then arrive
        # mid-batch, and the training loop has to catch it itself
        self.deferred = False


@contextmanager
def deferred_keyboard_interrupt() -> Iterator[InterruptFlag]:
    """Turn SIGINT into a flag for the duration of the block.

    Signal handlers can only be installed from the main thread; elsewhere
    (a joblib worker thread, say) the block runs unchanged and a Ctrl-C
    behaves as usual.
    """
    flag = InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    try:
        previous = signal.getsignal(signal.SIGINT)
    except (ValueError, OSError):  # pragma: no cover - exotic embeddings
        yield flag
        return
    if previous is not signal.default_int_handler:
        # Someone else (a notebook kernel, a test runner) handles Ctrl-C in
        # their own way: leave it to them.
        yield flag
        return

    def handler(signum, frame):
        # A second Ctrl-C before the batch ends changes nothing: the loop
        # raises KeyboardInterrupt within milliseconds anyway.
        flag.raised = True

    signal.signal(signal.SIGINT, handler)
    flag.deferred = True
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)

"""Ctrl-C during training: finish the current batch, then stop cleanly.

A KeyboardInterrupt raised in the middle of an in-place parameter update would
leave some parameters updated and others not. While training runs, the first
SIGINT therefore only sets a flag that the training loop checks after each
batch; a second SIGINT is not swallowed and interrupts at once.
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
        # False where no handler could be installed: a KeyboardInterrupt may
        # then arrive mid-batch, and the caller has to catch it itself
        self.deferred = False


@contextmanager
def deferred_keyboard_interrupt() -> Iterator[InterruptFlag]:
    """Turn the first SIGINT into a flag for the duration of the block.

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
        flag.raised = True
        # the next Ctrl-C raises KeyboardInterrupt right away
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    flag.deferred = True
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)

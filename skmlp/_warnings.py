"""skmlp's warning classes, and warnings that point at the user's own line."""

from __future__ import annotations

import os
import sys
import warnings


class DivergenceWarning(UserWarning):
    """Training stopped because the loss became infinite or NaN."""


class InconsistentVersionWarning(UserWarning):
    """A model pickled by another version of skmlp was loaded."""


_PACKAGE = os.path.dirname(os.path.abspath(__file__))
# scikit-learn's wrappers around fit/partial_fit (parameter validation, the
# callback machinery, available_if) sit between the user's call and ours.
_WRAPPERS = tuple(
    os.path.join("sklearn", *parts)
    for parts in (
        ("base.py",),
        ("utils", "_available_if.py"),
        ("utils", "_param_validation.py"),
        ("utils", "_set_output.py"),
        ("callback", "_callback_support.py"),
        ("callback", "_callback_context.py"),
    )
)


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` with the stacklevel of the first frame outside skmlp.

    Training warnings are raised several calls deep inside the package; a
    fixed stacklevel would point at one of skmlp's files, not at the line of
    the user (or of the scikit-learn meta-estimator) that called ``fit``.
    """
    frame, level = sys._getframe(0), 1
    while frame is not None:
        filename = frame.f_code.co_filename
        ours = filename.startswith(_PACKAGE) or filename.endswith(_WRAPPERS)
        if not ours and not filename.endswith("contextlib.py"):
            break
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)

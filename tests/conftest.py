"""Session-wide test settings: honest skips.

Some tests skip when what they need is missing: an optional extra (ONNX,
Dask, skops, rich, pandas, matplotlib), scikit-learn >= 1.9 (callbacks) or
the MNIST folder. On a developer's machine that is a convenience; in CI's
main pass, which installs every extra and has the data beside it, a skip
would hide a promised feature that nobody tested. With the environment
variable ``SKMLP_REQUIRE_ALL=1`` (set by ``.ci/run``'s main pass) every skip
therefore fails the session, except the few listed in ``ALLOWED_SKIPS``:
scikit-learn estimator checks that do not apply to this estimator.
"""

from __future__ import annotations

import os
import sys

# scikit-learn's array API checks (tests/test_array_api.py, and those that
# check_estimator yields for array_api_support=True) need SciPy in its array
# API mode, which is read when SciPy is first imported: set here, before any
# test module imports it. It makes SciPy check its inputs more strictly
# (no np.matrix, masked or object arrays) and leaves NumPy as it is. Set
# SCIPY_ARRAY_API=0 to run without it: those checks then skip.
if "scipy" not in sys.modules:
    os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest  # noqa: E402

REQUIRE_ALL = os.environ.get("SKMLP_REQUIRE_ALL") == "1"

# Substrings of the skip reasons that stay allowed under SKMLP_REQUIRE_ALL=1.
ALLOWED_SKIPS = (
    # scikit-learn's array-API checks run only with SCIPY_ARRAY_API=1, set
    # above unless SciPy was imported first or it was set to 0 on purpose
    "SCIPY_ARRAY_API is not set",
    # checks of decision_function, which MLPClassifier does not have either
    "does not have a decision_function method",
    # array API namespaces and devices CI does not have: PyTorch brings
    # gigabytes of CUDA libraries and stays out of the test extra (its tests
    # run wherever it is installed), CuPy and dpnp need their GPUs
    "torch is not installed",
    "cupy is not installed",
    "dpnp is not installed",
    "PyTorch test requires",  # "... cuda, which is not available"
    "Skipping MPS device test",
    "Skipping XPU device test",
)

_refused: list[str] = []  # "test id: reason" of every skip that was not allowed


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # (path, line, "Skipped: reason")
        return str(longrepr[2])
    return str(longrepr)


def _refuse(report) -> str | None:
    """The reason of a skip that SKMLP_REQUIRE_ALL=1 does not allow, else None."""
    if not (REQUIRE_ALL and report.skipped) or hasattr(report, "wasxfail"):
        return None
    reason = _skip_reason(report)
    if any(allowed in reason for allowed in ALLOWED_SKIPS):
        return None
    _refused.append(f"{report.nodeid}: {reason}")
    return reason


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    reason = _refuse(report)
    if reason is not None:
        report.outcome = "failed"
        report.longrepr = (
            f"skipped, and SKMLP_REQUIRE_ALL=1 allows no skip of this kind: {reason}"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # A whole module skipped at import (pytest.importorskip at module level).
    # Turning that report into a failure would stop the session before any
    # test ran; it is recorded and fails the session at the end instead.
    outcome = yield
    _refuse(outcome.get_result())


def pytest_sessionfinish(session, exitstatus):
    passed = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    if _refused and exitstatus in passed:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _refused:
        terminalreporter.section("skips refused by SKMLP_REQUIRE_ALL=1", red=True)
        for line in _refused:
            terminalreporter.line(line)

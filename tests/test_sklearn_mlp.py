"""scikit-learn's own MLP tests, run against skmlp's estimators.

At import, this module reads ``sklearn/neural_network/tests/test_mlp.py`` from
the installed scikit-learn (never a copy: each version tests with its own
file), replaces its import of ``MLPClassifier`` and ``MLPRegressor`` with
skmlp's ``NumpyMLPClassifier`` and ``NumpyMLPRegressor`` under the same names,
executes it as a fresh module and re-exports its ``test_*`` functions here, so
that pytest collects them with their marks and parametrizations (the ids name
our classes: ``[NumpyMLPClassifier]``). The file uses one fixture of
scikit-learn's conftest, ``global_random_seed``, parametrized here as there:
``SKLEARN_TESTS_GLOBAL_RANDOM_SEED`` unset means 42, else an int, a range
``"a-b"`` or ``"all"``, within [0, 99]; its other fixtures are pytest's own.

Every test that does not pass is listed once, in ``EXPECTED_FAILURES``. A
plugin, registered from ``pytest_generate_tests`` (the one hook a test module
may have), marks those tests ``xfail(strict=True)`` as collection ends, before
``-k`` or ``-m`` deselect anything: an unexpected failure and an unexpected
pass both fail the run, and ``test_expected_failures_are_current`` fails when
an entry for the installed scikit-learn names no test of its file.
"""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

import pytest
import sklearn
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from skmlp import NumpyMLPClassifier, NumpyMLPRegressor

SKLEARN_VERSION = Version(sklearn.__version__)

# Every test of scikit-learn's file that does not pass with skmlp, as
# {key: reason}. A key is a test's name as pytest shows it, parametrization
# included ("test_x[NumpyMLPClassifier]"); "*" matches any characters. A key
# that holds for some scikit-learn versions only ends in " @sklearn" and a
# version specifier: "test_x @sklearn>=1.7". A reason says why: "tests
# scikit-learn's private internals (...)", "difference named in README: ..."
# or "defect: issue 18 <item>" (to be removed when the defect is fixed).
EXPECTED_FAILURES: dict[str, str] = {
    "test_fit": (
        "tests scikit-learn's private internals (builds the model by setting "
        "coefs_, _coef_grads, _coef_velocity and other private state by hand "
        "before partial_fit; skmlp's step from those weights matches)"
    ),
    "test_gradient": (
        "tests scikit-learn's private internals (calls _loss_grad_lbfgs and _backprop)"
    ),
    "test_lbfgs_regression_maxfun[X0-y0]": (
        "difference named in README: Initialisation (from its other starting "
        "weights, L-BFGS on the identity network converges within max_fun=10 "
        "evaluations, so no ConvergenceWarning; from scikit-learn's it warns)"
    ),
    "test_nonfinite_params": (
        "difference named in README: Divergence (a DivergenceWarning and the "
        "last finite weights, not scikit-learn's ValueError 'Solver produced "
        "non-finite parameter weights')"
    ),
    "test_mlp_diverging_loss": (
        "difference named in README: Divergence (training stops at the epoch "
        "that diverges, so validation_scores_ ends in a finite score, not NaN)"
    ),
    "test_predict_proba_multilabel": (
        "difference named in README: Probabilities (predict_log_proba is "
        "log-sigmoid of the logits, not log(predict_proba): equal to 1e-16 "
        "absolute, not to rtol=1e-7)"
    ),
    "test_early_stopping_stratified": (
        "difference named in README: Early stopping (4 rows are too few to "
        "split: the training loss is watched, with a warning; scikit-learn "
        "raises)"
    ),
    "test_minimum_input_sample_size @sklearn>=1.7": (
        "difference named in README: Early stopping (2 rows are too few to "
        "split: the training loss is watched, with a warning; scikit-learn "
        "raises)"
    ),
    "test_mlp_partial_fit_after_fit[*]": (
        "difference named in README: Early stopping (partial_fit ignores "
        "early_stopping; scikit-learn raises)"
    ),
}


def _sklearn_test_file() -> Path:
    path = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    if not path.is_file():
        raise RuntimeError(
            f"scikit-learn {sklearn.__version__} was installed without its tests: "
            f"{path} is missing"
        )
    return path


# scikit-learn's import of its estimators, and ours under the same names
_IMPORT = re.compile(
    r"^from sklearn\.neural_network import "
    r"\(?\s*MLPClassifier,\s*MLPRegressor,?\s*\)?$",
    re.MULTILINE,
)
_OURS = (
    "from skmlp import NumpyMLPClassifier as MLPClassifier, "
    "NumpyMLPRegressor as MLPRegressor"
)
# scikit-learn's estimators reached otherwise ("sklearn.neural_network.MLP...")
_ELSEWHERE = re.compile(r"\.\s*MLP(?:Classifier|Regressor)\b")


def _load_sklearn_tests() -> types.ModuleType:
    """scikit-learn's test_mlp.py, run as a module that tests skmlp's estimators."""
    path = _sklearn_test_file()
    source = path.read_text(encoding="utf-8")
    source, n = _IMPORT.subn(_OURS, source)
    module = types.ModuleType("skmlp_tests_sklearn_mlp")
    module.__file__ = str(path)
    if n == 1 and not _ELSEWHERE.search(source):
        # the real file's name and line numbers in tracebacks; its imports of
        # scikit-learn's test helpers (sklearn.utils._testing, ...) are those
        # of the installed version, which has them
        exec(compile(source, str(path), "exec"), module.__dict__)
    ours = (NumpyMLPClassifier, NumpyMLPRegressor)
    if (
        getattr(module, "MLPClassifier", None),
        getattr(module, "MLPRegressor", None),
    ) != ours:
        raise RuntimeError(
            f"{path} imports MLPClassifier and MLPRegressor otherwise than the "
            "one line this harness replaces; update _IMPORT"
        )
    return module


_sklearn_tests = _load_sklearn_tests()
for _name, _test in vars(_sklearn_tests).items():
    if _name.startswith("test_") and callable(_test):
        _test.__module__ = __name__  # collected even with collect_imported_tests=false
        globals()[_name] = _test
del _name, _test


def _global_random_seeds() -> list[int]:
    """The seeds of scikit-learn's conftest, from SKLEARN_TESTS_GLOBAL_RANDOM_SEED."""
    value = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
    if value is None:
        return [42]
    if value == "all":
        return list(range(100))
    if "-" in value:
        start, stop = value.split("-")
        seeds = list(range(int(start), int(stop) + 1))
    else:
        seeds = [int(value)]
    if not seeds or min(seeds) < 0 or max(seeds) > 99:
        raise ValueError(
            "The value(s) of the environment variable "
            "SKLEARN_TESTS_GLOBAL_RANDOM_SEED must be in the range [0, 99] "
            f"(or 'all'), got: {value}"
        )
    return seeds


def _applies(key: str) -> tuple[str, bool]:
    """(the key's test pattern, whether it holds for the installed scikit-learn)."""
    pattern, _, spec = key.partition(" @sklearn")
    holds = not spec or SpecifierSet(spec).contains(SKLEARN_VERSION, prereleases=True)
    return pattern, holds


def _matches(pattern: str, name: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), name) is not None


def _reason(name: str) -> str | None:
    reasons = [
        reason
        for key, reason in EXPECTED_FAILURES.items()
        if _applies(key)[1] and _matches(_applies(key)[0], name)
    ]
    if len(reasons) > 1:
        raise RuntimeError(f"{name}: more than one entry of EXPECTED_FAILURES")
    return reasons[0] if reasons else None


def _stale_entries(collected: list[pytest.Item]) -> list[str]:
    """The entries for this scikit-learn that name no test of its file.

    A key whose function is gone is stale. One whose function is there is
    stale when that function was collected and no collected test matches the
    key (a parametrization that changed); a function left out of collection
    (a run of other node ids) cannot be checked.
    """
    functions = [name for name in vars(_sklearn_tests) if name.startswith("test_")]
    seen = {item.originalname for item in collected}
    stale = []
    for key in EXPECTED_FAILURES:
        pattern, holds = _applies(key)
        if not holds:
            continue
        base = pattern.split("[")[0]
        owners = [name for name in functions if _matches(base, name)]
        if not owners or (
            any(name in seen for name in owners)
            and not any(_matches(pattern, item.name) for item in collected)
        ):
            stale.append(key)
    return stale


_THIS = sys.modules[__name__]
_stale: list[str] | None = None  # set when collection ends


_PLUGIN = "skmlp-sklearn-mlp-expected-failures"


class _ExpectedFailures:
    """Marks the listed tests xfail(strict=True) and finds stale entries."""

    @pytest.hookimpl(tryfirst=True)  # before -k and -m deselect anything
    def pytest_collection_modifyitems(self, items):
        global _stale
        ours = [item for item in items if getattr(item, "module", None) is _THIS]
        for item in ours:
            reason = _reason(item.name)
            if reason is not None:
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
        _stale = _stale_entries(ours)


def pytest_generate_tests(metafunc):
    plugins = metafunc.config.pluginmanager
    if not plugins.has_plugin(_PLUGIN):
        plugins.register(_ExpectedFailures(), _PLUGIN)
    if "global_random_seed" in metafunc.fixturenames:
        metafunc.parametrize("global_random_seed", _global_random_seeds())


def test_expected_failures_are_current():
    """Every entry of EXPECTED_FAILURES for this scikit-learn names a test."""
    assert _stale is not None, "collection did not run the expected-failure hook"
    assert not _stale, (
        f"entries of EXPECTED_FAILURES match no test of scikit-learn "
        f"{sklearn.__version__}'s test_mlp.py: {_stale}"
    )

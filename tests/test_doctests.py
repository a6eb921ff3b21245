"""The Examples sections of the public docstrings run as written."""

import doctest

import pytest

import skmlp._classifier
import skmlp._regressor
import skmlp.gradcheck


@pytest.mark.parametrize(
    "module", [skmlp._classifier, skmlp._regressor, skmlp.gradcheck], ids=str
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0

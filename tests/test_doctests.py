"""The examples in the docstrings of the budget's and fidelity's rules hold (they are documentation)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["evonas.evolve.budget", "evonas.evolve.fidelity"]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, verbose=False)
    assert result.attempted > 0 and result.failed == 0

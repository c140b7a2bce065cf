"""The examples in the docstrings of the budget, fidelity and batch-scale rules hold (they are docs)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["evonas.evolve.budget", "evonas.evolve.fidelity", "evonas.genome.space"]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, verbose=False)
    assert result.attempted > 0 and result.failed == 0

"""benchmarks/scoring.py: a real tiny search on digits, then its refits and test score timed."""

from __future__ import annotations

import re

import pytest

from tests.benchmarks.conftest import run_benchmark


@pytest.mark.slow  # a search, two refits and the test score
def test_each_phase_after_the_search_is_timed():
    printed = run_benchmark(
        "scoring", "--dataset", "digits", "--ensemble", "2", "--population", "3", "--max-epochs", "1"
    )
    found = re.search(
        r"digits, ensemble 2: generation 0 [\d.]+ s; after it, reserved ([\d.]+) s; the best's refit "
        r"[\d.]+ s, the members' [\d.]+ s, the test score [\d.]+ s \((\d+) test rows\); together",
        printed,
    )
    assert found, printed
    assert float(found.group(1)) > 2.0  # at least the close (evolve.budget.CLOSE_SECONDS) and the scores
    assert int(found.group(2)) > 0

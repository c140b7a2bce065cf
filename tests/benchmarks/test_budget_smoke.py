"""benchmarks/budget.py: one real ``evonas run --time-budget`` on digits, timed whole, and the table."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks.conftest import run_benchmark


@pytest.mark.slow  # a real command: a Python and TensorFlow start, a search, the refits
def test_the_command_is_timed_whole_and_the_table_has_a_column_per_label(tmp_path):
    results = tmp_path / "results"
    tiny = "--population 3 --max-epochs 2 --patience 1 --engine serial --no-refit"
    printed = run_benchmark(
        "budget", "--budget", "4s", "--tables", "digits", "--extra", tiny, "--results", str(results)
    )
    row = json.loads((results / "digits__after.json").read_text())
    assert row["budget_s"] == 4 and row["trainings"] >= 3 and row["generations"] >= 1
    assert row["wall_s"] > 0 and "digits: " in printed
    other = {**row, "label": "before", "wall_s": 99.0}
    (results / "digits__before.json").write_text(json.dumps(other))
    table = run_benchmark("budget", "--report-only", "--results", str(results))
    assert "| table | after: wall s (trainings, generations) | before: wall s" in table
    assert (
        f"| digits | {row['wall_s']:.0f} of 4 ({row['trainings']}, {row['generations']}) | 99 of 4 (" in table
    )
